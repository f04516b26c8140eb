package api

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// readBudget holds the heavy reads (/metrics, /api/graph/data, /nodes,
// /edges) to Config.ReadBudget of serving time per second, summed over
// the reads in progress, so that on a small machine they leave the cores
// to ingestion: at 100k edges one gzipped scrape is ~0.8 s of CPU, and
// readers that poll without a pause would otherwise take every core and
// put each hop of an export behind them.
//
// A read's serving time is the wall time between its pieces of at most
// pieceSize bytes: encoding them, and writing them to the connection
// (which waits while the client reads, so a reader on the same machine is
// held to the budget too). It counts time a read waited for a core as if
// it ran: the busier the machine, the more reads yield. Reads that used
// more than the budget allowed pause between pieces, in their own
// goroutine and holding nothing ingestion or another read needs (the
// snapshot they read is immutable; no lock is held across a write), each
// pause at most maxReadPause, and all its pauses at most perRead (a third
// of Config.RequestTimeout; a third of the timeout a Prometheus scrape
// announces, if less: pacerFor): past that it runs unpaced, its use still
// charged to the others. The write deadline follows the answer's progress
// (progressDeadline), so a pause of at most maxReadPause between writes
// cannot cut it. Credit saved while reads are idle is at most
// burst, so an occasional read (one scrape, a dashboard refresh) is not
// slowed.
type readBudget struct {
	perSecond time.Duration // serving time allowed per second
	perRead   time.Duration // most pausing one read does
	burst     time.Duration
	now       func() time.Time
	sleep     func(ctx context.Context, d time.Duration)

	paused     prometheus.Counter // seconds
	pauses     prometheus.Counter
	mu         sync.Mutex // guards credit and last
	credit     time.Duration
	last       time.Time
	lastLoaded bool
}

const (
	// pieceSize is how much of a read is served between two checks of
	// the budget: ~0.1 ms of encoding.
	pieceSize = 64 << 10
	// maxReadPause bounds one pause; a read that owes more pauses again
	// after its next piece.
	maxReadPause = 100 * time.Millisecond
	// minReadPause: a smaller debt is carried to the next piece rather
	// than slept (timers are coarser than that).
	minReadPause = time.Millisecond
)

func newReadBudget(perSecond, perRead time.Duration, now func() time.Time, reg prometheus.Registerer) (*readBudget, error) {
	b := &readBudget{
		perSecond: perSecond,
		perRead:   perRead,
		burst:     perSecond / 4,
		now:       now,
		sleep:     sleepCtx,
		paused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "servicegraph_read_budget_paused_seconds_total",
			Help: "Time the reads of /metrics, /api/graph/data, /nodes and /edges paused to stay within read_budget.",
		}),
		pauses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "servicegraph_read_budget_pauses_total",
			Help: "Pauses of reads of /metrics, /api/graph/data, /nodes and /edges to stay within read_budget.",
		}),
	}
	b.credit = b.burst
	return b, errors.Join(reg.Register(b.paused), reg.Register(b.pauses))
}

// sleepCtx sleeps d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// charge takes used serving time from the budget and returns how long the
// read that used it must pause (0 while there is credit). The credit goes
// negative by what reads used beyond the budget; each read pays the debt
// standing when it charged, so reads charging at once queue rather than
// each pay the same debt. Safe for concurrent use.
func (b *readBudget) charge(used time.Duration) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if b.lastLoaded {
		if gained := time.Duration(float64(now.Sub(b.last)) * float64(b.perSecond) / float64(time.Second)); gained > 0 {
			b.credit = min(b.credit+gained, b.burst)
		}
	}
	b.last, b.lastLoaded = now, true
	b.credit -= used
	if b.credit >= -minReadPause {
		return 0
	}
	return min(time.Duration(float64(-b.credit)*float64(time.Second)/float64(b.perSecond)), maxReadPause)
}

// readSlots bounds how many heavy reads encode at once (compute their
// answer: snapshot, rows, exposition, gzip) to one fewer than the
// processors Go runs goroutines on (GOMAXPROCS), at least one, so that a
// processor is always free for ingestion. Without it, two encodings on a
// 2-core machine held both processors and a goroutine of an export that
// became ready (the gRPC connection's reader, its handler) waited in a run
// queue for the scheduler's next preemption, up to 10 ms at each hop: the
// export p99 rose 3-8x while the readers ran (a trace of a hammered phase
// showed the gRPC reader runnable for up to 47 ms while both processors
// ran reads). A read holds its slot between two pieces only: it gives it
// back to write to the connection and while it pauses for the budget, and
// takes it again (waiting in line behind the reads that asked first)
// before encoding the next piece, so a slow client or a paused read never
// keeps the others from encoding. A read waiting for a slot uses no
// processor, and the wait is not charged to the budget.
type readSlots chan struct{}

// newReadSlots returns the slots for processors processors.
func newReadSlots(processors int) readSlots { return make(readSlots, max(processors-1, 1)) }

// defaultReadSlots is newReadSlots for the processors Go runs on.
func defaultReadSlots() readSlots { return newReadSlots(runtime.GOMAXPROCS(0)) }

// pacer measures one read's serving time, piece after piece.
type pacer struct {
	b      *readBudget // nil: no budget
	ctx    context.Context
	last   time.Time
	paused time.Duration // so far, at most limit
	limit  time.Duration // most pausing this read does: b.perRead, or less for a scrape
	slots  readSlots     // nil: the read encodes without a slot (a kept answer's write)
	held   bool          // a slot is held
}

// encoding makes p an encoding's pacer: it holds one of slots while it
// computes (hold), gives it back around its writes to the connection and
// its pauses. A nil p or slots leaves p as it is.
func (p *pacer) encoding(slots readSlots) *pacer {
	if p != nil {
		p.slots = slots
	}
	return p
}

// hold takes a slot, waiting for one (or for ctx to end: the read then
// goes on without one, its writes failing); the wait is not charged.
func (p *pacer) hold() {
	if p.slots == nil || p.held {
		return
	}
	select {
	case p.slots <- struct{}{}:
		p.held = true
		return
	default:
	}
	var began time.Time
	if p.b != nil {
		began = p.b.now()
	}
	select {
	case p.slots <- struct{}{}:
		p.held = true
	case <-p.context().Done():
	}
	if p.b != nil {
		p.last = p.last.Add(p.b.now().Sub(began))
	}
}

// drop gives the slot back.
func (p *pacer) drop() {
	if p.held {
		p.held = false
		<-p.slots
	}
}

func (p *pacer) context() context.Context {
	if p.ctx == nil {
		return context.Background()
	}
	return p.ctx
}

// pacer starts measuring a read now.
func (b *readBudget) pacer(ctx context.Context) *pacer {
	if b == nil {
		return &pacer{ctx: ctx}
	}
	return &pacer{b: b, ctx: ctx, last: b.now(), limit: b.perRead}
}

// pacerFor starts measuring the read r now. A Prometheus scrape announces
// its timeout (scrapeTimeoutHeader): it pauses at most a third of it, so
// that a scrape at the edge cap ends within its timeout however many
// other reads compete for the budget (at 100k edges a gzipped scrape is
// ~0.8 s of CPU; Prometheus' default timeout is 10 s).
func (b *readBudget) pacerFor(r *http.Request) *pacer {
	p := b.pacer(r.Context())
	if t, ok := scrapeTimeout(r.Header); ok && p.b != nil {
		p.limit = min(p.limit, t/3)
	}
	return p
}

// scrapeTimeoutHeader is the header in which Prometheus sends a scrape's
// timeout in seconds (as client_golang's promhttp reads it).
const scrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// scrapeTimeout returns the timeout a scrape announces, if it is a
// positive number of seconds.
func scrapeTimeout(h http.Header) (time.Duration, bool) {
	v := h.Get(scrapeTimeoutHeader)
	if v == "" {
		return 0, false
	}
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || !(secs > 0) || secs > 1e6 {
		return 0, false
	}
	return time.Duration(secs * float64(time.Second)), true
}

// piece charges the time since the previous piece (or the start) and
// pauses if the budget says so. An encoding gives its slot back for the
// pause and takes it again (in line behind the reads waiting for one)
// before it encodes the next piece.
func (p *pacer) piece() {
	p.drop()
	if p.b != nil {
		now := p.b.now()
		if d := min(p.b.charge(now.Sub(p.last)), p.limit-p.paused); d > 0 {
			p.paused += d
			p.b.pauses.Inc()
			p.b.paused.Add(d.Seconds())
			p.b.sleep(p.ctx, d)
			now = p.b.now()
		}
		p.last = now
	}
	p.hold()
}

// write writes body to w in pieces, pacing them.
func (p *pacer) write(w http.ResponseWriter, body []byte) {
	for len(body) > 0 {
		n := min(len(body), pieceSize)
		if _, err := w.Write(body[:n]); err != nil {
			return
		}
		body = body[n:]
		p.piece()
	}
}

// pacedWriter paces the answer a handler streams itself.
type pacedWriter struct {
	http.ResponseWriter
	p *pacer
}

func (w *pacedWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		k := min(len(b), pieceSize)
		w.p.drop() // the write may wait for the client; piece takes it again
		m, err := w.ResponseWriter.Write(b[:k])
		n += m
		if err != nil {
			return n, err
		}
		b = b[k:]
		w.p.piece()
	}
	return n, nil
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *pacedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
