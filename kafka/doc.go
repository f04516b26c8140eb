// Package kafka is the transport of the multi-instance mode (issue 14):
// a consumer-group member over the topic the OpenTelemetry Collector's
// kafkaexporter writes (partition_traces_by_id: true, encoding:
// otlp_proto: one trace per record, key = hex trace id) and over a links
// topic it writes itself. It is a pipeline stage beside receiver/ (a
// transport feeding pairing), hence a top-level package, not internal/.
//
// # The co-partitioned join
//
// Everything keyed by trace id pairs on the member that owns the trace's
// partition. A span link names a span of another trace, usually owned by
// another member, so a link whose target is not in the local index is
// re-keyed by the target's trace id (Link.Key, lowercase hex like the
// exporter's keys) and produced (Consumer.Route) to the links topic,
// which has the spans topic's partition count and is placed by the same
// partitioner (Partitioner: sarama_compat, the exporter's default, or
// murmur2). kgo's range balancer gives partition p of both topics to one
// member, so the link reaches the member that owns (or will own) its
// target and it alone resolves and counts it: the design of Kafka
// Streams' and ksqlDB's joins. Start refuses to run when the topics'
// partition counts differ or when sampled records of the spans topic are
// not where the configured partitioner puts their key (the error names
// --kafka-partitioner and the partitioner that does place them).
//
// # The seams pairing provides
//
// cmd/servicegraph (kafka.go) implements Handler over pairing's seams
// (pairing/replay.go: ConsumeRecord, ResolveLink, ForgetLinks,
// ForgetClients) and calls Route:
//
//   - Handler.Spans(ctx, value, pos): decode the ExportTraceServiceRequest
//     (the wire decoder, as ConsumeTracesProto does) and pair as today,
//     with two changes. When pos.Replay, index the spans only: complete
//     no pair with another replayed record and route no link (the earlier
//     owner did both). A pair counts only if at least one of its two
//     records is live (pos.Offset >= pos.Committed); pairing keeps, per
//     indexed span, whether its record was live. A replayed span's waits
//     begin at pos.Timestamp; a replayed CLIENT span waits for its server
//     side only if its pair wait was not over at pos.Since (the
//     handover): else its earlier owner counted it.
//   - For each link of a live span whose target is not in the local index:
//     Route(ctx, &Link{target, linking span, service and span names, kind,
//     failed, start, SourcePartition/Offset = pos, SourceIndex = the
//     link's index in the record}) instead of queueing it locally.
//   - Handler.Link(ctx, l, pos): resolve l against the local index, or
//     queue it under its target (link wait) exactly as a local waiting
//     link; on resolution count the edge (client = target's service,
//     server = l.Service, messaging_system when l.Kind is CONSUMER and
//     the target a PRODUCER) and the link result for l.Service, by name.
//     A replayed link record resolved by a replayed span counts nothing.
//   - Handler.Assigned(ps) / Handler.Revoked(ps): the spans and links
//     partitions ps arrive or leave together. On Revoked, the member
//     forgets the links and CLIENT spans waiting in traces of ps (their
//     new owner replays and counts them); so does a clean shutdown, for
//     all, before pairing's final Flush.
//
// # Handover, revoke and crash
//
//   - The range balancer is eager: every rebalance revokes every
//     partition. A member commits them, keeps their state, and continues
//     those assigned back to it where it was (no replay, no Assigned or
//     Revoked call): nobody else owned them in between. Handler.Revoked
//     is called for those that went elsewhere, Handler.Assigned for new
//     ones.
//   - On assignment (AdjustFetchOffsetsFn) a new partition starts at
//     min(commit, first offset at now − Replay); records before the
//     commit are handed with Replay set, the others live. Without a commit
//     (new group) it starts at now − Replay and every record is live.
//   - Offsets are committed every CommitInterval (≤ 1 s by default) and
//     on revoke, never backwards, and only after Flush: the link records
//     routed for the committed span records are written first.
//   - A clean leave (Shutdown) commits, leaves the group, and the new
//     owners replay: nothing is counted twice.
//   - A lost partition (the group no longer knows this member: a session
//     timeout, or a coordinator that forgot its members) keeps its state
//     without a commit, and a Handler that is a Loser forgets its waits at
//     once (they would otherwise end here while the new owner replays and
//     counts them). If it comes back here while the group's commit is
//     still this member's last, it is replayed like a new owner's, the
//     records this member handled after the commit as replayed too; if it
//     moved, Handler.Revoked is called at the next assignment.
//   - A Handler that is a Committer shows what handling a record counts
//     only once a commit covers it: Checkpoint is called as the offsets of
//     a commit of every owned partition are taken, Committed once the
//     group accepted them (no commit covers a partition revoked or lost
//     and not committed, until the next assignment decides).
//   - After a crash (no final commit) the new owner hands live again what
//     was handled after the last commit, flagged Redo (every live record
//     before the partition's end at the assignment): pairing routes all
//     the links of those records, even to targets indexed locally. A
//     Committer had shown nothing of them, so they count once, at the new
//     owner. Re-produced link records are dropped: each carries its
//     source position (spans partition, offset, link index) and the links
//     partition's owner drops one at or below the last position seen for
//     that source partition only if that exact position was seen (within
//     8,192 source offsets; older ones are taken as seen): the earlier
//     owner resolved some links at home and routed others. Both are
//     rebuilt from the replayed links records after a handover; drops are
//     counted in Stats.DuplicateLinks (TestCrashBoundsDoubleCounting,
//     TestCommitterMarks, TestDuplicateExact).
//
// # Concurrency and bounds
//
// Handler methods are called from one goroutine per Consumer; Route,
// Owned and Stats are safe for concurrent use. A value handed to Spans is
// valid only during the call; a *Link only during Link. Between two
// commits at most MaxPollRecords records are handled; produced link
// records wait in franz-go's buffer (its MaxBufferedRecords bounds it,
// Route then blocks). A link record is at most MaxLinkRecordBytes (114 B
// for typical names); the watermark is one entry per (links partition,
// source partition).
//
// # Left for the next session
//
//   - Tested over the real binary (e2e/kafka_cluster_test.go,
//     kafka_faults_test.go, kafka_collector_test.go): a real Collector in
//     front; SIGTERM, a join, kill -9 and a restart of every broker, in
//     the middle of the stream. A partition that leaves a member and
//     comes back to it later (A, B, A) is replayed into an index that
//     still holds its spans: at the revoke they are marked replayed
//     (Processor.MarkReplayed), so a pair B counted is not counted again,
//     and the CLIENT spans A forgot wait again (pairing
//     TestMarkReplayedOnReturn, TestForgottenClientWaitsAgainOnReturn;
//     end to end in TestKafkaMidStreamSIGTERM, whose rolling restart
//     moves a partition A, B, A).
//   - Replay speed: index-only replay goes through the whole wire decoder
//     (BenchmarkConsumeRecord in pairing): 1.3 M spans per CPU second,
//     below issue 14's 2 M.
//   - On kfake, leader moves (ShufflePartitionLeaders,
//     MoveTopicPartition) bump epochs like an unclean election and
//     franz-go then reports "lost records" and, in about one run of three,
//     skips a record (Stats.FetchErrors counts it); whether a clean leader
//     change on a real broker can do the same is not checked here (no
//     broker package on our machines).
package kafka
