package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// quantile reads a cumulative histogram as Prometheus' histogram_quantile
// does: linear within the bucket that holds the rank.
func TestQuantile(t *testing.T) {
	b := map[float64]uint64{0.01: 10, 0.1: 90, 1: 99, math.Inf(1): 100}
	for _, c := range []struct {
		q, want, le float64
	}{
		{0.05, 0.005, 0.01}, // 5 of the 10 at or below 10 ms
		{0.5, 0.055, 0.1},   // rank 50: 40 of the 80 between 10 and 100 ms
		{0.99, 1, 1},        // rank 99: the last of the bucket up to 1 s
	} {
		got, le := quantile(b, 100, c.q)
		if math.Abs(got-c.want) > 1e-12 || le != c.le {
			t.Errorf("q %v: %v (bucket le %v), want %v (le %v)", c.q, got, le, c.want, c.le)
		}
	}
	if got, le := quantile(nil, 0, 0.99); got != 0 || le != 0 {
		t.Errorf("empty histogram: %v %v, want 0 0", got, le)
	}
}

// splitByTrace makes one record per trace of each request, keyed by the
// hex trace id, holding that trace's spans under their resource, with its
// span count in its header.
func TestSplitByTrace(t *testing.T) {
	td := ptrace.NewTraces()
	for i, svc := range []string{"web", "api"} {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		ss := rs.ScopeSpans().AppendEmpty()
		for tr := range 2 {
			s := ss.Spans().AppendEmpty()
			s.SetTraceID(pcommon.TraceID{byte(tr + 1)})
			s.SetSpanID(pcommon.SpanID{byte(i + 1)})
		}
	}
	req, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	recs, err := splitByTrace([][]byte{req})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	for i, r := range recs {
		if want := fmt.Sprintf("%02x%030x", i+1, 0); string(r.Key) != want {
			t.Errorf("record %d key %s, want %s", i, r.Key, want)
		}
		if n := int(r.Headers[0].Value[0]) | int(r.Headers[0].Value[1])<<8; n != 2 {
			t.Errorf("record %d: %d spans in the header, want 2", i, n)
		}
		got := ptraceotlp.NewExportRequest()
		if err := got.UnmarshalProto(r.Value); err != nil {
			t.Fatal(err)
		}
		var svcs []string
		for _, rs := range got.Traces().ResourceSpans().All() {
			v, _ := rs.Resource().Attributes().Get("service.name")
			svcs = append(svcs, v.Str())
			for _, s := range rs.ScopeSpans().At(0).Spans().All() {
				if s.TraceID() != (pcommon.TraceID{byte(i + 1)}) {
					t.Errorf("record %d holds trace %v", i, s.TraceID())
				}
			}
		}
		if fmt.Sprint(svcs) != "[web api]" {
			t.Errorf("record %d resources %v, want [web api]", i, svcs)
		}
	}
}

// A run's line: the Kafka runs' figures after the CPU ones, each only
// when measured.
func TestRunResultLine(t *testing.T) {
	r := runResult{members: 3, cpu: 2 * time.Second, wall: 11 * time.Second, idle: 30 * time.Millisecond,
		sys: 200 * time.Millisecond, faults: 5000, gcs: 13, allocB: 3200, reqs: [4]int64{160, 240, 27, 9}}
	want := "members=3 spans=1000 cpu_s=2.00 cpu_ns_per_span=2000000 cpu_spans_per_s=500 wall_s=11.0 idle_cpu_ms_per_s=10" +
		" sys_cpu_s=0.20 page_faults=5000 gc_cycles=13 alloc_b_per_span=3" +
		" fetch_reqs=160 link_produce_reqs=240 commit_reqs=27 heartbeat_reqs=9"
	if got := r.line(1000); got != want {
		t.Errorf("line:\n got %s\nwant %s", got, want)
	}
	r = runResult{members: 1, cpu: time.Second, wall: time.Second}
	if got, want := r.line(1000), "members=1 spans=1000 cpu_s=1.00 cpu_ns_per_span=1000000 cpu_spans_per_s=1000 wall_s=1.0"; got != want {
		t.Errorf("gRPC line:\n got %s\nwant %s", got, want)
	}
}

// scrapeMetrics asks for the named families only (the server's name[]
// filter), or for all of them.
func TestScrapeMetricsNames(t *testing.T) {
	var queries, caching []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		caching = append(caching, r.Header.Get("Cache-Control"))
		fmt.Fprint(w, "# TYPE a_total counter\na_total 2\n")
	}))
	defer srv.Close()
	f, err := scrapeMetrics(context.Background(), srv.Client(), srv.URL, "a_total", "b")
	if err != nil {
		t.Fatal(err)
	}
	if got := sum(f, "a_total", ""); got != 2 {
		t.Errorf("a_total %v, want 2", got)
	}
	if _, err := scrapeMetrics(context.Background(), srv.Client(), srv.URL); err != nil {
		t.Fatal(err)
	}
	if want := []string{"name%5B%5D=a_total&name%5B%5D=b", ""}; !slices.Equal(queries, want) {
		t.Errorf("queries %q, want %q", queries, want)
	}
	// Fresh reads: never an answer the server's read cache kept.
	if want := []string{"no-cache", "no-cache"}; !slices.Equal(caching, want) {
		t.Errorf("Cache-Control %q, want %q", caching, want)
	}
}

// TestProcStat reads this process's /proc/<pid>/stat: it has run and
// faulted in pages; cpuTime is its user + system time; a pid that is no
// process is unknown.
func TestProcStat(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/<pid>/stat is Linux's")
	}
	// Busy until the kernel has counted some CPU time (10 ms ticks).
	st, ok := procStat(os.Getpid())
	for t0 := time.Now(); ok && st.utime+st.stime == 0 && time.Since(t0) < 5*time.Second; {
		st, ok = procStat(os.Getpid())
	}
	if !ok || st.minflt <= 0 || st.utime+st.stime <= 0 {
		t.Fatalf("procStat(self) = %+v, %v: want page faults and CPU time", st, ok)
	}
	if cpu, ok := cpuTime(os.Getpid()); !ok || cpu < st.utime+st.stime {
		t.Errorf("cpuTime(self) = %v, %v; want at least %v", cpu, ok, st.utime+st.stime)
	}
	if _, ok := procStat(0); ok {
		t.Error("procStat(0): known")
	}
}

// countRequests counts the produce requests to the links topic (named
// by id in produce v13), not those to the spans topic.
func TestCountRequests(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "spans_x", "spans_x_links"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc := countRequests(c)
	ctx := context.Background()
	brokers := strings.Join(c.ListenAddrs(), ",")
	if err := rc.linksTopic(ctx, brokers, "spans_x_links"); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, topic := range []string{"spans_x", "spans_x_links", "spans_x_links", "spans_x"} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if got := rc.snapshot(); got != [4]int64{0, 2, 0, 0} {
		t.Errorf("counts %v, want [0 2 0 0] (fetches, link produce requests, commits, heartbeats)", got)
	}
}
