package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// agSpan is one span of a hand-built OTLP request.
type agSpan struct {
	svc           string
	trace         uint32
	id, parent    uint32
	kind          ptrace.SpanKind
	peer, dbSys   string // peer.service; db.system.name (with db.namespace = peer)
	failed        bool
	startMs, durM int64
}

// agTraces builds one OTLP request, a resource per span.
func agTraces(spans []agSpan) ptrace.Traces {
	td := ptrace.NewTraces()
	for _, sp := range spans {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", sp.svc)
		s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		s.SetTraceID(agTraceID(sp.trace))
		s.SetSpanID(agSpanID(sp.id))
		if sp.parent != 0 {
			s.SetParentSpanID(agSpanID(sp.parent))
		}
		s.SetName("op")
		s.SetKind(sp.kind)
		start := pcommon.Timestamp(1_700_000_000_000_000_000 + sp.startMs*1e6)
		s.SetStartTimestamp(start)
		s.SetEndTimestamp(start + pcommon.Timestamp(max(sp.durM, 1)*1e6))
		if sp.failed {
			s.Status().SetCode(ptrace.StatusCodeError)
		}
		switch {
		case sp.dbSys != "":
			s.Attributes().PutStr("db.system.name", sp.dbSys)
			s.Attributes().PutStr("db.namespace", sp.peer)
		case sp.peer != "":
			s.Attributes().PutStr("peer.service", sp.peer)
		}
	}
	return td
}

func agTraceID(n uint32) [16]byte {
	return [16]byte{0: 0xa9, 12: byte(n >> 24), 13: byte(n >> 16), 14: byte(n >> 8), 15: byte(n)}
}

func agSpanID(n uint32) [8]byte {
	return [8]byte{0: 0xa9, 4: byte(n >> 24), 5: byte(n >> 16), 6: byte(n >> 8), 7: byte(n)}
}

// agPost sends td over OTLP/HTTP protobuf and wants a 200.
func agPost(t *testing.T, s *service, td ptrace.Traces) {
	t.Helper()
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+s.http+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/traces: %d", resp.StatusCode)
	}
}

// TestAttackGraphReservedNames: services called "user" and "__overflow__"
// do not impersonate the synthetic nodes; they become "user~" and
// "__overflow__~", each series distinct, over the real binary.
func TestAttackGraphReservedNames(t *testing.T) {
	s := start(t, t.TempDir(), "--pair-wait", "1s")
	agPost(t, s, agTraces([]agSpan{
		// A root SERVER span of the real service "user": synthetic user → user~.
		{svc: "user", trace: 1, id: 1, kind: ptrace.SpanKindServer},
		// user~ calls web.
		{svc: "user", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindClient},
		{svc: "web", trace: 1, id: 3, parent: 2, kind: ptrace.SpanKindServer},
		// A root SERVER span of web: synthetic user → web.
		{svc: "web", trace: 2, id: 4, kind: ptrace.SpanKindServer},
		// web calls an uninstrumented peer named "user": web → user~.
		{svc: "web", trace: 2, id: 5, parent: 4, kind: ptrace.SpanKindClient, peer: "user"},
		// The service "__overflow__" queries a database "__overflow__".
		{svc: "__overflow__", trace: 3, id: 6, kind: ptrace.SpanKindServer},
		{svc: "__overflow__", trace: 3, id: 7, parent: 6, kind: ptrace.SpanKindClient, peer: "__overflow__", dbSys: "postgresql"},
	}))
	want := []string{
		"client=__overflow__~,connection_type=database,server=__overflow__~ 1",
		"client=user,connection_type=virtual_node,server=__overflow__~ 1",
		"client=user,connection_type=virtual_node,server=user~ 1",
		"client=user,connection_type=virtual_node,server=web 1",
		"client=user~,connection_type=,server=web 1",
		"client=web,connection_type=virtual_node,server=user~ 1",
	}
	var got []string
	if !poll(20*time.Second, func() bool {
		got = series(s.metrics(t), "traces_service_graph_request_total")
		return slices.Equal(got, want)
	}) {
		t.Fatalf("edges:\n%q\nwant\n%q", got, want)
	}
	fams := s.metrics(t)
	if v, _ := value(fams, "servicegraph_nodes"); v != 4 { // user, user~, web, __overflow__~ (the service and the database)
		t.Fatalf("servicegraph_nodes = %g, want 4", v)
	}
	if v, _ := value(fams, "servicegraph_nodes_overflow_total"); v != 0 {
		t.Fatalf("servicegraph_nodes_overflow_total = %g, want 0", v)
	}
}

// agSum sums a family's samples (counters and gauges) whose labels contain
// every given "name=value".
func agSum(fams map[string]*dto.MetricFamily, name string, match ...string) float64 {
	var sum float64
next:
	for _, m := range fams[name].GetMetric() {
		ls := labels(m.GetLabel())
		for _, kv := range match {
			k, v, _ := strings.Cut(kv, "=")
			if ls[k] != v {
				continue next
			}
		}
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum
}

// TestAttackGraphRestoreFolds: a graph of 30 services saved, then restored
// with --max-nodes 10, keeps every occurrence: the 22 services past the cap
// are summed into user → __overflow__, and a second save and restore keeps
// the same totals.
func TestAttackGraphRestoreFolds(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir)
	var spans []agSpan
	id := uint32(1)
	for i := range 30 {
		for range i + 1 { // service i gets i+1 requests from user
			spans = append(spans, agSpan{svc: fmt.Sprintf("svc-%02d", i), trace: id, id: id, kind: ptrace.SpanKindServer})
			id++
		}
	}
	agPost(t, s, agTraces(spans))
	const total = 30 * 31 / 2
	eventually(t, 20*time.Second, "465 edge occurrences", func() bool {
		return agSum(s.metrics(t), "traces_service_graph_request_total") == total
	})
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for round := range 2 {
		s = start(t, dir, "--max-nodes", "10") // user, 8 services, __overflow__
		fams := s.metrics(t)
		got := map[string]float64{
			"total":             agSum(fams, "traces_service_graph_request_total"),
			"user→__overflow__": agSum(fams, "traces_service_graph_request_total", "client=user", "server=__overflow__"),
			"user→svc-07":       agSum(fams, "traces_service_graph_request_total", "client=user", "server=svc-07"),
			"overflow series":   float64(len(series(fams, "servicegraph_edge_first_seen_timestamp_seconds"))),
			"nodes":             agSum(fams, "servicegraph_nodes"),
			"edges folded":      agSum(fams, "servicegraph_edges_folded_total"),
			"nodes overflowed":  agSum(fams, "servicegraph_nodes_overflow_total"),
		}
		want := map[string]float64{
			"total":             total,
			"user→__overflow__": 429, // 9 + 10 + … + 30
			"user→svc-07":       8,
			"overflow series":   9, // 8 services and __overflow__
			"nodes":             10,
			"edges folded":      21, // the first restored overflow edge, then 21 summed into it
			"nodes overflowed":  22,
		}
		if round == 1 { // the saved graph already fits: nothing more folds
			want["edges folded"], want["nodes overflowed"] = 0, 0
		}
		if !maps.Equal(got, want) {
			t.Fatalf("round %d after restore with --max-nodes 10:\n%v\nwant\n%v", round, got, want)
		}
		if code := s.stop(t, syscall.SIGTERM); code != 0 {
			t.Fatalf("exit %d", code)
		}
	}
}

// agManyEdges makes services × peers × 2 distinct edges: every service
// calls every peer once as an uninstrumented peer (virtual_node) and once
// as a database, through CLIENT spans that never pair. It sends them over
// OTLP/HTTP, 25 services a request.
func agManyEdges(t *testing.T, s *service, services, peers int) {
	t.Helper()
	n := uint32(1)
	for lo := 0; lo < services; lo += 25 {
		td := ptrace.NewTraces()
		for svc := lo; svc < min(lo+25, services); svc++ {
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("service-%03d", svc))
			spans := rs.ScopeSpans().AppendEmpty().Spans()
			for p := range peers {
				for k := range 2 {
					sp := spans.AppendEmpty()
					sp.SetTraceID(agTraceID(n))
					sp.SetSpanID(agSpanID(n))
					n++
					sp.SetKind(ptrace.SpanKindClient)
					sp.SetName("call")
					sp.SetStartTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000))
					sp.SetEndTimestamp(pcommon.Timestamp(1_700_000_000_005_000_000))
					if k == 0 {
						sp.Attributes().PutStr("peer.service", fmt.Sprintf("peer-%03d", p))
					} else {
						sp.Attributes().PutStr("db.system.name", "postgresql")
						sp.Attributes().PutStr("db.namespace", fmt.Sprintf("db-%03d", p))
					}
				}
			}
		}
		agPost(t, s, td)
	}
}

// agProcStatus returns a /proc/<pid>/status field in bytes (VmRSS, VmHWM).
func agProcStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err != nil {
				t.Fatalf("%s: %q: %v", field, v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// TestCountSeriesParsers: countseries' line parser counts what expfmt
// counts and rejects what expfmt rejects, and more: incomplete histograms
// and summaries, a series twice, a sample outside its family.
func TestCountSeriesParsers(t *testing.T) {
	const valid = `# HELP a_total A.
# TYPE a_total counter
a_total{x="1",y="q\"\\\n"} 1
a_total{x="2"} 2 1700000000000
# TYPE g gauge
g 1.5e+06
# HELP h H.
# TYPE h histogram
h_bucket{e="1",le="0.1"} 1
h_bucket{e="1",le="+Inf"} 2
h_sum{e="1"} 0.3
h_count{e="1"} 2
h_bucket{e="2",le="+Inf"} 0
h_sum{e="2"} 0
h_count{e="2"} 0
# TYPE s summary
s{quantile="0.5"} 1
s_sum 3
s_count 2
# TYPE v untyped
v NaN
`
	for _, c := range []struct {
		name, text  string
		expfmtFails bool // else it counts the same as valid
	}{
		{"valid", valid, false},
		{"unterminated value", "# TYPE a counter\na{x=\"1} 1\n", true},
		{"bad value", "# TYPE a counter\na{x=\"1\"} one\n", true},
		{"no value", "# TYPE a counter\na{x=\"1\"}\n", true},
		{"bad label name", "# TYPE a counter\na{1x=\"1\"} 1\n", true},
		{"bad escape", "# TYPE a counter\na{x=\"\\q\"} 1\n", true},
		{"label twice", "# TYPE a counter\na{x=\"1\",x=\"2\"} 1\n", true},
		{"TYPE after samples", "# TYPE a counter\na 1\n# TYPE a counter\n", true},
		{"bad timestamp", "# TYPE a counter\na 1 2 3\n", true},
		{"unknown type", "# TYPE a countr\na 1\n", true},
		{"bad le", "# TYPE h histogram\nh_bucket{le=\"x\"} 1\nh_sum 1\nh_count 1\n", true},
		// Accepted by expfmt, refused by the line parser:
		{"bucket without le", "# TYPE h histogram\nh_bucket{e=\"1\"} 1\nh_sum{e=\"1\"} 1\nh_count{e=\"1\"} 1\n", false},
		{"summary without quantile", "# TYPE s summary\ns{e=\"1\"} 1\ns_sum{e=\"1\"} 1\ns_count{e=\"1\"} 1\n", false},
		{"bucket of a counter", "# TYPE a counter\na_bucket{le=\"1\"} 1\n", false},
		{"series twice", "# TYPE a counter\na 1\na 2\n", false},
		{"histogram without sum", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n", false},
		{"+Inf unlike count", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 2\n", false},
		{"sample of another family", "# TYPE a counter\na 1\nb 2\n", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			lines, errLines := agCountSeries(strings.NewReader(c.text))
			ref, errRef := agCountSeries(strings.NewReader(c.text), "-expfmt")
			if c.name == "valid" {
				want := map[string]int{"a_total": 2, "g": 1, "h": 2, "s": 1, "v": 1}
				if errLines != nil || errRef != nil || !maps.Equal(lines, want) || !maps.Equal(ref, want) {
					t.Fatalf("lines %v %v, expfmt %v %v, want %v", lines, errLines, ref, errRef, want)
				}
				return
			}
			if errLines == nil {
				t.Errorf("line parser accepted it: %v", lines)
			}
			if (errRef != nil) != c.expfmtFails {
				t.Errorf("expfmt: %v %v, want failing %v", ref, errRef, c.expfmtFails)
			}
		})
	}
}

// agCounter is the countseries command, built once without the race
// detector (under it, parsing a 190 MB exposition takes minutes).
var agCounter = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "countseries")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "countseries")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/countseries").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build countseries: %v\n%s", err, out)
	}
	return bin, nil
})

// agCountSeries parses a text exposition (in the countseries command: its
// own line parser, or expfmt with "-expfmt") and returns the series of each
// family.
func agCountSeries(r io.Reader, args ...string) (map[string]int, error) {
	bin, err := agCounter()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin = r
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("countseries: %v: %s", err, stderr.Bytes())
	}
	counts := map[string]int{}
	return counts, json.Unmarshal(out, &counts)
}

// agAllocated is the service's go_memstats_alloc_bytes_total: the bytes
// its heap has allocated since it started.
func agAllocated(t *testing.T, s *service) float64 {
	t.Helper()
	const name = "go_memstats_alloc_bytes_total"
	v, ok := value(s.metrics(t, name), name)
	if !ok {
		t.Fatal(name + " not exported")
	}
	return v
}

// TestAttackGraphScrapeAtEdgeCap: a service holding 100,000 edges (the
// --max-edges default) scraped by four clients at once, at the default
// GOGC. Two are served (--max-concurrent-scrapes 2), two get 503 with
// Retry-After, counted; both served scrapes parse with exactly one series
// per edge in each edge family; and the scrapes stream (the old handler
// built every series first, +333 MB a scrape): the service allocates at
// most 64 MiB for both (~330 MB of text each), which bounds what they hold
// whenever the collector runs, the heap live after any collection while
// they run is within 64 MiB of the one before, and the process's peak RSS
// within 64 MiB of what it held before. (At the default GOGC the collector
// lets garbage grow the heap to twice what is live before it runs, ~150
// MiB here; the scrapes allocate too little for that, so the allocation
// and the RSS bounds hold whenever it runs.)
func TestAttackGraphScrapeAtEdgeCap(t *testing.T) {
	if _, err := agCounter(); err != nil { // built before the clock starts
		t.Fatal(err)
	}
	t.Setenv("GODEBUG", "gctrace=1") // the live heaps, on the service's stderr
	s := start(t, "", "--pair-wait", "1s", "--max-edges", "100000", "--max-concurrent-scrapes", "2")
	const services, peers = 250, 200
	agManyEdges(t, s, services, peers)
	const edges = services * peers * 2
	eventually(t, 60*time.Second, "100000 edges", func() bool {
		code, b := s.get(t, "/metrics?name[]=servicegraph_edges")
		return code == 200 && strings.Contains(string(b), fmt.Sprintf("\nservicegraph_edges %d\n", edges))
	})
	pid := s.cmd.Process.Pid
	// The graph's snapshot (shared by every reader until the graph
	// changes) is taken by a scrape of a graph family with no series, so
	// that the memory measured below is the scrapes' own.
	if code, b := s.get(t, "/metrics?name[]=servicegraph_span_links_total"); code != 200 || len(b) != 0 {
		t.Fatalf("span links: %d %q", code, b)
	}
	base := agProcStatus(t, pid, "VmRSS")
	before := arLiveHeaps(s.logs())
	if len(before) == 0 {
		t.Fatal("no gctrace line in the service's log")
	}
	live0, logAt := before[len(before)-1], len(s.logs())
	alloc0 := agAllocated(t, s)

	type result struct {
		code       int
		retryAfter string
		series     map[string]int
		err        error
	}
	results := make([]result, 4)
	var statuses, wg sync.WaitGroup
	statuses.Add(len(results))
	allStatuses := make(chan struct{})
	for i := range results {
		wg.Go(func() {
			res := &results[i]
			req, _ := http.NewRequest(http.MethodGet, "http://"+s.api+"/metrics", nil)
			req.Header.Set("Accept-Encoding", "identity")
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				res.err = err
				statuses.Done()
				return
			}
			defer resp.Body.Close()
			res.code, res.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
			statuses.Done()
			// Served scrapes keep their slot until their body is read:
			// read only once every client has its status.
			<-allStatuses
			if res.code == http.StatusOK {
				res.series, res.err = agCountSeries(resp.Body)
			}
		})
	}
	statuses.Wait()
	close(allStatuses)
	wg.Wait()
	served := 0
	for i, r := range results {
		switch {
		case r.err != nil:
			t.Fatalf("client %d: %v", i, r.err)
		case r.code == http.StatusOK:
			served++
			for _, f := range []string{"traces_service_graph_request_total", "traces_service_graph_request_failed_total",
				"traces_service_graph_request_client_seconds", "traces_service_graph_request_server_seconds",
				"servicegraph_edge_first_seen_timestamp_seconds", "servicegraph_edge_last_seen_timestamp_seconds"} {
				// Peer edges have both durations: the server's is the client's (Tempo's).
				if r.series[f] != edges {
					t.Errorf("client %d: %s has %d series, want %d", i, f, r.series[f], edges)
				}
			}
		case r.code != http.StatusServiceUnavailable || r.retryAfter != "5":
			t.Fatalf("client %d: %d, Retry-After %q", i, r.code, r.retryAfter)
		}
	}
	if served != 2 {
		t.Fatalf("%d scrapes served, want 2: %+v", served, results)
	}
	allocated := agAllocated(t, s) - alloc0
	live := arLiveHeaps(s.logs()[logAt:])
	hwm := agProcStatus(t, pid, "VmHWM")
	t.Logf("live heap %d MiB before the scrapes, %v MiB after the %d collections while they ran; %.1f MiB allocated; RSS %d MiB before, peak %d MiB after",
		live0, live, len(live), allocated/(1<<20), base>>20, hwm>>20)
	for _, l := range live {
		if l-live0 > 64 {
			t.Errorf("the live heap grew from %d to %d MiB with two scrapes in flight, above 64 MiB", live0, l)
		}
	}
	if allocated > 64<<20 {
		t.Errorf("the service allocated %.0f MiB for two scrapes, above 64 MiB", allocated/(1<<20))
	}
	if hwm-base > 64<<20 {
		t.Errorf("peak RSS grew by %d MiB with two scrapes in flight, above 64 MiB", (hwm-base)>>20)
	}
	code, b := s.get(t, "/metrics?name[]=servicegraph_scrapes_refused_total")
	if want := "servicegraph_scrapes_refused_total{reason=\"max_concurrent_scrapes\"} 2\n"; code != 200 || !strings.Contains(string(b), want) {
		t.Fatalf("refusals counted: %d %s", code, b)
	}
}
