package demo

import (
	"context"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Asynchronous traffic: consumers that start new traces and link to their
// producers, a batch consumer, a batch job, and links that never resolve.
// Every async span starts after the span it links to has ended.

// consumerAttrs are the attributes of a CONSUMER span processing messages
// from destination for consumer group group.
func consumerAttrs(system attribute.KeyValue, destination, group string) []attribute.KeyValue {
	return []attribute.KeyValue{
		system,
		semconv.MessagingDestinationName(destination),
		semconv.MessagingOperationTypeProcess,
		semconv.MessagingOperationName("process"),
		semconv.MessagingConsumerGroupName(group),
	}
}

// deliver hands one orders.created message to its consumer groups:
// shipping and notifications process it at once, analytics in batches.
func (g *generator) deliver(m message) {
	g.stats.messages++
	link := trace.Link{SpanContext: m.producer}

	at := m.sent.Add(g.ms(5, 80))
	ctx, span := start(context.Background(), g.t.shipping, "process orders.created", trace.SpanKindConsumer, at,
		consumerAttrs(semconv.MessagingSystemKafka, "orders.created", svcShipping), link)
	at = simple(ctx, g.t.shipping, "allocate parcel", trace.SpanKindInternal, at.Add(g.ms(0.2, 1)), g.ms(2, 20))
	end(span, at.Add(g.ms(0.2, 1)), "", "")

	at = m.sent.Add(g.ms(5, 120))
	ctx, span = start(context.Background(), g.t.notifications, "process orders.created", trace.SpanKindConsumer, at,
		consumerAttrs(semconv.MessagingSystemKafka, "orders.created", svcNotifications), link)
	at = simple(ctx, g.t.notifications, "render order confirmation", trace.SpanKindInternal, at.Add(g.ms(0.2, 1)), g.ms(1, 6))
	_, send := start(ctx, g.t.notifications, "send emails", trace.SpanKindProducer, at, []attribute.KeyValue{
		semconv.MessagingSystemRabbitMQ,
		semconv.MessagingDestinationName("emails"),
		semconv.MessagingOperationTypeSend,
		semconv.MessagingOperationName("send"),
		semconv.ServerAddress("rabbitmq"),
		semconv.ServerPort(5672),
	})
	at = at.Add(g.ms(0.3, 2))
	end(send, at, "", "")
	end(span, at.Add(g.ms(0.2, 1)), "", "")
	g.sendEmail(at.Add(g.ms(2, 60)), trace.Link{SpanContext: send.SpanContext()})

	g.analyticsQueue = append(g.analyticsQueue, m)
	if len(g.analyticsQueue) >= g.analyticsBatch {
		g.consumeBatch()
	}
}

// sendEmail is email-sender processing one message of the emails queue,
// linked to the message's producer.
func (g *generator) sendEmail(at time.Time, link trace.Link) {
	ctx, span := start(context.Background(), g.t.emailSender, "process emails", trace.SpanKindConsumer, at,
		consumerAttrs(semconv.MessagingSystemRabbitMQ, "emails", svcEmailSender), link)
	at = simple(ctx, g.t.emailSender, "deliver via smtp", trace.SpanKindInternal, at.Add(g.ms(0.2, 1)), g.ms(40, 250))
	if g.chance(pInternalError) {
		end(span, at, "smtp", "451 temporary local problem")
		return
	}
	end(span, at.Add(g.ms(0.2, 1)), "", "")
}

// consumeBatch is analytics polling its queued orders.created messages
// and processing them in one CONSUMER span, one link per message.
func (g *generator) consumeBatch() {
	batch := g.analyticsQueue
	links := make([]trace.Link, len(batch))
	var last time.Time
	for i, m := range batch {
		links[i] = trace.Link{SpanContext: m.producer}
		if m.sent.After(last) {
			last = m.sent
		}
	}
	at := last.Add(g.ms(50, 500)) // the poll interval
	attrs := append(consumerAttrs(semconv.MessagingSystemKafka, "orders.created", svcAnalytics),
		semconv.MessagingBatchMessageCount(len(batch)))
	ctx, span := start(context.Background(), g.t.analytics, "process orders.created", trace.SpanKindConsumer, at, attrs, links...)
	at = simple(ctx, g.t.analytics, "update sales aggregates", trace.SpanKindInternal, at.Add(g.ms(0.2, 1)), g.ms(5, 40))
	end(span, at.Add(g.ms(0.2, 1)), "", "")

	g.stats.batches++
	g.analyticsQueue = g.analyticsQueue[:0]
	g.analyticsBatch = g.between(minBatch, maxBatch)
}

// report is the reporting-batch job: a root INTERNAL span linking to the
// checkout SERVER spans of the orders it aggregates, and a write to the
// warehouse database.
func (g *generator) report(now time.Time) {
	n := min(len(g.checkouts), g.between(minReportLinks, maxReportLinks))
	picked := g.checkouts[len(g.checkouts)-n:]
	links := make([]trace.Link, n)
	at := now
	for i, c := range picked {
		links[i] = trace.Link{SpanContext: c.server}
		if c.done.After(at) {
			at = c.done
		}
	}
	at = at.Add(g.ms(10, 100))
	ctx, span := start(context.Background(), g.t.reporting, "aggregate hourly sales", trace.SpanKindInternal, at, nil, links...)
	at = simple(ctx, g.t.reporting, "compute totals", trace.SpanKindInternal, at.Add(g.ms(0.5, 2)), g.ms(20, 120))
	at = simple(ctx, g.t.reporting, "INSERT sales_hourly", trace.SpanKindClient, at, g.ms(10, 80),
		semconv.DBSystemNameClickHouse,
		keyDBSystem.String("clickhouse"),
		semconv.DBNamespace("warehouse"),
		semconv.DBCollectionName("sales_hourly"),
		semconv.DBOperationName("INSERT"),
		semconv.ServerAddress("clickhouse"),
		semconv.ServerPort(8123),
	)
	end(span, at.Add(g.ms(0.5, 2)), "", "")

	g.stats.reports++
	g.checkouts = g.checkouts[:0]
}

// returnRequested is shipping processing a returns.requested message from
// the returns portal, a SaaS that propagates trace context in its message
// headers but exports its spans elsewhere: the link never resolves here,
// which servicegraph reports as an unresolved link.
func (g *generator) returnRequested(now time.Time) {
	g.stats.unresolved++
	link := trace.Link{SpanContext: g.randomSpanContext()}
	at := now.Add(g.ms(1, 10))
	ctx, span := start(context.Background(), g.t.shipping, "process returns.requested", trace.SpanKindConsumer, at,
		consumerAttrs(semconv.MessagingSystemKafka, "returns.requested", svcShipping), link)
	at = simple(ctx, g.t.shipping, "schedule pickup", trace.SpanKindInternal, at.Add(g.ms(0.2, 1)), g.ms(3, 15))
	end(span, at.Add(g.ms(0.2, 1)), "", "")
}

// legacyEmail is email-sender processing a message the legacy order system
// sent without trace headers. The consumer instrumentation still links to
// the (empty) extracted context, naming the message in the link's
// attributes — the SDK keeps such a link, all-zero ids included, which
// servicegraph counts as an invalid link.
func (g *generator) legacyEmail(now time.Time) {
	g.stats.invalid++
	link := trace.Link{Attributes: []attribute.KeyValue{
		semconv.MessagingMessageID("legacy-" + strconv.FormatUint(g.rng.Uint64()%1e6, 10)),
	}}
	g.sendEmail(now.Add(g.ms(1, 10)), link)
}
