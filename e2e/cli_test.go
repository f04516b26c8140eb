package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The built binary's usage errors: the error once, a one-line hint, exit 2;
// help on stdout, exit 0.
func TestCLIUsage(t *testing.T) {
	tests := []struct {
		args         []string
		code         int
		stdoutPrefix string
		stderr       string
	}{
		{[]string{"--help"}, 0, "servicegraph builds a live service graph", ""},
		{[]string{"demo", "--help"}, 0, "Usage: servicegraph demo [flags]\n", ""},
		{[]string{"--no-such-flag"}, 2, "", "servicegraph: flag provided but not defined: -no-such-flag\nrun 'servicegraph serve --help' for the flags\n"},
		{[]string{"demo", "--demo-rate", "-5"}, 2, "", "servicegraph: --demo-rate must be from 0 to 10000 (0: the default, 20), got -5\nrun 'servicegraph demo --help' for the flags\n"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := exec.Command(sgBin, tc.args...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			_ = cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != tc.code || stderr.String() != tc.stderr ||
				!strings.HasPrefix(stdout.String(), tc.stdoutPrefix) || (tc.stdoutPrefix == "") != (stdout.Len() == 0) {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d, stdout starting %q, stderr %q",
					code, stdout.String(), stderr.String(), tc.code, tc.stdoutPrefix, tc.stderr)
			}
		})
	}
}

// The demo, started without --data-dir in a folder, writes nothing there
// (a later serve in that folder would otherwise show the demo's shop), and
// its unresolved-links table shows unresolved entries after the link wait
// (20 s by default, TestCommandLine; shortened here to keep the test short).
func TestDemoDefaults(t *testing.T) {
	dir := t.TempDir()
	s := launch(t, dir, "demo", "--demo-rate", "50", "--link-wait", "2s")
	s.waitStarted(t)
	var got []string
	eventually(t, 30*time.Second, "an unresolved link in /api/links/unresolved", func() bool {
		code, body := s.get(t, "/api/links/unresolved")
		var r struct {
			Problems []struct {
				Result string `json:"result"`
			} `json:"problems"`
		}
		if code != 200 || json.Unmarshal(body, &r) != nil {
			return false
		}
		got = got[:0]
		for _, p := range r.Problems {
			if p.Result == "unresolved" {
				got = append(got, p.Result)
			}
		}
		return len(got) > 0
	})
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("the demo wrote into its working directory: %v", entries)
	}
}

// The last save at shutdown is logged with the file's path, its size and
// how long it took.
func TestFinalSaveLogged(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir)
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	path := filepath.Join(dir, "graph.state")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(s.logs(), "\n") {
		var rec struct {
			Msg      string  `json:"msg"`
			Path     string  `json:"path"`
			Bytes    int64   `json:"bytes"`
			Duration float64 `json:"duration"`
			Final    bool    `json:"final"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "saved the graph" {
			continue
		}
		if rec.Path != path || rec.Bytes != info.Size() || !rec.Final || rec.Duration <= 0 {
			t.Fatalf("logged %+v, want path %s, bytes %d, final, a duration", rec, path, info.Size())
		}
		return
	}
	t.Fatalf("no \"saved the graph\" record")
}
