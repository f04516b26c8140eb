package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/logging"
)

// FileName is the state file's name inside the data directory.
const FileName = "graph.state"

// tempPrefix starts the name of every temporary file a save writes; Open
// removes the ones an interrupted save left behind.
const tempPrefix = FileName + ".tmp-"

// Settings are what the code supplies; nil means the default.
type Settings struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time // the clock, for the durations logged; time.Now if nil
}

// Saver saves a store to dir.
type Saver struct {
	dir      string
	interval time.Duration
	store    *graph.Store
	logger   *slog.Logger
	now      func() time.Time

	saves      *prometheus.CounterVec
	loadFailed prometheus.Counter
	staleTemp  prometheus.Counter
	lastSave   prometheus.Gauge

	failing atomic.Bool // the last save failed

	mu      sync.Mutex // serialises saves; guards loaded
	loaded  bool       // Load succeeded: saving cannot overwrite an unread file
	started bool       // Start was called
	cancel  context.CancelFunc
	done    chan struct{}
}

// Open prepares dir for store (creating it, removing the temporary files
// of interrupted saves) and returns a Saver for it; Load then restores the
// saved graph. An empty dir disables persistence: the Saver then does
// nothing.
func Open(dir string, interval time.Duration, store *graph.Store, set Settings) (*Saver, error) {
	set.Logger = logging.OrDiscard(set.Logger)
	if set.Registerer == nil {
		set.Registerer = prometheus.NewRegistry()
	}
	if set.Now == nil {
		set.Now = time.Now
	}
	s := &Saver{dir: dir, interval: interval, store: store, logger: set.Logger, now: set.Now,
		saves: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "servicegraph_state_saves_total",
			Help: "Saves of the graph to the data directory, by result (ok, error)."}, []string{"result"}),
		loadFailed: prometheus.NewCounter(prometheus.CounterOpts{Name: "servicegraph_state_load_failures_total",
			Help: "State files that could not be read at start and were moved aside."}),
		staleTemp: prometheus.NewCounter(prometheus.CounterOpts{Name: "servicegraph_state_stale_temp_files_removed_total",
			Help: "Temporary files of interrupted saves removed from the data directory at start."}),
		lastSave: prometheus.NewGauge(prometheus.GaugeOpts{Name: "servicegraph_state_last_save_timestamp_seconds",
			Help: "When the graph was last saved, Unix seconds."}),
	}
	s.saves.WithLabelValues("ok")
	s.saves.WithLabelValues("error")
	for _, c := range []prometheus.Collector{s.saves, s.loadFailed, s.staleTemp, s.lastSave} {
		if err := set.Registerer.Register(c); err != nil {
			return nil, err
		}
	}
	if dir == "" {
		return s, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if err := s.removeStaleTemp(); err != nil {
		return nil, err
	}
	if err := probe(dir); err != nil {
		return nil, fmt.Errorf("data directory %s is not writable: %w; fix its permissions or mount, "+
			"or point --data-dir elsewhere (--data-dir '' disables saving)", dir, err)
	}
	return s, nil
}

// probe does in dir what a save does (create, write, fsync, rename, fsync
// the directory), so that an unwritable directory stops the start instead
// of losing every save. Its files are named like a save's temporary files:
// should it be interrupted, the next start removes them.
func probe(dir string) error {
	f, err := os.CreateTemp(dir, tempPrefix+"probe-*")
	if err != nil {
		return err
	}
	name, renamed := f.Name(), f.Name()+"-renamed"
	_, err = f.WriteString("servicegraph write probe\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, renamed)
	}
	if err != nil {
		os.Remove(name)
		return err
	}
	if err := os.Remove(renamed); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (s *Saver) path() string { return filepath.Join(s.dir, FileName) }

// removeStaleTemp removes the temporary files interrupted saves left in the
// data directory (a save in progress at a crash or kill -9). Only regular
// files are removed; anything else of that name is logged and left.
func (s *Saver) removeStaleTemp() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	removed, bytes := 0, int64(0)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		p := filepath.Join(s.dir, e.Name())
		if !e.Type().IsRegular() {
			s.logger.Warn("left in the data directory: not a regular file", "path", p, "type", e.Type().String())
			continue
		}
		if info, err := e.Info(); err == nil {
			bytes += info.Size()
		}
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("remove stale temporary file: %w", err)
		}
		removed++
	}
	if removed > 0 {
		s.staleTemp.Add(float64(removed))
		s.logger.Warn("removed temporary files of interrupted saves", "dir", s.dir, "files", removed, "bytes", bytes)
	}
	return nil
}

// errNotLoaded: a save before a successful Load would replace the saved
// graph with what the store holds, most likely nothing.
var errNotLoaded = errors.New("the saved graph was not loaded; refusing to overwrite it")

// Save writes the graph now. It refuses to before Load succeeded.
func (s *Saver) Save() error { return s.save(false) }

// save writes the graph; final marks the file as written by a clean
// shutdown (graph.Store.WriteFinalState), and is logged with the file's
// path, size and the time it took.
func (s *Saver) save(final bool) error {
	if s.dir == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	began := s.now()
	err := errNotLoaded
	var n int64
	if s.loaded {
		n, err = s.write(final)
	}
	if err != nil {
		s.failing.Store(true)
		s.saves.WithLabelValues("error").Inc()
		s.logger.Error("saving the graph failed", "path", s.path(), "final", final, "err", err)
		return err
	}
	if s.failing.Swap(false) {
		s.logger.Info("saving the graph works again", "path", s.path())
	}
	s.saves.WithLabelValues("ok").Inc()
	s.lastSave.SetToCurrentTime()
	level := slog.LevelDebug // every interval: not worth a line each
	if final {
		level = slog.LevelInfo
	}
	s.logger.Log(context.Background(), level, "saved the graph", "path", s.path(), "bytes", n,
		"duration", s.now().Sub(began), "final", final)
	return nil
}

// Failing reports whether the last save failed. It never waits for a save
// in progress; safe for concurrent use.
func (s *Saver) Failing() bool { return s.failing.Load() }

// write saves the file, returning its size.
func (s *Saver) write(final bool) (int64, error) {
	tmp, err := os.CreateTemp(s.dir, tempPrefix+"*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name()) // after the rename this fails harmlessly
	write := s.store.WriteState
	if final {
		write = s.store.WriteFinalState
	}
	cw := &countingWriter{w: tmp}
	if err := write(cw); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), s.path()); err != nil {
		return 0, err
	}
	d, err := os.Open(s.dir)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	return cw.n, d.Sync()
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Start begins saving every interval, on a goroutine of its own that
// Shutdown stops; ctx is not kept. A second Start is an error.
func (s *Saver) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.started {
		return errors.New("state: already started")
	}
	s.started = true
	if s.dir == "" {
		return nil
	}
	loop, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.interval)
		defer t.Stop()
		for {
			select {
			case <-loop.Done():
				return
			case <-t.C:
				_ = s.Save() // logged and counted
			}
		}
	}()
	return nil
}

// Shutdown stops periodic saving and saves one last time, marking the
// file as written by a clean shutdown: the caller has stopped every writer
// of the store. If ctx ends while a periodic save is still being written,
// it returns ctx's error without the last save. Safe without Start and
// twice (each call saves).
func (s *Saver) Shutdown(ctx context.Context) error {
	if s.cancel != nil {
		s.cancel()
		select {
		case <-s.done:
		case <-ctx.Done():
			return fmt.Errorf("stop saving: %w", ctx.Err())
		}
		s.cancel = nil
	}
	return s.save(true)
}

// Dir is the data directory; empty when persistence is off.
func (s *Saver) Dir() string { return s.dir }
