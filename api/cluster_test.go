package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/tlsconfig/tlstest"
	"github.com/servicegraph/servicegraph/pairing"
	"github.com/servicegraph/servicegraph/render/picture"
)

// peerList is a PeerSource set after the servers listen.
type peerList struct {
	mu   sync.Mutex
	urls []string
}

func (p *peerList) Peers() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.urls...)
}

func (p *peerList) set(urls ...string) {
	p.mu.Lock()
	p.urls = urls
	p.mu.Unlock()
}

// dotRenderer draws every format as the view's DOT text: what the
// picture shows, exactly.
type dotRenderer struct{}

func (dotRenderer) Render(_ context.Context, _ string, v *graph.View, _ picture.Format, o picture.Options) ([]byte, error) {
	var b strings.Builder
	err := picture.WriteDOT(&b, v, o)
	return []byte(b.String()), err
}

// splitFixture is the fixture's traffic dealt over three stores (an edge
// may be on several), and the store that saw all of it, with the link
// problems of each (one problem seen by two instances).
func splitFixture(t testing.TB) (parts [3]*graph.Store, whole *graph.Store, probs [3][]pairing.Problem, wholeProbs []pairing.Problem, c *clock) {
	t.Helper()
	c = &clock{t: t0}
	for i := range parts {
		parts[i] = graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: c.Now})
	}
	whole = graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: c.Now})
	node := func(st *graph.Store, name string) graph.NodeID {
		switch name {
		case "user":
			return st.User()
		case "bank-api":
			return st.Node(name, graph.VirtualNode)
		case "orders-db":
			return st.Node(name, graph.DatabaseNode)
		}
		return st.Node(name, graph.ServiceNode)
	}
	observe := func(part int, ago time.Duration, client, server string, k graph.Kind, n, failed int, secs float64) {
		c.Set(t0.Add(-ago))
		for _, st := range []*graph.Store{parts[part], whole} {
			obs := make([]graph.Observation, n)
			for i := range obs {
				obs[i] = graph.Observation{Client: node(st, client), Server: node(st, server), Kind: k, Failed: i < failed, Seconds: [2]float64{secs, -1}}
			}
			st.Observe(obs, nil)
		}
	}
	observe(0, 3*time.Hour, "frontend", "legacy", graph.Call, 10, 0, 0.05)
	observe(0, 50*time.Minute, "user", "frontend", graph.Virtual, 70, 0, 0.2)
	observe(1, 49*time.Minute, "user", "frontend", graph.Virtual, 50, 0, 0.2)
	observe(1, 50*time.Minute, "frontend", "checkout", graph.Call, 60, 5, 0.125)
	observe(2, 50*time.Minute, "frontend", "checkout", graph.Call, 40, 0, 0.5)
	observe(2, 40*time.Minute, "checkout", "payments", graph.Call, 60, 6, 0.25)
	observe(0, 40*time.Minute, "checkout", "orders-db", graph.Database, 80, 0, 0.0625)
	observe(1, 30*time.Minute, "checkout", "fulfilment", graph.Messaging, 40, 0, 1.5)
	observe(2, 20*time.Minute, "checkout", "batch", graph.SpanLink, 30, 3, 12)
	observe(0, 20*time.Minute, "payments", "payments", graph.SpanLink, 8, 8, 2)
	observe(1, 10*time.Minute, "payments", "bank-api", graph.Virtual, 25, 1, 0.5)
	observe(2, 5*time.Minute, "payments", "bank-api", graph.Virtual, 25, 0, 0.5)
	c.Set(t0)
	problem := func(trace string, ago time.Duration) pairing.Problem {
		return pairing.Problem{Result: "unresolved", Service: "fulfilment", SpanName: "consume", TraceID: trace, SpanID: "00000000000000aa",
			LinkTraceID: strings.Repeat("f", 32), LinkSpanID: "00000000000000bb", Time: t0.Add(-ago).UTC(), LikelyCause: pairing.CauseNeverSeen}
	}
	a, b, d := problem(strings.Repeat("a", 32), time.Minute), problem(strings.Repeat("b", 32), 2*time.Minute), problem(strings.Repeat("d", 32), 3*time.Minute)
	probs = [3][]pairing.Problem{{a, d}, {b, d}, nil}
	wholeProbs = []pairing.Problem{a, b, d}
	return parts, whole, probs, wholeProbs, c
}

// cluster starts three API servers, one per part, each with every
// server (itself included) as a peer, and one over the whole graph.
type testCluster struct {
	urls  [3]string
	whole string
	peers *peerList
	parts [3]*graph.Store
}

func startCluster(t *testing.T, mod func(*api.Config)) *testCluster {
	t.Helper()
	parts, whole, probs, wholeProbs, c := splitFixture(t)
	tc := &testCluster{peers: &peerList{}, parts: parts}
	for i := range parts {
		s, _ := newServer(t, c, api.Sources{Graph: parts[i], Problems: func() []pairing.Problem { return probs[i] },
			Renderer: dotRenderer{}, Peers: tc.peers}, mod)
		hs := httptest.NewServer(s.Handler())
		t.Cleanup(hs.Close)
		tc.urls[i] = hs.URL
	}
	tc.peers.set(tc.urls[0], tc.urls[1]+"/", tc.urls[2])
	s, _ := newServer(t, c, api.Sources{Graph: whole, Problems: func() []pairing.Problem { return wholeProbs }, Renderer: dotRenderer{}}, nil)
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	tc.whole = hs.URL
	return tc
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func fetch(t *testing.T, u string) answer {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// withoutPartial decodes a JSON object and takes out the partial fields,
// returning them apart.
func withoutPartial(t *testing.T, b []byte) (rest map[string]any, partial any, missing any) {
	t.Helper()
	if err := json.Unmarshal(b, &rest); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	partial, missing = rest["partial"], rest["missing_peers"]
	delete(rest, "partial")
	delete(rest, "missing_peers")
	return rest, partial, missing
}

var clusterPaths = []string{
	"/api/graph/data",
	"/api/graph/nodes",
	"/api/graph/edges",
	"/api/graph/data?service=checkout&depth=1",
	"/api/graph/edges?kinds=messaging_system,span_link",
	"/api/graph/data?from=" + itoa(t0.Add(-45*time.Minute).Unix()) + "&to=" + itoa(t0.Add(-15*time.Minute).Unix()),
	"/api/dependencies",
	"/api/dependencies?service=payments",
	"/graph.dot",
	"/graph.svg?service=payments&depth=1",
	"/graph.png",
	"/api/links/unresolved",
	"/api/links/unresolved?limit=2",
}

func itoa(n int64) string { return jsonNum(n) }

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

// Each of three instances, holding a third of the traffic, answers every
// graph endpoint exactly as the instance that saw all of it, and marks
// the answer complete; finding itself in its peer list, it skips itself.
func TestClusterMergedEqualsWhole(t *testing.T) {
	tc := startCluster(t, nil)
	for _, path := range clusterPaths {
		want := fetch(t, tc.whole+path)
		if want.status != http.StatusOK {
			t.Fatalf("%s on the whole graph: %d %s", path, want.status, want.body)
		}
		if h := want.header.Get(api.HeaderPartial); h != "" {
			t.Fatalf("%s without peers: %s %q", path, api.HeaderPartial, h)
		}
		for i, u := range tc.urls {
			got := fetch(t, u+path)
			if got.status != http.StatusOK {
				t.Fatalf("instance %d %s: %d %s", i, path, got.status, got.body)
			}
			if h := got.header.Get(api.HeaderPartial); h != "false" {
				t.Errorf("instance %d %s: %s %q, want false (missing: %q)", i, path, api.HeaderPartial, h, got.header.Get(api.HeaderMissingPeers))
			}
			if strings.HasPrefix(path, "/api/dependencies") || strings.HasPrefix(path, "/api/links") {
				rest, partial, missing := withoutPartial(t, got.body)
				wantRest, _, _ := withoutPartial(t, want.body)
				if partial != false || missing != nil {
					t.Errorf("instance %d %s: partial %v, missing_peers %v; want false and none", i, path, partial, missing)
				}
				if !reflect.DeepEqual(rest, wantRest) {
					t.Errorf("instance %d %s:\ngot  %s\nwant %s", i, path, got.body, want.body)
				}
				continue
			}
			if string(got.body) != string(want.body) {
				t.Errorf("instance %d %s:\ngot  %s\nwant %s", i, path, got.body, want.body)
			}
		}
	}
	// Spelled out: the merged frontend→checkout edge of the last hour.
	var edges []map[string]any
	if err := json.Unmarshal(fetch(t, tc.urls[1]+"/api/graph/edges").body, &edges); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range edges {
		if e["id"] == "frontend>checkout:call" {
			found = true
			if e["detail__requests"] != float64(100) || e["detail__failed"] != float64(5) || e["detail__mean_seconds"] != 0.275 {
				t.Errorf("frontend>checkout %v, want 100 requests, 5 failed, mean 0.275 s", e)
			}
		}
	}
	if !found {
		t.Fatalf("no frontend>checkout edge in %v", edges)
	}
}

// local=true, the fan-out's marker, answers from the instance's own graph
// and asks no peer; /api/cluster/graph is always local.
func TestClusterLocalMarker(t *testing.T) {
	tc := startCluster(t, nil)
	c := &clock{t: t0}
	s, _ := newServer(t, c, api.Sources{Graph: tc.parts[2], Renderer: dotRenderer{}}, nil)
	alone := httptest.NewServer(s.Handler())
	defer alone.Close()
	for _, path := range []string{"/api/graph/data", "/api/graph/edges?kinds=call", "/graph.dot"} {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		got := fetch(t, tc.urls[2]+path+sep+"local=true")
		want := fetch(t, alone.URL+path)
		if got.status != http.StatusOK || string(got.body) != string(want.body) {
			t.Errorf("%s local=true: %d\n%s\nwant the instance's own\n%s", path, got.status, got.body, want.body)
		}
		if h := got.header.Get(api.HeaderPartial); h != "" {
			t.Errorf("%s local=true: %s %q, want none (no fan-out)", path, api.HeaderPartial, h)
		}
	}
	// A peer whose every answer would loop back is never asked twice: the
	// cluster route answers only its own graph (one edge of part 2 here).
	from, to := t0.Add(-time.Hour).UnixNano(), t0.UnixNano()
	got := fetch(t, tc.urls[2]+"/api/cluster/graph?from_ns="+jsonNum(from)+"&to_ns="+jsonNum(to))
	if got.status != http.StatusOK {
		t.Fatalf("/api/cluster/graph: %d %s", got.status, got.body)
	}
	snap, err := graph.ReadSnapshot(strings.NewReader(string(got.body)))
	if err != nil {
		t.Fatal(err)
	}
	if want := len(tc.parts[2].Snapshot().Edges); len(snap.Edges) != want {
		t.Fatalf("/api/cluster/graph has %d edges, want part 2's %d", len(snap.Edges), want)
	}
	for _, bad := range []string{"", "?from_ns=1", "?from_ns=5&to_ns=5", "?from_ns=x&to_ns=9"} {
		if a := fetch(t, tc.urls[0]+"/api/cluster/graph"+bad); a.status != http.StatusBadRequest {
			t.Errorf("/api/cluster/graph%s: %d, want 400", bad, a.status)
		}
	}
}

// A peer that hangs past the peer timeout, and one that answers no graph,
// are left out: the answer is still 200, exact for the others, marked
// partial with both named.
func TestClusterPartial(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	junk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "hello")
	}))
	defer junk.Close()
	tc := startCluster(t, func(c *api.Config) { c.Cluster.PeerTimeout = 200 * time.Millisecond })
	tc.peers.set(tc.urls[0], tc.urls[1], hang.URL, tc.urls[2], junk.URL)
	wantMissing := []string{hang.URL, junk.URL}
	if junk.URL < hang.URL {
		wantMissing = []string{junk.URL, hang.URL}
	}
	for _, path := range []string{"/api/graph/data", "/api/dependencies", "/graph.dot", "/api/links/unresolved"} {
		want := fetch(t, tc.whole+path)
		got := fetch(t, tc.urls[0]+path)
		if got.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, got.status, got.body)
		}
		if h := got.header.Get(api.HeaderPartial); h != "true" {
			t.Errorf("%s: %s %q, want true", path, api.HeaderPartial, h)
		}
		if h := got.header.Get(api.HeaderMissingPeers); h != strings.Join(wantMissing, ", ") {
			t.Errorf("%s: %s %q, want %q", path, api.HeaderMissingPeers, h, strings.Join(wantMissing, ", "))
		}
		if path == "/api/graph/data" || path == "/graph.dot" {
			if string(got.body) != string(want.body) {
				t.Errorf("%s:\ngot  %s\nwant %s", path, got.body, want.body)
			}
			continue
		}
		var body struct {
			Partial      bool              `json:"partial"`
			MissingPeers []api.MissingPeer `json:"missing_peers"`
		}
		if err := json.Unmarshal(got.body, &body); err != nil {
			t.Fatal(err)
		}
		if !body.Partial || len(body.MissingPeers) != 2 || body.MissingPeers[0].Peer != wantMissing[0] || body.MissingPeers[1].Peer != wantMissing[1] {
			t.Fatalf("%s: %s, want partial and %v", path, got.body, wantMissing)
		}
		for _, m := range body.MissingPeers {
			wantErr := "no answer within the peer timeout of 200ms"
			if m.Peer == junk.URL {
				wantErr = `answered "text/plain", not a graph`
				if path == "/api/links/unresolved" {
					wantErr = "read problems"
				}
			}
			if !strings.Contains(m.Error, wantErr) {
				t.Errorf("%s: %s error %q, want it to say %q", path, m.Peer, m.Error, wantErr)
			}
		}
		rest, _, _ := withoutPartial(t, got.body)
		wantRest, _, _ := withoutPartial(t, want.body)
		if !reflect.DeepEqual(rest, wantRest) {
			t.Errorf("%s:\ngot  %s\nwant %s", path, got.body, want.body)
		}
	}
}

func TestClusterConfigValidate(t *testing.T) {
	c := api.NewDefaultClusterConfig()
	c.Peers = []string{"http://a:8080", "ftp://b:21", "http://", "http://c:8080/?x=1", "https://d:8443/prefix/"}
	c.PeerTimeout = 0
	c.MaxPeerBytes = 10
	err := c.Validate()
	want := []string{
		`peers: "ftp://b:21": want http://host:port or https://host:port`,
		`peers: "http://": no host`,
		`peers: "http://c:8080/?x=1": no user, query or fragment allowed`,
		"peer_timeout must be positive, got 0s",
		"max_peer_bytes must be at least 1024, got 10",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("Validate: %v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
	if err := api.NewDefaultClusterConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}

// The merged graph is capped like one instance's: with max_edges 3 the
// three busiest edges of the window stay (TestMergeLimits covers nodes).
func TestClusterMergeCapped(t *testing.T) {
	tc := startCluster(t, func(c *api.Config) { c.Cluster.Limits.MaxEdges = 3 })
	var edges []map[string]any
	if err := json.Unmarshal(fetch(t, tc.urls[0]+"/api/graph/edges").body, &edges); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range edges {
		ids = append(ids, e["id"].(string))
	}
	if want := []string{"checkout>orders-db:database", "frontend>checkout:call", "user>frontend:virtual_node"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("edges %v, want %v", ids, want)
	}
}

// DynamicPeers looks up at most every refresh, keeps the last list when a
// lookup fails, and has no peers before SetLookup.
func TestDynamicPeers(t *testing.T) {
	d := api.NewDynamicPeers(time.Hour, time.Second)
	if got := d.Peers(); got != nil {
		t.Fatalf("before SetLookup: %v", got)
	}
	calls := 0
	answer, fail := []string{"http://a:8080"}, false
	d.SetLookup(func(ctx context.Context) ([]string, error) {
		calls++
		if fail {
			return nil, context.DeadlineExceeded
		}
		return answer, nil
	})
	for range 3 {
		if got := d.Peers(); !reflect.DeepEqual(got, []string{"http://a:8080"}) {
			t.Fatalf("peers %v", got)
		}
	}
	if calls != 1 {
		t.Fatalf("%d lookups within the refresh, want 1", calls)
	}
	// A new lookup (SetLookup makes the list stale) that fails keeps the
	// previous list.
	fail = true
	d.SetLookup(func(ctx context.Context) ([]string, error) { calls++; return nil, context.DeadlineExceeded })
	if got := d.Peers(); !reflect.DeepEqual(got, []string{"http://a:8080"}) || d.Failures() != 1 {
		t.Fatalf("after a failed lookup: %v, %d failures", got, d.Failures())
	}
	answer = []string{"http://b:8080"}
	d.SetLookup(func(ctx context.Context) ([]string, error) { return answer, nil })
	if got := d.Peers(); !reflect.DeepEqual(got, answer) {
		t.Fatalf("after SetLookup: %v", got)
	}
}

// Peers behind mutual TLS: the fan-out presents the peer client
// certificate and trusts the peer CA; without the certificate the peer
// refuses the handshake and the answer is partial.
func TestClusterMutualTLS(t *testing.T) {
	files := tlstest.Write(t, t.TempDir())
	parts, _, _, _, c := splitFixture(t)
	run := func(withCert bool) answer {
		peers := &peerList{}
		var urls []string
		for i := range 2 {
			s, _ := newServer(t, c, api.Sources{Graph: parts[i], Peers: peers}, func(cfg *api.Config) {
				cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.TLS.ClientCAFile = files.ServerCert, files.ServerKey, files.CA
				cfg.Cluster.PeerCAFile = files.CA
				cfg.Cluster.PeerTimeout = 5 * time.Second
				if withCert {
					cfg.Cluster.PeerCertFile, cfg.Cluster.PeerKeyFile = files.ClientCert, files.ClientKey
				}
			})
			if err := s.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
			urls = append(urls, "https://"+s.Addr().String())
		}
		peers.set(urls...)
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: files.ClientConfig(t, true)}}
		resp, err := client.Get(urls[0] + "/api/dependencies")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return answer{resp.StatusCode, resp.Header, b}
	}
	got := run(true)
	var body struct {
		Data         []map[string]any  `json:"data"`
		Partial      bool              `json:"partial"`
		MissingPeers []api.MissingPeer `json:"missing_peers"`
	}
	if err := json.Unmarshal(got.body, &body); err != nil {
		t.Fatal(err)
	}
	if got.status != http.StatusOK || body.Partial || got.header.Get(api.HeaderPartial) != "false" {
		t.Fatalf("with the peer certificate: %d %s", got.status, got.body)
	}
	got = run(false)
	body.MissingPeers = nil
	if err := json.Unmarshal(got.body, &body); err != nil {
		t.Fatal(err)
	}
	// Both peers refuse, this instance too: it cannot tell itself apart
	// without an answer. (TLS 1.3 reports the refusal on the first read
	// or write: "tls: certificate required" or a broken pipe.)
	if got.status != http.StatusOK || !body.Partial || len(body.MissingPeers) != 2 {
		t.Fatalf("without the peer certificate: %d %s, want partial, both peers missing", got.status, got.body)
	}
	cfg := api.NewDefaultClusterConfig()
	cfg.PeerCertFile = files.ClientCert
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "peer_cert_file and peer_key_file go together") {
		t.Fatalf("cert without key: %v", err)
	}
}
