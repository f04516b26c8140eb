// Package e2e tests the servicegraph sgBin end to end: built once, run as
// a process on loopback ports, driven by real clients (the OpenTelemetry Go
// SDK's OTLP exporters, telemetrygen, Prometheus).
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var sgBin string // the servicegraph binary, built by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "servicegraph-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sgBin = filepath.Join(dir, "servicegraph")
	build := exec.Command("go", "build", "-race", "-o", sgBin, "../cmd/servicegraph")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build servicegraph:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// service is a servicegraph process: the one harness every e2e test
// starts the binary with.
type service struct {
	cmd             *exec.Cmd
	api, grpc, http string // set once started (waitStarted)
	dataDir         string
	mu              sync.Mutex // guards log
	log             bytes.Buffer
	apiUp           chan string         // the API's address, from "HTTP API started"
	started         chan map[string]any // the "servicegraph started" record
	exited          chan struct{}
	exitErr         error
}

// start runs `servicegraph serve` on loopback port 0 with dataDir and
// extra flags, and waits until it logs its addresses.
func start(t *testing.T, dataDir string, extra ...string) *service {
	t.Helper()
	return startCommand(t, "serve", dataDir, extra...)
}

// startCommand is start for another subcommand (demo).
func startCommand(t *testing.T, command, dataDir string, extra ...string) *service {
	t.Helper()
	s := launch(t, "", command, append([]string{"--data-dir", dataDir}, extra...)...)
	s.waitStarted(t)
	return s
}

// launch runs `servicegraph COMMAND` in dir (empty: the test's) with JSON
// logs, every listener on loopback port 0, and args, without waiting: a
// test may look at it while it starts, or fails to. The process is killed
// at the end of the test if it still runs; its log is shown if the test
// failed.
func launch(t *testing.T, dir, command string, args ...string) *service {
	t.Helper()
	args = append([]string{command, "--log-format", "json", "--otlp-grpc-addr", "127.0.0.1:0",
		"--otlp-http-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, args...)
	s := &service{cmd: exec.Command(sgBin, args...), apiUp: make(chan string, 1), started: make(chan map[string]any, 1),
		exited: make(chan struct{})}
	s.cmd.Dir = dir
	for i, a := range args {
		if a == "--data-dir" && i+1 < len(args) {
			s.dataDir = args[i+1]
		}
	}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			s.mu.Lock()
			s.log.Write(line)
			s.log.WriteByte('\n')
			s.mu.Unlock()
			var rec map[string]any
			if json.Unmarshal(line, &rec) != nil {
				continue
			}
			switch rec["msg"] {
			case "HTTP API started":
				if a, ok := rec["addr"].(string); ok {
					select {
					case s.apiUp <- a:
					default:
					}
				}
			case "servicegraph started":
				s.started <- rec
			}
		}
		s.exitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			s.cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			t.Logf("service log:\n%s", s.logs())
		}
	})
	return s
}

// waitStarted waits until the service logs its addresses (every listener
// up, the saved graph loaded).
func (s *service) waitStarted(t *testing.T) {
	t.Helper()
	select {
	case rec := <-s.started:
		s.api, s.grpc, s.http = rec["http"].(string), rec["otlp_grpc"].(string), rec["otlp_http"].(string)
	case <-s.exited:
		t.Fatalf("servicegraph exited at start: %v\n%s", s.exitErr, s.logs())
	case <-time.After(60 * time.Second):
		t.Fatalf("servicegraph did not start:\n%s", s.logs())
	}
}

// apiAddr waits for the API to listen, which it does before the saved
// graph loads.
func (s *service) apiAddr(t *testing.T) string {
	t.Helper()
	select {
	case a := <-s.apiUp:
		return a
	case <-s.exited:
		t.Fatalf("exited before the API listened: %v", s.exitErr)
	case <-time.After(30 * time.Second):
		t.Fatal("the API did not listen within 30s")
	}
	return ""
}

func (s *service) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// wait waits for the exit and returns the exit code; it fails the test
// if the process is still running after timeout.
func (s *service) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-s.exited:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("still running after %s", timeout)
	}
	return 0
}

// stop sends sig and waits for the exit; it returns the exit code.
func (s *service) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("servicegraph did not stop on %v:\n%s", sig, s.logs())
	}
	return s.cmd.ProcessState.ExitCode()
}

func (s *service) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	code, _, b := s.getHeader(t, path)
	return code, b
}

// getHeader is get with the answer's header.
func (s *service) getHeader(t *testing.T, path string) (int, http.Header, []byte) {
	t.Helper()
	// A fresh answer, not the API's read cache's (up to
	// --read-max-staleness old): tests read what they just sent.
	req, err := http.NewRequest(http.MethodGet, "http://"+s.api+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// metrics scrapes /metrics in the text format: the named families only
// when names are given (a whole scrape at the edge cap is ~300 MB).
func (s *service) metrics(t *testing.T, names ...string) map[string]*dto.MetricFamily {
	t.Helper()
	path := "/metrics"
	if len(names) > 0 {
		path += "?" + url.Values{"name[]": names}.Encode()
	}
	code, b := s.get(t, path)
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, b)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// series renders a family's samples as sorted "label=value,... value" lines.
func series(fams map[string]*dto.MetricFamily, name string) []string {
	f := fams[name]
	if f == nil {
		return nil
	}
	var out []string
	for _, m := range f.GetMetric() {
		var lv []string
		for _, l := range m.GetLabel() {
			lv = append(lv, l.GetName()+"="+l.GetValue())
		}
		var v float64
		switch {
		case m.Counter != nil:
			v = m.GetCounter().GetValue()
		case m.Gauge != nil:
			v = m.GetGauge().GetValue()
		case m.Histogram != nil:
			v = float64(m.GetHistogram().GetSampleCount())
		}
		out = append(out, fmt.Sprintf("%s %g", strings.Join(lv, ","), v))
	}
	sort.Strings(out)
	return out
}

func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	want := strings.Join(labels, ",") + " "
	for _, s := range series(fams, name) {
		if strings.HasPrefix(s, want) {
			var v float64
			fmt.Sscanf(s[len(want):], "%g", &v)
			return v, true
		}
	}
	return 0, false
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// poll reports whether cond held within the timeout, checking every 100ms.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func labels(ls []*dto.LabelPair) map[string]string {
	m := map[string]string{}
	for _, l := range ls {
		m[l.GetName()] = l.GetValue()
	}
	return m
}

func labelKey(ls []*dto.LabelPair) string {
	var parts []string
	for _, l := range ls {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
