package receiver_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestConnectionCap: each listener keeps at most max_connections open;
// the ones past it are closed at once, before any byte, and counted as
// too_many_connections; the kept ones are served.
func TestConnectionCap(t *testing.T) {
	cfg := testConfig()
	cfg.MaxConnections = 3
	r, reg := start(t, cfg, &recorder{})
	for _, tt := range []struct {
		transport string
		addr      net.Addr
	}{{"http", r.HTTPAddr()}, {"grpc", r.GRPCAddr()}} {
		t.Run(tt.transport, func(t *testing.T) {
			var conns []net.Conn
			for range 5 {
				c, err := net.Dial("tcp", tt.addr.String())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.Close() })
				conns = append(conns, c)
			}
			waitMetric(t, reg, 2, "servicegraph_receiver_refused_total", "transport", tt.transport, "reason", "too_many_connections")
			served, closed := 0, 0
			for _, c := range conns {
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if connServed(c, tt.transport) {
					served++
				} else {
					closed++
				}
			}
			if served != 3 || closed != 2 {
				t.Errorf("%d connections served, %d closed; want 3, 2", served, closed)
			}
			if got := metricSum(t, reg, "servicegraph_receiver_connections", "transport", tt.transport); got != 3 {
				t.Errorf("connections{%s} = %v, want 3", tt.transport, got)
			}
			if got := metricSum(t, reg, "servicegraph_receiver_requests_total", "transport", tt.transport, "outcome", "refused"); tt.transport == "grpc" && got != 0 {
				t.Errorf("requests_total{grpc,refused} = %v: closed connections are not requests", got)
			}
		})
	}
}

// connServed reports whether the server answers on c: an HTTP response,
// or the gRPC server's SETTINGS frame; false when c ends first.
func connServed(c net.Conn, transport string) bool {
	if transport == "http" {
		if _, err := io.WriteString(c, "GET /v1/traces HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return false
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		return false
	}
	_, err := http2.NewFramer(io.Discard, c).ReadFrame()
	return err == nil
}

// TestIdleTimeout: a gRPC connection without calls is told to go away
// (GOAWAY) and closed after idle_timeout; so is an idle HTTP keep-alive
// connection.
func TestIdleTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.IdleTimeout = 500 * time.Millisecond
	r, _ := start(t, cfg, &recorder{})

	g, err := net.Dial("tcp", r.GRPCAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	_ = g.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(g, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(g, g)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	goAway := false
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			if !goAway || errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("gRPC connection ended (%v) with GOAWAY seen: %v", err, goAway)
			}
			break
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			goAway = true
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = fr.WritePing(true, f.Data)
			}
		}
	}

	h, err := net.Dial("tcp", r.HTTPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	_ = h.SetDeadline(time.Now().Add(15 * time.Second))
	br := bufio.NewReader(h)
	if _, err := io.WriteString(h, "GET /v1/traces HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle HTTP connection: read %v, want EOF (closed by the server)", err)
	}
}
