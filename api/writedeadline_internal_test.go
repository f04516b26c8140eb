package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestProgressDeadline: an answer that takes longer than the server's
// write timeout while it makes progress is served whole (a 100k-edge
// scrape read by a busy client was cut mid-body at the 40 s timeout, e2e
// TestAttackGraphScrapeAtEdgeCap); a client that stops reading is still
// cut after the timeout; and moves stop after maxTotal. Over real sockets.
func TestProgressDeadline(t *testing.T) {
	const timeout = 300 * time.Millisecond
	const pieces, piece = 20, 64 << 10
	body := strings.Repeat("x", pieces*piece)
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i < len(body); i += piece { // 20 × 50ms: 1s in all, > timeout
			if _, err := w.Write([]byte(body[i : i+piece])); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond) // the work between pieces (the test's subject)
		}
	})
	serve := func(h http.Handler) (int, error) {
		srv := httptest.NewUnstartedServer(h)
		srv.Config.WriteTimeout = timeout
		srv.Start()
		defer srv.Close()
		resp, err := http.Get(srv.URL)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		return len(got), err
	}
	if n, err := serve(progressDeadline(slow, timeout, 10*timeout)); err != nil || n != len(body) {
		t.Fatalf("with progress: read %d of %d bytes (%v): cut", n, len(body), err)
	}
	if n, _ := serve(slow); n == len(body) {
		t.Fatalf("without progressDeadline the answer was whole: the test does not exercise the write timeout")
	}
	if n, _ := serve(progressDeadline(slow, timeout, 2*timeout)); n == len(body) {
		t.Fatalf("maxTotal %s: the answer of 1s was whole, want cut", 2*timeout)
	}
}
