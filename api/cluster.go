package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/pairing"
)

// One graph for the API (issue 14). With peers, an instance answers the
// graph endpoints for the whole cluster: it asks every peer for its graph
// of the request's window (GET /api/cluster/graph, the state file's
// format, one bucket per edge: graph.Snapshot.Windowed), merges them with
// its own (graph.Merge) and answers from the merged graph as it would from
// its own. /api/links/unresolved asks the peers' /api/links/unresolved
// with local=true and merges the lists. A fanned-out request carries
// local=true, and /api/cluster/graph only ever answers this instance's
// graph, so a request never travels further than one hop: no loops.
//
// A peer that errs, answers something else than its graph, or has not
// answered within ClusterConfig.PeerTimeout is left out: the answer is
// still 200, marked partial (HeaderPartial, HeaderMissingPeers, and in
// JSON objects "partial" and "missing_peers").

// Names of the fan-out's parameters and headers.
const (
	// ParamLocal "true" answers from this instance's graph only.
	ParamLocal = "local"
	// HeaderPartial is "true" on an answer that lacks a peer's part,
	// "false" on a complete fanned-out answer; absent without peers.
	HeaderPartial = "X-Servicegraph-Partial"
	// HeaderMissingPeers lists, comma-separated, the peers left out.
	HeaderMissingPeers = "X-Servicegraph-Missing-Peers"
	// headerInstance names the answering instance on /api/cluster/graph,
	// so that an instance finds itself in its peer list.
	headerInstance = "X-Servicegraph-Instance"
	// stateContentType is /api/cluster/graph's answer.
	stateContentType = "application/vnd.servicegraph.state"
	pathClusterGraph = "/api/cluster/graph"
	paramFromNS      = "from_ns"
	paramToNS        = "to_ns"
)

// MissingPeer is a peer left out of an answer, and why.
type MissingPeer struct {
	Peer  string `json:"peer"`
	Error string `json:"error"`
}

// partialFields are added to the JSON objects of fanned-out answers.
type partialFields struct {
	Partial      bool          `json:"partial"`
	MissingPeers []MissingPeer `json:"missing_peers,omitempty"`
}

// cluster fans requests out to the peers.
type cluster struct {
	cfg    ClusterConfig
	peers  PeerSource
	id     string // this instance's id, random per process
	client *http.Client

	mu   sync.Mutex      // guards self
	self map[string]bool // peer base URLs found to be this instance

	requests *prometheus.CounterVec // by result
	partial  prometheus.Counter
}

// Results of a peer request (the result label).
const (
	peerOK           = "ok"
	peerError        = "error"
	peerTimeout      = "timeout"
	peerIncompatible = "incompatible"
	peerSelf         = "self"
)

// newCluster returns nil when there is nothing to fan out to: neither
// configured peers nor a source.
func newCluster(cfg ClusterConfig, src PeerSource, reg prometheus.Registerer) (*cluster, error) {
	if src == nil && len(cfg.Peers) > 0 {
		src = StaticPeers(cfg.Peers)
	}
	if src == nil {
		return nil, nil
	}
	tlsConf, err := cfg.clientTLS()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if tlsConf != nil {
		tr.TLSClientConfig = tlsConf
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	c := &cluster{cfg: cfg, peers: src, id: hex.EncodeToString(id[:]), self: map[string]bool{},
		client: &http.Client{Transport: tr,
			// A peer is asked for its own graph; it never redirects.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "servicegraph_api_peer_requests_total",
			Help: "Requests of the API's fan-out to its peers, by result (ok, error, timeout, incompatible, self)."}, []string{"result"}),
		partial: prometheus.NewCounter(prometheus.CounterOpts{Name: "servicegraph_api_partial_answers_total",
			Help: "Fanned-out answers that left out at least one peer (marked partial)."}),
	}
	for _, r := range []string{peerOK, peerError, peerTimeout, peerIncompatible, peerSelf} {
		c.requests.WithLabelValues(r)
	}
	for _, m := range []prometheus.Collector{c.requests, c.partial} {
		if err := reg.Register(m); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return c, nil
}

// fanoutKey is the context key of a request's *fanout.
type fanoutKey struct{}

// fanout is one request's fan-out: done at most once per window.
type fanout struct {
	c     *cluster
	r     *http.Request
	peers []string

	mu      sync.Mutex // guards the fields below
	asked   bool
	missing []MissingPeer
	key     [2]int64 // the window merged
	merged  *graph.Snapshot
}

// fannedOut are the routes that answer for the whole cluster.
var fannedOut = map[string]bool{routeData: true, routeNodes: true, routeEdges: true, routeDependencies: true,
	routeSVG: true, routeDOT: true, routePNG: true, routeUnresolved: true, "graph_details": true}

// routeClusterGraph is the peers' route: this instance's graph of a window.
const routeClusterGraph = "cluster_graph"

// clustered serves fn for the whole cluster: unless the request is local,
// fn's snapshot (Server.snapshot) and problems (Server.problems) are the
// merged ones, and the answer says what was left out.
func (s *Server) clustered(route string, fn apiFunc) apiFunc {
	if s.cluster == nil || !fannedOut[route] {
		return fn
	}
	return func(r *http.Request) apiFuncResult {
		if local, _ := strconv.ParseBool(r.URL.Query().Get(ParamLocal)); local {
			return fn(r)
		}
		peers := s.cluster.others()
		if len(peers) == 0 {
			return fn(r)
		}
		f := &fanout{c: s.cluster, r: r, peers: peers}
		res := fn(r.WithContext(context.WithValue(r.Context(), fanoutKey{}, f)))
		return f.mark(res)
	}
}

// others returns the peers not known to be this instance.
func (c *cluster) others() []string {
	all := c.peers.Peers()
	out := make([]string, 0, len(all))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range all {
		if p = peerBase(p); p != "" && !c.self[p] && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// mark adds the partial marks to res, if peers were asked.
func (f *fanout) mark(res apiFuncResult) apiFuncResult {
	f.mu.Lock()
	asked, missing := f.asked, slices.Clone(f.missing)
	f.mu.Unlock()
	if !asked || res.err != nil {
		return res
	}
	slices.SortFunc(missing, func(a, b MissingPeer) int { return strings.Compare(a.Peer, b.Peer) })
	h := res.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set(HeaderPartial, strconv.FormatBool(len(missing) > 0))
	if len(missing) > 0 {
		f.c.partial.Inc()
		names := make([]string, len(missing))
		for i, m := range missing {
			names[i] = m.Peer
		}
		h.Set(HeaderMissingPeers, strings.Join(names, ", "))
	}
	res.header = h
	pf := partialFields{Partial: len(missing) > 0, MissingPeers: missing}
	switch d := res.data.(type) {
	case jaegerBody:
		res.data = struct {
			jaegerBody
			partialFields
		}{d, pf}
	case problemsBody:
		res.data = struct {
			problemsBody
			partialFields
		}{d, pf}
	}
	return res
}

// snapshot is the graph a handler answers [from, to) from: this
// instance's, or, in a fanned-out request, the merge of every instance's
// graph of that window.
func (s *Server) snapshot(r *http.Request, from, to time.Time) (*graph.Snapshot, error) {
	local := s.src.Graph.Snapshot()
	f, _ := r.Context().Value(fanoutKey{}).(*fanout)
	if f == nil {
		return local, nil
	}
	return f.graph(local, from, to)
}

// graph merges local and the peers' graphs of [from, to), asking the
// peers once per request and window.
func (f *fanout) graph(local *graph.Snapshot, from, to time.Time) (*graph.Snapshot, error) {
	key := [2]int64{from.UnixNano(), to.UnixNano()}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.merged != nil && f.key == key {
		return f.merged, nil
	}
	f.asked, f.missing = true, nil
	snaps := make([]*graph.Snapshot, len(f.peers)+1)
	snaps[0] = local.Windowed(from, to)
	f.each(func(ctx context.Context, i int, peer string) error {
		s, err := f.c.fetchGraph(ctx, f.r, peer, key)
		if err == nil && s != nil && (s.BucketWidth != local.BucketWidth || !slices.Equal(s.Bounds, local.Bounds)) {
			err = fmt.Errorf("%w: bucket width %s, bounds %v; this instance: %s, %v", graph.ErrIncompatible, s.BucketWidth, s.Bounds, local.BucketWidth, local.Bounds)
		}
		if err == nil {
			snaps[i+1] = s
		}
		return err
	})
	merged, _, err := graph.Merge(f.c.cfg.Limits, snaps...)
	if err != nil {
		return nil, fmt.Errorf("merge peers' graphs: %w", err)
	}
	f.key, f.merged = key, merged
	return merged, nil
}

// each calls ask for every peer at once, within the fan-out's deadline,
// and records the peers that fail. It needs f.mu.
func (f *fanout) each(ask func(ctx context.Context, i int, peer string) error) {
	ctx, cancel := context.WithTimeout(f.r.Context(), f.c.cfg.PeerTimeout)
	defer cancel()
	errs := make([]error, len(f.peers))
	var wg sync.WaitGroup
	for i, p := range f.peers {
		wg.Go(func() { errs[i] = ask(ctx, i, p) })
	}
	wg.Wait()
	for i, err := range errs {
		result := peerOK
		switch {
		case err == nil:
		case errors.Is(err, errSelf):
			result = peerSelf
		case errors.Is(err, graph.ErrIncompatible):
			result = peerIncompatible
		case errors.Is(err, context.DeadlineExceeded):
			result = peerTimeout
			err = fmt.Errorf("no answer within the peer timeout of %s", f.c.cfg.PeerTimeout)
		default:
			result = peerError
		}
		f.c.requests.WithLabelValues(result).Inc()
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err // the peer is named already
		}
		if err != nil && result != peerSelf {
			f.missing = append(f.missing, MissingPeer{Peer: f.peers[i], Error: cut(err.Error(), maxEcho)})
		}
	}
}

// errSelf is a peer that turned out to be this instance.
var errSelf = errors.New("this instance")

// fetchGraph asks peer for its graph of the window key (Unix ns). A peer
// found to be this instance is remembered and answered errSelf.
func (c *cluster) fetchGraph(ctx context.Context, in *http.Request, peer string, key [2]int64) (*graph.Snapshot, error) {
	q := url.Values{paramFromNS: {strconv.FormatInt(key[0], 10)}, paramToNS: {strconv.FormatInt(key[1], 10)}}
	resp, err := c.get(ctx, in, peer+pathClusterGraph+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.Header.Get(headerInstance) == c.id {
		c.mu.Lock()
		c.self[peer] = true
		c.mu.Unlock()
		return nil, errSelf
	}
	if ct := resp.Header.Get("Content-Type"); ct != stateContentType {
		return nil, fmt.Errorf("answered %q, not a graph (is it a servicegraph of this version?)", ct)
	}
	body, err := c.read(resp)
	if err != nil {
		return nil, err
	}
	s, err := graph.ReadSnapshot(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("read graph: %w", err)
	}
	return s, nil
}

// get sends a GET to a peer with the request's bearer token (the cluster
// shares its tokens) and checks for 200.
func (c *cluster) get(ctx context.Context, in *http.Request, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("peer request: %w", err)
	}
	if a := in.Header.Get("Authorization"); a != "" {
		req.Header.Set("Authorization", a)
	}
	req.Header.Set(headerInstance, c.id)
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &eb) == nil && eb.Error != "" {
			msg = eb.Error
		}
		return nil, fmt.Errorf("answered %d: %s", resp.StatusCode, msg)
	}
	return resp, nil
}

// read reads a peer's answer, at most MaxPeerBytes.
func (c *cluster) read(resp *http.Response) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxPeerBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if int64(len(b)) > c.cfg.MaxPeerBytes {
		return nil, fmt.Errorf("answer larger than max_peer_bytes (%d)", c.cfg.MaxPeerBytes)
	}
	return b, nil
}

// serveClusterGraph answers a peer's fan-out: this instance's graph of
// [from_ns, to_ns) (Unix ns), in the state file's format, one bucket per
// edge (graph.Snapshot.Windowed). It never fans out.
func (s *Server) serveClusterGraph(r *http.Request) apiFuncResult {
	v := r.URL.Query()
	var ns [2]int64
	for i, name := range []string{paramFromNS, paramToNS} {
		n, err := strconv.ParseInt(v.Get(name), 10, 64)
		if err != nil || n < minTime.UnixNano() || n > maxTime.UnixNano() {
			return apiFuncResult{err: paramErr(name, "want Unix nanoseconds from 0 to the year 2200, got %s", echo(v.Get(name)))}
		}
		ns[i] = n
	}
	if ns[1] <= ns[0] {
		return apiFuncResult{err: paramErr(paramToNS, "window is empty: %s is not after %s", paramToNS, paramFromNS)}
	}
	var buf bytes.Buffer
	if err := graph.WriteSnapshot(&buf, s.src.Graph.Snapshot().Windowed(time.Unix(0, ns[0]), time.Unix(0, ns[1]))); err != nil {
		return apiFuncResult{err: &internalError{msg: "encoding the graph failed", cause: err}}
	}
	h := http.Header{}
	if s.cluster != nil {
		h.Set(headerInstance, s.cluster.id)
	}
	return apiFuncResult{body: buf.Bytes(), contentType: stateContentType, header: h}
}

// problems are the recent span-link problems /api/links/unresolved
// answers from: this instance's, and in a fanned-out request the peers'
// (asked with the same service and limit), without duplicates.
func (s *Server) problems(r *http.Request, service string, limit int) []pairing.Problem {
	var all []pairing.Problem
	if s.src.Problems != nil {
		all = slices.Clone(s.src.Problems())
	}
	f, _ := r.Context().Value(fanoutKey{}).(*fanout)
	if f == nil {
		return all
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked, f.missing = true, nil
	got := make([][]pairing.Problem, len(f.peers))
	q := url.Values{ParamLocal: {"true"}, ParamLimit: {strconv.Itoa(limit)}}
	if service != "" {
		q.Set(ParamService, service)
	}
	f.each(func(ctx context.Context, i int, peer string) error {
		resp, err := f.c.get(ctx, f.r, peer+"/api/links/unresolved?"+q.Encode())
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := f.c.read(resp)
		if err != nil {
			return err
		}
		var pb problemsBody
		if err := json.Unmarshal(body, &pb); err != nil {
			return fmt.Errorf("read problems: %w", err)
		}
		got[i] = pb.Problems
		return nil
	})
	type key struct {
		result, trace, span, linkTrace, linkSpan string
		at                                       int64
	}
	seen := make(map[key]bool, len(all))
	var out []pairing.Problem
	for _, list := range append([][]pairing.Problem{all}, got...) {
		for _, p := range list {
			k := key{p.Result, p.TraceID, p.SpanID, p.LinkTraceID, p.LinkSpanID, p.Time.UnixNano()}
			if !seen[k] {
				seen[k] = true
				out = append(out, p)
			}
		}
	}
	return out
}
