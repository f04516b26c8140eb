package receiver

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
)

// gRPC admission. gRPC reads a whole message before any handler or
// interceptor runs, so everything that must hold before memory is spent
// runs in the transport's tap, when a stream's headers arrive: the bearer
// token, then a reservation of twice max_request_bytes (readSlack) from
// the memory budget (the message's size is not known yet; the codec
// resizes the reservation to the message's cost once it has arrived), and
// a deadline of
// read_timeout for the message to arrive. A refused stream is answered at
// once and nothing it sends is kept. grpc.MaxConcurrentStreams bounds the
// streams one connection has open at once, so that one connection cannot
// take the whole budget.

// errReadTimeout is the cause of a stream cancelled for its slow message.
var errReadTimeout = errors.New("request message not received within read_timeout")

// Admission states: a stream's message is awaited, has arrived (the
// handler runs), or did not arrive in time.
const (
	admReading int32 = iota
	admArrived
	admTimedOut
)

// admission is an admitted stream's share of the budget and its read
// deadline; the stream's context carries it to the handler and to the
// stats handler.
type admission struct {
	res   *reservation
	state atomic.Int32
	timer *time.Timer
}

type admissionKey struct{}

func admissionFrom(ctx context.Context) *admission {
	a, _ := ctx.Value(admissionKey{}).(*admission)
	return a
}

// arrived marks the message as received and stops the read deadline; false
// when the deadline came first (the stream is being cancelled).
func (a *admission) arrived() bool {
	if !a.state.CompareAndSwap(admReading, admArrived) {
		return a.state.Load() == admArrived
	}
	a.timer.Stop()
	return true
}

// tapHandle admits or refuses a stream from its headers (grpc.InTapHandle).
// Refusals are counted here: gRPC answers them with the returned status
// and never creates the stream.
func (r *Receiver) tapHandle(ctx context.Context, _ *tap.Info) (context.Context, error) {
	if r.tokens != nil && !r.tokens.CheckContext(ctx) {
		r.metrics.refuse(transportGRPC, reasonUnauthenticated, 0)
		return nil, status.Error(codes.Unauthenticated, "missing or invalid bearer token")
	}
	res := r.budget.reserve()
	if err := res.resize(readSlack * r.cfg.MaxRequestBytes); err != nil {
		ref := budgetRefusal(err, readSlack*r.cfg.MaxRequestBytes)
		r.metrics.refuse(transportGRPC, ref.reason, 0)
		return nil, ref.grpcErr()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	a := &admission{res: res}
	a.timer = time.AfterFunc(r.cfg.ReadTimeout, func() {
		if a.state.CompareAndSwap(admReading, admTimedOut) {
			r.metrics.refuse(transportGRPC, reasonTimeout, 0)
			cancel(errReadTimeout) // gRPC stops reading and answers CANCELLED
		}
	})
	// The stream's context ends when the stream does, however it ends.
	context.AfterFunc(ctx, func() {
		a.timer.Stop()
		res.release()
		cancel(nil)
	})
	return context.WithValue(ctx, admissionKey{}, a), nil
}
