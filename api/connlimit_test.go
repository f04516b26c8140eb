package api_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/api"
)

// TestConnectionCap: the API listener holds at most max_connections open;
// one past it is closed at accept and counted, and a probe is served again
// as soon as a slot frees (issue 11: idle connections took every
// descriptor, so /-/healthy and saves failed).
func TestConnectionCap(t *testing.T) {
	st, c := fixture(t)
	s, reg := newServer(t, c, api.Sources{Graph: st}, func(cfg *api.Config) { cfg.MaxConnections = 3 })
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	addr := s.Addr().String()

	var idle []net.Conn
	for range 3 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, conn)
	}
	waitGauge := func(name string, want float64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := gatheredValue(t, reg, name)
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s = %v, want %v", name, got, want)
			}
			time.Sleep(5 * time.Millisecond) // polling a condition, not waiting for time
		}
	}
	waitGauge("servicegraph_http_connections", 3)

	// The fourth is closed without an answer.
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := extra.Write([]byte("GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")); err == nil {
		if n, err := extra.Read(make([]byte, 64)); err != io.EOF && !isReset(err) {
			t.Fatalf("connection past the cap: read %d bytes, %v; want it closed", n, err)
		}
	}
	waitGauge("servicegraph_http_connections_refused_total", 1)

	// A freed slot serves a probe again.
	idle[0].Close()
	waitGauge("servicegraph_http_connections", 2)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr + "/-/healthy")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/-/healthy after a slot freed: %d", resp.StatusCode)
	}
	for _, conn := range idle[1:] {
		conn.Close()
	}
}

// isReset: the server may reset rather than close the refused connection.
func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

// gatheredValue is the value of the unlabelled gauge or counter name.
func gatheredValue(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			m := mf.GetMetric()[0]
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return 0
}
