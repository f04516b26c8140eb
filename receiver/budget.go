package receiver

import (
	"errors"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// The memory budget (max_inflight_bytes). Every request in flight holds a
// reservation of it, from admission until it is answered, sized to the
// resident memory the request can cause: its body as it is read, then the
// cost of decoding and consuming it, estimated from the body before any
// decoding starts. A request that cannot reserve is refused at once as
// overloaded (retryable); one that would need more than the whole budget,
// as too large. The sum of reservations never exceeds the budget, so the
// heap that requests in flight hold stays under max_inflight_bytes.
//
// The budget bounds live memory, not the garbage collector's slack: at
// GOGC=100 the heap grows to twice what was live at the last collection,
// requests in flight included, before the next one runs, so the process's
// memory may grow by up to twice the budget (README, "Limits and sizing";
// TestAttackReceiverMemory asserts both at the default GOGC). No admission
// rule over these reservations can hold the memory itself to the budget:
// a 2 MiB protobuf request of minimal spans allocates ~30 times its size
// through decoding and pairing and holds ~9-10 times it at its peak, and
// one sender of such requests, one at a time, grew the Go runtime's memory
// by 36-52 MiB, more than the 32 MiB it reserves. GOMEMLIMIT bounds that.

// Cost model: bytes per byte of request, measured on the service binary
// with its pairing consumer at the most expensive shapes found (README,
// "Limits and sizing"; receiver/budget_test.go states the shapes), above
// the live peak of one request (minimal spans: ~9-10 times its size).
const (
	// protoCostPerByte covers a protobuf request: its body, gRPC's frames
	// and the copy they are joined into, and pairing's records of the
	// spans and links it holds.
	protoCostPerByte = 16
	// jsonCostPerByte and jsonCostPerContainer cover a JSON request: pdata
	// builds a Go value for every JSON object and array, so a body of empty
	// objects ("spans":[{},{},...]) costs ~50 times its size; counting the
	// containers (one pass, no allocation) charges such a body for what it
	// is.
	jsonCostPerByte      = 8
	jsonCostPerContainer = 176
	// readSlack is what a request reserves, per byte held, while its body
	// or message arrives: the garbage collector lets the heap grow to
	// about twice what is live (measured: 32 stalled gRPC calls holding
	// 1 MiB each grew the Go runtime's memory by 41 MiB).
	readSlack = 2
	// readStep is the most a body's buffer grows by before the next
	// reservation: a slow body holds little more than it has sent.
	readStep = 64 << 10
)

// Budget errors: errOverBudget is retryable (the budget is full now),
// errBeyondBudget is not (the request would not fit an empty budget).
var (
	errOverBudget   = errors.New("memory budget for requests in flight (max_inflight_bytes) is full")
	errBeyondBudget = errors.New("request needs more memory than max_inflight_bytes")
)

// budget is the shared pool of bytes. Safe for concurrent use.
type budget struct {
	total int64
	gauge prometheus.Gauge // bytes reserved now

	mu   sync.Mutex // guards used
	used int64
}

func newBudget(total int64, gauge prometheus.Gauge) *budget {
	return &budget{total: total, gauge: gauge}
}

// take reserves n more bytes, or returns errOverBudget / errBeyondBudget.
func (b *budget) take(n, holding int64) error {
	if holding+n > b.total {
		return errBeyondBudget
	}
	b.mu.Lock()
	ok := b.used+n <= b.total
	if ok {
		b.used += n
	}
	b.mu.Unlock()
	if !ok {
		return errOverBudget
	}
	b.gauge.Add(float64(n))
	return nil
}

// check reports whether n bytes could be reserved now, reserving nothing:
// a body whose declared length already rules it out is refused unread.
func (b *budget) check(n int64) error {
	if n > b.total {
		return errBeyondBudget
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.total {
		return errOverBudget
	}
	return nil
}

func (b *budget) give(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	b.gauge.Sub(float64(n))
}

// reservation is one request's share of the budget. It is safe for
// concurrent use: a gRPC stream's reservation is released by whichever of
// the stream's end and its read deadline comes first.
type reservation struct {
	b *budget

	mu       sync.Mutex // guards n and released
	n        int64
	released bool
}

func (b *budget) reserve() *reservation { return &reservation{b: b} }

// resize makes the reservation n bytes. Growing may fail with the budget's
// errors, leaving it unchanged; a released reservation cannot grow.
func (r *reservation) resize(n int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released {
		return errOverBudget
	}
	switch {
	case n > r.n:
		if err := r.b.take(n-r.n, r.n); err != nil {
			return err
		}
	case n < r.n:
		r.b.give(r.n - n)
	}
	r.n = n
	return nil
}

// size is the bytes reserved now.
func (r *reservation) size() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// release returns every byte; later calls do nothing.
func (r *reservation) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released {
		return
	}
	r.released = true
	if r.n > 0 {
		r.b.give(r.n)
	}
	r.n = 0
}

// cost is the reservation a decoded-and-consumed request needs.
func cost(data []byte, enc encoding) int64 {
	if enc == encJSON {
		return jsonCostPerByte*int64(len(data)) + jsonCostPerContainer*jsonContainers(data)
	}
	return minCost(int64(len(data)), encProto)
}

// minCost is the least cost of a body of n bytes, whatever it holds.
func minCost(n int64, enc encoding) int64 {
	if enc == encJSON {
		return jsonCostPerByte * n
	}
	return protoCostPerByte * n
}

// jsonContainers counts the objects and arrays of a JSON text: the '{'
// and '[' outside strings. It does not validate; the decoder does.
func jsonContainers(data []byte) int64 {
	var n int64
	inString, escaped := false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			n++
		}
	}
	return n
}

// budgetRefusal maps a budget error to the answer.
func budgetRefusal(err error, need int64) *refusal {
	if errors.Is(err, errBeyondBudget) {
		return refuse(reasonTooLarge, errBeyondBudget.Error()+": send smaller requests (this one needs about "+formatBytes(need)+")")
	}
	return refuse(reasonOverloaded, errOverBudget.Error()+": retry later")
}

// formatBytes renders n in MiB with one decimal, for messages.
func formatBytes(n int64) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
}
