// Package state keeps the graph on disk: it restores the saved graph at
// start, saves it periodically and at shutdown, crash-safely (write a
// temporary file, fsync it, rename it over the old one, fsync the
// directory), so that a restart neither forgets the topology nor makes
// every edge look new. A corrupt or unreadable file never stops the
// service: it is moved aside, counted and logged, and the service starts
// empty. A file of a newer format is refused: Open fails with a clear error,
// so that an older build never overwrites it.
//
// A Saver's methods may be called from one goroutine (the wiring);
// saving runs on its own goroutine between Start and Shutdown.
package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/graph"
)

// FileName is the state file's name inside the data directory.
const FileName = "graph.state"

// Settings are what the code supplies; nil means the default.
type Settings struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Saver saves a store to dir.
type Saver struct {
	dir      string
	interval time.Duration
	store    *graph.Store
	logger   *slog.Logger

	saves      *prometheus.CounterVec
	loadFailed prometheus.Counter
	lastSave   prometheus.Gauge

	mu     sync.Mutex // serialises saves
	cancel context.CancelFunc
	done   chan struct{}
}

// Open restores the state saved in dir into store (which must be empty)
// and returns a Saver for it. An empty dir disables persistence: the Saver
// then does nothing.
func Open(dir string, interval time.Duration, store *graph.Store, set Settings) (*Saver, error) {
	if set.Logger == nil {
		set.Logger = slog.New(slog.DiscardHandler)
	}
	if set.Registerer == nil {
		set.Registerer = prometheus.NewRegistry()
	}
	s := &Saver{dir: dir, interval: interval, store: store, logger: set.Logger,
		saves: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "servicegraph_state_saves_total",
			Help: "Saves of the graph to the data directory, by result (ok, error)."}, []string{"result"}),
		loadFailed: prometheus.NewCounter(prometheus.CounterOpts{Name: "servicegraph_state_load_failures_total",
			Help: "State files that could not be read at start and were moved aside."}),
		lastSave: prometheus.NewGauge(prometheus.GaugeOpts{Name: "servicegraph_state_last_save_timestamp_seconds",
			Help: "When the graph was last saved, Unix seconds."}),
	}
	s.saves.WithLabelValues("ok")
	s.saves.WithLabelValues("error")
	for _, c := range []prometheus.Collector{s.saves, s.loadFailed, s.lastSave} {
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
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Saver) path() string { return filepath.Join(s.dir, FileName) }

func (s *Saver) load() error {
	f, err := os.Open(s.path())
	if errors.Is(err, os.ErrNotExist) {
		s.logger.Info("no saved graph; starting empty", "path", s.path())
		return nil
	}
	if err == nil {
		err = s.store.ReadState(f)
		f.Close()
	}
	switch {
	case err == nil:
		st := s.store.Stats()
		s.logger.Info("restored saved graph", "path", s.path(), "nodes", st.Nodes, "edges", st.Edges)
		return nil
	case errors.Is(err, graph.ErrNewerFormat):
		return fmt.Errorf("%s: %w; run the newer build, or move the file away to start empty", s.path(), err)
	}
	aside := fmt.Sprintf("%s.corrupt-%d", s.path(), time.Now().UnixNano())
	if rerr := os.Rename(s.path(), aside); rerr != nil {
		return fmt.Errorf("%s is unreadable (%v) and could not be moved aside: %w", s.path(), err, rerr)
	}
	s.loadFailed.Inc()
	s.logger.Error("saved graph unreadable; moved aside, starting empty", "path", s.path(), "moved_to", aside, "err", err)
	return nil
}

// Save writes the graph now.
func (s *Saver) Save() error {
	if s.dir == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.write()
	if err != nil {
		s.saves.WithLabelValues("error").Inc()
		s.logger.Error("saving the graph failed", "path", s.path(), "err", err)
		return err
	}
	s.saves.WithLabelValues("ok").Inc()
	s.lastSave.SetToCurrentTime()
	return nil
}

func (s *Saver) write() error {
	tmp, err := os.CreateTemp(s.dir, FileName+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename this fails harmlessly
	if err := s.store.WriteState(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), s.path()); err != nil {
		return err
	}
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Start saves every interval until Shutdown.
func (s *Saver) Start() {
	if s.dir == "" || s.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = s.Save() // logged and counted
			}
		}
	}()
}

// Shutdown stops periodic saving and saves one last time. Safe without
// Start and twice.
func (s *Saver) Shutdown() error {
	if s.cancel != nil {
		s.cancel()
		<-s.done
		s.cancel = nil
	}
	return s.Save()
}
