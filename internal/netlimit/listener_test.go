package netlimit_test

import (
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/internal/netlimit"
)

// TestListenerCap: past the cap, connections are closed at once and
// counted; closing a kept one (twice) frees one place.
func TestListenerCap(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var refused atomic.Int64
	var gauge gaugeFunc
	ln, err := netlimit.NewListener(raw, 3, func() { refused.Add(1) }, &gauge)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	kept := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(kept)
				return
			}
			kept <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	var server []net.Conn
	for range 3 {
		dial()
		server = append(server, <-kept)
	}
	// Two more: closed by the listener, which the client reads as EOF.
	for range 2 {
		c := dial()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF && !strings.Contains(err.Error(), "reset") {
			t.Fatalf("connection past the cap: read %v, want EOF or reset", err)
		}
	}
	if refused.Load() != 2 || ln.Open() != 3 {
		t.Fatalf("refused %d, open %d; want 2, 3", refused.Load(), ln.Open())
	}
	_ = server[0].Close()
	_ = server[0].Close()
	if ln.Open() != 2 {
		t.Fatalf("open = %d after closing one twice, want 2", ln.Open())
	}
	dial()
	<-kept
	if refused.Load() != 2 || ln.Open() != 3 || gauge.v.Load() != 3 {
		t.Fatalf("after a place freed: refused %d, open %d, gauge %d; want 2, 3, 3", refused.Load(), ln.Open(), gauge.v.Load())
	}
}

// gaugeFunc is a netlimit.Gauge counting in whole numbers.
type gaugeFunc struct{ v atomic.Int64 }

func (g *gaugeFunc) Add(d float64) { g.v.Add(int64(d)) }

func TestNewListenerRefusesZero(t *testing.T) {
	if _, err := netlimit.NewListener(nil, 0, nil, nil); err == nil {
		t.Fatal("NewListener(0) succeeded")
	}
}

func TestCheckFiles(t *testing.T) {
	limit, ok := netlimit.FileLimit()
	if !ok {
		t.Skip("no open-file limit on this platform")
	}
	if err := netlimit.CheckFiles(limit, "x"); err != nil {
		t.Errorf("CheckFiles(limit) = %v, want nil", err)
	}
	err := netlimit.CheckFiles(limit+1, "2 OTLP listeners × --otlp-max-connections 9")
	if err == nil || !strings.Contains(err.Error(), "2 OTLP listeners × --otlp-max-connections 9") {
		t.Errorf("CheckFiles(limit+1) = %v, want an error naming the caps", err)
	}
}
