package api_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/render/picture"
)

// blockingRenderer holds its caller until release is closed, whatever
// the caller's context says, and tells started when it is called.
type blockingRenderer struct {
	started chan struct{}
	release chan struct{}
}

func (r *blockingRenderer) Render(context.Context, string, *graph.View, picture.Format, picture.Options) ([]byte, error) {
	r.started <- struct{}{}
	<-r.release
	return []byte("digraph {}\n"), nil
}

// counter is the value of an unlabelled counter of reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}

// TestQueryLimit: with one query slot, a query waits while another runs
// and is answered when the slot frees; one that waits past the request
// timeout is answered 503 with Retry-After. Both are counted.
func TestQueryLimit(t *testing.T) {
	st, c := fixture(t)
	for _, tc := range []struct {
		name       string
		timeout    time.Duration
		wantStatus int
		refused    float64
	}{
		{name: "waits for the slot", timeout: time.Minute, wantStatus: http.StatusOK},
		{name: "gives up at the request timeout", timeout: time.Millisecond, wantStatus: http.StatusServiceUnavailable, refused: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := &blockingRenderer{started: make(chan struct{}, 1), release: make(chan struct{})}
			s, reg := newServer(t, c, api.Sources{Graph: st, Renderer: br}, func(cfg *api.Config) {
				cfg.MaxConcurrentQueries = 1
				cfg.RequestTimeout = tc.timeout
			})
			rendered := make(chan int, 1)
			go func() { rendered <- get(s.Handler(), "/graph.dot").Code }()
			<-br.started // the render holds the only slot
			data := make(chan *http.Response, 1)
			go func() { data <- get(s.Handler(), "/api/graph/data").Result() }()
			deadline := time.Now().Add(10 * time.Second)
			for counter(t, reg, "servicegraph_http_queries_waited_total") != 1 {
				if time.Now().After(deadline) {
					t.Fatal("the second query never waited")
				}
				time.Sleep(time.Millisecond) // polling a condition, not waiting for time
			}
			if tc.refused > 0 {
				res := <-data // refused while the render still holds the slot
				if res.StatusCode != tc.wantStatus || res.Header.Get("Retry-After") != "10" {
					t.Errorf("status %d, Retry-After %q; want %d with Retry-After 10", res.StatusCode, res.Header.Get("Retry-After"), tc.wantStatus)
				}
				body, _ := io.ReadAll(res.Body)
				if want := `{"error":"too many graph queries at once: retry later, or ` + hintJSON + `"}` + "\n"; string(body) != want {
					t.Errorf("body %s, want %s", body, want)
				}
				close(br.release)
			} else {
				close(br.release)
				if res := <-data; res.StatusCode != tc.wantStatus {
					t.Errorf("status %d, want %d", res.StatusCode, tc.wantStatus)
				}
			}
			<-rendered
			if got := counter(t, reg, "servicegraph_http_queries_refused_total"); got != tc.refused {
				t.Errorf("refused %v, want %v", got, tc.refused)
			}
			// The slot is free again: a query runs at once.
			if rec := get(s.Handler(), "/api/graph/edges"); rec.Code != http.StatusOK {
				t.Errorf("after: %d %s", rec.Code, rec.Body)
			}
			if got := counter(t, reg, "servicegraph_http_queries_waited_total"); got != 1 {
				t.Errorf("waited %v, want 1", got)
			}
		})
	}
}
