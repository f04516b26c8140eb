package pairing

import (
	"runtime"
	"sync/atomic"
)

// minFanOutSpans is the smallest request whose shards are paired by two
// goroutines: below it, handing half over costs more than it saves.
const minFanOutSpans = 128

// fanOut is a batch's state while two goroutines add its spans, shard by
// shard: the caller takes the shards of b.todo from the front, a helper
// from the back, until they meet. Each shard is still added under its
// lock by one goroutine, in the same order; the helper's edges and link
// tallies go to a batch of its own and are appended after the caller's in
// shard order, so the batch ends as if one goroutine had added every
// shard (the same observations in the same order).
type fanOut struct {
	// left is lo<<32 | hi: b.todo[lo:hi] is not taken yet.
	left atomic.Uint64
	// state is gen<<2 | phase: the helper of request gen may start only
	// while its phase is fanIdle, and a helper late for its request (the
	// caller finished alone) finds another gen and does nothing.
	state atomic.Uint64
	gen   uint64
	done  chan struct{} // the helper finished (buffered)
	h     *batch        // the helper's batch, once done
	dups  int           // duplicates the helper found
	// kind is the work on each shard: fanAdd (the spans of b at now) or
	// fanExpire (the waits past the cutoffs).
	kind                        uint8
	now, pairCutoff, linkCutoff int64
	// taken lists the shards the helper added (from the back) and the
	// ends of their observations and tallies in h.
	taken []fanChunk
}

// fanChunk is one shard the helper did: its observations are
// h.obs[previous obs:obs], its tallies and problems likewise.
type fanChunk struct{ obs, tallies, problems int32 }

// fanOut's kinds of work.
const (
	fanAdd = iota
	fanExpire
)

const (
	fanIdle    = 0
	fanRunning = 1
	fanAlone   = 2 // the caller finished without the helper
)

// take takes the next shard of todo from the front, or from the back, and
// reports its place in todo, or -1 when none is left.
func (f *fanOut) take(back bool) int {
	for {
		v := f.left.Load()
		lo, hi := v>>32, v&(1<<32-1)
		if lo >= hi {
			return -1
		}
		next, i := (lo+1)<<32|hi, lo
		if back {
			next, i = lo<<32|(hi-1), hi-1
		}
		if f.left.CompareAndSwap(v, next) {
			return int(i)
		}
	}
}

// addAll adds the spans of b, grouped by shard (b.todo), and returns how
// many were duplicates. A request large enough is split between the
// calling goroutine and a helper when there is a second processor to run
// it (GOMAXPROCS > 1): the shards are independent, so a request's wall
// time nearly halves on an idle second core; under load from other
// requests the helper only queues behind them, and the caller, never
// waiting for it to start, does the shards it has not taken.
func (p *Processor) addAll(b *batch, now int64) int {
	b.fan.kind, b.fan.now = fanAdd, now
	return p.eachShard(b, len(b.spans) >= minFanOutSpans)
}

// eachShard does b.fan.kind's work on every shard of b.todo, with a helper
// if fan and there is a second processor, and returns the duplicates
// found (fanAdd).
func (p *Processor) eachShard(b *batch, fan bool) int {
	if len(b.todo) < 2 || !fan || runtime.GOMAXPROCS(0) < 2 {
		dups := 0
		for _, si := range b.todo {
			dups += p.work(si, b, b)
		}
		return dups
	}
	f := &b.fan
	if f.done == nil {
		f.done = make(chan struct{}, 1)
	}
	f.gen++
	f.left.Store(uint64(len(b.todo)))
	f.state.Store(f.gen << 2)
	go p.help(b, f.gen<<2)
	dups := 0
	for i := f.take(false); i >= 0; i = f.take(false) {
		dups += p.work(b.todo[i], b, b)
	}
	if f.state.CompareAndSwap(f.gen<<2, f.gen<<2|fanAlone) {
		return dups // the helper never started: it will find fanAlone
	}
	<-f.done
	h := f.h
	var prev fanChunk
	for i := len(f.taken) - 1; i >= 0; i-- { // in shard order: the helper took them backwards
		c := f.taken[i]
		if prev = (fanChunk{}); i > 0 {
			prev = f.taken[i-1]
		}
		b.obs = append(b.obs, h.obs[prev.obs:c.obs]...)
		b.tallies = append(b.tallies, h.tallies[prev.tallies:c.tallies]...)
		b.problems = append(b.problems, h.problems[prev.problems:c.problems]...)
	}
	dups += f.dups
	f.h, f.taken = nil, f.taken[:0]
	h.reset()
	p.pool.Put(h)
	return dups
}

// help is the helper of eachShard for the call whose state is start: it
// works on shards of b from the back of b.todo until none is left.
func (p *Processor) help(b *batch, start uint64) {
	f := &b.fan
	if !f.state.CompareAndSwap(start, start|fanRunning) {
		return // late: the caller did every shard
	}
	h := p.pool.Get().(*batch)
	h.anon, h.k.mark = b.anon, b.k.mark
	dups := 0
	for i := f.take(true); i >= 0; i = f.take(true) {
		dups += p.work(b.todo[i], b, h)
		f.taken = append(f.taken, fanChunk{obs: int32(len(h.obs)), tallies: int32(len(h.tallies)), problems: int32(len(h.problems))})
	}
	f.h, f.dups = h, dups
	f.done <- struct{}{}
}

// work does b.fan.kind's work on shard si, making edges, link tallies and
// problems in out (b itself, or a helper's batch).
func (p *Processor) work(si int32, b, out *batch) int {
	f := &b.fan
	if f.kind == fanAdd {
		return p.addShard(si, b, out, f.now)
	}
	sh := p.shards[si]
	sh.mu.Lock()
	sh.expire(f.pairCutoff, f.linkCutoff, out)
	sh.mu.Unlock()
	return 0
}

// addShard adds the spans of b in shard si under its lock, making their
// edges in out (b itself, or a helper's batch), and returns how many were
// duplicates.
func (p *Processor) addShard(si int32, b, out *batch, now int64) int {
	sh := p.shards[si]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.prepare(b.spans, b.order[b.starts[si]:b.starts[si+1]])
	dups := 0
	// SDKs export spans as they end, children before their parents:
	// going backwards lets parents come first, so most children pair
	// at once instead of waiting. Any order gives the same graph.
	hs := sh.idx.hashes // per span of the visit, its key's and parent's hashes (index.prepare)
	for k := b.starts[si+1] - 1; k >= b.starts[si]; k-- {
		s := &b.spans[b.order[k]]
		j := 2 * (k - b.starts[si])
		if !sh.add(s, hs[j], hs[j+1], now, out) {
			s.linkHi = s.linkLo // a duplicate's links were counted the first time
			dups++
		}
	}
	return dups
}
