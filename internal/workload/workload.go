// Package workload reads the benchmark workload format of ../shared/bench
// (records of a 4-byte big-endian length and one protobuf
// ExportTraceServiceRequest) and its truth file, and compares a graph
// snapshot with the truth. It serves tests, benchmarks and scripts only.
package workload

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/servicegraph/servicegraph/graph"
)

// ReadAll loads every record of path, undecoded.
func ReadAll(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var out [][]byte
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: record %d: %w", path, len(out), err)
		}
		b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("%s: record %d: %w", path, len(out), err)
		}
		out = append(out, b)
	}
}

// Edge is a truth edge; Kind is call, messaging, link, database or virtual.
type Edge struct {
	Source string `json:"source"`
	Target string `json:"target"`
	Kind   string `json:"kind"`
	Count  uint64 `json:"count"`
	Failed uint64 `json:"failed"`
}

func (e Edge) String() string {
	return fmt.Sprintf("%s %s>%s %d/%d", e.Kind, e.Source, e.Target, e.Count, e.Failed)
}

// DatabaseNameAttributes is the truth's rule for naming a database node
// (../shared/bench/internal/truth): db.namespace, else db.name, else the
// database system. servicegraph's default puts the address it is reached at
// (server.address and the other peer attributes) before the system, as
// Tempo does (issue 15), so a db.system-only span with server.address
// redis.internal is the node redis there and redis.internal here: runs
// compared with a truth file name databases by this list
// (pairing.Config.DatabaseNameAttributes, or ServeFlags for the binary).
var DatabaseNameAttributes = []string{"db.namespace", "db.name", "db.system.name", "db.system"}

// ServeFlags are the flags of `servicegraph serve` that make its edges
// comparable with a truth file: DatabaseNameAttributes.
func ServeFlags() []string {
	return []string{"--database-name-attributes", strings.Join(DatabaseNameAttributes, ",")}
}

// Truth is the truth file written beside a workload.
type Truth struct {
	Spans    int    `json:"spans"`
	Requests int    `json:"requests"`
	Edges    []Edge `json:"edges"`
}

// LoadTruth reads a truth file.
func LoadTruth(path string) (*Truth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t Truth
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &t, nil
}

// Times is the truth of the workload sent n times over, each copy under
// trace ids of its own: every edge's counts n times.
func (t *Truth) Times(n int) *Truth {
	out := &Truth{Spans: t.Spans * n, Requests: t.Requests * n, Edges: make([]Edge, len(t.Edges))}
	for i, e := range t.Edges {
		e.Count *= uint64(n)
		e.Failed *= uint64(n)
		out.Edges[i] = e
	}
	return out
}

var truthKind = map[graph.Kind]string{graph.Call: "call", graph.Messaging: "messaging", graph.SpanLink: "link",
	graph.Database: "database", graph.Virtual: "virtual"}

// Edges converts a snapshot's edges to truth form, leaving out user → X
// edges (root SERVER spans), which the truth does not define.
func Edges(s *graph.Snapshot) []Edge {
	var out []Edge
	for _, e := range s.Edges {
		if e.Kind == graph.Virtual && e.Client == graph.UserNode {
			continue
		}
		out = append(out, Edge{Source: e.Client, Target: e.Server, Kind: truthKind[e.Kind], Count: e.Count, Failed: e.Failed})
	}
	return out
}

// Diff lists the differences between want and got, one line each; empty
// means equal.
func Diff(want, got []Edge) []string {
	key := func(e Edge) string { return e.Kind + " " + e.Source + ">" + e.Target }
	w := map[string]Edge{}
	for _, e := range want {
		w[key(e)] = e
	}
	var out []string
	for _, e := range got {
		t, ok := w[key(e)]
		delete(w, key(e))
		switch {
		case !ok:
			out = append(out, "extra   "+e.String())
		case t != e:
			out = append(out, fmt.Sprintf("differs %s (truth %d/%d)", e, t.Count, t.Failed))
		}
	}
	for _, e := range w {
		out = append(out, "missing "+e.String())
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Compare(a[8:], b[8:]) })
	return out
}

// Summary counts truth edges found exactly, per kind.
func Summary(want, got []Edge) string {
	g := map[string]Edge{}
	for _, e := range got {
		g[e.Kind+" "+e.Source+">"+e.Target] = e
	}
	type st struct{ n, exact int }
	per := map[string]*st{}
	for _, e := range want {
		s := per[e.Kind]
		if s == nil {
			s = &st{}
			per[e.Kind] = s
		}
		s.n++
		if g[e.Kind+" "+e.Source+">"+e.Target] == e {
			s.exact++
		}
	}
	var b strings.Builder
	for _, k := range []string{"call", "messaging", "link", "database", "virtual"} {
		if s := per[k]; s != nil {
			fmt.Fprintf(&b, "%s %d/%d ", k, s.exact, s.n)
		}
	}
	return strings.TrimSpace(b.String())
}
