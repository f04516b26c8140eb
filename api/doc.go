// Package api serves the service graph over HTTP: Grafana's Node Graph API
// datasource and Infinity datasource, Jaeger's dependencies endpoint,
// rendered pictures, the span-link debugger, probes and a built-in page.
//
// # Contract
//
// The API is read-only: every method but GET and HEAD is answered 405.
// Handlers read immutable graph snapshots (Sources.Graph), never the
// writers' state, and are safe for any number of concurrent requests.
// Nothing a request carries is kept.
//
// Graph endpoints share the filters from, to, service, depth and kinds
// (see ParseQuery): from and to are Unix seconds, Unix milliseconds above
// 1e11 (Grafana's ${__from} and ${__to}) or RFC 3339, by default the hour
// ending now; service centres a neighbourhood of depth hops (default 2,
// at most Config.MaxDepth); kinds is a comma list of call,
// messaging_system, span_link, database, virtual_node. A bad parameter,
// an empty window or an unknown service is answered 400 with
// {"error": "...", "parameter": "<name>"}. Every other error answer, 4xx
// and 5xx, is {"error": "..."}; /api/dependencies answers its errors in
// Jaeger's envelope {"data": null, "total": 0, "limit": 0, "offset": 0,
// "errors": [{"code", "msg"}]}.
//
// Handlers return an apiFuncResult (data, a body, streamed rows or an
// error) and one responder writes it: errorStatus is the one place where
// errors become status codes and Retry-After (Prometheus' web/api/v1).
//
// Endpoints and status codes:
//
//	GET /api/graph/fields        200, 400  Node Graph API datasource: nodes_fields, edges_fields
//	GET /api/graph/data          200, 400  Node Graph API datasource: {"nodes": [...], "edges": [...]}
//	GET /api/health              200       the datasource's Save & Test
//	GET /api/graph/nodes         200, 400  flat node rows (Infinity node-graph-nodes), with arc__*_color
//	GET /api/graph/edges         200, 400  flat edge rows (Infinity node-graph-edges)
//	GET /api/dependencies        200, 400  Jaeger: endTs (Unix ms, default now), lookback (ms, default 24h), service
//	GET /graph.svg|.dot|.png     200, 400, 422 (too large), 501 (no renderer), 503 (timeout, Retry-After);
//	                             rankdir=, and scale= (PNG zoom 1 to 4, default 2; checked, ignored by SVG and DOT)
//	GET /api/links/unresolved    200, 400  {"problems": [...]} newest first; service=, limit= (default 100, max 1000)
//	GET /api/graph/diff          200, 400  the window against a baseline (baseline_from, baseline_to; rate_change,
//	                                       error_change, latency_change): DiffBody; see diff.go
//	GET /api/graph/diff/fields   200, 400  Node Graph API form of the diff (also /diff/api/graph/fields)
//	GET /api/graph/diff/data     200, 400  (also /diff/api/graph/data, and /diff/api/health)
//	GET /api/graph/snapshot      200, 400  the window as a graph.Document (versioned JSON), for servicegraph diff
//	GET /api/cluster/graph       200, 400  a peer's fan-out: this instance's graph of [from_ns, to_ns) (graph.WriteSnapshot)
//	GET /                        200       built-in page (embedded; no external assets)
//	GET /-/healthy               200       "ok"
//	GET /-/ready                 200, 503  Sources.Ready: {"status": "ready"|"not ready", "reason", "warning"}
//	GET /metrics                 200       Sources.Metrics (404 when nil)
//
// While Sources.Ready reports Loading (the saved graph is being restored),
// every endpoint but /-/healthy and /-/ready answers 503
// {"error": "loading state"} with Retry-After.
//
// With Config.Auth every endpoint but /-/healthy and /-/ready needs a
// bearer token (401 otherwise). With mutual TLS, clients need a
// certificate signed by the client CA on every path; with
// Config.TLS.HealthWithoutClientCert the two probes are served without
// one, and every other path answers 403 to a client that presented none.
// An error message that repeats a value of the request cuts it to 128
// bytes followed by "…", and no error message exceeds 1,024 bytes. Node rows carry id, title, subtitle
// (service, database, topic or virtual), mainstat (requests/s over the window),
// secondarystat (error %), arc__success and arc__failed (summing to
// exactly 1; an idle node has 1 and 0), color and detail__ fields; edge
// rows carry id ("client>server:kind", with '%', '>' and ':' in names
// percent-encoded), source, target, mainstat, secondarystat, thickness
// (1..5 by volume), color (by error rate), strokeDasharray ("6 4" for
// messaging_system and span_link, "" otherwise) and detail__ fields. Nodes
// are sorted by id, edges by client, server and kind.
//
// Every answer carries X-Content-Type-Options: nosniff, a
// Content-Security-Policy allowing only this origin (no inline scripts),
// Referrer-Policy: no-referrer and Cache-Control: no-store. JSON is
// HTML-escaped; the page escapes with html/template and its script inserts
// server strings with textContent only, except the SVG of our renderer,
// which it parses as XML and strips of scripts and event handlers.
//
// Rendering is delegated to Sources.Renderer with a key made of what the
// picture shows: the view's topology (a hash of its nodes and edges), the
// history buckets the window touches, the window's length, the
// neighbourhood, the kinds, the format and the direction, not the counts.
// A renderer's cache so serves repeated and auto-refreshing requests while
// spans arrive, redrawing when a node or edge appears or leaves or a bucket
// closes: the numbers of a cached picture are at most one bucket old. Errors
// wrapping picture.ErrTooLarge answer 422 with picture.HintURL;
// picture.ErrTimeout (or the Config.RequestTimeout deadline) answers 503
// with Retry-After and the same hint. The API imports the render
// vocabulary (package picture), never the Graphviz engine.
//
// # One graph for a cluster
//
// With peers (Config.Cluster.Peers or Sources.Peers, a PeerSource called
// once per request) the graph endpoints, /api/dependencies, the pictures
// and /api/links/unresolved answer for every instance: each peer is asked
// for its graph of the request's window (GET /api/cluster/graph, one
// bucket per edge) within Config.Cluster.PeerTimeout, and the answers are
// merged with graph.Merge (bounded by Config.Cluster.Limits) and queried
// as this instance's own graph would be; problems are concatenated
// without duplicates. A fanned-out request carries local=true and
// /api/cluster/graph never fans out, so a request goes one hop at most.
// An instance that finds itself in the list (by the id it answers in
// X-Servicegraph-Instance) skips itself from then on. A peer that errs,
// answers no graph or misses the deadline is left out: the answer is 200
// with X-Servicegraph-Partial: true and X-Servicegraph-Missing-Peers (a
// complete fanned-out answer has X-Servicegraph-Partial: false), and JSON
// objects (/api/dependencies, /api/links/unresolved) carry "partial" and
// "missing_peers": [{"peer", "error"}]. The row arrays and the Node Graph
// API answer carry the headers only. Peer requests forward the caller's
// Authorization header, verify https peers with Config.Cluster.PeerCAFile
// and present Config.Cluster.PeerCertFile to peers that require mutual
// TLS. Sources.Peers may be a DynamicPeers (the Kafka group's members). Counted in servicegraph_api_peer_requests_total
// {result} (ok, error, timeout, incompatible, self) and
// servicegraph_api_partial_answers_total.
//
// # Metrics
//
// Registered on Settings.Registerer:
//
//	servicegraph_http_requests_total{handler, code}           counter
//	servicegraph_http_request_duration_seconds{handler}       histogram
//	servicegraph_http_connections                             gauge
//	servicegraph_http_connections_refused_total               counter
//	servicegraph_http_queries_waited_total                    counter
//	servicegraph_http_queries_refused_total                   counter
//	servicegraph_read_cache_requests_total{handler, result}   counter
//	servicegraph_read_cache_too_large_total{handler}          counter
//	servicegraph_read_cache_evictions_total                   counter
//	servicegraph_read_cache_bytes, _entries                   gauge
//	servicegraph_read_budget_paused_seconds_total, _pauses_total counter
//
// # Bounds
//
// Graph queries (graph_data, graph_nodes, graph_edges, dependencies and
// the renders) run at most Config.MaxConcurrentQueries at once (default
// half the CPUs): at 100k edges one takes a core for a few hundred
// milliseconds, and ingestion keeps the rest of the machine. A query past
// the limit waits up to Config.RequestTimeout for a slot, then is answered
// 503 with Retry-After. The rows of graph_data, graph_nodes and
// graph_edges are streamed to the connection as they are encoded, never
// held whole in memory, when the read cache is off.
//
// The read cache (readcache.go) keeps the encoded answers of metrics,
// graph_data, graph_nodes and graph_edges, gzipped for clients that accept
// it, per route, query, Accept header and coding, and serves them again
// while at most Config.ReadMaxStaleness old (the graph routes' also while
// the graph's version and the window's buckets are unchanged); concurrent
// requests wait for the one encoding in flight. Its bodies total at most
// Config.ReadCacheBytes (least recently served dropped first); a larger
// answer is streamed, not kept. With Config.ReadBudget those reads take
// at most that serving time per second together (readbudget.go): past it
// they pause between 64 KiB pieces, at most 100 ms a pause, holding no
// lock and nothing ingestion needs.
//
// /graph.svg|.dot|.png with baseline_from or baseline_to draw the diff
// instead (picture.Options.Diff), keyed by the diff's topology and statuses.
//
// handler is a route name (graph_diff, graph_diff_fields, graph_diff_data,
// graph_snapshot, page, static, graph_fields, graph_data, health,
// graph_nodes, graph_edges, dependencies, graph_svg, graph_dot, graph_png,
// links_unresolved, healthy, ready, metrics, not_found), never a path.
//
// # Lifecycle
//
// New validates the Config, loads TLS and token files and registers the
// metrics; Start binds Config.Addr and serves in the background; Shutdown
// drains within its context, is safe without Start and twice, and the
// Server may be started again afterwards. Handler serves without Start.
package api
