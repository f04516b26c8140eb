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

	"github.com/twmb/franz-go/pkg/kadm"
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

// handled ends a run when the group has committed every record of the
// spans topic (as many as were sent) and every link record on the links
// topic, as the broker tells; not before.
func TestHandledByCommits(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "spans_h", "spans_h_links"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k := &kafkaRun{brokers: strings.Join(c.ListenAddrs(), ",")}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for i, topic := range []string{"spans_h", "spans_h", "spans_h", "spans_h_links", "spans_h", "spans_h_links"} {
		r := &kgo.Record{Topic: topic, Key: []byte{byte(i)}, Value: []byte("v")}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, "spans_h", "spans_h_links")
	if err != nil {
		t.Fatal(err)
	}
	commit := func(topics ...string) {
		t.Helper()
		o := kadm.Offsets{}
		ends.Each(func(l kadm.ListedOffset) {
			if slices.Contains(topics, l.Topic) {
				o.Add(kadm.Offset{Topic: l.Topic, Partition: l.Partition, At: l.Offset, LeaderEpoch: -1})
			}
		})
		if err := adm.CommitAllOffsets(ctx, "g_h", o); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(recs int) error {
		ctx, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
		defer cancel()
		return k.handled(ctx, "g_h", "spans_h", recs)
	}
	if err := waitFor(4); err == nil || !strings.Contains(err.Error(), "committed 0 of 4 spans records (4 sent), 0 of 2 link records") {
		t.Fatalf("nothing committed: %v, want a timeout naming the counts", err)
	}
	commit("spans_h")
	if err := waitFor(4); err == nil || !strings.Contains(err.Error(), "0 of 2 link records") {
		t.Fatalf("link records not committed: %v, want a timeout", err)
	}
	commit("spans_h", "spans_h_links")
	if err := waitFor(4); err != nil {
		t.Fatalf("every record committed: %v", err)
	}
	// More sent than the topic holds: not done.
	if err := waitFor(5); err == nil || !strings.Contains(err.Error(), "committed 4 of 4 spans records (5 sent)") {
		t.Fatalf("5 sent, 4 on the topic: %v, want a timeout", err)
	}
}

// The warm pass's requests are the workload's under other trace ids:
// the same spans, none of their trace ids (nor their links') kept.
func TestWarmPassRekeys(t *testing.T) {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	a, b := ss.Spans().AppendEmpty(), ss.Spans().AppendEmpty()
	a.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	a.SetSpanID(pcommon.SpanID{1})
	b.SetTraceID(pcommon.TraceID{0: 9, 15: 1})
	b.SetSpanID(pcommon.SpanID{2})
	b.Links().AppendEmpty().SetTraceID(a.TraceID())
	raw, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	warm := slices.Clone(raw)
	if err := rekey(warm, warmKey); err != nil {
		t.Fatal(err)
	}
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(warm); err != nil {
		t.Fatal(err)
	}
	got := req.Traces().ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	if got.Len() != 2 {
		t.Fatalf("%d spans, want 2", got.Len())
	}
	ga, gb := got.At(0), got.At(1)
	if ga.TraceID() == a.TraceID() || gb.TraceID() == b.TraceID() {
		t.Errorf("trace ids kept: %v %v", ga.TraceID(), gb.TraceID())
	}
	if gb.Links().At(0).TraceID() != ga.TraceID() {
		t.Errorf("the link points at %v, want the rekeyed %v", gb.Links().At(0).TraceID(), ga.TraceID())
	}
	if ga.SpanID() != a.SpanID() || gb.SpanID() != b.SpanID() {
		t.Error("span ids changed")
	}
}

func TestMedianOfRounds(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{{[]float64{1.3, 1.1, 1.2}, 1.2}, {[]float64{1.4, 1.0, 1.2, 1.1}, 1.15}, {[]float64{0.9}, 0.9}} {
		if got := medianOf(c.xs); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("medianOf(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
	xs := []float64{1.3, 1.1, 1.2}
	medianOf(xs)
	if got := joinRatios(xs); got != "1.30,1.10,1.20" {
		t.Errorf("joinRatios = %q: want the rounds' order, untouched by medianOf", got)
	}
	if roundName("cluster", 0) != "cluster" || roundName("cluster", 2) != "cluster3" {
		t.Errorf("roundName: %q, %q", roundName("cluster", 0), roundName("cluster", 2))
	}
}

// reportRounds prints the round with the median cluster/single ratio as the
// result lines, the medians and every round's ratios, and names the first
// round whose truth check failed.
func TestReportRounds(t *testing.T) {
	run := func(cpuMs int, truth string) runResult {
		return runResult{members: 1, cpu: time.Duration(cpuMs) * time.Millisecond, wall: time.Second, truth: truth}
	}
	rounds := []map[string]runResult{
		{"grpc": run(2600, ""), "single": run(2000, ""), "cluster": run(2600, "exact: call 1/1")},      // 1.30
		{"grpc": run(2400, ""), "single": run(2000, ""), "cluster": run(2000, "exact: call 1/1")},      // 1.00
		{"grpc": run(2200, ""), "single": run(2000, ""), "cluster": run(2200, "differs: call 0/1; x")}, // 1.10
	}
	var b strings.Builder
	reportRounds(&b, rounds, []string{"grpc", "single", "cluster"}, 1000)
	want := []string{
		"result kafka_grpc members=1 spans=1000 cpu_s=2.20 ", // the third round's: its ratio is the median
		"result kafka_cluster members=1 spans=1000 cpu_s=2.20 ",
		"kafka_cluster truth: round 3 of 3: differs: call 0/1; x\n",
		"result kafka_ratios kafka_vs_grpc=1.20 cluster_vs_single=1.10 kafka_vs_grpc_rounds=1.30,1.20,1.10 cluster_vs_single_rounds=1.30,1.00,1.10\n",
	}
	for _, w := range want {
		if !strings.Contains(b.String(), w) {
			t.Errorf("report lacks %q:\n%s", w, b.String())
		}
	}
	// Every round exact: said so; one round: no round lists.
	rounds[2]["cluster"] = run(2200, "exact: call 1/1")
	b.Reset()
	reportRounds(&b, rounds, []string{"single", "cluster"}, 1000)
	if !strings.Contains(b.String(), "kafka_cluster truth: exact: call 1/1 (every one of 3 rounds)\n") {
		t.Errorf("every round exact:\n%s", b.String())
	}
	b.Reset()
	one := map[string]runResult{"single": rounds[0]["single"], "cluster": rounds[0]["cluster"]}
	reportRounds(&b, []map[string]runResult{one}, []string{"single", "cluster"}, 1000)
	if got := b.String(); !strings.HasSuffix(got, "result kafka_ratios cluster_vs_single=1.30\n") || strings.Contains(got, "every one") {
		t.Errorf("one round:\n%s", got)
	}
}
