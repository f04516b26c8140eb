package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// edgeRequests returns requests that create n distinct call edges: clients
// lt-c-0000.. call servers lt-s-000.. (250 servers a client), each edge one
// CLIENT span and its SERVER child in a trace of its own, perEdges edges a
// request.
func edgeRequests(n, perRequest int) ([][]byte, error) {
	const servers = 250
	var out [][]byte
	now := time.Now()
	for first := 0; first < n; first += perRequest {
		td := ptrace.NewTraces()
		for i := first; i < min(n, first+perRequest); i++ {
			var tid [16]byte
			binary.BigEndian.PutUint64(tid[:8], 0x10ad7e57)
			binary.BigEndian.PutUint64(tid[8:], uint64(i)+1)
			client := fmt.Sprintf("lt-c-%04d", i/servers)
			server := fmt.Sprintf("lt-s-%03d", i%servers)
			add := func(service string, kind ptrace.SpanKind, id, parent uint64) {
				rs := td.ResourceSpans().AppendEmpty()
				rs.Resource().Attributes().PutStr("service.name", service)
				s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
				s.SetTraceID(pcommon.TraceID(tid))
				var sid, pid [8]byte
				binary.BigEndian.PutUint64(sid[:], id)
				s.SetSpanID(pcommon.SpanID(sid))
				if parent != 0 {
					binary.BigEndian.PutUint64(pid[:], parent)
					s.SetParentSpanID(pcommon.SpanID(pid))
				}
				s.SetName("call")
				s.SetKind(kind)
				s.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
				s.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
			}
			add(client, ptrace.SpanKindClient, 1, 0)
			add(server, ptrace.SpanKindServer, 2, 1)
		}
		b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			return nil, fmt.Errorf("encode edge request: %w", err)
		}
		out = append(out, b)
	}
	return out, nil
}

// latency measures export latency with the API idle and hammered.
func latency(args []string) error {
	fs := flag.NewFlagSet("latency", flag.ContinueOnError)
	in := fs.String("in", "workload.otlp", "workload file: the probe requests")
	endpoint := fs.String("endpoint", "127.0.0.1:4317", "OTLP/gRPC host:port (plaintext)")
	api := fs.String("api", "http://127.0.0.1:8080", "the server's HTTP API base URL")
	edges := fs.Int("edges", 100000, "distinct call edges created before measuring")
	rate := fs.Float64("rate", 100, "probe requests per second (one at a time)")
	duration := fs.Duration("duration", 10*time.Second, "length of each phase")
	hammer := fs.Int("hammer", 2, "goroutines GETting each of -paths in a loop in the hammered phase")
	paths := fs.String("paths", "/metrics,/api/graph/data", "comma list of API paths the hammered phase GETs")
	separate := fs.Bool("separate", true, "hammer from a child process (as Prometheus and Grafana would), so that the probe's own process is not busy reading")
	inflate := fs.Bool("inflate", true, "the hammer inflates the gzipped answers, as Prometheus and Grafana do; false: it reads them whole, compressed, as a load generator (wrk) does, so that on a shared machine its CPU is not the readers' decoding")
	pid := fs.Int("pid", 0, "the server's process id, for its CPU time in each phase (0: not measured)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	reqs, _, err := load(*in)
	if err != nil {
		return err
	}
	conn, err := dial(*endpoint)
	if err != nil {
		return err
	}
	defer conn.Close()
	setup, err := edgeRequests(*edges, 256)
	if err != nil {
		return err
	}
	t := time.Now()
	for i, r := range setup {
		if err := export(conn, r); err != nil {
			return fmt.Errorf("edge request %d: %w", i, err)
		}
	}
	fmt.Printf("loadtest: %d edges created in %d requests, %.1fs\n", *edges, len(setup), time.Since(t).Seconds())
	base := strings.TrimSuffix(*api, "/")
	hc := &http.Client{Timeout: time.Minute}
	// Warm the readers (first snapshot, first scrape) before measuring.
	for _, p := range []string{"/metrics", "/api/graph/data"} {
		n, err := get(hc, base+p)
		if err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		fmt.Printf("loadtest: GET %s: %d bytes\n", p, n)
	}
	// Idle, then hammered; the probe traffic of each phase is new (its own
	// passes).
	cpu0, _ := cpuTime(*pid)
	wait0, _ := runDelay(*pid)
	gc0, gcErr := serverGC(hc, base)
	idle, err := paced(conn, reqs, *rate, *duration, 1000)
	if err != nil {
		return fmt.Errorf("idle phase: %w", err)
	}
	cpu1, _ := cpuTime(*pid)
	wait1, _ := runDelay(*pid)
	gc1, _ := serverGC(hc, base)
	probe := func() ([]time.Duration, error) { return paced(conn, reqs, *rate, *duration, 2000) }
	var hammered []time.Duration
	var reads, readErrs int64
	if *separate {
		hammered, reads, readErrs, err = withHammerProcess(base, *paths, *hammer, *inflate, probe)
	} else {
		hammered, reads, readErrs, err = withHammer(hammerClient(*inflate), base, strings.Split(*paths, ","), *hammer, probe)
	}
	if err != nil {
		return fmt.Errorf("hammered phase: %w", err)
	}
	if cpu2, ok := cpuTime(*pid); ok {
		// The server's CPU in each phase; the hammered phase's extra over
		// the idle one is what the reads cost it.
		extra := (cpu2 - cpu1) - (cpu1 - cpu0)
		fmt.Printf("result latency_cpu idle_s=%.2f hammered_s=%.2f reads_extra_s=%.2f per_read_ms=%.1f\n",
			(cpu1 - cpu0).Seconds(), (cpu2 - cpu1).Seconds(), extra.Seconds(), extra.Seconds()*1e3/float64(max(reads, 1)))
	}
	if wait2, ok := runDelay(*pid); ok {
		// How long the server's threads waited for a core in each phase:
		// on a machine that other work loads, the probe's tail follows it
		// more than anything in the server.
		fmt.Printf("result latency_sched idle_run_delay_s=%.2f hammered_run_delay_s=%.2f\n",
			(wait1 - wait0).Seconds(), (wait2 - wait1).Seconds())
	}
	if gc2, err := serverGC(hc, base); err == nil && gcErr == nil {
		// The server's garbage collections and bytes allocated in each
		// phase: what the reads' garbage costs ingestion.
		fmt.Printf("result latency_gc idle_cycles=%.0f hammered_cycles=%.0f idle_alloc_mb=%.0f hammered_alloc_mb=%.0f\n",
			gc1.cycles-gc0.cycles, gc2.cycles-gc1.cycles, (gc1.alloc-gc0.alloc)/1e6, (gc2.alloc-gc1.alloc)/1e6)
	} else {
		fmt.Fprintf(os.Stderr, "loadtest: server GC counters: %v\n", errors.Join(gcErr, err))
	}
	for _, ph := range []struct {
		name string
		lat  []time.Duration
	}{{"idle", idle}, {"hammered", hammered}} {
		fmt.Printf("loadtest: %s: %d exports, p50 %s p99 %s max %s\n", ph.name, len(ph.lat),
			percentile(ph.lat, 0.5), percentile(ph.lat, 0.99), ph.lat[len(ph.lat)-1])
		fmt.Printf("result latency_%s exports=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", ph.name, len(ph.lat),
			ms(percentile(ph.lat, 0.5)), ms(percentile(ph.lat, 0.99)), ms(ph.lat[len(ph.lat)-1]))
	}
	fmt.Printf("loadtest: hammered phase: %d API reads (%d failed)\n", reads, readErrs)
	if line, err := readCacheCounts(hc, base); err == nil {
		fmt.Println(line)
	} else {
		fmt.Fprintf(os.Stderr, "loadtest: read cache counters: %v\n", err)
	}
	fmt.Printf("result latency edges=%d reads=%d read_errors=%d p99_ratio=%.2f\n", *edges, reads, readErrs,
		float64(percentile(hammered, 0.99))/float64(percentile(idle, 0.99)))
	return nil
}

// runDelay is the time the threads of process pid have waited in the
// kernel's run queues, runnable but not running (the second field of
// /proc/PID/task/TID/schedstat, Linux), summed over the threads alive now.
func runDelay(pid int) (time.Duration, bool) {
	if pid <= 0 {
		return 0, false
	}
	paths, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(paths) == 0 {
		return 0, false
	}
	var sum time.Duration
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended
		}
		d, ok := schedstatDelay(string(b))
		if !ok {
			return 0, false
		}
		sum += d
	}
	return sum, true
}

// schedstatDelay is the run-queue wait of a schedstat line: "time on the
// CPU, time waiting to run (ns), time slices".
func schedstatDelay(line string) (time.Duration, bool) {
	f := strings.Fields(line)
	if len(f) != 3 {
		return 0, false
	}
	ns, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || ns < 0 {
		return 0, false
	}
	return time.Duration(ns), true
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

// withHammer runs probe while n goroutines GET each of paths in a loop,
// and returns the reads they made.
func withHammer(hc *http.Client, base string, paths []string, n int, probe func() ([]time.Duration, error)) ([]time.Duration, int64, int64, error) {
	ctx, cancel := context.WithCancel(context.Background())
	var reads, errs atomic.Int64
	var wg sync.WaitGroup
	for _, p := range paths {
		for range n {
			wg.Go(func() {
				for ctx.Err() == nil {
					if _, err := get(hc, base+p); err != nil && ctx.Err() == nil {
						errs.Add(1)
					}
					reads.Add(1)
				}
			})
		}
	}
	lat, err := probe()
	cancel()
	wg.Wait()
	return lat, reads.Load(), errs.Load(), err
}

// hammerClient is the readers' HTTP client. Inflating, it asks for gzip
// and inflates the answers (net/http's transparent decompression, as
// Prometheus and Grafana inflate theirs); else it asks for gzip and reads
// the compressed bytes as they come.
func hammerClient(inflate bool) *http.Client {
	if inflate {
		return &http.Client{Timeout: time.Minute}
	}
	return &http.Client{Timeout: time.Minute, Transport: gzipRaw{http.DefaultTransport}}
}

// gzipRaw asks for gzip itself, so that the transport below leaves the
// body compressed.
type gzipRaw struct{ next http.RoundTripper }

func (g gzipRaw) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept-Encoding", "gzip")
	return g.next.RoundTrip(r)
}

// withHammerProcess runs probe while a child process (this command's
// hammer mode) GETs each of paths from n goroutines in a loop, and returns
// the reads it made.
func withHammerProcess(base, paths string, n int, inflate bool, probe func() ([]time.Duration, error)) ([]time.Duration, int64, int64, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, 0, 0, fmt.Errorf("find loadtest: %w", err)
	}
	cmd := exec.Command(self, "hammer", "-api", base, "-paths", paths, "-n", strconv.Itoa(n), "-inflate="+strconv.FormatBool(inflate))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, 0, 0, fmt.Errorf("start hammer: %w", err)
	}
	lat, perr := probe()
	_ = cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		return nil, 0, 0, fmt.Errorf("hammer: %w: %s", err, out.String())
	}
	var reads, errs int64
	if _, err := fmt.Sscanf(strings.TrimSpace(out.String()), "hammer reads=%d errors=%d", &reads, &errs); err != nil {
		return nil, 0, 0, fmt.Errorf("hammer output %q: %w", out.String(), err)
	}
	return lat, reads, errs, perr
}

// hammer GETs each of -paths from -n goroutines in a loop until
// interrupted, then prints the reads made.
func hammer(args []string) error {
	fs := flag.NewFlagSet("hammer", flag.ContinueOnError)
	api := fs.String("api", "http://127.0.0.1:8080", "the server's HTTP API base URL")
	paths := fs.String("paths", "/metrics,/api/graph/data", "comma list of API paths to GET")
	n := fs.Int("n", 2, "goroutines per path")
	inflate := fs.Bool("inflate", true, "inflate the gzipped answers (false: read them compressed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	_, reads, errs, err := withHammer(hammerClient(*inflate), strings.TrimSuffix(*api, "/"), strings.Split(*paths, ","), *n, func() ([]time.Duration, error) {
		<-ctx.Done()
		return nil, nil
	})
	fmt.Printf("hammer reads=%d errors=%d\n", reads, errs)
	return err
}

// readCacheCounts returns the server's read cache counters (every result
// of servicegraph_read_cache_requests_total, by handler) as a result line.
func readCacheCounts(hc *http.Client, base string) (string, error) {
	fams, err := scrapeMetrics(context.Background(), hc, base, "servicegraph_read_cache_requests_total")
	if err != nil {
		return "", err
	}
	line := "result latency_reads"
	for _, m := range fams["servicegraph_read_cache_requests_total"].GetMetric() {
		var h, r string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "handler":
				h = l.GetValue()
			case "result":
				r = l.GetValue()
			}
		}
		if v := m.GetCounter().GetValue(); (h == "metrics" || h == "graph_data") && v != 0 {
			line += fmt.Sprintf(" %s_%s=%.0f", h, r, v)
		}
	}
	return line, nil
}

// gcCounts are a server's garbage collections and bytes allocated so far.
type gcCounts struct{ cycles, alloc float64 }

// gcFamilies are the Go collector's families gcCounts come from.
var gcFamilies = []string{"go_gc_duration_seconds", "go_memstats_alloc_bytes_total"}

// serverGC reads the server's GC counters from its /metrics.
func serverGC(hc *http.Client, base string) (gcCounts, error) {
	fams, err := scrapeMetrics(context.Background(), hc, base, gcFamilies...)
	if err != nil {
		return gcCounts{}, err
	}
	return gcOf(fams)
}

// gcOf reads gcCounts from the families: go_gc_duration_seconds' count
// and go_memstats_alloc_bytes_total.
func gcOf(fams map[string]*dto.MetricFamily) (gcCounts, error) {
	for _, name := range gcFamilies {
		if len(fams[name].GetMetric()) == 0 {
			return gcCounts{}, fmt.Errorf("%s missing", name)
		}
	}
	return gcCounts{cycles: float64(fams[gcFamilies[0]].GetMetric()[0].GetSummary().GetSampleCount()),
		alloc: sum(fams, gcFamilies[1], "")}, nil
}
