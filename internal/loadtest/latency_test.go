package main

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestSchedstatDelay: the run-queue wait is the second field of a
// schedstat line, in nanoseconds; anything else is not read.
func TestSchedstatDelay(t *testing.T) {
	for _, tc := range []struct {
		line string
		want time.Duration
		ok   bool
	}{
		{"1791838205 7386462047 27543\n", 7386462047, true},
		{"0 0 0", 0, true},
		{"1 2", 0, false},
		{"1 x 3", 0, false},
		{"1 -2 3", 0, false},
		{"", 0, false},
	} {
		if got, ok := schedstatDelay(tc.line); got != tc.want || ok != tc.ok {
			t.Errorf("schedstatDelay(%q) = %v, %v; want %v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

// TestRunDelayOfThisProcess: the test's own threads are read (on Linux);
// no process id, none.
func TestRunDelayOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("no /proc: not Linux")
	}
	if _, ok := runDelay(os.Getpid()); !ok {
		t.Fatal("runDelay of this process: not read")
	}
	if d, ok := runDelay(0); ok || d != 0 {
		t.Fatalf("runDelay(0) = %v, %v; want 0, false", d, ok)
	}
}

// TestParseGC: the GC cycle count and bytes allocated are read from the
// Go collector's families; either missing is an error.
func TestParseGC(t *testing.T) {
	text := "# TYPE go_gc_duration_seconds summary\ngo_gc_duration_seconds{quantile=\"0\"} 1e-05\n" +
		"go_gc_duration_seconds_sum 0.25\ngo_gc_duration_seconds_count 42\n" +
		"# TYPE go_memstats_alloc_bytes_total counter\ngo_memstats_alloc_bytes_total 1.5e+09\n"
	parse := func(text string) (gcCounts, error) {
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		return gcOf(fams)
	}
	got, err := parse(text)
	if err != nil || got != (gcCounts{cycles: 42, alloc: 1.5e9}) {
		t.Fatalf("gcOf = %+v, %v; want {42 1.5e9}, nil", got, err)
	}
	if _, err := parse(text[:strings.Index(text, "# TYPE go_memstats")]); err == nil {
		t.Fatal("gcOf without go_memstats_alloc_bytes_total: no error")
	}
}

// TestHammerClientInflate: both clients ask for gzip; the inflating one
// reads the answer's text, the other its compressed bytes.
func TestHammerClientInflate(t *testing.T) {
	text := strings.Repeat("servicegraph_edge_calls_total 1\n", 1000)
	var zbody bytes.Buffer
	zw := gzip.NewWriter(&zbody)
	if _, err := zw.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "gzip" {
			t.Errorf("Accept-Encoding %q, want gzip", r.Header.Get("Accept-Encoding"))
		}
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(zbody.Bytes())
	}))
	defer srv.Close()
	for _, tc := range []struct {
		inflate bool
		want    int64
	}{{true, int64(len(text))}, {false, int64(zbody.Len())}} {
		n, err := get(hammerClient(tc.inflate), srv.URL+"/metrics")
		if err != nil {
			t.Fatal(err)
		}
		if n != tc.want {
			t.Errorf("inflate=%v: read %d bytes, want %d", tc.inflate, n, tc.want)
		}
	}
}
