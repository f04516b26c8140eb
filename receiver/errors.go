package receiver

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/servicegraph/servicegraph/consumer"
)

// This file is the one place where outcomes become transport codes. The
// mapping follows the OTLP specification (opentelemetry-proto
// docs/specification.md, "Failures" and "Throttling" of both transports):
//
//	reason                  HTTP  gRPC              retryable
//	bad_request             400   InvalidArgument   no  (+ BadRequest detail)
//	too_deep                400   InvalidArgument   no  (+ BadRequest detail): values
//	                                                      nested past a protocol bound
//	too_large               413   ResourceExhausted no  (no RetryInfo: OTLP reads
//	                                                      RESOURCE_EXHAUSTED without
//	                                                      RetryInfo as permanent)
//	unsupported_media_type  415   InvalidArgument   no
//	method_not_allowed      405   Unimplemented     no
//	not_found               404   Unimplemented     no
//	unauthenticated         401   Unauthenticated   no
//	overloaded              429   Unavailable       yes (Retry-After / RetryInfo)
//	retryable               503   Unavailable       yes (Retry-After / RetryInfo)
//	timeout                 503   Unavailable       yes (Retry-After / RetryInfo)
//	too_many_connections    -     -                 the connection is closed at
//	                                                      accept: no request, no answer
//
// Overload uses Unavailable on gRPC, not ResourceExhausted: the spec names
// Unavailable for throttling, and every OTLP client retries it.

// Refusal reasons: the values of the "reason" label. The set is fixed.
const (
	reasonBadRequest       = "bad_request"
	reasonTooDeep          = "too_deep"
	reasonTooLarge         = "too_large"
	reasonUnsupportedMedia = "unsupported_media_type"
	reasonMethodNotAllowed = "method_not_allowed"
	reasonNotFound         = "not_found"
	reasonUnauthenticated  = "unauthenticated"
	reasonOverloaded       = "overloaded"
	reasonRetryable        = "retryable"
	reasonTimeout          = "timeout"
	// reasonTooManyConnections counts connections, not requests: closed at
	// accept past max_connections, before any request (no answer).
	reasonTooManyConnections = "too_many_connections"
)

var reasons = []string{
	reasonBadRequest, reasonTooDeep, reasonTooLarge, reasonUnsupportedMedia, reasonMethodNotAllowed,
	reasonNotFound, reasonUnauthenticated, reasonOverloaded, reasonRetryable, reasonTimeout,
	reasonTooManyConnections,
}

// defaultRetryAfter is suggested when nothing better is known.
const defaultRetryAfter = time.Second

type mapping struct {
	http      int
	grpc      codes.Code
	retryable bool
}

var mappings = map[string]mapping{
	reasonBadRequest:       {http.StatusBadRequest, codes.InvalidArgument, false},
	reasonTooDeep:          {http.StatusBadRequest, codes.InvalidArgument, false},
	reasonTooLarge:         {http.StatusRequestEntityTooLarge, codes.ResourceExhausted, false},
	reasonUnsupportedMedia: {http.StatusUnsupportedMediaType, codes.InvalidArgument, false},
	reasonMethodNotAllowed: {http.StatusMethodNotAllowed, codes.Unimplemented, false},
	reasonNotFound:         {http.StatusNotFound, codes.Unimplemented, false},
	reasonUnauthenticated:  {http.StatusUnauthorized, codes.Unauthenticated, false},
	reasonOverloaded:       {http.StatusTooManyRequests, codes.Unavailable, true},
	reasonRetryable:        {http.StatusServiceUnavailable, codes.Unavailable, true},
	reasonTimeout:          {http.StatusServiceUnavailable, codes.Unavailable, true},
}

// refusal is a request answered with an error.
type refusal struct {
	reason     string
	msg        string
	retryAfter time.Duration // retryable reasons only; zero: defaultRetryAfter
}

func refuse(reason, msg string) *refusal { return &refusal{reason: reason, msg: sanitize(msg)} }

// maxMessageBytes caps messages sent back to clients.
const maxMessageBytes = 1024

// sanitize makes msg fit for a protobuf string field (valid UTF-8: a
// decoder's error may quote the invalid bytes it met) of bounded length.
func sanitize(msg string) string {
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	if len(msg) <= maxMessageBytes {
		return msg
	}
	cut := maxMessageBytes
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}

// result classifies what a consumer returned: exactly one of partial and
// refused is set, or neither for full success.
type result struct {
	partial *consumer.PartialError
	refused *refusal
}

// classify maps a consumer error to a result, in the order the consumer
// contract gives: partial success, retryable, context ended, permanent.
func classify(err error) result {
	if err == nil {
		return result{}
	}
	if p, ok := consumer.AsPartial(err); ok {
		return result{partial: p}
	}
	if after, ok := consumer.IsRetryable(err); ok {
		ref := refuse(reasonRetryable, err.Error())
		ref.retryAfter = after
		return result{refused: ref}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return result{refused: refuse(reasonTimeout, "request not processed in time: "+err.Error())}
	}
	if errors.Is(err, consumer.ErrTooDeep) {
		return result{refused: refuse(reasonTooDeep, err.Error())}
	}
	return result{refused: refuse(reasonBadRequest, err.Error())}
}

func (r *refusal) mapping() mapping { return mappings[r.reason] }

// delay is the suggested wait before a retry, for retryable refusals.
func (r *refusal) delay() time.Duration {
	if r.retryAfter > 0 {
		return r.retryAfter
	}
	return defaultRetryAfter
}

// retryAfterSeconds is the Retry-After header value: whole seconds, rounded
// up, at least 1.
func (r *refusal) retryAfterSeconds() int64 {
	s := int64(math.Ceil(r.delay().Seconds()))
	return max(s, 1)
}

// status is the google.rpc.Status of the refusal, with a RetryInfo detail
// when retryable and a BadRequest detail for bad data.
func (r *refusal) status() *status.Status {
	m := r.mapping()
	st := status.New(m.grpc, r.msg)
	var detail *status.Status
	var err error
	switch {
	case m.retryable:
		detail, err = st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(r.delay())})
	case r.reason == reasonBadRequest || r.reason == reasonTooDeep:
		detail, err = st.WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "request", Description: r.msg}},
		})
	}
	if err == nil && detail != nil {
		return detail
	}
	return st
}

// grpcErr is the error a gRPC handler returns.
func (r *refusal) grpcErr() error { return r.status().Err() }

// statusProto is the HTTP error body before encoding.
func (r *refusal) statusProto() *spb.Status { return r.status().Proto() }
