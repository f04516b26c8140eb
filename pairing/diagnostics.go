package pairing

import (
	"encoding/hex"
	"sync"
	"time"
)

// Problem is one span link that made no edge (unresolved within the link
// wait, invalid ids, or dropped at max_pending_links), kept for the "span
// link missing" debugger (GET /api/links/unresolved).
type Problem struct {
	Result      string    `json:"result"`    // "unresolved", "invalid" or "dropped" (graph.LinkResult)
	Service     string    `json:"service"`   // the linking span's service
	SpanName    string    `json:"span_name"` // the linking span's name
	TraceID     string    `json:"trace_id"`  // the linking span's ids, hex
	SpanID      string    `json:"span_id"`
	LinkTraceID string    `json:"link_trace_id"` // the link's target ids, hex as received
	LinkSpanID  string    `json:"link_span_id"`
	Time        time.Time `json:"time"`         // when the outcome was decided
	LikelyCause string    `json:"likely_cause"` // one line for a person
	// TraceURL and LinkTraceURL link the linking span's trace and the
	// link's target trace to a trace viewer: set by the API when a trace
	// URL template is configured (api.Config.TraceURLTemplate).
	TraceURL     string `json:"trace_url,omitempty"`
	LinkTraceURL string `json:"link_trace_url,omitempty"`
}

// Likely causes, one line each.
const (
	CauseNeverSeen = "target span never received within the link wait: the linked-to service does not export here, or its trace was sampled out"
	CauseInvalid   = "invalid link context: the link was built from empty or malformed trace/span ids (e.g. a message without trace context)"
	CauseDropped   = "dropped at a bound: the pending-link table was full"
)

// recent keeps the newest problems in a ring; safe for concurrent use.
type recent struct {
	mu   sync.Mutex // guards the fields below
	ring []Problem
	next int
	full bool
}

func newRecent(n int) *recent { return &recent{ring: make([]Problem, n)} }

func (r *recent) add(p Problem) {
	if len(r.ring) == 0 {
		return
	}
	r.mu.Lock()
	r.ring[r.next] = p
	r.next++
	if r.next == len(r.ring) {
		r.next, r.full = 0, true
	}
	r.mu.Unlock()
}

// list returns the problems, newest first.
func (r *recent) list() []Problem {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	if r.full {
		n = len(r.ring)
	}
	out := make([]Problem, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.ring[(r.next-i+len(r.ring))%len(r.ring)])
	}
	return out
}

func hexID(b []byte) string { return hex.EncodeToString(b) }
