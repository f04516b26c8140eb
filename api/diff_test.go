package api_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/render/picture"
)

// diffFixture is a store with 10 s history buckets and two minutes of
// traffic: the baseline minute [t0−2m, t0−1m) and the current one
// [t0−1m, t0).
//
//	frontend→checkout call   20 at 62.5 ms, then 20 at 250 ms  changed: latency
//	frontend→search call     10, then 30                      changed: rate
//	frontend→legacy call     10, then none                    removed (legacy too)
//	checkout→fulfilment msg  none, then 10 at 125 ms delay    added (fulfilment too), dashed
//	checkout→orders-db db    50, then 50 with 1 failed        changed: errors
func diffFixture(t testing.TB) (*graph.Store, *clock) {
	t.Helper()
	c := &clock{t: t0}
	cfg := graph.NewDefaultConfig()
	cfg.BucketWidth = 10 * time.Second
	st := graph.MustNew(cfg, graph.Settings{Now: c.Now})
	svc := func(n string) graph.NodeID { return st.Node(n, graph.ServiceNode) }
	frontend, checkout, search, legacy, fulfilment := svc("frontend"), svc("checkout"), svc("search"), svc("legacy"), svc("fulfilment")
	db := st.Node("orders-db", graph.DatabaseNode)
	observe := func(ago time.Duration, client, server graph.NodeID, k graph.Kind, n, failed int, secs float64) {
		c.Set(t0.Add(-ago))
		obs := make([]graph.Observation, n)
		for i := range obs {
			obs[i] = graph.Observation{Client: client, Server: server, Kind: k, Failed: i < failed, Seconds: [2]float64{secs, -1}}
		}
		st.Observe(obs, nil)
	}
	observe(90*time.Second, frontend, checkout, graph.Call, 20, 0, 0.0625)
	observe(90*time.Second, frontend, search, graph.Call, 10, 0, 0.125)
	observe(90*time.Second, frontend, legacy, graph.Call, 10, 0, 0.5)
	observe(90*time.Second, checkout, db, graph.Database, 50, 0, 0.0625)
	observe(30*time.Second, frontend, checkout, graph.Call, 20, 0, 0.25)
	observe(30*time.Second, frontend, search, graph.Call, 30, 0, 0.125)
	observe(30*time.Second, checkout, fulfilment, graph.Messaging, 10, 0, 0.125)
	observe(30*time.Second, checkout, db, graph.Database, 50, 1, 0.0625)
	c.Set(t0)
	return st, c
}

// TestDiffAPI: the diff of the last minute against the minute before, as
// JSON and as Node Graph API rows, golden; the default baseline is the
// window of the same length just before.
func TestDiffAPI(t *testing.T) {
	st, c := diffFixture(t)
	s, _ := newServer(t, c, api.Sources{Graph: st}, nil)
	h := s.Handler()
	window := "from=" + unix(t0.Add(-time.Minute)) + "&to=" + unix(t0)
	explicit := "&baseline_from=" + unix(t0.Add(-2*time.Minute)) + "&baseline_to=" + unix(t0.Add(-time.Minute))
	for _, tc := range []struct{ name, target string }{
		{"diff", "/api/graph/diff?" + window},
		{"diff_data", "/api/graph/diff/data?" + window},
		{"diff_fields", "/api/graph/diff/fields?" + window},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(h, tc.target)
			if rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			golden(t, tc.name, rec.Body.Bytes())
			// The same with the baseline spelled out; the datasource's
			// paths under /diff answer the same.
			if got := get(h, tc.target+explicit).Body.String(); got != rec.Body.String() {
				t.Errorf("explicit baseline differs:\n%s", got)
			}
		})
	}
	for path, alias := range map[string]string{"/api/graph/diff/data?": "/diff/api/graph/data?", "/api/graph/diff/fields?": "/diff/api/graph/fields?"} {
		if a, b := get(h, path+window).Body.String(), get(h, alias+window).Body.String(); a != b {
			t.Errorf("%s differs from %s", alias, path)
		}
	}
	if rec := get(h, "/diff/api/health"); rec.Code != http.StatusOK {
		t.Errorf("/diff/api/health: %d", rec.Code)
	}

	// Only baseline_to: the baseline keeps the window's length.
	var body struct {
		BaselineFrom time.Time `json:"baseline_from"`
		BaselineTo   time.Time `json:"baseline_to"`
		Summary      struct {
			Edges map[string]int `json:"edges"`
		} `json:"summary"`
	}
	decode(t, get(h, "/api/graph/diff?"+window+"&baseline_to="+unix(t0.Add(-90*time.Second))), &body)
	if !body.BaselineFrom.Equal(t0.Add(-150*time.Second)) || !body.BaselineTo.Equal(t0.Add(-90*time.Second)) {
		t.Errorf("baseline %s..%s", body.BaselineFrom, body.BaselineTo)
	}
	// baseline_offset moves the window back: 1m (and 60s, Go's spelling)
	// is the default baseline, answered byte for byte; 90s is
	// [t0−150s, t0−90s].
	for _, off := range []string{"1m", "60s"} {
		if got, want := get(h, "/api/graph/diff?"+window+"&baseline_offset="+off).Body.String(), get(h, "/api/graph/diff?"+window).Body.String(); got != want {
			t.Errorf("baseline_offset=%s differs from the default baseline:\n%s", off, got)
		}
	}
	body.BaselineFrom, body.BaselineTo = time.Time{}, time.Time{}
	decode(t, get(h, "/api/graph/diff?"+window+"&baseline_offset=1m30s&baseline_from="), &body)
	if !body.BaselineFrom.Equal(t0.Add(-150*time.Second)) || !body.BaselineTo.Equal(t0.Add(-90*time.Second)) {
		t.Errorf("baseline_offset=1m30s: baseline %s..%s", body.BaselineFrom, body.BaselineTo)
	}
	// Looser thresholds: the rate (+200%) and the errors (+2 points) stay
	// within them, the latency (+300%) does not.
	decode(t, get(h, "/api/graph/diff?"+window+"&rate_change=2.5&error_change=2.5&latency_change=3"), &body)
	if want := map[string]int{"added": 1, "removed": 1, "changed": 1, "same": 2}; !mapsEqual(body.Summary.Edges, want) {
		t.Errorf("summary %v, want %v", body.Summary.Edges, want)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestDiffAPIErrors(t *testing.T) {
	st, c := diffFixture(t)
	s, _ := newServer(t, c, api.Sources{Graph: st}, nil)
	h := s.Handler()
	for _, tc := range []struct{ name, query, param, msg string }{
		{"bad baseline_from", "baseline_from=yesterday", "baseline_from",
			`baseline_from "yesterday": want Unix seconds, Unix milliseconds or RFC 3339`},
		{"empty baseline", "baseline_from=100&baseline_to=100", "baseline_from",
			"baseline_from (1970-01-01T00:01:40Z) must be before baseline_to (1970-01-01T00:01:40Z)"},
		{"baseline_to at the epoch", "baseline_to=0", "baseline_to",
			"baseline_from (1970-01-01T00:00:00Z) must be before baseline_to (1970-01-01T00:00:00Z)"},
		{"baseline_offset with baseline_from", "baseline_offset=7d&baseline_from=100", "baseline_offset",
			"give the baseline either as baseline_offset or as baseline_from/baseline_to, not both"},
		{"baseline_offset with baseline_to", "baseline_offset=7d&baseline_to=100", "baseline_offset",
			"give the baseline either as baseline_offset or as baseline_from/baseline_to, not both"},
		{"bad baseline_offset", "baseline_offset=lastweek", "baseline_offset",
			`baseline_offset must be a positive duration such as 7d, 24h or 90m, got "lastweek"`},
		{"negative baseline_offset", "baseline_offset=-1h", "baseline_offset",
			`baseline_offset must be a positive duration such as 7d, 24h or 90m, got "-1h"`},
		{"zero baseline_offset", "baseline_offset=0s", "baseline_offset",
			`baseline_offset must be a positive duration such as 7d, 24h or 90m, got "0s"`},
		{"rate_change zero", "rate_change=0", "rate_change", `rate_change must be a number above 0 and at most 1e+06, got "0"`},
		{"error_change above 100", "error_change=101", "error_change", `error_change must be a number above 0 and at most 100, got "101"`},
		{"latency_change NaN", "latency_change=NaN", "latency_change", `latency_change must be a number above 0 and at most 1e+06, got "NaN"`},
		{"common filters", "depth=99", "depth", `depth must be a whole number from 0 to 10, got "99"`},
		{"unknown service", "service=nope", "service", `unknown service "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/api/graph/diff?", "/api/graph/diff/data?", "/api/graph/diff/fields?"} {
				if tc.param == "service" && path == "/api/graph/diff/fields?" {
					continue // the field list does not look the service up
				}
				rec := get(h, path+tc.query)
				var body struct{ Error, Parameter string }
				decode(t, rec, &body)
				if rec.Code != http.StatusBadRequest || body.Parameter != tc.param || body.Error != tc.msg {
					t.Errorf("%s%s: %d %+v, want 400 %s %q", path, tc.query, rec.Code, body, tc.param, tc.msg)
				}
			}
		})
	}
}

// diffDOTRenderer answers every format with picture.WriteDOT's text, so that
// tests read exactly what the renderer was asked to draw.
type diffDOTRenderer struct{ keys []string }

func (r *diffDOTRenderer) Render(_ context.Context, key string, v *graph.View, _ picture.Format, o picture.Options) ([]byte, error) {
	r.keys = append(r.keys, key)
	var b bytes.Buffer
	err := picture.WriteDOT(&b, v, o)
	return b.Bytes(), err
}

// TestDiffRender: /graph.dot with a baseline draws the diff (golden DOT:
// added edge highlighted, removed faded, changed annotated); without one,
// the view; the two have different render keys, and so do diffs with
// different thresholds.
func TestDiffRender(t *testing.T) {
	st, c := diffFixture(t)
	r := &diffDOTRenderer{}
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: r}, nil)
	h := s.Handler()
	window := "from=" + unix(t0.Add(-time.Minute)) + "&to=" + unix(t0)
	rec := get(h, "/graph.dot?"+window+"&baseline_to="+unix(t0.Add(-time.Minute)))
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	path := filepath.Join("testdata", "diff_render.golden.dot")
	if *update {
		if err := os.WriteFile(path, rec.Body.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.Body.String(); got != string(want) {
		t.Errorf("diff DOT differs from %s (-update rewrites it):\n%s", path, got)
	}
	for _, s := range []string{
		`"checkout" -> "fulfilment" [id="e_checkout_fulfilment_messaging_system_`, `class="diff-added", label="messaging_system\nadded: 10"`,
		`class="diff-removed", label="removed (was 10)"`, `label="10 → 30 (+200%)"`, `label="20\np95 95ms → 390ms (+311%)"`,
	} {
		if !strings.Contains(rec.Body.String(), s) {
			t.Errorf("diff DOT lacks %s", s)
		}
	}
	plain := get(h, "/graph.dot?"+window)
	if plain.Code != http.StatusOK || strings.Contains(plain.Body.String(), "diff-") {
		t.Fatalf("without a baseline: %d %s", plain.Code, plain.Body)
	}
	get(h, "/graph.dot?"+window+"&baseline_to="+unix(t0.Add(-time.Minute))+"&rate_change=5")
	if k := r.keys; len(k) != 3 || k[0] == k[1] || k[0] == k[2] || !strings.HasPrefix(k[0], "diff|") {
		t.Errorf("render keys: %q", k)
	}
	// Parameter errors are the diff's.
	// baseline_offset alone asks for the diff picture: the same DOT.
	if got := get(h, "/graph.dot?"+window+"&baseline_offset=1m").Body.String(); got != rec.Body.String() {
		t.Errorf("/graph.dot with baseline_offset=1m differs from baseline_to:\n%s", got)
	}
	if rec := get(h, "/graph.svg?baseline_offset=1x"); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"parameter":"baseline_offset"`) {
		t.Errorf("bad baseline_offset: %d %s", rec.Code, rec.Body)
	}
	if rec := get(h, "/graph.svg?baseline_from=x"); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"parameter":"baseline_from"`) {
		t.Errorf("bad baseline: %d %s", rec.Code, rec.Body)
	}
}

// TestSnapshotAPI: /api/graph/snapshot answers the window as a version 1
// snapshot document (golden), which reads back with the window's numbers.
func TestSnapshotAPI(t *testing.T) {
	st, c := diffFixture(t)
	s, _ := newServer(t, c, api.Sources{Graph: st}, nil)
	rec := get(s.Handler(), "/api/graph/snapshot?from="+unix(t0.Add(-time.Minute))+"&to="+unix(t0)+"&kinds=call,messaging_system,database")
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if got, want := rec.Header().Get("Content-Disposition"), `attachment; filename="servicegraph-snapshot-20250601T120030Z.json"`; got != want {
		t.Errorf("Content-Disposition %q, want %q", got, want)
	}
	golden(t, "snapshot", rec.Body.Bytes())
	doc, err := graph.ReadDocument(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Edges) != 4 || doc.Edges[3].Count != 30 || doc.Edges[3].Rate != 0.5 || doc.Filters.Kinds.Has(graph.Virtual) {
		t.Errorf("document: %+v", doc)
	}
	if rec := get(s.Handler(), "/api/graph/snapshot?service=nope"); rec.Code != http.StatusBadRequest {
		t.Errorf("unknown service: %d", rec.Code)
	}
}
