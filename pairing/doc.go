// Package pairing turns span records into edge observations on a
// graph.Store: it pairs client/server and producer/consumer spans, resolves
// span links across traces through a bounded span index, and expires what
// never pairs into virtual nodes or unresolved-link counts. It does not
// parse requests: internal/tracedecode makes the records, from protobuf
// bytes (ConsumeTracesProto: the OTLP receivers, and a Kafka record value)
// or from pdata (ConsumeTraces), and pairing handles both alike from there.
//
// # Flow of one request
//
// A request takes a pooled batch, decodes into its tracedecode.Records,
// looks up each resource's service and each CLIENT span's peer as graph
// nodes (resolve), groups the spans by shard (a hash of the trace id), and
// visits each shard it touches once, under that shard's lock: indexing,
// pairing with parents and children, queueing what must wait. A request of
// 128 spans or more, with GOMAXPROCS > 1, hands the shards it has not
// reached yet to a helper goroutine that takes them from the other end
// (fanout.go): the shards are independent, and the helper's edges are
// appended after the caller's in shard order, so the edges and their order
// are those of one goroutine visiting every shard. It then
// resolves its spans' links, grouped by the shard of each target's trace,
// one shard lock at a time, and applies the edges it made to the graph
// with one graph.Store.Observe. Expire visits every shard the same way.
//
// # Contract
//
//   - Concurrency: ConsumeTraces, ConsumeTracesProto, Expire, Flush,
//     Problems and Stats are safe for concurrent use. Any number of
//     goroutines (the receivers' request goroutines, Start's expiry
//     goroutine, the offline CLI) work at once; none owns a shard. A shard
//     (its span index and its three queues: children, clients, links) is
//     guarded by its mutex and touched only under it; a goroutine holds at
//     most one shard lock at a time, never with the graph's lock, so there
//     is no lock order to break. The batch, its records and its scratch
//     slices belong to the one goroutine handling the call, then go back to
//     the pool (a helper of addAll reads the batch's spans of the shards it
//     takes and makes its edges in a batch of its own, which the caller
//     appends once the helper is done; the caller never waits for a helper
//     that has not started, which then finds nothing to do). Counters are atomics (per processor) or shard fields (under
//     the shard lock); Stats takes each shard's lock briefly.
//   - Ownership: a request (ptrace.Traces or protobuf bytes) is not kept
//     past the call and never modified. Its records' strings may alias it
//     (tracedecode.Decode); ids are copied into fixed-size keys; the only
//     strings pairing keeps are span names of waiting links and recent
//     problems, copied and cut to MaxNameBytes (keepName via batch.nameOf),
//     and graph.Store.Node copies the node names it adds. Batch.reset
//     clears every reference to the request before the batch is pooled.
//     Problems returns a fresh slice the caller owns.
//   - Bounds, each enforced per shard (the total divided by Shards, rounded
//     up), each counted in Stats when hit, each with its flag (YAML key
//     under pairing:):
//     the span index, MaxIndexSpans (--max-index-spans; ~47 B a span, the
//     oldest evicted: IndexEvictions; its slots at most 55 % of its
//     table, an evicted entry's removed at once);
//     spans waiting for a parent and CLIENT spans waiting for a server
//     side, MaxPendingSpans each (--max-pending-spans; oldest dropped:
//     DroppedChildren, DroppedClients); links waiting for a target,
//     MaxPendingLinks (--max-pending-links; oldest dropped: DroppedLinks,
//     and a "dropped" link result). Only items still waiting count toward a
//     queue's cap, and its ring holds at most 1.25 × it (queueSlack).
//     Waits end after PairWait (--pair-wait) and LinkWait (--link-wait),
//     checked every ExpiryInterval (expiry_interval). Recent problems:
//     RecentProblems (recent_problems), at most MaxRecentProblems, oldest
//     overwritten. Kept names: MaxNameBytes (--max-name-bytes, the graph's
//     figure). Nodes: a service's node id must fit 24 bits (MaxNodes; the
//     service checks --max-nodes at start); a span of a service past it is
//     refused and counted (SpansNodeOverflow). Shards: 1..1024 (--shards).
//     A batch grows with its request, which the transport bounds. A span's
//     sampling weight (SpanMultiplierKey, tracestate ot=th:) is at most
//     tracedecode.MaxWeight.
//   - Counting (issue 15, README "Differences from Tempo and the
//     connector"): one request counts once: a link to the span's own
//     parent adds no edge when the pair makes one (redundant), and a
//     server side arriving after its CLIENT became a database or
//     virtual_node edge adds none (metaExpired). Nodes are named by the
//     Config's attribute lists (tracedecode.Naming). Each edge occurrence
//     carries the weight of the span that completes it (batch.observe).
//   - Options read past the decoder (issue 15): filter policies
//     (FilterPolicies, filter.go) drop spans before they are resolved, as
//     if never sent, counted (Stats.SpansFiltered); broker nodes
//     (BrokerNodes, broker.go) draw a messaging pair through its
//     destination's topic node. Each walks the request once more, for the
//     attributes it needs, only when configured: off, a request pays a
//     nil check and a flag test.
//   - Bad input: a request with an attribute value nested past
//     otlpwire.MaxValueDepth is refused whole (consumer.ErrTooDeep); a
//     malformed protobuf request whole (consumer.NewMalformed); spans with
//     an all-zero trace or span id are refused alone (a
//     *consumer.PartialError). Every duration and delay observed saturates
//     at MaxSeconds, a negative delay at 0.
package pairing
