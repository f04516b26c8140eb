package api

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeTime is a settable clock whose sleeps advance it and are recorded.
type fakeTime struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func (f *fakeTime) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeTime) add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func (f *fakeTime) sleep(_ context.Context, d time.Duration) {
	f.mu.Lock()
	f.sleeps = append(f.sleeps, d)
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// TestReadBudgetCharge: a budget of 250ms a second keeps at most 62.5ms
// of credit; reads past it pause for their debt at the budget's rate
// (each read the debt standing when it charged), at most 100ms a pause;
// a debt under 1ms is carried, not slept.
func TestReadBudgetCharge(t *testing.T) {
	ft := &fakeTime{t: time.Unix(1e9, 0)}
	b, err := newReadBudget(250*time.Millisecond, 10*time.Second, ft.now, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	steps := []struct {
		name    string
		advance time.Duration
		used    time.Duration
		pause   time.Duration
	}{
		{"within the initial credit", 0, 50 * time.Millisecond, 0},                      // credit 62.5 → 12.5
		{"past it: debt 7.5ms at 1/4", 0, 20 * time.Millisecond, 30 * time.Millisecond}, // credit −7.5
		{"paid back", 30 * time.Millisecond, 0, 0},                                      // +7.5 → 0
		{"small debt carried", 0, ms(0.5), 0},                                           // −0.5
		{"credit capped at the burst", time.Second, 0, 0},                               // 62.5
		{"a long read: pause capped", 0, time.Second, maxReadPause},                     // −937.5
		{"a second read queues behind it", 0, 10 * time.Millisecond, maxReadPause},      // −947.5
		{"after 4s the debt is paid", ms(3790), 0, 0},                                   // +947.5 → 0
		{"10ms over: 40ms pause", 0, 10 * time.Millisecond, 40 * time.Millisecond},
	}
	for _, s := range steps {
		ft.add(s.advance)
		if got := b.charge(s.used); got != s.pause {
			t.Fatalf("%s: pause %s, want %s (credit %s)", s.name, got, s.pause, b.credit)
		}
	}
}

// TestReadBudgetPacesReads: a read's pieces are charged the wall time
// since the previous piece (its pause excluded), and it pauses when over
// the budget, counted; a cached answer is written in 64 KiB pieces, each
// charged.
func TestReadBudgetPacesReads(t *testing.T) {
	ft := &fakeTime{t: time.Unix(1e9, 0)}
	reg := prometheus.NewRegistry()
	b, err := newReadBudget(100*time.Millisecond, 10*time.Second, ft.now, reg) // burst 25ms
	if err != nil {
		t.Fatal(err)
	}
	b.sleep = ft.sleep
	c, err := newReadCache(time.Second, 1<<20, b, ft.now, reg)
	if err != nil {
		t.Fatal(err)
	}
	// Each 64 KiB piece of the answer takes 10ms to encode.
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for range 4 {
			ft.add(10 * time.Millisecond)
			_, _ = w.Write([]byte(strings.Repeat("x", pieceSize)))
		}
	})
	h := c.wrap(routeMetrics, next, nil, true)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	// Credit 25ms, earning 0.1ms a ms: piece 1 leaves 15ms, piece 2
	// (+1ms) 6ms, piece 3 (+1ms) a debt of 3ms: a 30ms pause; piece 4
	// (+4ms over the 40ms since) a debt of 9ms: 90ms. Then the cached
	// answer (256 KiB) is written in four pieces taking no time: free, the
	// debt is paid by then.
	want := []time.Duration{30 * time.Millisecond, 90 * time.Millisecond}
	if !equalDurations(ft.sleeps, want) {
		t.Fatalf("pauses %v, want %v", ft.sleeps, want)
	}
	if rec.Body.Len() != 4*pieceSize {
		t.Fatalf("answer %d bytes, want %d", rec.Body.Len(), 4*pieceSize)
	}
	if n, s := testutil.ToFloat64(b.pauses), testutil.ToFloat64(b.paused); n != 2 || math.Abs(s-0.12) > 1e-9 {
		t.Fatalf("pauses %v, paused %vs; want 2, 0.12", n, s)
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestReadBudgetBoundsOneRead: however deep the budget's debt, one read
// pauses at most perRead in all, then runs unpaced (its use still
// charged), so that it ends within the server's write deadline.
func TestReadBudgetBoundsOneRead(t *testing.T) {
	ft := &fakeTime{t: time.Unix(1e9, 0)}
	b, err := newReadBudget(100*time.Millisecond, 250*time.Millisecond, ft.now, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	b.sleep = ft.sleep
	p := b.pacer(context.Background())
	for range 10 { // each piece 1s of work: far past the budget
		ft.add(time.Second)
		p.piece()
	}
	want := []time.Duration{maxReadPause, maxReadPause, 50 * time.Millisecond}
	if !equalDurations(ft.sleeps, want) {
		t.Fatalf("pauses %v, want %v (250ms in all)", ft.sleeps, want)
	}
	// The debt stays: the next read pays it.
	if d := b.charge(0); d != maxReadPause {
		t.Fatalf("next read's pause %s, want %s", d, maxReadPause)
	}
}

// TestReadBudgetScrapeTimeout: a Prometheus scrape pauses at most a third
// of the timeout it announces (X-Prometheus-Scrape-Timeout-Seconds) when
// that is less than the budget's bound per read, so that it ends within
// its timeout however many reads compete; other reads, and a header that
// is not a positive number, keep the bound per read.
func TestReadBudgetScrapeTimeout(t *testing.T) {
	for _, tc := range []struct {
		header string // "": none
		want   time.Duration
	}{
		{"", 2 * time.Second},
		{"0.75", 250 * time.Millisecond},
		{"3", time.Second},
		{"30", 2 * time.Second}, // a third is more than the bound per read
		{"abc", 2 * time.Second},
		{"-3", 2 * time.Second},
		{"0", 2 * time.Second},
		{"NaN", 2 * time.Second},
	} {
		t.Run(tc.header, func(t *testing.T) {
			ft := &fakeTime{t: time.Unix(1e9, 0)}
			b, err := newReadBudget(100*time.Millisecond, 2*time.Second, ft.now, prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			b.sleep = ft.sleep
			r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			if tc.header != "" {
				r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", tc.header)
			}
			p := b.pacerFor(r)
			for range 100 { // each piece 1s of work: far past the budget
				ft.add(time.Second)
				p.piece()
			}
			var sum time.Duration
			for _, d := range ft.sleeps {
				if d > maxReadPause {
					t.Fatalf("pause %s above %s", d, maxReadPause)
				}
				sum += d
			}
			if sum != tc.want {
				t.Fatalf("paused %s in all (%d pauses), want %s", sum, len(ft.sleeps), tc.want)
			}
		})
	}
}

// TestReadSlotsCount: encodings at once are one fewer than the
// processors, at least one.
func TestReadSlotsCount(t *testing.T) {
	for _, tc := range []struct{ processors, want int }{{1, 1}, {2, 1}, {3, 2}, {8, 7}} {
		if got := cap(newReadSlots(tc.processors)); got != tc.want {
			t.Errorf("%d processors: %d slots, want %d", tc.processors, got, tc.want)
		}
	}
}

// TestReadSlotsBoundEncodings: with 1 slot (2 processors) two concurrent
// encodings never compute at once, each gives the slot to the other at
// every piece, and both answers are whole; with 2 slots they do compute
// at once. Without the bound, the two reads of a hammered 2-core server
// held both processors while an export's goroutines waited.
func TestReadSlotsBoundEncodings(t *testing.T) {
	for _, tc := range []struct{ processors, wantAtOnce int }{{2, 1}, {3, 2}} {
		t.Run(strconv.Itoa(tc.processors), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, err := newReadCache(time.Second, 1<<20, nil, time.Now, prometheus.NewRegistry())
				if err != nil {
					t.Fatal(err)
				}
				c.slots = newReadSlots(tc.processors)
				var mu sync.Mutex
				active, most := 0, 0
				var order []string
				next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					for range 4 {
						mu.Lock()
						active++
						most = max(most, active)
						order = append(order, r.URL.RawQuery)
						mu.Unlock()
						time.Sleep(time.Millisecond) // computing a piece
						mu.Lock()
						active--
						mu.Unlock()
						_, _ = w.Write([]byte(strings.Repeat(r.URL.RawQuery, pieceSize)))
					}
				})
				h := c.wrap(routeData, next, nil, true)
				var wg sync.WaitGroup
				bodies := make([]int, 2)
				for i, q := range []string{"a", "b"} {
					wg.Go(func() {
						rec := httptest.NewRecorder()
						h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/graph/data?"+q, nil))
						bodies[i] = rec.Body.Len()
					})
				}
				wg.Wait()
				if most != tc.wantAtOnce {
					t.Fatalf("%d encodings computed at once, want %d", most, tc.wantAtOnce)
				}
				if bodies[0] != 4*pieceSize || bodies[1] != 4*pieceSize {
					t.Fatalf("answers %v bytes, want %d each", bodies, 4*pieceSize)
				}
				if tc.wantAtOnce == 1 && strings.Join(order, "") != "abababab" && strings.Join(order, "") != "babababa" {
					t.Fatalf("pieces computed in the order %v, want the two reads taking turns", order)
				}
				if len(c.slots) != 0 {
					t.Fatalf("%d slots still held", len(c.slots))
				}
			})
		})
	}
}

// blockingWriter is a client that does not read: its writes wait for
// release.
type blockingWriter struct {
	http.ResponseWriter
	release chan struct{}
}

func (w *blockingWriter) Write(b []byte) (int, error) {
	<-w.release
	return w.ResponseWriter.Write(b)
}

// TestReadSlotsNotHeldWhileWriting: a read streaming to a client that
// does not read holds no slot meanwhile (another read encodes and
// answers), nor does a read pausing for the budget; then it takes one
// again and ends.
func TestReadSlotsNotHeldWhileWriting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		b, err := newReadBudget(100*time.Millisecond, 10*time.Second, time.Now, reg)
		if err != nil {
			t.Fatal(err)
		}
		c, err := newReadCache(0, 1<<20, b, time.Now, reg) // no cache: streamed
		if err != nil {
			t.Fatal(err)
		}
		c.slots = newReadSlots(2)
		next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			for range 2 {
				time.Sleep(time.Second) // far past the budget: it pauses after each piece
				_, _ = w.Write([]byte(strings.Repeat("x", pieceSize)))
			}
		})
		h := c.wrap(routeMetrics, next, nil, false)
		stuck := &blockingWriter{ResponseWriter: httptest.NewRecorder(), release: make(chan struct{})}
		var done sync.WaitGroup
		done.Go(func() { h.ServeHTTP(stuck, httptest.NewRequest(http.MethodGet, "/metrics", nil)) })
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait() // blocked writing its first piece
		if len(c.slots) != 0 {
			t.Fatal("a read waiting for its client holds a slot")
		}
		other := httptest.NewRecorder()
		h.ServeHTTP(other, httptest.NewRequest(http.MethodGet, "/metrics", nil)) // pauses too, between its pieces
		if other.Body.Len() != 2*pieceSize {
			t.Fatalf("other read: %d bytes, want %d", other.Body.Len(), 2*pieceSize)
		}
		close(stuck.release)
		done.Wait()
		if n := stuck.ResponseWriter.(*httptest.ResponseRecorder).Body.Len(); n != 2*pieceSize {
			t.Fatalf("stuck read: %d bytes, want %d", n, 2*pieceSize)
		}
		if testutil.ToFloat64(b.pauses) == 0 {
			t.Fatal("no pause: the budget did not apply")
		}
		if len(c.slots) != 0 {
			t.Fatalf("%d slots still held", len(c.slots))
		}
	})
}

// TestReadSlotsWaitNotCharged: the time a read waits for a slot is not
// serving time: it is not charged to the budget.
func TestReadSlotsWaitNotCharged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ft := &fakeTime{t: time.Unix(1e9, 0)}
		b, err := newReadBudget(100*time.Millisecond, 10*time.Second, ft.now, prometheus.NewRegistry()) // burst 25ms
		if err != nil {
			t.Fatal(err)
		}
		b.sleep = ft.sleep
		slots := newReadSlots(2)
		first := b.pacer(context.Background()).encoding(slots)
		first.hold()
		second := b.pacer(context.Background()).encoding(slots)
		var wg sync.WaitGroup
		wg.Go(second.hold)
		synctest.Wait() // second waits for the slot
		ft.add(50 * time.Millisecond)
		first.drop()
		wg.Wait()
		ft.add(10 * time.Millisecond) // second computes a piece
		second.piece()
		if len(ft.sleeps) != 0 || b.credit != 15*time.Millisecond {
			t.Fatalf("pauses %v, credit %s; want none, 25ms-10ms (the 50ms wait not charged)", ft.sleeps, b.credit)
		}
		second.drop()
	})
}
