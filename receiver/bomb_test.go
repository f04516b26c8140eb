package receiver_test

import (
	"bytes"
	"net/http"
	"runtime"
	"testing"
)

// TestGzipBomb posts 1 GiB of zeros gzip-compressed to about 1 MB (1024
// concatenated gzip members of 1 MiB each, which a gzip reader inflates as
// one stream). The receiver must answer 413 having inflated no more than
// max_request_bytes+1 bytes: the bytes allocated during the request stay
// far below 1 GiB.
func TestGzipBomb(t *testing.T) {
	cfg := testConfig()
	cfg.GRPCAddr = ""
	cfg.MaxRequestBytes = 4 << 20
	rec := &recorder{}
	r, _ := start(t, cfg, rec)

	bomb := bytes.Repeat(gzipped(t, make([]byte, 1<<20)), 1024)
	if int64(len(bomb)) >= cfg.MaxRequestBytes {
		t.Fatalf("bomb is %d bytes compressed: it must pass the raw size check", len(bomb))
	}
	client := httpClient(t, nil)
	hdr := map[string]string{"Content-Type": ctProto, "Content-Encoding": "gzip"}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	resp := post(t, client, http.MethodPost, tracesURL(r.HTTPAddr()), hdr, bomb)
	runtime.ReadMemStats(&after)

	if resp.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d (%s), want 413", resp.status, resp.body)
	}
	checkStatus(t, resp, 0, "max_request_bytes")
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<20 {
		t.Fatalf("the request allocated %d MiB: the body was inflated past the limit", alloc>>20)
	}
	if n := len(rec.received()); n != 0 {
		t.Fatalf("consumer received %d spans", n)
	}
}
