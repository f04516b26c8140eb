// Package demo generates realistic OpenTelemetry traffic for a small online
// shop and exports it over OTLP/gRPC, so that `servicegraph demo` shows a
// newcomer a live graph with every kind of edge, dashed async ones included,
// within seconds.
//
// Each simulated service has its own OpenTelemetry SDK TracerProvider (its
// resource carries service.name) and its own OTLP/gRPC exporter behind a batch
// span processor with a short batch timeout. The traffic covers:
//
//   - call edges: user → frontend → catalog, checkout → inventory, payments;
//   - database edges: checkout → postgresql "orders", catalog → redis,
//     reporting-batch → clickhouse "warehouse";
//   - a virtual peer: payments → stripe-api (peer.service, no server side),
//     flaky, its failed charges sometimes retried by a CLIENT span that links
//     to the failed attempt;
//   - messaging edges across traces: checkout produces orders.created,
//     consumed by shipping and notifications (root CONSUMER spans linking to
//     the producer span), by analytics in batches (one link per message), and
//     notifications produces emails for email-sender (a chain);
//   - span_link edges: reporting-batch runs about every 5 s, a root span
//     linking to the checkout SERVER spans whose orders it aggregates;
//   - diagnostics: once in a while a link to a trace that is never exported
//     (unresolved) and a link with an all-zero span context (invalid).
//
// Span timestamps are set explicitly (millisecond-scale durations), so a
// simulated request costs microseconds of real time; the request rate is
// paced by a time.Ticker only.
//
// Contract:
//   - Run owns everything it creates and releases it before returning: it
//     flushes and shuts every provider down within a few seconds of the end
//     of the traffic (context done or Config.MaxRequests reached), even when
//     the endpoint is unreachable, and leaves no goroutine behind (with an
//     unreachable endpoint, the exporters' last goroutines end moments
//     after Run returns, their exports cancelled).
//   - Several Runs may proceed concurrently; nothing is global (the global
//     OpenTelemetry TracerProvider, propagator and error handler are left
//     alone, so export errors go to the OpenTelemetry global error handler).
//   - The traffic's shape (routes, durations, errors, retries, batch sizes)
//     is a function of Config.Seed; trace and span ids are always random, so
//     rerunning a seed against the same service never duplicates spans.
//   - Memory is bounded: the generator keeps at most a few dozen span
//     contexts (pending batch messages and checkouts awaiting the report),
//     and each batch span processor queue is bounded (spans past it are
//     dropped, as the SDK does, rather than slowing the generator).
package demo
