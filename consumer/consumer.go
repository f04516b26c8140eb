// Package consumer defines the collector-shaped interface between the OTLP
// transports and the pairing core, and the errors a consumer returns so that
// transports can answer as the OTLP specification says.
//
// The error classes are mapped to transport codes in exactly one place per
// transport (receiver/): a *PartialError is a success with
// partial_success.rejected_spans; an error wrapped by NewRetryable is
// retryable (HTTP 503 with Retry-After, gRPC Unavailable with RetryInfo); any
// other error is permanent (HTTP 400, gRPC InvalidArgument).
package consumer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Traces consumes a batch of spans. It has the shape of the OpenTelemetry
// Collector's consumer.Traces so the core can be driven in process.
// Implementations must not retain td after returning: the request is dead
// once ConsumeTraces returns.
type Traces interface {
	ConsumeTraces(ctx context.Context, td ptrace.Traces) error
}

// PartialError reports that Rejected spans of a request were refused
// permanently and the rest were accepted. Transports answer success with
// partial_success {rejected_spans, error_message}.
type PartialError struct {
	Rejected int64  // spans refused
	Reason   string // one line for the sender, e.g. "3 spans with an invalid span id"
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%d spans rejected: %s", e.Rejected, e.Reason)
}

// retryableError marks an overload condition; the sender should retry later.
type retryableError struct {
	err        error
	retryAfter time.Duration
}

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// NewRetryable wraps err as retryable; retryAfter is the suggested delay
// (zero: the transport's default).
func NewRetryable(err error, retryAfter time.Duration) error {
	return &retryableError{err: err, retryAfter: retryAfter}
}

// IsRetryable reports whether err was wrapped by NewRetryable, and the
// suggested delay.
func IsRetryable(err error) (time.Duration, bool) {
	var r *retryableError
	if errors.As(err, &r) {
		return r.retryAfter, true
	}
	return 0, false
}

// malformedError marks a request that could not be decoded.
type malformedError struct{ err error }

func (e *malformedError) Error() string { return e.err.Error() }
func (e *malformedError) Unwrap() error { return e.err }

// NewMalformed wraps err, the reason a serialized request could not be
// decoded. It is a permanent error; transports count the request as
// undecodable (no spans) rather than as a decoded request refused.
func NewMalformed(err error) error { return &malformedError{err: err} }

// IsMalformed reports whether err was wrapped by NewMalformed.
func IsMalformed(err error) bool {
	_, ok := errors.AsType[*malformedError](err)
	return ok
}

// ErrTooDeep is in the chain of the permanent error that refuses a request
// whose attribute values nest past a protocol bound (see
// internal/otlpwire.MaxValueDepth); transports count it under its own
// reason and answer it as bad data (HTTP 400, gRPC InvalidArgument).
var ErrTooDeep = errors.New("attribute values nested too deep")

// AsPartial returns the *PartialError in err's chain, if any.
func AsPartial(err error) (*PartialError, bool) {
	var p *PartialError
	ok := errors.As(err, &p)
	return p, ok
}

// ProtoTraces is implemented by consumers that decode OTLP protobuf
// themselves, faster than through pdata. Transports that receive protobuf
// hand them the serialized ExportTraceServiceRequest as received; b is
// valid only during the call and must not be retained or modified. A
// malformed request is a permanent error wrapped by NewMalformed; the
// error classes are those of Traces.
type ProtoTraces interface {
	ConsumeTracesProto(ctx context.Context, b []byte) error
}
