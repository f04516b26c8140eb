package graph_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

var updateState = flag.Bool("update-state", false, "rewrite testdata/state-v*.bin from the fixture (only when adding a format version)")

// fixtureTime is the store clock of the state fixtures.
var fixtureTime = time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)

// stateFixture builds the graph that testdata/state-v1.bin holds: every
// edge kind, failures, histograms, link tallies, a self-loop and history
// over three hours of one-minute buckets, with gaps.
func stateFixture(t testing.TB) *graph.Store {
	t.Helper()
	now := fixtureTime.Add(-3 * time.Hour)
	s := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: func() time.Time { return now }})
	user := s.User()
	web, api, db, batch := s.Node("web", graph.ServiceNode), s.Node("api", graph.ServiceNode),
		s.Node("orders-db", graph.DatabaseNode), s.Node("batch", graph.ServiceNode)
	peer := s.Node("stripe.com", graph.VirtualNode)
	for i := range 180 {
		if i%7 == 3 { // gaps in the history
			now = now.Add(time.Minute)
			continue
		}
		obs := []graph.Observation{
			{Client: user, Server: web, Kind: graph.Virtual, Seconds: [2]float64{0.05 * float64(i%5), -1}},
			{Client: web, Server: api, Kind: graph.Call, Failed: i%11 == 0, Seconds: [2]float64{0.125, 0.25}},
			{Client: api, Server: db, Kind: graph.Database, Seconds: [2]float64{-1, 0.0625}},
			{Client: api, Server: batch, Kind: graph.SpanLink, Seconds: [2]float64{float64(i % 13), -1}},
			{Client: batch, Server: batch, Kind: graph.SpanLink, Failed: true, Seconds: [2]float64{2, -1}},
		}
		if i%30 == 0 {
			obs = append(obs, graph.Observation{Client: api, Server: peer, Kind: graph.Virtual, Seconds: [2]float64{-1, 3.5}},
				graph.Observation{Client: web, Server: batch, Kind: graph.Messaging, Seconds: [2]float64{20, -1}})
		}
		s.Observe(obs, []graph.LinkTally{{Service: batch, Result: graph.LinkResolved, N: 2}, {Service: batch, Result: graph.LinkUnresolved, N: uint64(i % 2)}})
		now = now.Add(time.Minute)
	}
	return s
}

// TestWriteStateFixture writes the current version's fixture with
// -update-state (go test ./graph -run TestWriteStateFixture -update-state);
// a new format version adds a file, old ones are never rewritten.
func TestWriteStateFixture(t *testing.T) {
	if !*updateState {
		t.Skip("-update-state not given")
	}
	var buf bytes.Buffer
	if err := stateFixture(t).WriteState(&buf); err != nil {
		t.Fatal(err)
	}
	// Only the current version's file is written; an older one is never
	// rewritten, so a new version must add its file, not replace v1's.
	if err := os.WriteFile(fmt.Sprintf("testdata/state-v%d.bin", graph.StateVersion), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The checked-in v1 state file (written before history was stored in
// chunks, and before buckets had histograms) loads into exactly the graph
// that wrote it, but for the buckets' histograms: unknown (nil), so a
// window's percentiles are unknown until new buckets fill it.
func TestStateV1Fixture(t *testing.T) {
	b, err := os.ReadFile("testdata/state-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	want := stateFixture(t).Snapshot()
	s := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: func() time.Time { return fixtureTime }})
	if err := s.ReadState(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	got := s.Snapshot()
	if got.Base == nil {
		t.Fatal("a file without the clean mark (every v1 file before it) must restore as unclean: no counter base")
	}
	if !reflect.DeepEqual(got.Nodes, want.Nodes) {
		t.Fatalf("nodes:\n%+v\nwant\n%+v", got.Nodes, want.Nodes)
	}
	if len(got.Edges) != len(want.Edges) || len(got.Edges) != 7 {
		t.Fatalf("%d edges, want %d (7)", len(got.Edges), len(want.Edges))
	}
	for i := range got.Edges {
		g, w := got.Edges[i], want.Edges[i]
		gb, wb := append(g.History.Buckets(), g.Open), append(w.History.Buckets(), w.Open)
		for j := range wb {
			if gb[j].Hist != nil || gb[j].HistKnown() != (wb[j].N == 0) {
				t.Fatalf("edge %s>%s bucket %d: histogram %v from a v1 file", g.Client, g.Server, j, gb[j].Hist)
			}
			wb[j].Hist = nil
		}
		if !reflect.DeepEqual(gb, wb) || g.History.Len() == 0 {
			t.Fatalf("edge %s>%s history: %d buckets, want %d", g.Client, g.Server, g.History.Len(), w.History.Len())
		}
		if _, ok := g.WindowHist(fixtureTime.Add(-4*time.Hour), fixtureTime, time.Minute); ok && g.Open.N > 0 {
			t.Fatalf("edge %s>%s: a window histogram from a v1 file", g.Client, g.Server)
		}
		g.History, w.History = graph.History{}, graph.History{}
		g.Open.Hist, w.Open.Hist = nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("edge:\n%+v\nwant\n%+v", g, w)
		}
	}
	// A query over the three hours answers the same.
	q := graph.NewQuery(fixtureTime)
	q.From = fixtureTime.Add(-4 * time.Hour)
	gv, err1 := got.Query(q)
	wv, err2 := want.Query(q)
	if err1 != nil || err2 != nil || !reflect.DeepEqual(gv, wv) {
		t.Fatalf("query:\n%+v %v\nwant\n%+v %v", gv, err1, wv, err2)
	}
	if st := s.Stats(); st.HistoryBuckets != stateFixture(t).Stats().HistoryBuckets {
		t.Fatalf("stats %+v", st)
	}
}

// readState restores b into a fresh store at the fixture's time.
func readState(b []byte) (*graph.Store, error) {
	s := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: func() time.Time { return fixtureTime }})
	return s, s.ReadState(bytes.NewReader(b))
}

func TestStateFile(t *testing.T) {
	var buf bytes.Buffer
	if err := stateFixture(t).WriteFinalState(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	const header = 8 + 4 + 8 + 4 // magic, version, length, checksum
	with := func(edit func(b []byte) []byte) []byte { return edit(bytes.Clone(good)) }
	tests := []struct {
		name    string
		file    []byte
		wantErr string // empty: loads
	}{
		{"round trip", good, ""},
		{"empty", nil, "state is corrupt: short header: EOF"},
		{"not a state file", []byte("graph.state of some other program, long enough"), "state is corrupt: not a servicegraph state file"},
		{"truncated header", good[:header-3], "state is corrupt: short header: unexpected EOF"},
		{"truncated payload", good[:len(good)-10], "state is corrupt: payload length or checksum mismatch"},
		{"trailing bytes", append(bytes.Clone(good), 0), "state is corrupt: payload length or checksum mismatch"},
		{"flipped payload bit", with(func(b []byte) []byte { b[header+100] ^= 0x10; return b }),
			"state is corrupt: payload length or checksum mismatch"},
		{"newer version", with(func(b []byte) []byte { b[11] = 3; return b }),
			"state was written by a newer version: format 3, this build reads up to 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := readState(tc.file)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if n := len(s.Snapshot().Edges); n != 0 {
					t.Fatalf("%d edges restored from a refused file", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, want := s.Snapshot(), stateFixture(t).Snapshot()
			if !reflect.DeepEqual(got.Nodes, want.Nodes) || len(got.Edges) != 7 || len(want.Edges) != 7 {
				t.Fatalf("nodes %+v edges %d, want %+v and 7", got.Nodes, len(got.Edges), want.Nodes)
			}
			for i := range got.Edges {
				g, w := got.Edges[i], want.Edges[i]
				if !reflect.DeepEqual(g.History.Buckets(), w.History.Buckets()) || !reflect.DeepEqual(g.Open, w.Open) {
					t.Fatalf("edge %s>%s history differs", g.Client, g.Server)
				}
				g.History, w.History = graph.History{}, graph.History{}
				if !reflect.DeepEqual(g, w) {
					t.Fatalf("edge:\n%+v\nwant\n%+v", g, w)
				}
			}
			if got.Base != nil {
				t.Fatal("a clean file without a counter base restores without one")
			}
		})
	}
}
