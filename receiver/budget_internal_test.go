package receiver

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestReservation(t *testing.T) {
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "g", Help: "h"})
	b := newBudget(100, gauge)
	r1, r2 := b.reserve(), b.reserve()
	steps := []struct {
		name    string
		r       *reservation
		to      int64
		wantErr error
		want    float64 // gauge after the step
	}{
		{"first grows", r1, 60, nil, 60},
		{"second does not fit now", r2, 50, errOverBudget, 60},
		{"second fits the rest", r2, 40, nil, 100},
		{"never fits", r2, 101, errBeyondBudget, 100},
		{"first shrinks", r1, 10, nil, 50},
		{"second grows into the freed part", r2, 90, nil, 100},
	}
	for _, s := range steps {
		if err := s.r.resize(s.to); !errors.Is(err, s.wantErr) {
			t.Fatalf("%s: resize(%d) = %v, want %v", s.name, s.to, err, s.wantErr)
		}
		if got := testutil.ToFloat64(gauge); got != s.want {
			t.Fatalf("%s: gauge = %v, want %v", s.name, got, s.want)
		}
	}
	r1.release()
	r1.release() // twice is harmless
	if err := r1.resize(1); !errors.Is(err, errOverBudget) {
		t.Fatalf("released reservation grew: %v", err)
	}
	r2.release()
	if got := testutil.ToFloat64(gauge); got != 0 {
		t.Fatalf("gauge = %v after release, want 0", got)
	}
}

func TestJSONContainers(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{``, 0},
		{`{}`, 1},
		{`{"a":[{},{},[]]}`, 5},
		{`{"a":"{[{[\"{"}`, 1},
		{`{"a":"\\"}{`, 2},
		{`{"resourceSpans":[{"scopeSpans":[{"spans":[{},{}]}]}]}`, 8},
	}
	for _, tt := range tests {
		if got := jsonContainers([]byte(tt.in)); got != tt.want {
			t.Errorf("jsonContainers(%s) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestCost(t *testing.T) {
	body := []byte(`{"a":[{},{}]}`) // 13 bytes, 4 containers
	if got, want := cost(body, encJSON), int64(13*jsonCostPerByte+4*jsonCostPerContainer); got != want {
		t.Errorf("JSON cost = %d, want %d", got, want)
	}
	if got, want := cost(body, encProto), int64(13*protoCostPerByte); got != want {
		t.Errorf("protobuf cost = %d, want %d", got, want)
	}
}

func TestNextCap(t *testing.T) {
	tests := []struct {
		name           string
		c, hint, limit int64
		want           int64
	}{
		{"first step, length unknown", 0, -1, 1 << 20, readStep},
		{"first step, small body", 0, 100, 1 << 20, 101},
		{"grows fourfold", readStep, -1, 1 << 20, 4 * readStep},
		{"stops one past the declared length", 4 * readStep, 5 * readStep, 1 << 20, 5*readStep + 1},
		{"stops one past the limit", 8 * readStep, -1, 10 * readStep, 10*readStep + 1},
		{"past a wrong hint", 101, 100, 1 << 20, 101 + readStep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextCap(tt.c, tt.hint, tt.limit); got != tt.want {
				t.Errorf("nextCap(%d, %d, %d) = %d, want %d", tt.c, tt.hint, tt.limit, got, tt.want)
			}
		})
	}
}

// trickle returns its data a few bytes per Read, then stops with err.
type trickle struct {
	data []byte
	err  error
}

func (r *trickle) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p[:min(len(p), 7)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestReadBodyReservesWhatArrived: a body that declares a megabyte and
// sends 100 bytes holds one small step of the budget, not the megabyte.
func TestReadBodyReservesWhatArrived(t *testing.T) {
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "g", Help: "h"})
	b := newBudget(20<<20, gauge)
	stalled := errors.New("stalled")
	tests := []struct {
		name      string
		body      io.Reader
		hint      int64
		wantData  string
		wantErr   string // reason of the refusal; "" for success
		wantBytes int64  // reservation after the read
	}{
		{"declared 1 MiB, 100 bytes then stall", &trickle{data: []byte(strings.Repeat("x", 100)), err: stalled}, 1 << 20, "", reasonBadRequest, readSlack * readStep},
		{"whole small body", &trickle{data: []byte("hello"), err: io.EOF}, 5, "hello", "", readSlack * 6},
		{"unknown length", &trickle{data: []byte("hello"), err: io.EOF}, -1, "hello", "", readSlack * readStep},
		{"budget too small for the next step", strings.NewReader(strings.Repeat("x", 11<<20)), -1, "", reasonTooLarge, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := b.reserve()
			defer res.release()
			data, ref := readBody(tt.body, false, tt.hint, 16<<20, res)
			if tt.wantErr != "" {
				if ref == nil || ref.reason != tt.wantErr {
					t.Fatalf("refusal = %+v, want reason %s", ref, tt.wantErr)
				}
			} else if ref != nil || string(data) != tt.wantData {
				t.Fatalf("readBody = %q, %+v; want %q", data, ref, tt.wantData)
			}
			if tt.wantErr != reasonTooLarge {
				if got := res.size(); got != tt.wantBytes {
					t.Errorf("reserved %d bytes, want %d", got, tt.wantBytes)
				}
			}
		})
	}
}
