package state_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/state"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newStore is a store with one span_link edge a → b.
func newStore(t *testing.T, edges int) *graph.Store {
	t.Helper()
	st := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{})
	b := st.Node("b", graph.ServiceNode)
	for i := range edges {
		a := st.Node("a"+strings.Repeat("x", i), graph.ServiceNode)
		st.Observe([]graph.Observation{{Client: a, Server: b, Kind: graph.SpanLink, Seconds: [2]float64{1, -1}}}, nil)
	}
	return st
}

func open(t *testing.T, dir string, st *graph.Store) (*state.Saver, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := state.Open(dir, time.Hour, st, state.Settings{Registerer: reg})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, reg
}

// counter is the value of the counter name, of its series whose labels
// have the values given (result="ok": "ok").
func counter(t *testing.T, reg *prometheus.Registry, name string, labelValues ...string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for i, v := range labelValues {
				if m.GetLabel()[i].GetValue() != v {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s%v", name, labelValues)
	return 0
}

// saved writes a state file of a store with n edges into dir.
func saved(t *testing.T, dir string, n int) []byte {
	t.Helper()
	s, _ := open(t, dir, newStore(t, n))
	if err := s.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, state.FileName))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	saved(t, dir, 3)
	st := newStore(t, 0)
	s, reg := open(t, dir, st)
	if err := s.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := st.Stats(); got.Edges != 3 || got.Nodes != 4 {
		t.Fatalf("restored %+v, want 3 edges and 4 nodes", got)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// One save right after the restore (it overwrites a clean mark), one
	// at shutdown.
	if v := counter(t, reg, "servicegraph_state_saves_total", "ok"); v != 2 {
		t.Fatalf("saves ok = %g, want 2", v)
	}
}

// TestStaleTempRemoved: the temporary files of interrupted saves are
// removed at Open and counted; other files, and anything of that name that
// is not a regular file, stay.
func TestStaleTempRemoved(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"graph.state.tmp-1", "graph.state.tmp-22", "graph.state.tmp-probe-3"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("partial save"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	keep := []string{"graph.state.corrupt-5", "notes.txt", "graph.state.tmp-dir"}
	for _, name := range keep[:2] {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, keep[2]), 0o755); err != nil {
		t.Fatal(err)
	}
	_, reg := open(t, dir, newStore(t, 0))
	if v := counter(t, reg, "servicegraph_state_stale_temp_files_removed_total"); v != 3 {
		t.Errorf("removed counter = %g, want 3", v)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"graph.state.corrupt-5", "graph.state.tmp-dir", "notes.txt"}; strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("left %v, want %v", names, want)
	}
}

// TestLoadRefusesNonRegular: a named pipe (or a directory, or a link to a
// pipe) in place of the state file is refused at once with a clear error
// and left where it is; the old code blocked forever opening the pipe.
func TestLoadRefusesNonRegular(t *testing.T) {
	tests := []struct {
		name string
		make func(t *testing.T, path string)
		want string
	}{
		{"named pipe", func(t *testing.T, p string) { mkfifo(t, p) }, "is a named pipe (FIFO), not a regular file"},
		{"directory", func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}, "is a directory, not a regular file"},
		{"link to a pipe", func(t *testing.T, p string) {
			fifo := filepath.Join(filepath.Dir(p), "elsewhere")
			mkfifo(t, fifo)
			if err := os.Symlink(fifo, p); err != nil {
				t.Fatal(err)
			}
		}, "is a named pipe (FIFO), not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, state.FileName)
			tc.make(t, path)
			s, reg := open(t, dir, newStore(t, 0))
			errc := make(chan error, 1)
			go func() { errc <- s.Load(t.Context()) }()
			var err error
			select {
			case err = <-errc:
			case <-time.After(10 * time.Second):
				// Unblock the reader so that the goroutine ends.
				if f, ferr := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); ferr == nil {
					f.Close()
				}
				<-errc
				t.Fatal("Load blocked on the state file")
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want it to name %s and say %q", err, path, tc.want)
			}
			if _, serr := os.Lstat(path); serr != nil {
				t.Fatalf("the file was moved: %v", serr)
			}
			if v := counter(t, reg, "servicegraph_state_load_failures_total"); v != 0 {
				t.Fatalf("load failures = %g, want 0 (refused, not moved aside)", v)
			}
			if err := s.Save(); err == nil {
				t.Fatal("Save after a failed Load succeeded: it would replace the file")
			}
		})
	}
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoadCancelled: a Load whose context ends stops, says so, and leaves
// the file alone: not moved aside as corrupt, not overwritten by a save.
func TestLoadCancelled(t *testing.T) {
	dir := t.TempDir()
	before := saved(t, dir, 50)
	st := newStore(t, 0)
	s, reg := open(t, dir, st)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Load(ctx)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("err = %v, want an interrupted load", err)
	}
	if got := st.Stats(); got.Edges != 0 {
		t.Fatalf("store has %d edges after a cancelled load", got.Edges)
	}
	if v := counter(t, reg, "servicegraph_state_load_failures_total"); v != 0 {
		t.Fatalf("load failures = %g, want 0", v)
	}
	if err := s.Shutdown(context.Background()); err == nil {
		t.Fatal("Shutdown saved after a cancelled load")
	}
	after, err := os.ReadFile(filepath.Join(dir, state.FileName))
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("state file changed (err %v)", err)
	}
}

func TestLoadCorruptMovedAside(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, state.FileName), []byte("noise"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, reg := open(t, dir, newStore(t, 0))
	if err := s.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v := counter(t, reg, "servicegraph_state_load_failures_total"); v != 1 {
		t.Fatalf("load failures = %g, want 1", v)
	}
	if aside, _ := filepath.Glob(filepath.Join(dir, "graph.state.corrupt-*")); len(aside) != 1 {
		t.Fatalf("moved aside: %v", aside)
	}
	if err := s.Save(); err != nil {
		t.Fatalf("Save after an empty start: %v", err)
	}
}

func TestDisabled(t *testing.T) {
	s, _ := open(t, "", newStore(t, 1))
	if err := s.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestUnwritableDirRefused: a data directory the service cannot write
// stops Open with a clear error (it used to start, report ready and lose
// every save). sysfs refuses new files even to root, where permission bits
// would not.
func TestUnwritableDirRefused(t *testing.T) {
	const dir = "/sys/kernel"
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Skipf("no %s: %v", dir, err)
	}
	_, err := state.Open(dir, time.Hour, newStore(t, 0), state.Settings{})
	if err == nil || !strings.Contains(err.Error(), "data directory /sys/kernel is not writable") ||
		!strings.Contains(err.Error(), "point --data-dir elsewhere") {
		t.Fatalf("err = %v, want a clear refusal", err)
	}
}

// TestSaveFailureCounted: when the directory goes away under a running
// Saver (replaced by a regular file: a failure even for root), saves fail,
// are counted and reported by Failing, until the directory is back.
func TestSaveFailureCounted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, reg := open(t, dir, newStore(t, 2))
	if err := s.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(); err != nil || s.Failing() {
		t.Fatalf("first save: %v, failing %v", err, s.Failing())
	}
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Save(); err == nil {
			t.Fatal("save into a file succeeded")
		}
	}
	if !s.Failing() {
		t.Fatal("Failing() = false after failed saves")
	}
	if v := counter(t, reg, "servicegraph_state_saves_total", "error"); v != 2 {
		t.Fatalf("saves error = %g, want 2", v)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(); err != nil || s.Failing() {
		t.Fatalf("save after the directory came back: %v, failing %v", err, s.Failing())
	}
	if v := counter(t, reg, "servicegraph_state_saves_total", "ok"); v != 2 {
		t.Fatalf("saves ok = %g, want 2", v)
	}
}

// TestProbeLeavesNothing: the write probe at Open leaves no file behind.
func TestProbeLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, newStore(t, 0))
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left %v", entries)
	}
}

// Only the save at Shutdown marks the file clean, and a start from a clean
// file overwrites the mark at once: a crash before the first periodic save
// leaves an unclean file, so the next start counts from the restored graph.
func TestCleanMark(t *testing.T) {
	dir := t.TempDir()
	restore := func() *graph.Snapshot {
		t.Helper()
		st := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{})
		s, _ := open(t, dir, st)
		if err := s.Load(t.Context()); err != nil {
			t.Fatal(err)
		}
		return st.Snapshot()
	}
	s, _ := open(t, dir, newStore(t, 3))
	if err := s.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if restore().Base == nil {
		t.Fatal("a periodic save's file restored as clean")
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if snap := restore(); snap.Base != nil || len(snap.Edges) != 3 {
		t.Fatalf("the final save's file: base %v, %d edges; want clean, 3", snap.Base != nil, len(snap.Edges))
	}
	// That restore (a process that then crashed) overwrote the mark.
	if restore().Base == nil {
		t.Fatal("the clean mark survived a start: a crash after it would look clean")
	}
}

// The last save, at Shutdown, is logged with the file's path, its size and
// how long it took; periodic saves only at debug level.
func TestFinalSaveLogged(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	clock := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { clock = clock.Add(250 * time.Millisecond); return clock }
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	s, err := state.Open(dir, time.Hour, newStore(t, 2), state.Settings{Logger: logger, Registerer: prometheus.NewRegistry(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	if err := s.Save(); err != nil { // periodic: debug, not shown at info
		t.Fatal(err)
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, state.FileName)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("level=INFO msg=\"saved the graph\" path=%s bytes=%d duration=250ms final=true\n", path, info.Size())
	if logs.String() != want {
		t.Fatalf("log:\n%s\nwant:\n%s", logs.String(), want)
	}
}

// Start refuses a context already ended; Shutdown twice saves twice.
func TestLifecycleContext(t *testing.T) {
	s, _ := open(t, t.TempDir(), newStore(t, 1))
	if err := s.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Start(ended); !errors.Is(err, context.Canceled) {
		t.Fatalf("Start with an ended context: %v, want context.Canceled", err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}
