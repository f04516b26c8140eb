package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/internal/workload"
)

// collectorBin builds the e2e Collector (e2e/collector: the released
// otlpreceiver and contrib kafkaexporter in a module of their own) with
// e2e/collector/build.sh, or finds it up to date there, and returns its
// path. .ci/run starts that build in the background before apt-get: the
// script's lock makes this wait for it.
func collectorBin(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("collector")
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if out, err := exec.Command("bash", filepath.Join(dir, "build.sh")).CombinedOutput(); err != nil {
		t.Fatalf("build the Collector (e2e/collector/build.sh): %v\n%s", err, out)
	}
	t.Logf("Collector built or found up to date in %s", time.Since(began).Round(100*time.Millisecond))
	return filepath.Join(dir, "bin", "collector")
}

// collector is a running OpenTelemetry Collector: OTLP/gRPC in, the
// kafkaexporter out, as the README's Scale-out section configures it.
type collector struct {
	cmd  *exec.Cmd
	grpc string
	mu   sync.Mutex
	log  strings.Builder
}

func (c *collector) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.Write(p)
}

func (c *collector) logs() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.String()
}

// startCollector runs the Collector with the README's exporter settings
// (partition_traces_by_id, otlp_proto, the default partitioner) writing
// to brokers, and waits until its OTLP/gRPC port accepts connections.
func startCollector(t *testing.T, bin string, brokers []string) *collector {
	t.Helper()
	c := &collector{grpc: freeAddr(t)}
	cfg := filepath.Join(t.TempDir(), "collector.yaml")
	writeFile(t, cfg, fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
exporters:
  kafka:
    brokers: [%s]
    traces:
      topic: otlp_spans
      encoding: otlp_proto
    partition_traces_by_id: true
    producer:
      required_acks: -1
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [kafka]
`, c.grpc, strings.Join(brokers, ", ")))
	c.cmd = exec.Command(bin, "--config", cfg)
	c.cmd.Stdout, c.cmd.Stderr = c, c
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait() }()
	t.Cleanup(func() {
		c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			c.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("collector log:\n%s", c.logs())
		}
	})
	eventually(t, 30*time.Second, "the Collector's OTLP/gRPC port", func() bool {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the Collector exited at start: %v\n%s", err, c.logs())
		default:
		}
		conn, err := net.DialTimeout("tcp", c.grpc, time.Second)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	return c
}

// exportOTLP sends encoded OTLP requests to an OTLP/gRPC endpoint over
// one connection, conc at a time (in order when conc is 1), and fails on
// an error or a partial success.
func exportOTLP(t *testing.T, addr string, reqs [][]byte, conc int) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	next := make(chan int)
	errs := make(chan error, conc)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for i := range next {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				var resp []byte
				err := conn.Invoke(ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", &reqs[i], &resp,
					grpc.ForceCodec(apRawCodec{}))
				cancel()
				if err == nil && len(resp) != 0 {
					r := ptraceotlp.NewExportResponse()
					if err = r.UnmarshalProto(resp); err == nil && r.PartialSuccess().RejectedSpans() != 0 {
						err = fmt.Errorf("%d spans rejected: %s", r.PartialSuccess().RejectedSpans(), r.PartialSuccess().ErrorMessage())
					}
				}
				if err != nil {
					errs <- fmt.Errorf("export request %d of %d to %s: %w", i+1, len(reqs), addr, err)
					for range next { // drain: the sender stops at the first error
					}
					return
				}
			}
		})
	}
send:
	for i := range reqs {
		select {
		case next <- i:
		case err := <-errs:
			errs <- err
			break send
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// kafkaProm is a real Prometheus scraping the members every second with
// the shipped rules, the new-edge window cut to window.
type kafkaProm struct {
	addr    string
	targets string // file_sd list: the members scraped
}

func startKafkaProm(t *testing.T, window time.Duration, members ...*service) *kafkaProm {
	t.Helper()
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prometheus not installed (apt-get install prometheus); .ci/run installs it")
		}
		t.Skip("prometheus not installed: apt-get install prometheus")
	}
	dir := t.TempDir()
	rules, err := os.ReadFile("../deploy/prometheus/servicegraph-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(rules), "< 15 * 60"); n != 2 {
		t.Fatalf("expected the 15-minute window twice in the rules, found %d", n)
	}
	writeFile(t, filepath.Join(dir, "rules.yml"),
		strings.ReplaceAll(string(rules), "< 15 * 60", fmt.Sprintf("< %d", int(window.Seconds()))))
	p := &kafkaProm{addr: freeAddr(t), targets: filepath.Join(dir, "targets.json")}
	p.scrape(t, members...)
	writeFile(t, filepath.Join(dir, "prometheus.yml"), fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
scrape_configs:
  - job_name: servicegraph
    file_sd_configs:
      - files: [%q]
        refresh_interval: 1s
`, p.targets))
	runPrometheus(t, promBin, dir, p.addr)
	eventually(t, 30*time.Second, "Prometheus to scrape every member", func() bool {
		for _, m := range members {
			if !scrapedUp(t, p.addr, m.api) {
				return false
			}
		}
		return true
	})
	return p
}

// scrape sets the members Prometheus scrapes.
func (p *kafkaProm) scrape(t *testing.T, members ...*service) {
	t.Helper()
	var ts []string
	for _, m := range members {
		ts = append(ts, strconv.Quote(m.api))
	}
	tmp := p.targets + ".tmp"
	writeFile(t, tmp, fmt.Sprintf(`[{"targets": [%s]}]`, strings.Join(ts, ", ")))
	if err := os.Rename(tmp, p.targets); err != nil {
		t.Fatal(err)
	}
}

// vector runs an instant query and returns its samples keyed by the
// values of the labels given, joined by " ".
func (p *kafkaProm) vector(t *testing.T, query string, by ...string) (map[string]float64, bool) {
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if !promGet(t, p.addr, "/api/v1/query?query="+url.QueryEscape(query), &r) {
		return nil, false
	}
	out := map[string]float64{}
	for _, s := range r.Data.Result {
		var k []string
		for _, l := range by {
			k = append(k, s.Metric[l])
		}
		f, err := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
		if err != nil {
			return nil, false
		}
		out[strings.Join(k, " ")] = f
	}
	return out, true
}

// edgeKeys is "client server connection_type" of every edge in the
// families (user → X included), with its count summed over them.
func edgeKeys(fams ...map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f["traces_service_graph_request_total"].GetMetric() {
			l := labels(m.GetLabel())
			out[l["client"]+" "+l["server"]+" "+l["connection_type"]] += m.GetCounter().GetValue()
		}
	}
	return out
}

// checkPromAgrees waits until Prometheus' sums over the members equal
// what the members export (every edge's count, the link results), and
// checks the alerts: no ServiceGraphUnresolvedLinks ever pending or
// firing; ServiceGraphNewEdge once per edge (not once per member) for
// the edges in wantNew, and never for another.
func (p *kafkaProm) checkAgrees(t *testing.T, gone []map[string]*dto.MetricFamily, wantNew map[string]bool, links int, members ...*service) {
	t.Helper()
	fams := slices.Clone(gone)
	for _, m := range members {
		fams = append(fams, m.metrics(t))
	}
	want := edgeKeys(fams...)
	var got map[string]float64
	var resolved map[string]float64
	if !poll(60*time.Second, func() bool {
		var ok bool
		got, ok = p.vector(t, "sum by (client, server, connection_type) (last_over_time(traces_service_graph_request_total[1h]))",
			"client", "server", "connection_type")
		resolved, _ = p.vector(t, `sum by (result) (last_over_time(servicegraph_span_links_total[1h]))`, "result")
		return ok && maps.Equal(got, want) && resolved["resolved"] == float64(links)
	}) {
		t.Fatalf("Prometheus' sums differ from the members':\nPrometheus %v\nmembers %v\nlinks by result %v, want %d resolved",
			got, want, resolved, links)
	}
	if resolved["unresolved"] != 0 || resolved["dropped"] != 0 {
		t.Errorf("Prometheus: links by result %v: want 0 unresolved, 0 dropped", resolved)
	}
	ever, ok := p.vector(t, `max_over_time(ALERTS{alertname="ServiceGraphUnresolvedLinks"}[1h])`, "service", "alertstate")
	if !ok || len(ever) != 0 {
		t.Errorf("ServiceGraphUnresolvedLinks was active (pending or firing): %v (query ok %v)", ever, ok)
	}
	newEdges, ok := p.vector(t, `count by (client, server, connection_type) (ALERTS{alertname="ServiceGraphNewEdge", alertstate="firing"})`,
		"client", "server", "connection_type")
	if !ok {
		t.Fatal("query ALERTS failed")
	}
	for k := range newEdges {
		if !wantNew[k] {
			t.Errorf("ServiceGraphNewEdge fired for %q, an edge that is not new", k)
		}
		if newEdges[k] != 1 {
			t.Errorf("ServiceGraphNewEdge fired %g times for %q, want once", newEdges[k], k)
		}
	}
}

// benchWorkloadFlags are ../shared/bench/gen's flags for the workload
// issue 14 measured routing on: 211,992 spans, 10,265 traces, 8,324
// links (1,362 to a span in a later request), 142 edges.
var benchWorkloadFlags = []string{"-seed", "1", "-services", "30", "-traces", "6000", "-batch", "512"}

// genCollectorWorkload generates the bench workload (with
// SERVICEGRAPH_KAFKA_COLLECTOR_TRACES set, that many user traces of the
// smaller shape the other Kafka tests use) as OTLP requests with its
// truth; not split by trace: the Collector does that.
func genCollectorWorkload(t *testing.T) *kafkaWorkload {
	t.Helper()
	flags := benchWorkloadFlags
	if n := os.Getenv("SERVICEGRAPH_KAFKA_COLLECTOR_TRACES"); n != "" {
		if _, err := strconv.Atoi(n); err != nil {
			t.Fatalf("SERVICEGRAPH_KAFKA_COLLECTOR_TRACES=%q: %v", n, err)
		}
		flags = []string{"-seed", "5", "-services", "12", "-traces", n, "-batch", "256"}
	}
	wl, out := genBenchWorkload(t, flags...)
	m := regexp.MustCompile(`(\d+) links`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("gen printed no link count:\n%s", out)
	}
	w := &kafkaWorkload{}
	w.links, _ = strconv.Atoi(string(m[1]))
	var err error
	if w.truth, err = workload.LoadTruth(wl + ".truth.json"); err != nil {
		t.Fatal(err)
	}
	if w.reqs, err = workload.ReadAll(wl); err != nil {
		t.Fatal(err)
	}
	return w
}

// The real OpenTelemetry Collector in front of the cluster, configured as
// the README's Scale-out section says: the bench workload (issue 14's
// 211,992 spans and 8,324 links) goes over OTLP/gRPC to the Collector,
// its kafkaexporter (the released component, partition_traces_by_id,
// otlp_proto, its default partitioner) writes a 3-broker kfake cluster,
// 3 `servicegraph serve` processes consume it, and a real Prometheus
// scrapes the 3 with the shipped rules. The summed edges equal the truth
// exactly, every link is resolved exactly once, none unresolved;
// Prometheus' sums agree; ServiceGraphUnresolvedLinks is never active and
// ServiceGraphNewEdge fires once per edge, not once per member. A 4th,
// single instance (no Kafka) fed the same requests over OTLP answers
// /api/dependencies and /api/graph/{nodes,edges} as any member does with
// the cluster merged.
func TestKafkaCollector(t *testing.T) {
	began := time.Now()
	bin := collectorBin(t)
	w := genCollectorWorkload(t)
	t.Logf("workload: %d spans, %d links, %d requests (%s)", w.truth.Spans, w.links, len(w.reqs), time.Since(began).Round(100*time.Millisecond))
	kc := newKafka(t)
	addrs := kc.ListenAddrs()
	// A trace's spans come in requests up to a third of the workload
	// apart (its services' export delays, 0.2-2 s of its 6 simulated
	// seconds): the pair wait outlasts that share of the sending time
	// (17 s for all on a loaded 2-core machine; 5 s turned ~100 calls
	// virtual) with a margin, and the last database and virtual edges
	// come that long after the last span.
	pairWait := "20s"
	if w.truth.Spans < 10000 { // SERVICEGRAPH_KAFKA_COLLECTOR_TRACES: as the other Kafka tests
		pairWait = "2s"
	}
	// Not a fault test (kafka_faults_test.go has those): a session
	// timeout of 10 s, not the other Kafka tests' 2 s, so that a member
	// starved of CPU for 2 s on a loaded machine (the race detector, 3
	// members, the brokers and the Collector on 2 cores) is not taken
	// for dead and its partitions moved mid-stream.
	var members []*service
	for range 3 {
		m := launchKafkaMember(t, t.TempDir(), addrs, pairWait, "--kafka-session-timeout", "10s")
		m.waitStarted(t)
		members = append(members, m)
	}
	single := start(t, t.TempDir(), append(workload.ServeFlags(), "--pair-wait", pairWait)...)
	waitKafkaOwned(t, members...)
	prom := startKafkaProm(t, 15*time.Minute, members...)
	col := startCollector(t, bin, addrs)
	sent := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() { exportOTLP(t, single.grpc, w.reqs, 4) })
	exportOTLP(t, col.grpc, w.reqs, 8)
	wg.Wait()
	t.Logf("sent in %s", time.Since(sent).Round(100*time.Millisecond))
	// checkKafkaExact allows 60 s; on a loaded machine the members may
	// still be behind then (the tail is the 20 s pair wait plus the lag):
	// give them 120 s more first.
	poll(120*time.Second, func() bool {
		v := kafkaViewOf(t, nil, members...)
		return v.resolved == float64(w.links) && len(workload.Diff(w.truth.Edges, v.list())) == 0
	})
	v := checkKafkaExact(t, w, nil, members...)
	if v.consumed != v.produced || v.produced == 0 {
		t.Errorf("link records: %g produced, %g consumed", v.produced, v.consumed)
	}
	t.Logf("exact over the 3 members %s after the first request", time.Since(sent).Round(100*time.Millisecond))
	var fams []map[string]*dto.MetricFamily
	for _, m := range members {
		fams = append(fams, m.metrics(t))
	}
	all := map[string]bool{}
	for k := range edgeKeys(fams...) {
		all[k] = true
	}
	checkMergedEqualsSingle(t, w, len(all), single, members...)
	prom.checkAgrees(t, nil, all, w.links, members...)
	eventually(t, 30*time.Second, "ServiceGraphNewEdge firing for every edge", func() bool {
		n, _ := prom.vector(t, `count(ALERTS{alertname="ServiceGraphNewEdge", alertstate="firing"})`)
		return n[""] == float64(len(all))
	})
	records := kafkaSum(fams[0], "servicegraph_kafka_records_total") // one member's share
	t.Logf("%d OTLP requests through the Collector; %d spans, %d edges, %d links (%g routed): exact over 3 members and in Prometheus; member 0 handled %g records; %s in all",
		len(w.reqs), w.truth.Spans, len(all), w.links, v.produced, records, time.Since(began).Round(100*time.Millisecond))
}

// checkMergedEqualsSingle waits until the single instance's edges equal
// the truth, with every link resolved, then checks that each member's
// merged answer (its peers found through the group) is complete and
// equals the single instance's on /api/dependencies, /api/graph/nodes
// and /api/graph/edges (edges long: user → X included).
func checkMergedEqualsSingle(t *testing.T, w *kafkaWorkload, edges int, single *service, members ...*service) {
	t.Helper()
	var diff []string
	var resolved float64
	if !poll(60*time.Second, func() bool {
		fams := single.metrics(t)
		diff = workload.Diff(w.truth.Edges, workload.FromMetrics(fams))
		resolved = kafkaSum(fams, "servicegraph_span_links_total", "result", "resolved")
		return len(diff) == 0 && resolved == float64(w.links)
	}) {
		t.Fatalf("the single instance after 60s: %g of %d links resolved; edges vs truth:\n%s", resolved, w.links, strings.Join(diff, "\n"))
	}
	for _, path := range []string{"/api/dependencies", "/api/graph/nodes", "/api/graph/edges"} {
		code, want := single.get(t, path)
		if code != 200 {
			t.Fatalf("single instance %s: %d %s", path, code, want)
		}
		if path == "/api/graph/edges" {
			var list []any
			if err := json.Unmarshal(want, &list); err != nil || len(list) != edges {
				t.Fatalf("single instance %s: %d edges (%v), want the %d on /metrics", path, len(list), err, edges)
			}
		}
		for i, m := range members {
			code, partial, got := getPartial(t, m, path)
			if code != 200 {
				t.Fatalf("member %d %s: %d %s", i, path, code, got)
			}
			if partial != "false" {
				t.Errorf("member %d %s: %s %q, want false: a complete answer merged from the 3", i, path, api.HeaderPartial, partial)
			}
			if d := jsonDiff(t, want, got); d != "" {
				t.Errorf("member %d %s (merged) differs from the single instance's:\n%s", i, path, d)
			}
		}
	}
}

// getPartial is service.get (a fresh answer) with the fan-out's
// api.HeaderPartial.
func getPartial(t *testing.T, s *service, path string) (int, string, []byte) {
	t.Helper()
	code, h, b := s.getHeader(t, path)
	return code, h.Get(api.HeaderPartial), b
}

// jsonDiff compares two JSON answers, the fan-out's "partial" (which
// must be false) and "missing_peers" aside, with jsonEqual, and
// describes how got differs from want: the array elements (by "id", or
// whole) only one has or that differ, empty when equal.
func jsonDiff(t *testing.T, want, got []byte) string {
	t.Helper()
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("decode %.200s: %v", want, err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("decode %.200s: %v", got, err)
	}
	var out []string
	if o, ok := g.(map[string]any); ok {
		if p, ok := o["partial"]; ok && p != false {
			out = append(out, fmt.Sprintf("partial %v, missing_peers %v", p, o["missing_peers"]))
		}
		delete(o, "partial")
		delete(o, "missing_peers")
	}
	if jsonEqual(w, g) {
		return strings.Join(out, "\n")
	}
	enc := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	wl, gl := jsonElements(w), jsonElements(g)
	for k, e := range wl {
		if ge, ok := gl[k]; !ok {
			out = append(out, "missing "+enc(e))
		} else if !jsonEqual(e, ge) {
			out = append(out, fmt.Sprintf("got  %s\nwant %s", enc(ge), enc(e)))
		}
	}
	for k, e := range gl {
		if _, ok := wl[k]; !ok {
			out = append(out, "extra "+enc(e))
		}
	}
	if len(out) == 0 {
		out = append(out, "same elements in another order or shape")
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// jsonEqual compares decoded JSON values, numbers to a relative 1e-9,
// the edges' sample trace ids (detail__trace_id) aside. Both depend on
// the order spans arrived in, which differs between the single instance
// and the cluster: a mean summed in another order differs in its last
// bits, and the sample is the latest trace seen.
func jsonEqual(a, b any) bool {
	switch a := a.(type) {
	case float64:
		f, ok := b.(float64)
		return ok && math.Abs(a-f) <= 1e-9*max(math.Abs(a), math.Abs(f))
	case []any:
		l, ok := b.([]any)
		if !ok || len(a) != len(l) {
			return false
		}
		for i := range a {
			if !jsonEqual(a[i], l[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		o, ok := b.(map[string]any)
		if !ok {
			return false
		}
		for k := range a {
			if _, ok := o[k]; !ok {
				return false
			}
		}
		for k, v := range o {
			if _, ok := a[k]; !ok || (k != "detail__trace_id" && !jsonEqual(a[k], v)) {
				return false
			}
		}
		return true
	}
	return a == b
}

// jsonElements are the elements of the first array in v (v itself, or a
// field of v), keyed by their "id" (or their encoding).
func jsonElements(v any) map[string]any {
	arr, ok := v.([]any)
	if o, isObj := v.(map[string]any); isObj {
		for _, k := range slices.Sorted(maps.Keys(o)) {
			if a, isArr := o[k].([]any); isArr {
				arr, ok = a, true
				break
			}
		}
	}
	if !ok {
		return map[string]any{"": v}
	}
	out := map[string]any{}
	for _, e := range arr {
		b, _ := json.Marshal(e)
		k := string(b)
		if o, isObj := e.(map[string]any); isObj && o["id"] != nil {
			k = fmt.Sprint(o["id"])
		}
		out[k] = e
	}
	return out
}
