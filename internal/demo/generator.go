package demo

import (
	"context"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// The simulated services, as their resources' service.name.
const (
	svcFrontend      = "frontend"
	svcCatalog       = "catalog"
	svcCheckout      = "checkout"
	svcPayments      = "payments"
	svcInventory     = "inventory"
	svcShipping      = "shipping"
	svcNotifications = "notifications"
	svcEmailSender   = "email-sender"
	svcAnalytics     = "analytics"
	svcReporting     = "reporting-batch"
)

// services lists every simulated service, each getting its own provider.
var services = []string{
	svcFrontend, svcCatalog, svcCheckout, svcPayments, svcInventory,
	svcShipping, svcNotifications, svcEmailSender, svcAnalytics, svcReporting,
}

// Attribute keys that semconv v1.43.0 no longer defines but that
// instrumentations in the wild still emit, and that servicegraph reads.
const (
	keyDBSystem    = attribute.Key("db.system")    // superseded by db.system.name
	keyPeerService = attribute.Key("peer.service") // superseded by service.peer.name
)

// tracers are the simulated services' tracers.
type tracers struct {
	frontend, catalog, checkout, payments, inventory           trace.Tracer
	shipping, notifications, emailSender, analytics, reporting trace.Tracer
}

func newTracers(f *fleet) tracers {
	return tracers{
		frontend:      f.tracer(svcFrontend),
		catalog:       f.tracer(svcCatalog),
		checkout:      f.tracer(svcCheckout),
		payments:      f.tracer(svcPayments),
		inventory:     f.tracer(svcInventory),
		shipping:      f.tracer(svcShipping),
		notifications: f.tracer(svcNotifications),
		emailSender:   f.tracer(svcEmailSender),
		analytics:     f.tracer(svcAnalytics),
		reporting:     f.tracer(svcReporting),
	}
}

// message is a published orders.created message awaiting a batch consumer.
type message struct {
	producer trace.SpanContext // the PRODUCER span that sent it
	sent     time.Time         // the PRODUCER span's end
}

// checkout is a placed order's checkout SERVER span, awaiting the report.
type checkout struct {
	server trace.SpanContext
	done   time.Time // the SERVER span's end
}

// stats counts what the generator did, for the stop log line.
type stats struct {
	requests, failed, retries, messages, batches, reports, unresolved, invalid int
}

// generator simulates the shop. It is driven by one goroutine and holds
// no lock.
type generator struct {
	rng *rand.Rand
	t   tracers

	// published holds the orders.created messages of the current request,
	// delivered to the consumers once the request has ended.
	published []message
	// analyticsQueue holds messages analytics has not consumed yet; it is
	// consumed once it reaches analyticsBatch (5-20) messages.
	analyticsQueue []message
	analyticsBatch int
	// checkouts holds the checkout SERVER spans of the orders placed since
	// the last report, newest last, at most maxReportLinks.
	checkouts  []checkout
	nextReport time.Time
	// Request numbers at which to emit the next unresolved / invalid link.
	nextUnresolved, nextInvalid int

	stats stats
}

const (
	minBatch, maxBatch             = 5, 20
	minReportLinks, maxReportLinks = 5, 20
	reportInterval                 = 5 * time.Second
)

func newGenerator(seed uint64, t tracers) *generator {
	g := &generator{
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		t:   t,
	}
	g.analyticsBatch = g.between(minBatch, maxBatch)
	g.nextUnresolved = g.between(20, 150)
	g.nextInvalid = g.between(100, 400)
	return g
}

// tick simulates one user request starting at now, then whatever the
// request set in motion: consumers of its messages, a due report, and the
// occasional broken link.
func (g *generator) tick(now time.Time) {
	g.stats.requests++
	g.published = g.published[:0]
	if failed := g.userRequest(now); failed {
		g.stats.failed++
	}
	for _, m := range g.published {
		g.deliver(m)
	}
	if len(g.checkouts) >= minReportLinks && !now.Before(g.nextReport) {
		g.report(now)
		g.nextReport = now.Add(g.jitter(reportInterval))
	}
	if g.stats.requests >= g.nextUnresolved {
		g.returnRequested(now)
		g.nextUnresolved += g.between(50, 150)
	}
	if g.stats.requests >= g.nextInvalid {
		g.legacyEmail(now)
		g.nextInvalid += g.between(200, 600)
	}
}

// between returns a uniform integer in [lo, hi].
func (g *generator) between(lo, hi int) int { return lo + g.rng.IntN(hi-lo+1) }

// chance reports true with probability p.
func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

// ms returns a duration in [lo, hi) milliseconds; 2% of the time it is 3-8
// times longer, the latency tail every real service has.
func (g *generator) ms(lo, hi float64) time.Duration {
	v := lo + g.rng.Float64()*(hi-lo)
	if g.chance(0.02) {
		v *= 3 + 5*g.rng.Float64()
	}
	return time.Duration(v * float64(time.Millisecond))
}

// jitter returns d ± 10%.
func (g *generator) jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.9 + 0.2*g.rng.Float64()))
}

// start starts a span at the given time.
func start(ctx context.Context, tr trace.Tracer, name string, kind trace.SpanKind, at time.Time, attrs []attribute.KeyValue, links ...trace.Link) (context.Context, trace.Span) {
	return tr.Start(ctx, name,
		trace.WithSpanKind(kind),
		trace.WithTimestamp(at),
		trace.WithAttributes(attrs...),
		trace.WithLinks(links...),
	)
}

// end ends span at the given time, as failed when errType is not empty.
func end(span trace.Span, at time.Time, errType, msg string) {
	if errType != "" {
		span.SetAttributes(semconv.ErrorTypeKey.String(errType))
		span.SetStatus(codes.Error, msg)
	}
	span.End(trace.WithTimestamp(at))
}

// simple records a leaf span of the given kind lasting d from at and
// returns its end.
func simple(ctx context.Context, tr trace.Tracer, name string, kind trace.SpanKind, at time.Time, d time.Duration, attrs ...attribute.KeyValue) time.Time {
	_, span := start(ctx, tr, name, kind, at, attrs)
	done := at.Add(d)
	end(span, done, "", "")
	return done
}

// randomSpanContext returns a valid span context made of seeded random ids.
func (g *generator) randomSpanContext() trace.SpanContext {
	var tid trace.TraceID
	var sid trace.SpanID
	for tid == (trace.TraceID{}) || sid == (trace.SpanID{}) {
		for i := range tid {
			tid[i] = byte(g.rng.Uint32())
		}
		for i := range sid {
			sid[i] = byte(g.rng.Uint32())
		}
	}
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    tid,
		SpanID:     sid,
		TraceFlags: trace.FlagsSampled,
		Remote:     true,
	})
}
