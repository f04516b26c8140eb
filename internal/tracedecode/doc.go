// Package tracedecode turns one OTLP trace request into span records: the
// ids, kind, status, times, links and database or peer of each span, and
// the service of each resource, which is all a service graph needs of it.
// Decode reads the protobuf bytes of an ExportTraceServiceRequest without
// pdata (the OTLP/gRPC and OTLP/HTTP receivers' hot path, and the value of
// a Kafka record the Collector's kafkaexporter wrote with encoding
// otlp_proto); FromTraces reads a ptrace.Traces (OTLP/JSON, and callers
// that hold pdata). The pairing core consumes the records, whichever made
// them. It is built on internal/otlpwire's primitives; it is a package of
// its own because it holds state per request, allocates (the Records'
// slices) and knows OTLP's trace semantics, which otlpwire does not.
//
// # Contract
//
//   - Equivalence. Decode and FromTraces make identical Records of the same
//     request (the differential fuzz targets FuzzWireEqualsPdata and
//     FuzzWireRawBytes hold them to it), and Decode refuses a request if
//     and only if ptraceotlp.ExportRequest.UnmarshalProto refuses it, or an
//     attribute value nests past otlpwire.MaxValueDepth, which FromTraces
//     refuses too: the one deliberate difference from pdata, which keeps
//     the walk of values bounded where pdata's recursion is not.
//   - Errors. A refused request leaves the Records empty. Decode's error is
//     permanent (consumer.NewMalformed) and names the field where decoding
//     failed, e.g. resource_spans[0].scope_spans[2].spans[7].trace_id; a
//     value nested too deep wraps consumer.ErrTooDeep on both paths. Spans
//     with an all-zero trace or span id are not errors: they are counted
//     (Records.Rejected) and left out.
//   - Ownership and aliasing. Neither function modifies or retains its
//     input. Decode's strings (span, peer and service names) alias the
//     request's bytes, read in place with unsafe.String, never copied: they
//     are valid only while those bytes are, so a consumer copies whatever
//     it keeps past the request (pairing's batch.nameOf; graph.Store.Node
//     copies the names it adds). Records.Reset drops every reference.
//   - Bounds. Nothing is kept between calls. Records grow with the request
//     (one Span per accepted span, one Key per link), which its transport
//     bounds (the receivers' and Kafka's maximum message size); the walk
//     recurses at most otlpwire.MaxValueDepth levels.
//   - Concurrency. The functions hold no state: any number may run at
//     once, each on Records of its own.
package tracedecode
