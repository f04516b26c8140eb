// Package receiver accepts spans over OTLP/gRPC (the pdata trace service,
// default 127.0.0.1:4317) and OTLP/HTTP (POST /v1/traces, protobuf or JSON,
// optionally gzip, default 127.0.0.1:4318), and hands each request's
// ptrace.Traces to a consumer.Traces. A consumer that also implements
// consumer.ProtoTraces (pairing.Processor does) gets protobuf requests, of
// both transports, as received instead: never decoded by pdata (raw.go).
//
// # Contract
//
//   - Lifecycle: New validates and loads files; Start binds both listeners
//     synchronously and serves in background goroutines; Shutdown stops
//     accepting, drains requests in flight until its context ends (then
//     closes what is left) and waits for its goroutines. Shutdown is safe
//     without Start and twice; a Receiver starts once, and a new one may
//     bind the same ports after Shutdown returns.
//   - Concurrency: the consumer is called concurrently, at most
//     max_concurrent_requests times at once across both transports, with a
//     context that ends after request_timeout or when the client goes away.
//     The ptrace.Traces, or the request bytes given to
//     ConsumeTracesProto, belong to the receiver: the consumer must not keep
//     them after the call returns. On the raw gRPC path the bytes are gRPC's
//     receive buffer, referenced (not copied) until the call is answered;
//     a message that arrived in several HTTP/2 frames is first copied into
//     one pooled buffer.
//   - Bounds: one request holds at most max_request_bytes of encoded data
//     (gRPC message; HTTP body as sent and again after gzip decompression,
//     which stops at max_request_bytes+1 bytes). All requests in flight
//     together hold at most max_inflight_bytes (budget.go): an HTTP body
//     reserves its buffer step by step as it arrives (one whose declared
//     length cannot fit is refused unread), a gRPC message is sized by the
//     codec before it is copied, and each then reserves the estimated cost
//     of decoding and consuming it (16 B per protobuf byte; 8 B per JSON
//     byte + 176 B per JSON object or array, the measured worst cases with
//     garbage-collector slack), so resident memory stays under the idle
//     baseline + max_inflight_bytes. An HTTP body must arrive within
//     read_timeout (else 503, counted as timeout) and takes no concurrency
//     slot until it is in: then, past max_concurrent_requests, the request
//     is refused at once, before it is decoded. A gRPC
//     call is admitted from its headers, before any of its message is read
//     (admit.go): its token is checked, twice max_request_bytes is
//     reserved until the message has arrived, the message must arrive
//     within read_timeout (else the call is cancelled, CANCELLED, counted
//     as timeout), and one connection has at most
//     max_streams_per_connection calls open. Each listener holds at most
//     max_connections connections (internal/netlimit: one past it is
//     closed at accept, counted as too_many_connections), and closes one
//     idle for idle_timeout (gRPC: GOAWAY).
//   - Answers follow the OTLP specification; errors.go maps every outcome
//     to codes in one table. The consumer's errors: nil is success; a
//     *consumer.PartialError is success with partial_success
//     (rejected_spans, error_message); consumer.NewRetryable is HTTP 503 +
//     Retry-After / gRPC Unavailable + RetryInfo; a context error (the
//     request ran out of time) is answered the same way; anything else is
//     permanent, HTTP 400 / gRPC InvalidArgument; so is a malformed protobuf
//     request, which a ProtoTraces consumer reports, or pdata for any
//     other consumer (both transports). Overload (the concurrency limit or
//     the memory budget) is HTTP 429 +
//     Retry-After / gRPC Unavailable + RetryInfo (OTLP clients treat
//     ResourceExhausted without RetryInfo as permanent). HTTP error bodies
//     are google.rpc.Status in the request's encoding (protobuf when the
//     Content-Type is not one of ours).
//   - Security: tls {cert_file, key_file, client_ca_file} applies to both
//     listeners (client_ca_file requires and verifies client certificates);
//     auth {bearer_token_file} requires "Authorization: Bearer <token>" on
//     both (HTTP 401 with WWW-Authenticate: Bearer, gRPC Unauthenticated
//     from the call's headers, before its message is read).
//   - Nothing is logged per request: refusals are counted.
//
// # Metrics
//
// Registered on Settings.Registerer; every series exists from New, at zero.
//
//	servicegraph_receiver_requests_total{transport, outcome}  counter
//	    Export requests answered. transport: grpc, http. outcome: accepted
//	    (full success), partial (success with partial_success), refused
//	    (any error answer).
//	servicegraph_receiver_refused_total{transport, reason}  counter
//	    Refused requests by reason: bad_request (undecodable body or a
//	    permanent consumer error), too_deep (attribute values nested past
//	    otlpwire.MaxValueDepth, refused by the consumer, or JSON brackets
//	    past otlpwire.MaxJSONDepth, refused before pdata decodes the body:
//	    consumer.ErrTooDeep), too_large (past max_request_bytes, or a cost
//	    past all of max_inflight_bytes), unsupported_media_type,
//	    method_not_allowed, not_found, unauthenticated, overloaded (the
//	    concurrency limit or the memory budget), retryable (a retryable
//	    consumer error), timeout (the consumer did not finish before
//	    request_timeout or the client left; a gRPC message did not arrive
//	    within read_timeout), too_many_connections (a connection closed at
//	    accept past max_connections: counted here, though not a request,
//	    nor in requests_total). HTTP-only reasons stay at zero for grpc.
//	servicegraph_receiver_spans_total{transport, outcome}  counter
//	    Spans of decoded requests. outcome: accepted, rejected (the
//	    consumer's partial rejections, and every span of a decoded request
//	    that was refused). On the raw path spans are counted from the
//	    request's outer levels without decoding (otlpwire.SpanCount), and a
//	    request the consumer reports malformed counts none, as when pdata
//	    refuses one.
//	servicegraph_receiver_inflight_requests  gauge
//	    Requests holding a concurrency slot now, both transports.
//	servicegraph_receiver_inflight_bytes  gauge
//	    Bytes of max_inflight_bytes reserved now, both transports.
//	servicegraph_receiver_connections{transport}  gauge
//	    Connections open now (at most max_connections each).
//
// Receivers sharing a Registerer share these series.
package receiver
