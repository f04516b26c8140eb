package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/tlsconfig/tlstest"
)

// lcRun starts `servicegraph serve` with dataDir and extra flags without
// waiting for it to be ready: the lifecycle attacks look at it while it
// starts, or fails to.
func lcRun(t *testing.T, dataDir string, extra ...string) *service {
	t.Helper()
	return launch(t, "", "serve", append([]string{"--data-dir", dataDir}, extra...)...)
}

// lcGet fetches url; code 0 means the connection failed.
func lcGet(client *http.Client, url string) (int, string) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var (
	lcBigStateOnce sync.Once
	lcBigState     []byte
)

// lcBigStateFile writes a real state file that takes a while to load
// (~7 MB: 4,500 edges with an hour of minute history each; about a second
// with the race detector) into dir.
func lcBigStateFile(t *testing.T, dir string) []byte {
	t.Helper()
	lcBigStateOnce.Do(func() {
		now := time.Now()
		clock := now
		st := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: func() time.Time { return clock }})
		const services, fanOut = 300, 15
		ids := make([]graph.NodeID, services)
		for i := range ids {
			ids[i] = st.Node(fmt.Sprintf("service-%04d", i), graph.ServiceNode)
		}
		obs := make([]graph.Observation, 0, services*fanOut)
		for i := range services {
			for j := 1; j <= fanOut; j++ {
				obs = append(obs, graph.Observation{Client: ids[i], Server: ids[(i+j)%services], Kind: graph.Call, Seconds: [2]float64{0.1, 0.2}})
			}
		}
		for m := 60; m > 0; m-- {
			clock = now.Add(-time.Duration(m) * time.Minute)
			st.Observe(obs, nil)
		}
		var b bytes.Buffer
		if err := st.WriteState(&b); err != nil {
			panic(err)
		}
		lcBigState = b.Bytes()
	})
	if err := os.WriteFile(filepath.Join(dir, "graph.state"), lcBigState, 0o644); err != nil {
		t.Fatal(err)
	}
	return lcBigState
}

// TestAttackLifecycleStaleTempFiles: temporary files of interrupted saves
// are removed at start, counted and logged (they used to pile up forever).
func TestAttackLifecycleStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	junk := bytes.Repeat([]byte{0xAB}, 1<<20)
	for _, name := range []string{"graph.state.tmp-1111", "graph.state.tmp-2222", "graph.state.tmp-3333"} {
		if err := os.WriteFile(filepath.Join(dir, name), junk, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := start(t, dir)
	left, _ := filepath.Glob(filepath.Join(dir, "graph.state.tmp-*"))
	if len(left) != 0 {
		t.Fatalf("stale temporary files left: %v", left)
	}
	if v, _ := value(s.metrics(t), "servicegraph_state_stale_temp_files_removed_total"); v != 3 {
		t.Fatalf("servicegraph_state_stale_temp_files_removed_total = %g, want 3", v)
	}
	if !strings.Contains(s.logs(), `"msg":"removed temporary files of interrupted saves","dir":"`+dir+`","files":3,"bytes":3145728`) {
		t.Fatalf("no log record of the removal:\n%s", s.logs())
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// TestAttackLifecycleFIFOState: a named pipe in place of the state file
// used to hang the start forever, deaf to SIGTERM. It is refused at once:
// exit 1 with a clear message, the pipe left where it is.
func TestAttackLifecycleFIFOState(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "graph.state")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	p := lcRun(t, dir)
	if !poll(20*time.Second, func() bool {
		select {
		case <-p.exited:
			return true
		default:
			return false
		}
	}) {
		// The old behaviour: blocked in open(2). SIGTERM does not help.
		p.cmd.Process.Signal(syscall.SIGTERM)
		if !poll(5*time.Second, func() bool { return p.cmd.ProcessState != nil }) {
			t.Fatal("hung on the named pipe, and SIGTERM did not end it")
		}
	}
	if code := p.wait(t, time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	want := fifo + ` is a named pipe (FIFO), not a regular file`
	if !strings.Contains(p.logs(), want) {
		t.Fatalf("the error does not say %q:\n%s", want, p.logs())
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the pipe was moved or replaced: %v %v", fi, err)
	}
}

// TestAttackLifecycleReadyWhileLoading: the API listens before the saved
// graph loads; meanwhile /-/healthy is 200, /-/ready 503 with the reason
// "loading state", and the graph endpoints 503 rather than an empty graph
// (it used to refuse connections until the load was over). Then it is
// ready, with the whole graph.
func TestAttackLifecycleReadyWhileLoading(t *testing.T) {
	dir := t.TempDir()
	lcBigStateFile(t, dir)
	p := lcRun(t, dir)
	base := "http://" + p.apiAddr(t)
	client := &http.Client{Timeout: 10 * time.Second}
	code, body := lcGet(client, base+"/-/ready")
	if code != http.StatusServiceUnavailable || body != `{"status":"not ready","reason":"loading state"}`+"\n" {
		t.Fatalf("/-/ready while loading: %d %q", code, body)
	}
	if code, body := lcGet(client, base+"/-/healthy"); code != http.StatusOK || body != "ok" {
		t.Fatalf("/-/healthy while loading: %d %q", code, body)
	}
	if code, body := lcGet(client, base+"/api/graph/edges"); code != http.StatusServiceUnavailable || body != `{"error":"loading state"}`+"\n" {
		t.Fatalf("/api/graph/edges while loading: %d %q", code, body)
	}
	eventually(t, 60*time.Second, "ready after loading", func() bool {
		code, _ := lcGet(client, base+"/-/ready")
		return code == http.StatusOK
	})
	if code, body := lcGet(client, base+"/-/ready"); body != `{"status":"ready"}`+"\n" {
		t.Fatalf("/-/ready: %d %q", code, body)
	}
	// service-0000 calls the next 15 services and is called by the 15
	// before it, 60 times each: all of it came back.
	_, deps := lcGet(client, base+"/api/dependencies?service=service-0000")
	var got struct {
		Data []struct{ CallCount int }
	}
	if err := json.Unmarshal([]byte(deps), &got); err != nil || len(got.Data) != 30 || got.Data[0].CallCount != 60 {
		t.Fatalf("dependencies of service-0000 after loading (err %v): %s", err, deps)
	}
	p.cmd.Process.Kill() // a clean stop would save 7 MB: not what this test is about
	p.wait(t, 30*time.Second)
}

// TestAttackLifecycleSIGTERMWhileLoading: a SIGTERM while the saved graph
// loads ends the process at once (exit 0), without saving: the state file
// is byte for byte what it was.
func TestAttackLifecycleSIGTERMWhileLoading(t *testing.T) {
	dir := t.TempDir()
	before := lcBigStateFile(t, dir)
	p := lcRun(t, dir)
	base := "http://" + p.apiAddr(t)
	if code, body := lcGet(http.DefaultClient, base+"/-/ready"); code != http.StatusServiceUnavailable || !strings.Contains(body, "loading state") {
		t.Fatalf("/-/ready: %d %q, want 503 loading state", code, body)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	logs := p.logs()
	if !strings.Contains(logs, "stopped while loading the saved graph") || strings.Contains(logs, "restored saved graph") ||
		strings.Contains(logs, "servicegraph started") {
		t.Fatalf("not stopped during the load:\n%s", logs)
	}
	after, err := os.ReadFile(filepath.Join(dir, "graph.state"))
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("the state file changed (err %v)", err)
	}
}

// TestAttackLifecycleEchoCut: an unknown service= of 60 KB (about the
// largest request line the API reads) used to come back whole in the 400;
// it is cut to 128 bytes and "…". A 100 KB one does not get past the
// header limit (431).
func TestAttackLifecycleEchoCut(t *testing.T) {
	s := start(t, t.TempDir())
	long := strings.Repeat("v", 60<<10)
	want := `{"error":"unknown service \"` + strings.Repeat("v", 128) + `…\"","parameter":"service"}` + "\n"
	for _, path := range []string{"/api/graph/data", "/api/graph/edges", "/graph.svg"} {
		code, body := s.get(t, path+"?service="+long)
		if code != http.StatusBadRequest || string(body) != want {
			t.Errorf("GET %s?service=<60 KB>: %d, %d bytes: %.300s", path, code, len(body), body)
		}
	}
	// The server answers 431 and closes while the client may still be
	// writing the request line, so the client sees the 431 or a reset.
	if resp, err := http.Get("http://" + s.api + "/api/graph/data?service=" + strings.Repeat("v", 100<<10)); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || len(body) > 1024 {
			t.Errorf("GET ?service=<100 KB>: %d, %d bytes", resp.StatusCode, len(body))
		}
	} else if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("GET ?service=<100 KB>: %v, want 431 or a reset", err)
	}
	if v, _ := value(s.metrics(t), "servicegraph_http_requests_total", "code=400", "handler=graph_data"); v != 1 {
		t.Errorf("requests_total{graph_data,400} = %g, want 1", v)
	}
}

// TestAttackLifecycleMTLSProbes: with mTLS every probe needed a client
// certificate. With --api-health-without-client-cert a real TLS client
// without one gets /-/healthy and /-/ready, and 403 with a clear message
// everywhere else; with one, everything; the OTLP listeners still require
// a certificate.
func TestAttackLifecycleMTLSProbes(t *testing.T) {
	dir := t.TempDir()
	files := tlstest.Write(t, dir)
	s := start(t, filepath.Join(dir, "data"), "--tls-cert-file", files.ServerCert, "--tls-key-file", files.ServerKey,
		"--tls-client-ca-file", files.CA, "--api-health-without-client-cert")
	client := func(cfg *tls.Config) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
	}
	noCert, withCert := client(files.ClientConfig(t, false)), client(files.ClientConfig(t, true))
	const forbidden = `{"error":"client certificate required: this API uses mutual TLS; only /-/healthy and /-/ready are served without one"}` + "\n"
	tests := []struct {
		name   string
		client *http.Client
		path   string
		code   int
		body   string
	}{
		{"healthy without a certificate", noCert, "/-/healthy", 200, "ok"},
		{"ready without a certificate", noCert, "/-/ready", 200, `{"status":"ready"}` + "\n"},
		{"graph without a certificate", noCert, "/api/graph/edges", 403, forbidden},
		{"metrics without a certificate", noCert, "/metrics", 403, forbidden},
		{"page without a certificate", noCert, "/", 403, forbidden},
		{"graph with a certificate", withCert, "/api/graph/edges", 200, "[]\n"},
		{"ready with a certificate", withCert, "/-/ready", 200, `{"status":"ready"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := lcGet(tt.client, "https://"+s.api+tt.path); code != tt.code || body != tt.body {
				t.Fatalf("GET %s: %d %q, want %d %q", tt.path, code, body, tt.code, tt.body)
			}
		})
	}
	// The OTLP listeners are not exempt: no certificate, no handshake.
	if code, msg := lcGet(noCert, "https://"+s.http+"/v1/traces"); code != 0 {
		t.Errorf("OTLP/HTTP without a client certificate: %d %s, want a refused handshake", code, msg)
	}
	if code, _ := lcGet(withCert, "https://"+s.http+"/v1/traces"); code == 0 {
		t.Error("OTLP/HTTP with a client certificate refused")
	}
	_, m := lcGet(withCert, "https://"+s.api+"/metrics")
	for _, want := range []string{`servicegraph_http_requests_total{code="403",handler="graph_edges"} 1`,
		`servicegraph_http_requests_total{code="403",handler="metrics"} 1`, `servicegraph_http_requests_total{code="200",handler="healthy"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestAttackLifecycleUnwritableDataDir: a data directory the service
// cannot write used to be found only at shutdown (ready all along, every
// save lost, exit 1 at SIGTERM). It is probed at start: exit 1 with a clear
// message. sysfs refuses new files even to root, whom permission bits do
// not stop.
func TestAttackLifecycleUnwritableDataDir(t *testing.T) {
	const dir = "/sys/kernel"
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Skipf("no %s: %v", dir, err)
	}
	p := lcRun(t, dir)
	if code := p.wait(t, 20*time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	logs := p.logs()
	if want := "servicegraph: data directory /sys/kernel is not writable: open /sys/kernel/graph.state.tmp-probe-"; !strings.Contains(logs, want) ||
		strings.Contains(logs, "HTTP API started") {
		t.Fatalf("want %q before anything listens:\n%s", want, logs)
	}
}

// TestAttackLifecycleSaveFailure: saves that fail after the start (the
// data directory replaced by a regular file: a failure even for root) are
// counted, logged and reported by /-/ready, as --ready-on-save-failure
// says: 200 with a warning (the default) or 503; once the directory is
// back the next save works and /-/ready is plain ready again.
func TestAttackLifecycleSaveFailure(t *testing.T) {
	const reason = "saving the graph failed; see the log and servicegraph_state_saves_total"
	tests := []struct {
		flag string
		code int
		body string
	}{
		{"true", 200, `{"status":"ready","warning":"` + reason + `"}` + "\n"},
		{"false", 503, `{"status":"not ready","reason":"` + reason + `"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run("ready-on-save-failure="+tt.flag, func(t *testing.T) {
			t.Parallel() // each waits on its own service's 1 s saves
			dir := filepath.Join(t.TempDir(), "data")
			s := start(t, dir, "--save-interval", "1s", "--ready-on-save-failure="+tt.flag)
			if err := os.Rename(dir, dir+".away"); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dir, []byte("not a directory"), 0o644); err != nil {
				t.Fatal(err)
			}
			eventually(t, 20*time.Second, "/-/ready to report the failing saves", func() bool {
				code, body := s.get(t, "/-/ready")
				return code == tt.code && string(body) == tt.body
			})
			if err := os.Remove(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(dir+".away", dir); err != nil {
				t.Fatal(err)
			}
			eventually(t, 20*time.Second, "/-/ready to recover", func() bool {
				code, body := s.get(t, "/-/ready")
				return code == 200 && string(body) == `{"status":"ready"}`+"\n"
			})
			// Every failure is counted and logged: the counter matches the
			// log once the last record has been read from the pipe.
			var counted, logged float64
			eventually(t, 10*time.Second, "the counted failures to match the logged ones", func() bool {
				counted, _ = value(s.metrics(t), "servicegraph_state_saves_total", "result=error")
				logged = float64(strings.Count(s.logs(), `"msg":"saving the graph failed"`))
				return counted == logged && counted >= 1
			})
			if !strings.Contains(s.logs(), `"msg":"saving the graph works again"`) {
				t.Fatalf("no recovery in the log:\n%s", s.logs())
			}
			if code := s.stop(t, syscall.SIGTERM); code != 0 {
				t.Fatalf("exit code %d after the directory came back", code)
			}
		})
	}
}
