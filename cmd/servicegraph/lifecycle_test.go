package main

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/state"
	"github.com/servicegraph/servicegraph/pairing"
	"github.com/servicegraph/servicegraph/receiver"
)

// within runs f, failing the test if it takes more than 10 s: no lifecycle
// call may hang.
func within(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not return within 10s", what)
		return nil
	}
}

// TestComponentLifecycle holds every component serve starts to one
// contract (see component).
func TestComponentLifecycle(t *testing.T) {
	components := []struct {
		name string
		new  func(t *testing.T) component
	}{
		{"receiver", func(t *testing.T) component {
			cfg := receiver.NewDefaultConfig()
			cfg.GRPCAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
			proc, err := pairing.New(pairing.NewDefaultConfig(), pairing.Settings{}, graph.MustNew(graph.NewDefaultConfig(), graph.Settings{}))
			if err != nil {
				t.Fatal(err)
			}
			r, err := receiver.New(cfg, receiver.Settings{Registerer: prometheus.NewRegistry()}, proc)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}},
		{"api server", func(t *testing.T) component {
			cfg := api.NewDefaultConfig()
			cfg.Addr = "127.0.0.1:0"
			s, err := api.New(cfg, api.Settings{Registerer: prometheus.NewRegistry()},
				api.Sources{Graph: graph.MustNew(graph.NewDefaultConfig(), graph.Settings{})})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"pairing processor", func(t *testing.T) component {
			p, err := pairing.New(pairing.NewDefaultConfig(), pairing.Settings{}, graph.MustNew(graph.NewDefaultConfig(), graph.Settings{}))
			if err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{"state saver", func(t *testing.T) component {
			s, err := state.Open(t.TempDir(), time.Hour, graph.MustNew(graph.NewDefaultConfig(), graph.Settings{}),
				state.Settings{Registerer: prometheus.NewRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Load(t.Context()); err != nil {
				t.Fatal(err)
			}
			return s
		}},
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	cases := []struct {
		name string
		run  func(t *testing.T, c component)
	}{
		{"start, shutdown", func(t *testing.T, c component) {
			if err := within(t, "Start", func() error { return c.Start(bg) }); err != nil {
				t.Fatalf("Start: %v", err)
			}
			if err := within(t, "Shutdown", func() error { return c.Shutdown(bg) }); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		}},
		{"shutdown twice", func(t *testing.T, c component) {
			if err := c.Start(bg); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				if err := within(t, "Shutdown", func() error { return c.Shutdown(bg) }); err != nil {
					t.Fatalf("Shutdown %d: %v", i+1, err)
				}
			}
		}},
		{"shutdown without start", func(t *testing.T, c component) {
			if err := within(t, "Shutdown", func() error { return c.Shutdown(bg) }); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		}},
		{"start twice is refused", func(t *testing.T, c component) {
			if err := c.Start(bg); err != nil {
				t.Fatal(err)
			}
			if err := c.Start(bg); err == nil {
				t.Fatal("a second Start succeeded")
			}
			if err := within(t, "Shutdown", func() error { return c.Shutdown(bg) }); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		}},
		{"start with an ended context is refused", func(t *testing.T, c component) {
			if err := within(t, "Start", func() error { return c.Start(ended) }); err == nil {
				t.Fatal("Start with an ended context succeeded")
			}
			if err := within(t, "Shutdown", func() error { return c.Shutdown(bg) }); err != nil {
				t.Fatalf("Shutdown after a refused Start: %v", err)
			}
		}},
		{"shutdown with an ended context returns, a later one completes", func(t *testing.T, c component) {
			if err := c.Start(bg); err != nil {
				t.Fatal(err)
			}
			_ = within(t, "Shutdown(ended)", func() error { return c.Shutdown(ended) }) // may report the context
			if err := within(t, "Shutdown", func() error { return c.Shutdown(bg) }); err != nil {
				t.Fatalf("Shutdown after an ended one: %v", err)
			}
		}},
	}
	for _, comp := range components {
		for _, tc := range cases {
			t.Run(comp.name+"/"+tc.name, func(t *testing.T) { tc.run(t, comp.new(t)) })
		}
	}
}
