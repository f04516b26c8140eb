package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/traceurl"
)

// rowsNames and rowsFloats are the awkward values: HTML and JSON
// specials, control bytes, invalid UTF-8, U+2028, floats at the edges of
// encoding/json's 'f' and 'e' formats.
var (
	rowsNames  = []string{"", "checkout", `a"b\c`, "<script>&amp;", "tab\tnl\nnul\x00\x1f", "ümlaut-服务", "bad\xff\xfeutf8", "line\u2028sep\u2029", "%>:"}
	rowsFloats = []float64{0, 1, -1, 0.1, 1.0 / 3, 1e-6, 9.99e-7, 1e-7, 5e-324, 1e20, 1e21, 123456789.125, 1e300, -2.5e-9}
)

// TestRowsJSONMatchesEncodingJSON: the streamed rows are byte for byte
// what encoding/json wrote for the row structs.
func TestRowsJSONMatchesEncodingJSON(t *testing.T) {
	for _, name := range rowsNames {
		for _, f := range rowsFloats {
			checkRows(t, name, f, 7, 3)
		}
	}
}

func FuzzRowsJSON(f *testing.F) {
	for i, name := range rowsNames {
		f.Add(name, rowsFloats[i%len(rowsFloats)], uint64(i), uint64(i/2))
	}
	f.Fuzz(func(t *testing.T, name string, x float64, count, failed uint64) {
		if !finite(x) || math.Abs(x) > 1e300 {
			return
		}
		checkRows(t, name, x, count, failed)
	})
}

func checkRows(t *testing.T, name string, f float64, count, failed uint64) {
	t.Helper()
	n := nodeRow{ID: name, Title: name, Subtitle: name, MainStat: f, SecondaryStat: -f, ArcSuccess: f / 3, ArcFailed: f * 7,
		Color: name, Requests: count, Failed: failed}
	e := edgeRow{ID: name, Source: name, Target: name + "x", MainStat: f, SecondaryStat: f / 7, Thickness: int(count % 6),
		Color: name, StrokeDasharray: name, ConnectionType: name, Requests: count, Failed: failed, MeanSeconds: f * 1e-3}
	for _, c := range []struct {
		got  []byte
		want any
	}{
		{appendNodeRow(nil, n, false), n},
		{appendNodeRow(nil, n, true), infinityNodeRow{nodeRow: n, ArcSuccessColor: arcSuccess, ArcFailedColor: arcFailed}},
		{appendEdgeRow(nil, e, nil), e},
		{appendEdgeRow(nil, e, []byte(e.ID)), e},
	} {
		want, err := json.Marshal(c.want)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.got, want) {
			t.Fatalf("name %q, float %v:\n got %s\nwant %s", name, f, c.got, want)
		}
	}
}

// TestRowsStreamed: a whole answer, written across many flushes, is
// writeJSON's answer for the same rows.
func TestRowsStreamed(t *testing.T) {
	v := &graph.View{}
	for i := range 3000 {
		name := rowsNames[i%len(rowsNames)] + string(rune('a'+i%26))
		v.Nodes = append(v.Nodes, graph.ViewNode{Name: name, Kind: graph.ServiceNode, Count: uint64(i), Failed: uint64(i / 7), Rate: rowsFloats[i%len(rowsFloats)]})
		v.Edges = append(v.Edges, graph.ViewEdge{Client: name, Server: "s", Kind: graph.Kind(i % 5), Count: uint64(i + 1), Failed: uint64(i / 9),
			Rate: rowsFloats[(i+3)%len(rowsFloats)], MeanSeconds: rowsFloats[(i+5)%len(rowsFloats)]})
	}
	got := httptest.NewRecorder()
	writeRows(got, func(b []byte, flush func([]byte) []byte) []byte {
		times := sampleTimes(v)
		b = appendNodes(append(b, `{"nodes":`...), v, times, false, traceurl.Template{}, flush)
		return append(appendEdges(append(b, `,"edges":`...), v, times, traceurl.Template{}, flush), '}')
	})
	want := httptest.NewRecorder()
	writeJSON(want, nil, 200, dataBody{Nodes: nodeRows(v, traceurl.Template{}), Edges: edgeRows(v, traceurl.Template{})})
	if got.Body.Len() < 4*rowsBufferSize || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
		t.Fatalf("streamed answer (%d bytes) differs from encoding/json's (%d bytes)", got.Body.Len(), want.Body.Len())
	}
	for i := range v.Edges {
		if id, want := appendEdgeID(nil, &v.Edges[i]), edgeID(&v.Edges[i]); string(id) != want {
			t.Fatalf("appendEdgeID = %q, edgeID = %q", id, want)
		}
	}
	if ct := got.Header().Get("Content-Type"); ct != want.Header().Get("Content-Type") {
		t.Errorf("Content-Type %q, want %q", ct, want.Header().Get("Content-Type"))
	}
}

// rowsStore is a graph at the clock *now with 40 edges of every kind
// between services named from rowsNames and s0..s6, every third failed
// if failed; and the observations that made them.
func rowsStore(t *testing.T, now *time.Time, failed bool) (*graph.Store, []graph.Observation) {
	t.Helper()
	st, err := graph.New(graph.NewDefaultConfig(), graph.Settings{Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	var obs []graph.Observation
	for i := range 40 {
		c, s := st.Node(rowsNames[i%len(rowsNames)]+"c", graph.ServiceNode), st.Node(fmt.Sprintf("s%d", i%7), graph.ServiceNode)
		obs = append(obs, graph.Observation{Client: c, Server: s, Kind: graph.Kind(i % 5), Failed: failed && i%3 == 0, Seconds: [2]float64{float64(i) / 7, 0.1}})
	}
	st.Observe(obs, nil)
	return st, obs
}

// TestRowsCached: edge rows served from the topology's row cache are
// encoding/json's rows of each view as the graph changes under it: an
// edge changed, the window moved a bucket, the busiest edge changed (every
// thickness), a new edge (a new topology), a filtered view.
func TestRowsCached(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st, obs := rowsStore(t, &now, true)
	edges := func(q graph.Query) (got, want []byte, v *graph.View) {
		t.Helper()
		v, err := st.Snapshot().Query(q)
		if err != nil {
			t.Fatal(err)
		}
		got = appendEdges(nil, v, sampleTimes(v), traceurl.Template{}, func(b []byte) []byte { return b })
		want, err = json.Marshal(edgeRows(v, traceurl.Template{}))
		if err != nil {
			t.Fatal(err)
		}
		return got, want, v
	}
	check := func(step string, q graph.Query) {
		t.Helper()
		got, want, v := edges(q)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: cached rows\n%s\nwant\n%s", step, got, want)
		}
		if len(v.Edges) == 0 {
			t.Fatalf("%s: empty view", step)
		}
	}
	nq := func() graph.Query { return graph.NewQuery(now.Add(30 * time.Second)) }
	check("first", nq())
	check("again", nq())
	st.Observe(obs[3:4], nil)
	check("one edge changed", nq())
	now = now.Add(time.Minute)
	st.Observe(obs[5:9], nil)
	check("later", nq())
	q := nq()
	q.From, q.To = q.From.Add(-time.Minute), q.To.Add(-time.Minute) // as long, without the last bucket
	check("an earlier window", q)
	q.From = q.To.Add(-20 * time.Second) // shorter: other rates
	check("a shorter window", q)
	for range 50 {
		st.Observe(obs[10:11], nil) // the busiest edge
	}
	check("busiest changed", nq())
	st.Observe([]graph.Observation{{Client: st.Node("new", graph.ServiceNode), Server: obs[0].Server, Kind: graph.Call}}, nil)
	check("new topology", nq())
	q = nq()
	q.Kinds = graph.KindSet(0).With(graph.Call)
	check("filtered", q)
}

// TestRowsCarriedToNewTopology: a new topology's first answer takes the
// rows of the edges that did not change from the previous topology's
// cache (the same bytes, not encoded again) and encodes only the new and
// the changed edges; its answer is encoding/json's. Should the old
// topology answer again, it encodes the rows it gave away.
func TestRowsCarriedToNewTopology(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st, obs := rowsStore(t, &now, false)
	q := graph.NewQuery(now.Add(30 * time.Second))
	answer := func(v *graph.View) *rowCache {
		t.Helper()
		got := appendEdges(nil, v, sampleTimes(v), traceurl.Template{}, func(b []byte) []byte { return b })
		want, err := json.Marshal(edgeRows(v, traceurl.Template{}))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("rows\n%s\nwant\n%s", got, want)
		}
		return v.Shared(rowCacheKey{}, nil).(*rowCache)
	}
	old, err := st.Snapshot().Query(q)
	if err != nil {
		t.Fatal(err)
	}
	oldRows := answer(old)
	// Where each edge's row is, by its data.
	before := map[*graph.EdgeData]*byte{}
	for _, r := range oldRows.rows {
		before[r.data] = &r.row[0]
	}
	st.Observe([]graph.Observation{obs[3], {Client: st.Node("new", graph.ServiceNode), Server: obs[0].Server, Kind: graph.Call}}, nil)
	snap := st.Snapshot()
	v, err := snap.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	rc := answer(v)
	if rc == oldRows || rc.prev != nil {
		t.Fatal("the new topology has the old cache, or still holds it")
	}
	taken, encoded := 0, 0
	for _, r := range rc.rows {
		if p, ok := before[r.data]; ok && p == &r.row[0] {
			taken++
		} else {
			encoded++
		}
	}
	if taken != len(v.Edges)-2 || encoded != 2 {
		t.Fatalf("%d rows taken, %d encoded; want %d and 2 (the new edge, the changed one)", taken, encoded, len(v.Edges)-2)
	}
	answer(old) // the old topology again: it encodes what it gave away
}

// TestRowsKeptWhenWindowMoves: when the window moves a bucket, the rows
// of the edges whose counts in it did not change are served as they were
// encoded (not encoded again); the edge observed meanwhile is encoded
// anew; the answer is encoding/json's.
func TestRowsKeptWhenWindowMoves(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st, obs := rowsStore(t, &now, false)
	answer := func(q graph.Query) (got, want []byte, v *graph.View, rc *rowCache) {
		t.Helper()
		v, err := st.Snapshot().Query(q)
		if err != nil {
			t.Fatal(err)
		}
		got = appendEdges(nil, v, sampleTimes(v), traceurl.Template{}, func(b []byte) []byte { return b })
		want, err = json.Marshal(edgeRows(v, traceurl.Template{}))
		if err != nil {
			t.Fatal(err)
		}
		return got, want, v, v.Shared(rowCacheKey{}, nil).(*rowCache)
	}
	got, want, v0, rc := answer(graph.NewQuery(now.Add(30 * time.Second)))
	if !bytes.Equal(got, want) {
		t.Fatalf("rows\n%s\nwant\n%s", got, want)
	}
	// Mark every kept row: a row served as kept shows the mark, one
	// encoded again does not.
	const id, marked = `{"id":"`, `{"id":"~`
	for i := range rc.rows {
		if r := &rc.rows[i]; r.data != nil {
			r.row = append([]byte(marked), r.row[len(id):]...)
			r.cut++
		}
	}
	now = now.Add(time.Minute)
	st.Observe(obs[3:4], nil)
	got, want, v1, rc1 := answer(graph.NewQuery(now.Add(30 * time.Second)))
	lo0, _ := v0.Window()
	if lo1, _ := v1.Window(); lo1 == lo0 || rc1 != rc {
		t.Fatalf("window from bucket %d to %d, row cache %p to %p: want another bucket, the same cache", lo0, lo1, rc, rc1)
	}
	if kept := bytes.Count(got, []byte(marked)); kept != len(v1.Edges)-1 {
		t.Errorf("%d rows kept; want %d (all but the edge observed)", kept, len(v1.Edges)-1)
	}
	if got = bytes.ReplaceAll(got, []byte(marked), []byte(id)); !bytes.Equal(got, want) {
		t.Fatalf("rows\n%s\nwant\n%s", got, want)
	}
}

// thicknessSteps gives thickness's value for every count: every count up
// to small largest counts, and for large ones each step's boundary ±1 and
// random counts.
func TestThicknessSteps(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, maxCount := range []uint64{0, 1, 2, 3, 4, 7, 10, 100, 1000, 4097, 123456, 1 << 40, math.MaxUint64 - 1, math.MaxUint64} {
		s := newThicknessSteps(maxCount)
		var counts []uint64
		if maxCount <= 5000 {
			for c := uint64(0); c <= maxCount+3; c++ {
				counts = append(counts, c)
			}
		} else {
			for _, b := range s {
				counts = append(counts, b-1, b, b+1)
			}
			for range 10000 {
				counts = append(counts, rng.Uint64N(maxCount))
			}
			counts = append(counts, 0, 1, maxCount)
		}
		for _, c := range counts {
			if c > maxCount && maxCount > 1 {
				continue // no edge counts more than the largest
			}
			if got, want := s.of(c), thickness(c, maxCount); got != want {
				t.Fatalf("largest %d, count %d: steps give %d, thickness %d (steps %v)", maxCount, c, got, want, *s)
			}
		}
	}
}
