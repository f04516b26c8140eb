// Package graph holds the aggregated service topology: nodes (services,
// databases, virtual nodes), edges keyed by (client, server, kind) with
// counts, failures, latency or async-delay histograms, first/last-seen times
// and a time-bucketed history, and immutable snapshots for readers.
//
// Concurrency: Store.Node and Store.Observe are called by many writers at
// once (the pairing shards); Store.Snapshot by any reader. Readers never
// make writers wait for a whole-graph copy: a snapshot build holds the
// writers' lock only to take the list of edges changed since the previous
// build (and a copy of the node tables when they changed), then copies
// those edges one at a time under each edge's own lock into a copy of the
// previous snapshot, whose unchanged edges' data (EdgeData, one pointer
// per Edge) it shares, so that a build allocates only the changed edges'
// data and 8 bytes per edge; an unchanged store
// returns the cached snapshot. Saving (WriteState) works from a snapshot
// too. The returned *Snapshot is immutable and shared: callers must not
// modify it. Queries over a snapshot (Snapshot.Query) walk neighbourhoods
// over a neighbour index of the snapshot (each node's edges, both
// directions; parallel call and link edges between the same two services
// and self loops alike), built once per snapshot, by the first query that
// needs it, and shared by the following snapshots while no node or edge is
// added; Snapshot.Graph offers the same topology as a gonum multi directed
// graph, built once too. Per topology, queries also keep each edge's sum
// over the last window queried (96 B per edge; an edge's sum is redone
// when its data changed or the window moved a bucket) and the values
// readers derive from a View and keep with View.Shared (dropped with the
// topology's snapshots). A snapshot keeps its latest view (~13 MB at 100k
// edges) to answer the same question again.
//
// Bounds: distinct node names (Config.MaxNodes; past it names fold into
// OverflowNode, counted), distinct edges (Config.MaxEdges; past it new edges
// are dropped, counted), node name length (Config.MaxNameBytes), and history:
// at most Config.Retention/Config.BucketWidth+1 buckets per edge, stored in
// chunks of 8 with each closed bucket's histogram of the edge's main
// measure as sparse entries (40.9 B a bucket with the chunk pointers and
// entries, measured by BenchmarkHistoryMemory; the open bucket's is dense,
// one count per bound, in the edge), so that a window's percentiles are
// its own (EdgeData.WindowHist), and at most Config.MaxHistoryBytes for all edges
// together, past which every edge's oldest buckets are dropped first
// (Stats.HistoryEvicted). Snapshots share the closed history chunks, which
// are never written again. Times come from the injected clock (the time of
// ingestion), not from span timestamps, so a sender's wrong clock cannot
// move history.
//
// Diffs: Compare takes two Samples (a view with each edge's window
// histogram, summed from its history buckets, NewSample) and marks every node and edge added,
// removed, changed (past Thresholds) or same. A Document is a Sample saved
// as versioned JSON (DocumentFormat, DocumentVersion; ReadDocument checks
// it, within MaxDocumentBytes). Both only read their inputs.
package graph
