// Package pairing turns spans into edge observations on a graph.Store:
// it pairs client/server and producer/consumer spans, resolves span links
// across traces through a bounded span index, and expires what never pairs
// into virtual nodes or unresolved-link counts.
//
// # Contract
//
//   - Concurrency: ConsumeTraces, ConsumeTracesProto, Expire, Flush,
//     Problems and Stats are safe for concurrent use. The state is sharded
//     by trace id; a request takes one shard lock at a time.
//   - Ownership: a request (ptrace.Traces or protobuf bytes) is not kept
//     past the call. Ids are copied into fixed-size keys; the only strings
//     kept are span names of waiting links and recent problems, copied and
//     cut to Config.MaxNameBytes (keepName).
//   - Bounds, each counted when hit: the span index (MaxIndexSpans, oldest
//     evicted), spans waiting for a parent and CLIENT spans waiting for a
//     server side (MaxPendingSpans each, oldest dropped), links waiting for
//     a target (MaxPendingLinks, oldest dropped; only items still waiting
//     count toward a cap, and their rings hold at most 1.25 × it), recent problems
//     (RecentProblems, at most MaxRecentProblems, oldest overwritten).
//   - Bad input: a request with an attribute value nested past
//     otlpwire.MaxValueDepth is refused whole (consumer.ErrTooDeep); every
//     duration and delay observed saturates at MaxSeconds, a negative delay
//     at 0.
package pairing
