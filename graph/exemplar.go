package graph

import (
	"encoding/hex"
	"time"
)

// Exemplar is a sample occurrence of an edge: the trace and span it came
// from, the value it recorded and when (the store's clock). An edge keeps
// the latest one for its request counter (EdgeData.Exemplar, Value the
// occurrence's weight) and one per histogram (Histogram.Exemplar, Value
// the seconds observed), so that a metric or an API answer can point at
// a trace. The zero Exemplar is none.
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

// exemplarOf is the exemplar of o recording v at now; the zero Exemplar
// when o carries no trace id.
func exemplarOf(o *Observation, v float64, now int64) Exemplar {
	if o.Trace == [16]byte{} {
		return Exemplar{}
	}
	return Exemplar{Trace: o.Trace, Span: o.Span, Value: v, Time: now}
}

// stateExemplar is a saved Exemplar (the peer wire form's).
type stateExemplar struct {
	Trace [16]byte
	Span  [8]byte
	Value float64
	Time  int64
}
