package receiver

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// InFlight counts the exports being handled (both transports, from the
// concurrency slot taken to the answer), so that work that can wait (the
// API's heavy reads) steps aside while ingestion runs. The zero value is
// ready; safe for concurrent use. Begin and End cost two atomic operations
// when no one waits.
type InFlight struct {
	n       atomic.Int64
	waiting atomic.Bool // a WaitIdle may be parked on wake

	mu   sync.Mutex    // guards wake
	wake chan struct{} // closed when n drops to 0 with waiters; nil: none
}

// InFlight returns the receiver's count of exports being handled.
func (r *Receiver) InFlight() *InFlight { return &r.inflight }

// Begin counts an export in; each Begin must be paired with End.
func (f *InFlight) Begin() { f.n.Add(1) }

// End counts an export out, waking the waiters when none is left.
func (f *InFlight) End() {
	if f.n.Add(-1) != 0 || !f.waiting.Load() {
		return
	}
	f.mu.Lock()
	if f.wake != nil && f.n.Load() == 0 {
		close(f.wake)
		f.wake = nil
		f.waiting.Store(false)
	}
	f.mu.Unlock()
}

// Active is the number of exports being handled.
func (f *InFlight) Active() int64 { return f.n.Load() }

// WaitIdle waits until no export is being handled, at most max, or until
// ctx ends, and returns how long it waited: 0 at once when none is.
func (f *InFlight) WaitIdle(ctx context.Context, max time.Duration) time.Duration {
	if f.n.Load() == 0 || max <= 0 {
		return 0
	}
	began := time.Now()
	f.mu.Lock()
	if f.wake == nil {
		f.wake = make(chan struct{})
	}
	wake := f.wake
	f.waiting.Store(true)
	// Checked again after waiting is set: an End that saw no waiter
	// decremented before this load.
	if f.n.Load() == 0 {
		f.mu.Unlock()
		return time.Since(began)
	}
	f.mu.Unlock()
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-wake:
	case <-t.C:
	case <-ctx.Done():
	}
	return time.Since(began)
}
