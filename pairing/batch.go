package pairing

import (
	"strings"
	"unicode/utf8"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/tracedecode"
)

// batch is the scratch state of one ConsumeTraces or Expire call: the
// spans copied out of the request, then the edges and link outcomes they
// produce, applied to the graph at the end with one lock. Batches are pooled.
type batch struct {
	user    graph.NodeID
	anon    uint32              // UnknownService's node id + 1, 0 before a span without a service.name came (Processor.anon)
	w       uint32              // the weight of the edges being made (batch.observe); 0 means 1
	maxName int                 // Config.MaxNameBytes
	rec     tracedecode.Records // the request's spans and links, as decoded
	spans   []span              // rec.Spans with their nodes (resolve)
	names   []string            // per span: its name once cloned by nameOf
	order   []int32             // span indexes grouped by shard
	starts  []int32             // per shard: start of its group in order (len shards+1)
	refs    []linkRef
	todo    []int32 // shards a pass must visit
	// scratch of group: per span its shard; per shard the next free place
	shardOf, next []int32
	// refs grouped by target shard: refsSorted[linkStarts[s]:linkStarts[s+1]]
	refsSorted           []linkRef
	linkStarts, linkNext []int32
	obs                  []graph.Observation
	tallies              []graph.LinkTally
	problems             []problemRec
	k                    kafkaState  // replay.go; zero but for a Kafka record
	flt                  filterState // filterwalk.go; used only with filter policies
	brk                  brokerState // broker.go; used only with broker nodes
	topic                uint32      // the destination node + 1 of the span completing the edges being made (broker.go)
	dims                 dimState    // dims.go; used only with dimensions
	cd, sd               uint32      // the tuples of the edge being made (batch.sides)
	fan                  fanOut      // fanout.go; used by requests paired by two goroutines
}

// linkRef is one link to resolve: the linking span and the link.
type linkRef struct {
	span, link int32
	shard      int32
	th         uint64 // the hash of the target's trace (hasher.trace)
}

// problemRec is a Problem before names are looked up.
type problemRec struct {
	svc      graph.NodeID
	result   graph.LinkResult
	cause    string
	from, to spanKey
	name     string
}

func (b *batch) reset() {
	if cap(b.spans) > tracedecode.KeptSpans { // a pooled batch keeps no large request's arrays
		b.spans, b.names, b.order, b.shardOf, b.obs = nil, nil, nil, nil, nil
	}
	clear(b.names) // drop references to span names and requests
	clear(b.spans)
	b.rec.Reset()
	b.spans, b.names, b.order, b.refs = b.spans[:0], b.names[:0], b.order[:0], b.refs[:0]
	b.obs, b.tallies, b.problems, b.w = b.obs[:0], b.tallies[:0], b.problems[:0], 0
	b.k.reset()
	b.flt.reset()
	b.brk.reset()
	b.topic = 0
	b.dims.reset()
}

// tally counts one link outcome of svc, merging with the previous tally.
func (b *batch) tally(svc graph.NodeID, r graph.LinkResult) {
	if n := len(b.tallies); n > 0 && b.tallies[n-1].Service == svc && b.tallies[n-1].Result == r {
		b.tallies[n-1].N++
		return
	}
	b.tallies = append(b.tallies, graph.LinkTally{Service: svc, Result: r, N: 1})
}

func (b *batch) problem(w *waitingLink, r graph.LinkResult, cause string) {
	b.problems = append(b.problems, problemRec{svc: w.meta.svc(), result: r, cause: cause,
		from: w.from, to: w.target, name: w.name})
}

// group orders the spans by shard (a counting sort): the spans of shard s
// are order[starts[s]:starts[s+1]], in request order.
func (b *batch) group(nshards int, shardOf func(*span) int32) {
	b.starts = append(b.starts[:0], make([]int32, nshards+1)...)
	b.shardOf = b.shardOf[:0]
	for i := range b.spans {
		s := shardOf(&b.spans[i])
		b.shardOf = append(b.shardOf, s)
		b.starts[s+1]++
	}
	for i := 1; i <= nshards; i++ {
		b.starts[i] += b.starts[i-1]
	}
	b.order = append(b.order[:0], make([]int32, len(b.spans))...)
	b.next = append(b.next[:0], b.starts[:nshards]...)
	for i, s := range b.shardOf {
		b.order[b.next[s]] = int32(i)
		b.next[s]++
	}
}

// nameOf returns span i's name as pairing keeps it past the request
// (keepName), made on first use: names are kept only for diagnostics of
// links that wait or fail.
func (b *batch) nameOf(i int32) string {
	if b.names[i] == "" && b.spans[i].name != "" {
		b.names[i] = keepName(b.spans[i].name, b.maxName)
	}
	return b.names[i]
}

// keepName is name as kept past a request: valid UTF-8 (invalid bytes
// become U+FFFD), at most limit bytes, cut at a rune boundary, in memory of
// its own (never aliasing the request). A huge name is cut before it is
// looked at, so the cost is bounded by limit.
func keepName(name string, limit int) string {
	name = cutUTF8(name, limit)
	if !utf8.ValidString(name) {
		name = cutUTF8(strings.ToValidUTF8(name, "\uFFFD"), limit)
	}
	return strings.Clone(name)
}

// cutUTF8 cuts s to at most limit bytes without splitting a rune: it backs
// off over at most utf8.UTFMax-1 continuation bytes (more cannot belong to
// one rune; invalid bytes are repaired after).
func cutUTF8(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for i := 0; i < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(s[cut]); i++ {
		cut--
	}
	return s[:cut]
}
