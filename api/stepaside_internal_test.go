package api

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeIngest is an Ingestion whose exports in flight end after scripted
// times, one a wait: busy[i] is how long the exports seen by the i-th
// WaitIdle go on (0: none in flight; past the script: none). A wait
// advances the fake clock by what it waited and records the bound it was
// given and the read slots held while it waited.
type fakeIngest struct {
	ft    *fakeTime
	slots readSlots
	busy  []time.Duration
	calls int
	maxes []time.Duration // bounds passed to the waits that found exports
	held  []int           // slots held during those waits
}

func (f *fakeIngest) WaitIdle(_ context.Context, most time.Duration) time.Duration {
	i := f.calls
	f.calls++
	if i >= len(f.busy) || f.busy[i] == 0 || most <= 0 {
		return 0
	}
	f.maxes = append(f.maxes, most)
	f.held = append(f.held, len(f.slots))
	d := min(f.busy[i], most)
	f.ft.add(d)
	return d
}

// TestStepAside: an encoding waits at a piece boundary while an export is
// in flight, holding no read slot, and resumes when it ends; a wait ends
// at maxStepAside, a read's waits total at most the time it has served
// and at most its pause limit (with the budget's pauses), and the read
// still completes, whole. Writing a kept answer never steps aside.
func TestStepAside(t *testing.T) {
	const ms = time.Millisecond
	forever := time.Hour // an export that never ends within a wait
	for _, tc := range []struct {
		name   string
		piece  time.Duration // encoding time of each of the 4 pieces
		limit  time.Duration // the read's pause limit (perRead)
		busy   []time.Duration
		waited []time.Duration // each wait that found an export (its bound)
		aside  time.Duration   // in all
	}{
		{name: "none in flight", piece: 10 * ms, limit: time.Second, busy: nil, waited: nil, aside: 0},
		{name: "pauses until the export ends", piece: 10 * ms, limit: time.Second,
			busy: []time.Duration{3 * ms, 0, 7 * ms}, waited: []time.Duration{10 * ms, 10 * ms}, aside: 10 * ms},
		{name: "each wait bounded", piece: 10 * ms, limit: time.Second,
			busy: []time.Duration{forever, forever, forever, forever}, waited: []time.Duration{10 * ms, 10 * ms, 10 * ms, 10 * ms}, aside: 40 * ms},
		{name: "at most what it served", piece: 2 * ms, limit: time.Second,
			busy: []time.Duration{forever, forever, forever, forever}, waited: []time.Duration{2 * ms, 2 * ms, 2 * ms, 2 * ms}, aside: 8 * ms},
		{name: "within its pause limit", piece: 10 * ms, limit: 15 * ms,
			busy: []time.Duration{forever, forever, forever, forever}, waited: []time.Duration{10 * ms, 5 * ms}, aside: 15 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := &fakeTime{t: time.Unix(1e9, 0)}
			reg := prometheus.NewRegistry()
			// A budget far above what the read uses: no budget pauses.
			b, err := newReadBudget(100*time.Second, tc.limit, ft.now, reg)
			if err != nil {
				t.Fatal(err)
			}
			b.sleep = ft.sleep
			c, err := newReadCache(time.Second, 1<<20, b, ft.now, reg)
			if err != nil {
				t.Fatal(err)
			}
			c.slots = newReadSlots(2)
			ing := &fakeIngest{ft: ft, slots: c.slots, busy: tc.busy}
			b.ingest = ing
			next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				for range 4 {
					ft.add(tc.piece)
					_, _ = w.Write([]byte(strings.Repeat("x", pieceSize)))
				}
			})
			rec := httptest.NewRecorder()
			c.wrap(routeMetrics, next, nil, true).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			if rec.Code != http.StatusOK || rec.Body.Len() != 4*pieceSize {
				t.Fatalf("answer %d, %d bytes; want 200, %d", rec.Code, rec.Body.Len(), 4*pieceSize)
			}
			if !equalDurations(ing.maxes, tc.waited) {
				t.Errorf("waits bounded by %v; want %v", ing.maxes, tc.waited)
			}
			for i, n := range ing.held {
				if n != 0 {
					t.Errorf("wait %d: %d read slots held; want 0", i, n)
				}
			}
			// The encoding's 4 pieces checked (while waits were allowed);
			// the kept answer's 4 written pieces did not.
			if ing.calls > 4 {
				t.Errorf("%d checks for exports; want at most 4 (the encoding's pieces)", ing.calls)
			}
			if len(ft.sleeps) != 0 {
				t.Errorf("budget pauses %v; want none", ft.sleeps)
			}
			if n, s := testutil.ToFloat64(b.asides), testutil.ToFloat64(b.asideSeconds); n != float64(len(tc.waited)) || math.Abs(s-tc.aside.Seconds()) > 1e-9 {
				t.Errorf("step asides %v, %vs; want %d, %v", n, s, len(tc.waited), tc.aside.Seconds())
			}
			if n, err := testutil.GatherAndCount(reg, "servicegraph_read_step_aside_seconds_total", "servicegraph_read_step_asides_total"); n != 2 || err != nil {
				t.Errorf("step aside families registered: %d, %v; want 2", n, err)
			}
		})
	}
}

// TestStepAsideNotCharged: the time an encoding stepped aside is not
// serving time: the budget is charged the encoding alone.
func TestStepAsideNotCharged(t *testing.T) {
	ft := &fakeTime{t: time.Unix(1e9, 0)}
	b, err := newReadBudget(100*time.Millisecond, time.Second, ft.now, prometheus.NewRegistry()) // burst 25ms
	if err != nil {
		t.Fatal(err)
	}
	b.sleep = ft.sleep
	slots := newReadSlots(2)
	b.ingest = &fakeIngest{ft: ft, slots: slots, busy: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}}
	p := b.pacer(context.Background()).encoding(slots)
	p.hold()
	for range 2 {
		ft.add(10 * time.Millisecond)
		p.piece()
	}
	p.drop()
	// Credit 25ms (the burst): piece 1 leaves 15ms; piece 2, 20ms
	// later (10ms stepped aside), gains 2ms and is charged its 10ms of
	// encoding: 7ms left, no pause. Charged the wait too, it would owe
	// 3ms: a 30ms pause.
	if len(ft.sleeps) != 0 || b.credit != 7*time.Millisecond {
		t.Fatalf("pauses %v, credit %v; want none, 7ms", ft.sleeps, b.credit)
	}
}
