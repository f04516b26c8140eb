package kafka

import (
	"context"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/servicegraph/servicegraph/kafka/kafkatest"
)

const testParts = 6

// recorder is a Handler that keeps what it was handed.
type recorder struct {
	name     string
	c        *Consumer // routes one link per live span record when set
	mu       sync.Mutex
	spans    []delivery
	links    []linkDelivery
	assigned [][]int32
	revoked  [][]int32
}

type delivery struct {
	key string
	pos Position
}

type linkDelivery struct {
	l   Link
	pos Position
}

func (r *recorder) Assigned(ps []int32) {
	r.mu.Lock()
	r.assigned = append(r.assigned, ps)
	r.mu.Unlock()
}
func (r *recorder) Revoked(ps []int32) { r.mu.Lock(); r.revoked = append(r.revoked, ps); r.mu.Unlock() }

func (r *recorder) Spans(ctx context.Context, v []byte, pos Position) error {
	r.mu.Lock()
	r.spans = append(r.spans, delivery{string(v), pos})
	r.mu.Unlock()
	if r.c != nil && !pos.Replay {
		// The record's value is its trace id in hex; link to "the next" trace.
		var target [16]byte
		hex.Decode(target[:], v)
		target[15]++
		return r.c.Route(ctx, &Link{TargetTrace: target, TargetSpan: [8]byte{1}, FromTrace: target, FromSpan: [8]byte{2},
			Service: r.name, Start: 1, SourcePartition: pos.Partition, SourceOffset: pos.Offset})
	}
	return nil
}

func (r *recorder) Link(_ context.Context, l *Link, pos Position) error {
	r.mu.Lock()
	r.links = append(r.links, linkDelivery{*l, pos})
	r.mu.Unlock()
	return nil
}

func (r *recorder) snapshot() ([]delivery, []linkDelivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.spans), slices.Clone(r.links)
}

func newCluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(testParts, "otlp_spans"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// collectorProducer writes like the Collector's kafkaexporter: key = hex
// trace id, partitioned by kgo.StickyKeyPartitioner(kgo.SaramaCompatHasher(fnv32a)).
func collectorProducer(t *testing.T, addrs []string, hasher kgo.PartitionerHasher) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic("otlp_spans"),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(hasher)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func saramaFNV() kgo.PartitionerHasher {
	return kgo.SaramaCompatHasher(func(b []byte) uint32 { h := fnv.New32a(); h.Write(b); return h.Sum32() })
}

// produceTraces writes n records; the value is the key (the test's
// handler does not decode OTLP).
func produceTraces(t *testing.T, cl *kgo.Client, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		var id [16]byte
		copy(id[:], fmt.Sprintf("trace%08d", i))
		k := []byte(hex.EncodeToString(id[:]))
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: k, Value: k}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func testConfig(addrs []string) Config {
	cfg := NewDefaultConfig()
	cfg.Brokers = addrs
	cfg.CommitInterval = 200 * time.Millisecond
	return cfg
}

func startMember(t *testing.T, cfg Config, name string, route bool) (*Consumer, *recorder) {
	t.Helper()
	r := &recorder{name: name}
	c, err := New(cfg, Settings{ClientOpts: []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond),
		kgo.MetadataMinAge(50 * time.Millisecond), kgo.MetadataMaxAge(time.Second),
		kgo.ClientID(name)}}, r)
	if err != nil {
		t.Fatal(err)
	}
	if route {
		r.c = c
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return c, r
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, with a deadline
	}
}

// Three members of one group over a 3-broker cluster: partition p of both
// topics goes to the same member, every record is handed over live
// exactly once, every link record reaches the owner of its target's
// trace, and the group's commits reach the end of every partition.
func TestGroupCoPartitionedJoin(t *testing.T) {
	cl := newCluster(t)
	addrs := cl.ListenAddrs()
	cfg := testConfig(addrs)
	var members []*Consumer
	var recs []*recorder
	for i := range 3 {
		c, r := startMember(t, cfg, fmt.Sprintf("m%d", i), true)
		members, recs = append(members, c), append(recs, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	g, err := cl.WaitGroupInfo(ctx, "servicegraph", func(g *GroupInfo) bool {
		return g != nil && g.State == "Stable" && len(g.Members) == 3 && g.NumAssigned() == 2*testParts
	})
	if err != nil {
		t.Fatalf("group not stable: %v %+v", err, g)
	}
	for _, m := range g.Members {
		s, l := m.Assignment["otlp_spans"], m.Assignment["otlp_spans_links"]
		slices.Sort(s)
		slices.Sort(l)
		if len(s) != testParts/3 || !slices.Equal(s, l) {
			t.Errorf("member %s: spans partitions %v, links partitions %v: want the same %d", m.ClientID, s, l, testParts/3)
		}
	}
	// Each member's Owned is what the group assigned it.
	waitFor(t, "every member to own 2 partitions", 10*time.Second, func() bool {
		for _, c := range members {
			if len(c.Owned()) != testParts/3 {
				return false
			}
		}
		return true
	})
	// Members shows the same, by client id, from any member.
	ms, err := members[2].Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 {
		t.Fatalf("Members: %+v", ms)
	}
	for i, m := range ms {
		if want := fmt.Sprintf("m%d", i); m.ClientID != want || !slices.Equal(m.Partitions, members[i].Owned()) {
			t.Errorf("member %d: %+v, want client id %s owning %v", i, m, want, members[i].Owned())
		}
	}
	trace := [16]byte{0xab, 15: 1}
	if got, want := members[0].PartitionOf(&trace), SaramaCompat.Partition([]byte("ab000000000000000000000000000001"), testParts); got != want || members[0].Partitions() != testParts {
		t.Errorf("PartitionOf %d, want %d; Partitions %d", got, want, members[0].Partitions())
	}

	const n = 300
	produceTraces(t, collectorProducer(t, addrs, saramaFNV()), 0, n)
	count := func() (spans, links int) {
		for _, r := range recs {
			s, l := r.snapshot()
			spans, links = spans+len(s), links+len(l)
		}
		return
	}
	waitFor(t, "every span and link record", 15*time.Second, func() bool { s, l := count(); return s >= n && l >= n })

	seen := map[string]int{}
	for _, r := range recs {
		spans, links := r.snapshot()
		owned := map[int32]bool{}
		for _, d := range spans {
			seen[d.key]++
			owned[d.pos.Partition] = true
			if d.pos.Replay {
				t.Errorf("%s: record at %d/%d flagged replay (committed %d)", r.name, d.pos.Partition, d.pos.Offset, d.pos.Committed)
			}
			if want := SaramaCompat.Partition([]byte(d.key), testParts); d.pos.Partition != want {
				t.Errorf("key %s in partition %d, want %d", d.key, d.pos.Partition, want)
			}
		}
		for _, d := range links {
			// Routed to the partition of the target's trace, which this member owns.
			if want := SaramaCompat.Partition(d.l.Key(), testParts); d.pos.Partition != want {
				t.Errorf("link to %x in links partition %d, want %d", d.l.TargetTrace, d.pos.Partition, want)
			}
			if !slices.Contains(members[slices.Index(recs, r)].Owned(), d.pos.Partition) {
				t.Errorf("%s got a link of partition %d it does not own", r.name, d.pos.Partition)
			}
		}
	}
	if s, l := count(); s != n || l != n || len(seen) != n {
		t.Fatalf("%d span records (%d distinct), %d link records; want %d each", s, len(seen), l, n)
	}
	var produced uint64
	for _, c := range members {
		s := c.Stats()
		produced += s.LinksProduced
		if s.Lag != 0 || s.Replaying != 0 || s.PartitionsOwned != testParts/3 {
			t.Errorf("stats %+v: want lag 0, nothing replaying, 2 partitions", s)
		}
	}
	if produced != n {
		t.Errorf("links produced %d, want %d", produced, n)
	}

	// Commits reach the end offsets of both topics (kadm, as an operator sees them).
	adm := kadm.NewClient(collectorProducer(t, addrs, saramaFNV()))
	ends, err := adm.ListEndOffsets(ctx, "otlp_spans", "otlp_spans_links")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "commits at the end offsets", 10*time.Second, func() bool {
		resp, err := adm.FetchOffsets(ctx, "servicegraph")
		if err != nil {
			return false
		}
		ok := true
		ends.Each(func(e kadm.ListedOffset) {
			if o, found := resp.Lookup(e.Topic, e.Partition); !found || o.At != e.Offset {
				ok = false
			}
		})
		return ok
	})
}

// GroupInfo is kfake's group snapshot.
type GroupInfo = kfake.GroupInfo

// liveOnce checks that every key of keys was handed live exactly once
// across recs, and returns how many replayed deliveries there were.
func liveOnce(t *testing.T, recs []*recorder, n int) (replayed int) {
	t.Helper()
	live := map[string]int{}
	for _, r := range recs {
		spans, _ := r.snapshot()
		for _, d := range spans {
			if d.pos.Replay {
				replayed++
				if d.pos.Offset >= d.pos.Committed {
					t.Errorf("replayed record at %d ≥ committed %d", d.pos.Offset, d.pos.Committed)
				}
				continue
			}
			live[d.key]++
		}
	}
	for k, c := range live {
		if c != 1 {
			t.Errorf("key %s handed live %d times", k, c)
		}
	}
	if len(live) != n {
		t.Errorf("%d keys handed live, want %d", len(live), n)
	}
	return replayed
}

func liveCount(recs ...*recorder) int {
	n := 0
	for _, r := range recs {
		spans, _ := r.snapshot()
		for _, d := range spans {
			if !d.pos.Replay {
				n++
			}
		}
	}
	return n
}

// A member joining takes partitions over: it replays their recent records
// flagged replay (offset < the commit it was assigned at) and then hands
// new ones live; a member leaving commits on revoke and the one taking its
// partitions back replays them too. No record is ever handed live twice.
func TestHandoverReplaysThenLive(t *testing.T) {
	cl := newCluster(t)
	addrs := cl.ListenAddrs()
	cfg := testConfig(addrs)
	prod := collectorProducer(t, addrs, saramaFNV())
	ctx, cancel := context.WithTimeout(context.Background(), 18*time.Second)
	defer cancel()

	a, ra := startMember(t, cfg, "a", false)
	if _, err := cl.WaitGroupStable(ctx, "servicegraph", 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to own every partition", 10*time.Second, func() bool { return len(a.Owned()) == testParts })
	produceTraces(t, prod, 0, 200)
	waitFor(t, "a to get 200 records", 10*time.Second, func() bool { return liveCount(ra) == 200 })
	waitFor(t, "a's commits", 10*time.Second, func() bool { return a.Stats().Commits > 0 && allCommitted(ctx, t, addrs) })

	b, rb := startMember(t, cfg, "b", false)
	waitFor(t, "b to own 3 partitions", 10*time.Second, func() bool { return len(b.Owned()) == testParts/2 })
	owned := b.Owned()
	ends := endOffsets(ctx, t, addrs)
	waitFor(t, "b to replay its partitions", 10*time.Second, func() bool {
		spans, _ := rb.snapshot()
		want := int64(0)
		for _, p := range owned {
			want += ends[p]
		}
		return int64(len(spans)) == want
	})
	if s := b.Stats(); s.Replaying != 0 || s.ReplayedRecords == 0 {
		t.Errorf("b after its replay: %+v", s)
	}
	spans, _ := rb.snapshot()
	for _, d := range spans {
		if !d.pos.Replay || d.pos.Committed != ends[d.pos.Partition] || !slices.Contains(owned, d.pos.Partition) {
			t.Fatalf("b: %+v: want replay of an owned partition, committed %d", d.pos, ends[d.pos.Partition])
		}
	}
	// a kept the other three without replaying them, and was told which
	// three it lost.
	var aOwned []int32
	for p := range int32(testParts) {
		if !slices.Contains(owned, p) {
			aOwned = append(aOwned, p)
		}
	}
	// a's side of the rebalance may end after b's: wait for a to settle
	// (the assertions below are exact once it has).
	waitFor(t, "a to own the other partitions", 10*time.Second, func() bool {
		owns := slices.Equal(a.Owned(), aOwned)
		ra.mu.Lock()
		defer ra.mu.Unlock()
		return owns && len(ra.revoked) > 0
	})
	if got := a.Owned(); !slices.Equal(got, aOwned) {
		t.Errorf("a owns %v, want %v", got, aOwned)
	}
	ra.mu.Lock()
	revokedA, assignedA := slices.Clone(ra.revoked), slices.Clone(ra.assigned)
	ra.mu.Unlock()
	if len(revokedA) != 1 || !slices.Equal(revokedA[0], owned) || len(assignedA) != 1 {
		t.Errorf("a: revoked %v (want [%v]), assigned %v (want one call)", revokedA, owned, assignedA)
	}
	if s := a.Stats(); s.ReplayedRecords != 0 {
		t.Errorf("a replayed %d records of partitions it kept", s.ReplayedRecords)
	}

	produceTraces(t, prod, 200, 200)
	waitFor(t, "400 live records", 10*time.Second, func() bool { return liveCount(ra, rb) == 400 })

	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	if err := b.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	scancel()
	endsB := endOffsets(ctx, t, addrs)
	waitFor(t, "a to own every partition again", 10*time.Second, func() bool { return len(a.Owned()) == testParts })
	produceTraces(t, prod, 400, 100)
	waitFor(t, "500 live records", 10*time.Second, func() bool { return liveCount(ra, rb) == 500 })
	// a replayed exactly b's partitions, up to b's commits.
	var bRecords int64
	for _, p := range owned {
		bRecords += endsB[p]
	}
	replayed := liveOnce(t, []*recorder{ra, rb}, 500)
	if s := a.Stats(); int64(s.ReplayedRecords) != bRecords || s.RejectedRecords != 0 {
		t.Errorf("a replayed %d records, want %d (b's partitions); stats %+v", s.ReplayedRecords, bRecords, s)
	}
	if want := int(bRecords) + len(spans); replayed != want {
		t.Errorf("%d replayed deliveries in all, want %d", replayed, want)
	}
}

// With Replay 0 a newly assigned partition starts at the commit: nothing
// is replayed.
func TestNoReplayWindow(t *testing.T) {
	cl := newCluster(t)
	addrs := cl.ListenAddrs()
	cfg := testConfig(addrs)
	prod := collectorProducer(t, addrs, saramaFNV())
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	a, ra := startMember(t, cfg, "a", false)
	waitFor(t, "a to own every partition", 10*time.Second, func() bool { return len(a.Owned()) == testParts })
	produceTraces(t, prod, 0, 50)
	waitFor(t, "a's records committed", 10*time.Second, func() bool { return liveCount(ra) == 50 && allCommitted(ctx, t, addrs) })
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	if err := a.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	scancel()
	cfg.Replay = 0
	b, rb := startMember(t, cfg, "b", false)
	waitFor(t, "b to own every partition", 10*time.Second, func() bool { return len(b.Owned()) == testParts })
	produceTraces(t, prod, 50, 10)
	waitFor(t, "b's 10 live records", 10*time.Second, func() bool { return liveCount(rb) == 10 })
	if spans, _ := rb.snapshot(); len(spans) != 10 {
		t.Fatalf("b handed %d records, want the 10 new ones", len(spans))
	}
}

func endOffsets(ctx context.Context, t *testing.T, addrs []string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, "otlp_spans")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// allCommitted reports whether the group's commits of the spans topic are
// at its end offsets.
func allCommitted(ctx context.Context, t *testing.T, addrs []string) bool {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, "servicegraph")
	if err != nil {
		return false
	}
	for p, end := range endOffsets(ctx, t, addrs) {
		if o, ok := resp.Lookup("otlp_spans", p); (!ok && end > 0) || (ok && o.At != end) {
			return false
		}
	}
	return true
}

// A member that goes away without committing (a crash, as its group sees
// it): the next owner hands again, live, exactly what it handled after
// its last commit (the bound on double counting) and nothing else; the
// link records the next owner routes again for those span records are
// dropped as duplicates, so each link is handed live once per owner
// generation at most and re-produced ones never.
func TestCrashBoundsDoubleCounting(t *testing.T) {
	cl := newCluster(t)
	addrs := cl.ListenAddrs()
	cfg := testConfig(addrs)
	prod := collectorProducer(t, addrs, saramaFNV())
	ctx, cancel := context.WithTimeout(context.Background(), 18*time.Second)
	defer cancel()

	a, ra := startMember(t, cfg, "a", true)
	waitFor(t, "a to own every partition", 10*time.Second, func() bool { return len(a.Owned()) == testParts })
	produceTraces(t, prod, 0, 100)
	waitFor(t, "a's 100 records and links committed", 10*time.Second, func() bool {
		_, links := ra.snapshot()
		return liveCount(ra) == 100 && len(links) == 100 && allCommitted(ctx, t, addrs)
	})
	waitFor(t, "a's link commits", 10*time.Second, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		for k, st := range a.parts {
			if k.topic == "otlp_spans_links" && st.sent != st.next {
				return false
			}
		}
		return true
	})
	a.noCommit.Store(true)
	produceTraces(t, prod, 100, 100)
	waitFor(t, "a's next 100 records and links", 10*time.Second, func() bool {
		_, links := ra.snapshot()
		return liveCount(ra) == 200 && len(links) == 200 && a.Stats().LinksProduced == 200
	})
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	if err := a.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	scancel()

	b, rb := startMember(t, cfg, "b", true)
	waitFor(t, "b to own every partition", 10*time.Second, func() bool { return len(b.Owned()) == testParts })
	waitFor(t, "b to hand a's uncommitted records again", 10*time.Second, func() bool {
		s := b.Stats()
		return liveCount(rb) == 100 && s.LinksProduced == 100 && s.DuplicateLinks == 100
	})
	// Every span record handed live twice is one of the 100 after a's last commit.
	live := map[string]int{}
	for _, r := range []*recorder{ra, rb} {
		spans, _ := r.snapshot()
		for _, d := range spans {
			if !d.pos.Replay {
				live[d.key]++
			}
		}
	}
	twice := 0
	for _, n := range live {
		if n == 2 {
			twice++
		}
	}
	if len(live) != 200 || twice != 100 {
		t.Errorf("%d keys live, %d twice; want 200 and 100", len(live), twice)
	}
	// Those b hands live again are flagged Redo (a's may have routed
	// their links); a's own were not.
	for _, r := range []*recorder{ra, rb} {
		spans, _ := r.snapshot()
		for _, d := range spans {
			if want := r == rb && !d.pos.Replay; d.pos.Redo != want {
				t.Errorf("%s: record %d of partition %d: Redo %v, want %v", r.name, d.pos.Offset, d.pos.Partition, d.pos.Redo, want)
				break
			}
		}
	}
	// b hands a's 100 uncommitted link records live once and drops its
	// own 100 re-routed ones.
	_, linksB := rb.snapshot()
	liveLinks := 0
	for _, d := range linksB {
		if !d.pos.Replay {
			liveLinks++
		}
	}
	if s := b.Stats(); liveLinks != 100 || s.DuplicateLinks != 100 || s.LinkRecords != 300 {
		t.Errorf("b: %d live links, stats %+v; want 100 live, 100 duplicates of 300 link records", liveLinks, s)
	}
}

// Broker faults mid-stream: the group coordinator moves twice. Members
// follow; every record is handed live exactly once, every link record
// too, and commits reach the end.
func TestBrokerFaultsMidStream(t *testing.T) {
	cl := newCluster(t)
	addrs := cl.ListenAddrs()
	cfg := testConfig(addrs)
	prod := collectorProducer(t, addrs, saramaFNV())
	ctx, cancel := context.WithTimeout(context.Background(), 18*time.Second)
	defer cancel()
	var recs []*recorder
	var members []*Consumer
	for i := range 2 {
		c, r := startMember(t, cfg, fmt.Sprintf("m%d", i), true)
		members, recs = append(members, c), append(recs, r)
	}
	waitFor(t, "both members own 3 partitions", 10*time.Second, func() bool {
		return len(members[0].Owned()) == 3 && len(members[1].Owned()) == 3
	})
	produceTraces(t, prod, 0, 100)
	waitFor(t, "100 records", 10*time.Second, func() bool { return liveCount(recs...) == 100 })

	cl.RehashCoordinators()
	produceTraces(t, prod, 100, 100)
	waitFor(t, "200 records", 10*time.Second, func() bool { return liveCount(recs...) == 200 })

	// kfake's leader moves (ShufflePartitionLeaders, MoveTopicPartition
	// before RemoveNode) bump partition epochs as an unclean election
	// would: franz-go then reports "lost records" and skips one now and
	// then (seen in 1 run of 3 here), so they are not part of an exact test.
	cl.RehashCoordinators()
	produceTraces(t, prod, 200, 100)
	waitFor(t, "300 records", 15*time.Second, func() bool { return liveCount(recs...) == 300 })
	liveOnce(t, recs, 300)
	// Each link handed live once (a partition replayed after a failed
	// commit hands some again, flagged replay).
	liveLinks := func() map[[2]int64]int {
		m := map[[2]int64]int{}
		for _, r := range recs {
			_, links := r.snapshot()
			for _, d := range links {
				if !d.pos.Replay {
					m[[2]int64{int64(d.l.SourcePartition), d.l.SourceOffset}]++
				}
			}
		}
		return m
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(liveLinks()) != 300 {
		if time.Now().After(deadline) {
			for _, m := range members {
				t.Logf("member stats %+v owned %v", m.Stats(), m.Owned())
			}
			kc, _ := kgo.NewClient(kgo.SeedBrokers(cl.ListenAddrs()...))
			ends, err := kadm.NewClient(kc).ListEndOffsets(ctx, "otlp_spans_links")
			kc.Close()
			var sum int64
			ends.Each(func(o kadm.ListedOffset) { sum += o.Offset; t.Logf("links end %d: %d", o.Partition, o.Offset) })
			t.Fatalf("%d links handed live, want 300; links topic end offsets sum %d (%v)", len(liveLinks()), sum, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, with a deadline
	}
	for k, n := range liveLinks() {
		if n != 1 {
			t.Errorf("link from %v handed live %d times", k, n)
		}
	}
	waitFor(t, "commits at the end", 10*time.Second, func() bool { return allCommitted(ctx, t, cl.ListenAddrs()) })
	for _, m := range members {
		if s := m.Stats(); s.FetchErrors != 0 || s.ProduceErrors != 0 {
			t.Errorf("stats %+v: want no fetch or produce errors", s)
		}
	}
}

// committer is a recorder that is a Committer: its mark is the number of
// records handed so far, and it keeps the highest mark committed.
type committer struct {
	*recorder
	committed int
}

func (c *committer) Checkpoint() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return uint64(len(c.spans) + len(c.links))
}

func (c *committer) Committed(mark uint64) {
	c.mu.Lock()
	c.committed = max(c.committed, int(mark))
	c.mu.Unlock()
}

func (c *committer) state() (handed, committed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.spans) + len(c.links), c.committed
}

// A Committer hears of each commit of everything handled before it
// (Committed with the mark Checkpoint gave as the offsets were taken),
// and of nothing the group did not accept: a member that cannot commit
// shows nothing of what it handled since.
func TestCommitterMarks(t *testing.T) {
	cl := newCluster(t)
	addrs := cl.ListenAddrs()
	cfg := testConfig(addrs)
	prod := collectorProducer(t, addrs, saramaFNV())
	h := &committer{recorder: &recorder{name: "a"}}
	c, err := New(cfg, Settings{ClientOpts: []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond)}}, h)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	waitFor(t, "a to own every partition", 10*time.Second, func() bool { return len(c.Owned()) == testParts })
	produceTraces(t, prod, 0, 50)
	waitFor(t, "50 records and their 50 links handed and committed", 10*time.Second, func() bool {
		handed, committed := h.state()
		return handed == 100 && committed == 100
	})
	allow := kafkatest.RefuseCommits(cl) // the brokers refuse the commits now
	errs := c.Stats().CommitErrors
	produceTraces(t, prod, 50, 50)
	waitFor(t, "50 more records and links handed, two commits refused", 10*time.Second, func() bool {
		handed, _ := h.state()
		return handed == 200 && c.Stats().LinksProduced == 100 && c.Stats().CommitErrors >= errs+2
	})
	if _, committed := h.state(); committed != 100 {
		t.Errorf("committed mark %d after refused commits, want 100", committed)
	}
	allow()
	waitFor(t, "the 100 others committed", 10*time.Second, func() bool { _, committed := h.state(); return committed == 200 })
}

// A link record below its source partition's mark is a duplicate only if
// that position was seen: a new owner handling again what an earlier
// owner could not commit routes every link of those records, among them
// links the earlier owner resolved at home (never routed) below a
// position it did route.
func TestDuplicateExact(t *testing.T) {
	st := &part{marks: map[int32]srcPos{}, seen: map[int32]map[srcPos]struct{}{}}
	for _, tc := range []struct {
		p    int32
		at   srcPos
		want bool
	}{
		{0, srcPos{5, 0}, false}, // routed by the earlier owner
		{1, srcPos{2, 0}, false}, // another source partition
		{0, srcPos{3, 1}, false}, // resolved at home by the earlier owner, routed by the new one
		{0, srcPos{5, 0}, true},  // routed again by the new owner
		{0, srcPos{3, 1}, true},
		{0, srcPos{6, 0}, false},
		{0, srcPos{6 + seenWindow + 1, 0}, false},
		{0, srcPos{4, 0}, true}, // below the window: taken as seen
	} {
		if got := st.duplicate(tc.p, tc.at); got != tc.want {
			t.Errorf("partition %d %+v: duplicate %v, want %v", tc.p, tc.at, got, tc.want)
		}
	}
}
