// Package render draws a graph view (graph.View, the result of
// Snapshot.Query) as Graphviz DOT text, SVG or PNG.
//
// # Picture
//
// Services are rounded boxes, databases cylinders, virtual nodes (user,
// uninstrumented peers, the overflow node) grey dashed ellipses. Sync edges
// (call, database, virtual_node) are solid; async edges (messaging_system,
// span_link) are dashed, with an open arrowhead and their kind in the label.
// Edge labels show the count (Options.Label "count") or the rate ("rate")
// and the error percentage when there are errors; colour follows the error
// rate (grey below 1%, orange below 5%, red above) and width the volume
// (1..5, log scale). A legend cluster explains shapes, line styles, colour
// and width. Parallel edges (a call and a span link between the same two
// services) and self-loops are drawn as such.
//
// WriteDOT is deterministic: identical bytes for identical input, whatever
// the order of the view's slices. Node IDs are the exact names, escaped so
// that distinct names stay distinct and the SVG stays well-formed XML (SVG
// <title>s of edges read "client->server"); labels are cut at 40 runes with
// "…". Every node and edge carries a stable SVG element id ("n_…", "e_…":
// a readable part plus a hash of the exact names and kind); legend elements'
// ids start with "legend". The graph is named GraphName, the SVG <title>.
//
// # Bounds and the deadline
//
// Graphviz layout cost explodes with size, go-graphviz ignores contexts and
// is not safe for concurrent use (one WASM module per process), and its WASM
// memory never shrinks. So:
//
//   - Render refuses views above Config.MaxNodes or MaxEdges with ErrTooLarge
//     before any layout; the message has the counts and how to narrow the
//     query.
//   - By default (child-process mode) each layout runs in a child process:
//     the current executable (os.Executable) started with WorkerArg, DOT on
//     stdin, the picture on stdout. At the deadline (Config.Timeout, or the
//     caller's context if sooner) the child is killed and Render returns
//     ErrTimeout; WASM memory dies with the child. At most Config.Workers
//     children run at once. Every binary that creates a Renderer this way
//     must call RunWorker first thing when os.Args[1] == WorkerArg (main
//     does; so does this package's TestMain).
//   - With Config.InProcess (for the offline CLI) layouts run in this
//     process, one at a time under a package-level lock (the library's state
//     is global). A layout past its deadline cannot be stopped: the caller
//     gets ErrTimeout at the deadline, the layout finishes in the background
//     holding the lock, and Close waits for it.
//
// A child process is not killed if the server dies with SIGKILL; it exits
// when its layout ends.
//
// # Cache and sharing
//
// Render's key names the input (for the API: the view's topology, window and
// filters); the format and the normalised options are added to it. Results are cached, least recently
// used first out, within Config.CacheEntries and CacheBytes; concurrent
// calls with the same key share one render (singleflight). A shared render
// runs on the renderer's own context within Config.Timeout, so a caller that
// gives up early does not cancel it for the others; its result still fills
// the cache. Errors are not cached.
//
// # Concurrency and ownership
//
// A Renderer is safe for concurrent use. Render only reads the view, and
// only before it returns. The bytes it returns may be shared with the cache
// and other callers: do not modify them. Close stops the workers (running
// children are killed), waits for running renders and frees the in-process
// graphviz instance; it is safe to call twice, and Render fails with
// ErrClosed afterwards.
//
// # Metrics
//
// On Settings.Registerer (a private registry when nil, never the global
// one):
//
//   - servicegraph_render_total{format, result}: counter of Render calls;
//     result is ok, cached, too_large, timeout or error; format is dot, svg,
//     png, or "invalid" for an unknown format.
//   - servicegraph_render_seconds{format}: histogram of the time spent
//     producing pictures that were not cached (DOT generation and layout),
//     one observation per shared render, failed or timed out ones included.
//   - servicegraph_render_cache_bytes: gauge, bytes held by the cache.
//
// Importing this package costs every binary go-graphviz's init (~35-80 ms,
// ~0.9 s and 38 MB the first time on a machine); keep the import out of
// packages that do not render.
package render
