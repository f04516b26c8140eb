package api_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// t0 is "now" in every fixture: not on a bucket boundary, so occurrences
// at t0-x land inside windows ending at t0.
var t0 = time.Date(2025, 6, 1, 12, 0, 30, 0, time.UTC)

// clock is an injected, settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// fixture is a small graph with every kind of edge, an async self-loop, a
// database, virtual nodes (user and an uninstrumented peer) and one edge
// that only happened three hours ago.
func fixture(t testing.TB) (*graph.Store, *clock) {
	t.Helper()
	c := &clock{t: t0}
	st := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: c.Now})
	svc := func(n string) graph.NodeID { return st.Node(n, graph.ServiceNode) }
	user, bank := st.User(), st.Node("bank-api", graph.VirtualNode)
	db := st.Node("orders-db", graph.DatabaseNode)
	frontend, checkout, payments := svc("frontend"), svc("checkout"), svc("payments")
	fulfilment, batch, legacy := svc("fulfilment"), svc("batch"), svc("legacy")
	observe := func(ago time.Duration, client, server graph.NodeID, k graph.Kind, n, failed int, secs float64) {
		c.Set(t0.Add(-ago))
		obs := make([]graph.Observation, n)
		for i := range obs {
			obs[i] = graph.Observation{Client: client, Server: server, Kind: k, Failed: i < failed, Seconds: [2]float64{secs, -1}}
		}
		st.Observe(obs, nil)
	}
	observe(3*time.Hour, frontend, legacy, graph.Call, 10, 0, 0.05)
	observe(50*time.Minute, user, frontend, graph.Virtual, 120, 0, 0.2)
	observe(50*time.Minute, frontend, checkout, graph.Call, 100, 5, 0.125)
	observe(40*time.Minute, checkout, payments, graph.Call, 60, 6, 0.25)
	observe(40*time.Minute, checkout, db, graph.Database, 80, 0, 0.0625)
	observe(30*time.Minute, checkout, fulfilment, graph.Messaging, 40, 0, 1.5)
	observe(20*time.Minute, checkout, batch, graph.SpanLink, 30, 3, 12)
	observe(20*time.Minute, payments, payments, graph.SpanLink, 8, 8, 2)
	observe(10*time.Minute, payments, bank, graph.Virtual, 50, 1, 0.5)
	c.Set(t0)
	return st, c
}

// newServer builds a Server over src with the test clock and a fresh
// registry; mod edits the default Config.
func newServer(t testing.TB, c *clock, src api.Sources, mod func(*api.Config)) (*api.Server, *prometheus.Registry) {
	t.Helper()
	cfg := api.NewDefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	if mod != nil {
		mod(&cfg)
	}
	reg := prometheus.NewRegistry()
	s, err := api.New(cfg, api.Settings{Logger: slog.New(slog.DiscardHandler), Registerer: reg, Now: c.Now}, src)
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	return s, reg
}

// get serves one GET request without a network.
func get(h http.Handler, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec
}

// decode unmarshals a recorded JSON answer.
func decode(t testing.TB, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
}

// golden compares got, indented, with testdata/<name>.golden.json;
// -update rewrites the file.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, got, "", "  "); err != nil {
		t.Fatalf("indent %s: %v", name, err)
	}
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./api -update to create it)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("%s differs from %s (run go test ./api -update after checking):\ngot:\n%s", name, path, b.String())
	}
}
