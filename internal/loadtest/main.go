package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"

	"github.com/servicegraph/servicegraph/internal/workload"
)

const exportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// rawCodec sends already-encoded protobuf bytes (*[]byte both ways).
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }
func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadtest steady|latency|hammer|truth|kafka [flags] (see doc.go)")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "steady":
		err = steady(os.Args[2:])
	case "latency":
		err = latency(os.Args[2:])
	case "hammer":
		err = hammer(os.Args[2:])
	case "truth":
		err = truthCheck(os.Args[2:])
	case "kafka":
		err = kafkaBench(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q (want steady, latency, hammer, truth or kafka)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// load reads the workload and counts each request's spans.
func load(path string) ([][]byte, []int, error) {
	reqs, err := workload.ReadAll(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read workload: %w", err)
	}
	if len(reqs) == 0 {
		return nil, nil, fmt.Errorf("read workload: %s holds no request", path)
	}
	counts := make([]int, len(reqs))
	for i, r := range reqs {
		if counts[i], err = countSpans(r); err != nil {
			return nil, nil, fmt.Errorf("request %d: %w", i, err)
		}
	}
	return reqs, counts, nil
}

// dial connects, and waits until the connection is ready.
func dial(endpoint string) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(endpoint,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{}), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", endpoint, err)
	}
	conn.Connect()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for st := conn.GetState(); st != connectivity.Ready; st = conn.GetState() {
		if !conn.WaitForStateChange(ctx, st) {
			conn.Close()
			return nil, fmt.Errorf("dial %s: not ready after 10s (%v)", endpoint, st)
		}
	}
	return conn, nil
}

// export sends one request; a failed export is an error (the figures
// count only acknowledged spans).
func export(conn *grpc.ClientConn, req []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var resp []byte
	return conn.Invoke(ctx, exportMethod, &req, &resp)
}

// cpuTime is the user+system CPU time of process pid, from /proc; 0 and
// false when unknown.
func cpuTime(pid int) (time.Duration, bool) {
	st, ok := procStat(pid)
	return st.utime + st.stime, ok
}

// procStats are the figures of a process the runs report, from
// /proc/<pid>/stat.
type procStats struct {
	minflt       int64         // minor page faults, field 10
	utime, stime time.Duration // user and system CPU, fields 14 and 15
}

// procStat reads process pid's procStats; false when unknown.
func procStat(pid int) (procStats, bool) {
	if pid <= 0 {
		return procStats{}, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStats{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStats{}, false
	}
	f := strings.Fields(s[i+1:]) // from field 3, state
	if len(f) < 13 {
		return procStats{}, false
	}
	minflt, err1 := strconv.ParseInt(f[7], 10, 64)
	ut, err2 := strconv.ParseInt(f[11], 10, 64)
	st, err3 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStats{}, false
	}
	const hz = 100 // USER_HZ on Linux
	return procStats{minflt: minflt, utime: time.Duration(ut) * time.Second / hz, stime: time.Duration(st) * time.Second / hz}, true
}

// get fetches url and discards the body; the bytes read are returned.
func get(c *http.Client, url string) (int64, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return n, err
}

// run sends the requests of passes from, from+1, ... from concurrency
// workers until stop returns true (checked between requests) or, with
// passes > 0, after that many passes. Pass p is the workload rekeyed with
// p. It returns the spans acknowledged and the wall time.
func run(conn *grpc.ClientConn, reqs [][]byte, counts []int, concurrency int, from, passes uint64, stop func() bool) (int64, time.Duration, error) {
	var (
		next  atomic.Uint64
		acked atomic.Int64
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	n := uint64(len(reqs))
	start := time.Now()
	for range max(1, concurrency) {
		wg.Go(func() {
			var buf []byte
			for {
				i := next.Add(1) - 1
				if (passes > 0 && i >= passes*n) || (passes == 0 && stop()) {
					return
				}
				pass, r := from+i/n, i%n
				buf = append(buf[:0], reqs[r]...)
				err := rekey(buf, pass)
				if err == nil {
					err = export(conn, buf)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("pass %d request %d: %w", pass, r, err)
					}
					mu.Unlock()
					return
				}
				acked.Add(int64(counts[r]))
			}
		})
	}
	wg.Wait()
	return acked.Load(), time.Since(start), first
}

// steady measures the fresh pass and the sustained steady state.
func steady(args []string) error {
	fs := flag.NewFlagSet("steady", flag.ContinueOnError)
	in := fs.String("in", "workload.otlp", "workload file")
	endpoint := fs.String("endpoint", "127.0.0.1:4317", "OTLP/gRPC host:port (plaintext)")
	concurrency := fs.Int("concurrency", 4, "requests in flight")
	duration := fs.Duration("duration", 30*time.Second, "how long the steady phase sends")
	pid := fs.Int("pid", 0, "the server's process id, for its CPU time (0: not measured)")
	api := fs.String("api", "", "the server's HTTP API base URL: /metrics is scraped during the steady phase")
	scrapeEvery := fs.Duration("scrape-every", 5*time.Second, "scrape interval of /metrics during the steady phase")
	if err := fs.Parse(args); err != nil {
		return err
	}
	reqs, counts, err := load(*in)
	if err != nil {
		return err
	}
	conn, err := dial(*endpoint)
	if err != nil {
		return err
	}
	defer conn.Close()

	c0, _ := cpuTime(*pid)
	freshSpans, freshWall, err := run(conn, reqs, counts, *concurrency, 0, 1, nil)
	if err != nil {
		return fmt.Errorf("fresh pass: %w", err)
	}
	c1, cpuOK := cpuTime(*pid)
	report("fresh", freshSpans, freshWall, c1-c0, cpuOK, 1)

	// Steady: passes 1, 2, ... without a pause for duration, scraped.
	ctx, cancel := context.WithCancel(context.Background())
	var scrapes, scrapeErrs atomic.Int64
	var wg sync.WaitGroup
	if *api != "" {
		wg.Go(func() {
			hc := &http.Client{Timeout: 30 * time.Second}
			t := time.NewTicker(*scrapeEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if _, err := get(hc, strings.TrimSuffix(*api, "/")+"/metrics"); err != nil {
						scrapeErrs.Add(1)
					}
					scrapes.Add(1)
				}
			}
		})
	}
	deadline := time.Now().Add(*duration)
	c1, _ = cpuTime(*pid)
	spans, wall, err := run(conn, reqs, counts, *concurrency, 1, 0, func() bool { return time.Now().After(deadline) })
	c2, _ := cpuTime(*pid)
	cancel()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("steady phase: %w", err)
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	report("steady", spans, wall, c2-c1, cpuOK, float64(spans)/float64(total))
	fmt.Printf("loadtest: steady phase scraped /metrics %d times (%d failed)\n", scrapes.Load(), scrapeErrs.Load())
	return nil
}

func report(phase string, spans int64, wall, cpu time.Duration, cpuOK bool, passes float64) {
	sps := float64(spans) / wall.Seconds()
	fmt.Printf("loadtest: %s: %d spans (%.1f passes) acknowledged in %.3fs: %.0f spans/s, %.0f ns/span wall",
		phase, spans, passes, wall.Seconds(), sps, 1e9/sps)
	line := fmt.Sprintf("result %s spans=%d seconds=%.3f spans_per_s=%.0f ns_per_span=%.0f", phase, spans, wall.Seconds(), sps, 1e9/sps)
	if cpuOK {
		fmt.Printf(", server CPU %.0f ns/span", float64(cpu.Nanoseconds())/float64(spans))
		line += fmt.Sprintf(" cpu_ns_per_span=%.0f", float64(cpu.Nanoseconds())/float64(spans))
	}
	fmt.Println()
	fmt.Println(line)
}

// percentile is the p-th percentile (0..1) of sorted ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(p*float64(len(ds))))]
}

var errNoSamples = errors.New("no export finished")

// paced sends reqs (rekeyed with pass numbers from from) one at a time at
// rate per second for d, and returns the sorted export latencies.
func paced(conn *grpc.ClientConn, reqs [][]byte, rate float64, d time.Duration, from uint64) ([]time.Duration, error) {
	var lat []time.Duration
	var buf []byte
	every := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := uint64(0); time.Since(start) < d; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * every)); wait > 0 {
			time.Sleep(wait)
		}
		n := uint64(len(reqs))
		buf = append(buf[:0], reqs[i%n]...)
		if err := rekey(buf, from+i/n); err != nil {
			return nil, err
		}
		t := time.Now()
		if err := export(conn, buf); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		lat = append(lat, time.Since(t))
	}
	if len(lat) == 0 {
		return nil, errNoSamples
	}
	slices.Sort(lat)
	return lat, nil
}
