package graph

import (
	"encoding/hex"
	"time"
)

// Exemplar is a sample occurrence of an edge: the trace and span it came
// from, the value it recorded and when (the store's clock). An edge keeps
// a recent one for its request counter (EdgeData.Exemplar, Value the
// occurrence's weight) and one per histogram (Histogram.Exemplar, Value
// the seconds observed), so that a metric or an API answer can point at
// a trace: the first traced occurrence of the latest Store.Observe call
// that had one for it (a request's spans; each later call replaces it).
// The zero Exemplar is none.
type Exemplar struct {
	Trace [16]byte
	Span  [8]byte
	Value float64
	Time  int64 // unix ns; 0: none
}

// Valid reports whether e holds an occurrence.
func (e *Exemplar) Valid() bool { return e.Time != 0 && e.Trace != [16]byte{} }

// TraceID is the trace id in lowercase hex, "" for none.
func (e *Exemplar) TraceID() string {
	if !e.Valid() {
		return ""
	}
	return hex.EncodeToString(e.Trace[:])
}

// SpanID is the span id in lowercase hex, "" for none.
func (e *Exemplar) SpanID() string {
	if !e.Valid() {
		return ""
	}
	return hex.EncodeToString(e.Span[:])
}

// When is the exemplar's time.
func (e *Exemplar) When() time.Time { return time.Unix(0, e.Time) }

// latest returns the later of a and b (a on a tie), a valid one over
// none: merging keeps the newest sample.
func latest(a, b Exemplar) Exemplar {
	if !b.Valid() || a.Valid() && a.Time >= b.Time {
		return a
	}
	return b
}

// stateExemplar is a saved Exemplar (the peer wire form's).
type stateExemplar struct {
	Trace [16]byte
	Span  [8]byte
	Value float64
	Time  int64
}
