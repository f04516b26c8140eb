package api

import (
	"context"
	"slices"
	"sync"
	"time"
)

// DynamicPeers is a PeerSource over a lookup that may change (the Kafka
// group's members): the list is looked up again at most every Refresh,
// by the first request after it went stale, which waits for the lookup
// up to Timeout; concurrent requests meanwhile answer the previous list.
// A failed lookup keeps the previous list (none at first) and is tried
// again at the next request after Refresh. Until SetLookup it has no
// peers.
type DynamicPeers struct {
	refresh, timeout time.Duration
	now              func() time.Time

	mu      sync.Mutex // guards the fields below
	lookup  func(context.Context) ([]string, error)
	list    []string
	at      time.Time // of the last lookup, failed or not
	running bool
	fails   uint64
}

var _ PeerSource = (*DynamicPeers)(nil)

// NewDynamicPeers returns a source looked up at most every refresh, each
// lookup bounded by timeout.
func NewDynamicPeers(refresh, timeout time.Duration) *DynamicPeers {
	return &DynamicPeers{refresh: refresh, timeout: timeout, now: time.Now}
}

// SetLookup sets the lookup; the next request looks up.
func (d *DynamicPeers) SetLookup(fn func(context.Context) ([]string, error)) {
	d.mu.Lock()
	d.lookup, d.at = fn, time.Time{}
	d.mu.Unlock()
}

// Peers returns the list, looking it up first when stale.
func (d *DynamicPeers) Peers() []string {
	d.mu.Lock()
	fn, list := d.lookup, d.list
	stale := fn != nil && !d.running && (d.at.IsZero() || d.now().Sub(d.at) >= d.refresh)
	if stale {
		d.running = true
	}
	d.mu.Unlock()
	if !stale {
		return list
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	got, err := fn(ctx)
	cancel()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.running, d.at = false, d.now()
	if err != nil {
		d.fails++
		return d.list
	}
	d.list = slices.Clone(got)
	return d.list
}

// Failures returns how many lookups failed.
func (d *DynamicPeers) Failures() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fails
}
