package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// The snapshot document: a window of the graph saved as JSON
// (GET /api/graph/snapshot, servicegraph snapshot), read back by
// servicegraph diff. DocumentVersion changes whenever the format does;
// testdata/snapshot-v1.json is a version 1 document the tests must keep
// reading.
const (
	DocumentFormat  = "servicegraph-snapshot"
	DocumentVersion = 1
	// MaxDocumentBytes bounds a document ReadDocument accepts.
	MaxDocumentBytes = 1 << 30
)

// Document is a saved window of the graph: the sample, when it was taken
// and the filters that made it.
type Document struct {
	Taken   time.Time
	Filters Filters
	Sample
}

// Filters are the query filters of a document's window.
type Filters struct {
	Service   string
	Depth     int
	Direction Direction
	Cycles    bool
	Kinds     KindSet
}

// FiltersOf returns q's filters.
func FiltersOf(q Query) Filters {
	return Filters{Service: q.Service, Depth: q.Depth, Direction: q.Direction, Cycles: q.Cycles, Kinds: q.Kinds}
}

// The JSON of version 1. Private, so that Go types may change without
// changing the file format.
type docV1 struct {
	Format  string       `json:"format"`
	Version int          `json:"version"`
	Taken   time.Time    `json:"taken"`
	From    time.Time    `json:"from"`
	To      time.Time    `json:"to"`
	Filters docFiltersV1 `json:"filters"`
	Bounds  []float64    `json:"latency_bounds_seconds"`
	Nodes   []docNodeV1  `json:"nodes"`
	Edges   []docEdgeV1  `json:"edges"`
}

type docFiltersV1 struct {
	Service   string   `json:"service"`
	Depth     int      `json:"depth"`
	Direction string   `json:"direction"`
	Cycles    bool     `json:"cycles"`
	Kinds     []string `json:"kinds"`
}

type docNodeV1 struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Requests uint64 `json:"requests"`
	Failed   uint64 `json:"failed"`
}

type docEdgeV1 struct {
	Client      string     `json:"client"`
	Server      string     `json:"server"`
	Kind        string     `json:"kind"`
	Requests    uint64     `json:"requests"`
	Failed      uint64     `json:"failed"`
	MeanSeconds float64    `json:"mean_seconds"`
	FirstSeen   time.Time  `json:"first_seen"`
	LastSeen    time.Time  `json:"last_seen"`
	Histogram   *docHistV1 `json:"histogram"` // null when the window's histogram is unknown
}

type docHistV1 struct {
	Counts []uint64 `json:"counts"` // per bound of latency_bounds_seconds, then +Inf
	Sum    float64  `json:"sum"`
	Count  uint64   `json:"count"`
}

// WriteJSON writes d as a version DocumentVersion document, indented.
func (d *Document) WriteJSON(w io.Writer) error {
	out := docV1{Format: DocumentFormat, Version: DocumentVersion, Taken: d.Taken.UTC(), From: d.From.UTC(), To: d.To.UTC(),
		Filters: docFiltersV1{Service: d.Filters.Service, Depth: d.Filters.Depth, Direction: d.Filters.Direction.String(),
			Cycles: d.Filters.Cycles, Kinds: []string{}},
		Bounds: d.Bounds, Nodes: make([]docNodeV1, 0, len(d.Nodes)), Edges: make([]docEdgeV1, 0, len(d.Edges))}
	if out.Bounds == nil {
		out.Bounds = []float64{}
	}
	for _, k := range Kinds {
		if d.Filters.Kinds.Has(k) {
			out.Filters.Kinds = append(out.Filters.Kinds, k.String())
		}
	}
	for _, n := range d.Nodes {
		out.Nodes = append(out.Nodes, docNodeV1{Name: n.Name, Kind: n.Kind.String(), Requests: n.Count, Failed: n.Failed})
	}
	for _, e := range d.Edges {
		de := docEdgeV1{Client: e.Client, Server: e.Server, Kind: e.Kind.String(), Requests: e.Count, Failed: e.Failed,
			MeanSeconds: e.MeanSeconds, FirstSeen: e.FirstSeen.UTC(), LastSeen: e.LastSeen.UTC()}
		if e.Hist != nil {
			de.Histogram = &docHistV1{Counts: e.Hist.Counts, Sum: e.Hist.Sum, Count: e.Hist.Count}
		}
		out.Edges = append(out.Edges, de)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	return nil
}

// ErrNotDocument: the input is JSON but not a snapshot document (no
// "format": "servicegraph-snapshot").
var ErrNotDocument = errors.New("not a servicegraph snapshot")

// ReadDocument reads a snapshot document of any version up to
// DocumentVersion, at most MaxDocumentBytes, and checks it: its format
// and version, the window, every kind, the histograms against the bounds,
// every edge's nodes. Rates are the counts over the window. Errors say
// what is wrong and where (e.g. "edges[3].kind").
func ReadDocument(r io.Reader) (*Document, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxDocumentBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxDocumentBytes {
		return nil, fmt.Errorf("snapshot larger than %d bytes", MaxDocumentBytes)
	}
	var head struct {
		Format  *string `json:"format"`
		Version int     `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if head.Format == nil || *head.Format != DocumentFormat {
		return nil, fmt.Errorf("%w: want \"format\": %q", ErrNotDocument, DocumentFormat)
	}
	switch {
	case head.Version < 1:
		return nil, fmt.Errorf("snapshot version %d: want 1 to %d", head.Version, DocumentVersion)
	case head.Version > DocumentVersion:
		return nil, fmt.Errorf("snapshot version %d is newer than this servicegraph reads (up to %d): upgrade servicegraph", head.Version, DocumentVersion)
	}
	var in docV1
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("snapshot version 1: %w", err)
	}
	return in.document()
}

// document checks a version 1 document and converts it.
func (in *docV1) document() (*Document, error) {
	var errs []error
	const maxErrs = 10 // then "and more": a broken file of 100k edges says what is wrong, not all of it
	bad := func(format string, args ...any) {
		switch {
		case len(errs) < maxErrs:
			errs = append(errs, fmt.Errorf(format, args...))
		case len(errs) == maxErrs:
			errs = append(errs, errors.New("and more"))
		}
	}
	if !in.From.Before(in.To) {
		bad("from (%s) must be before to (%s)", in.From.Format(time.RFC3339Nano), in.To.Format(time.RFC3339Nano))
	}
	for i, b := range in.Bounds {
		if !(b > 0) || i > 0 && b <= in.Bounds[i-1] {
			bad("latency_bounds_seconds must be positive and increasing (at index %d: %g)", i, b)
			break
		}
	}
	d := &Document{Taken: in.Taken, Sample: Sample{From: in.From, To: in.To, Bounds: in.Bounds}}
	d.Filters = Filters{Service: in.Filters.Service, Depth: in.Filters.Depth, Cycles: in.Filters.Cycles}
	var err error
	if in.Filters.Direction != "" {
		if d.Filters.Direction, err = ParseDirection(in.Filters.Direction); err != nil {
			bad("filters.direction: %v", err)
		}
	}
	if d.Filters.Kinds, err = ParseKinds(strings.Join(in.Filters.Kinds, ",")); err != nil {
		bad("filters.kinds: %v", err)
	}
	secs := in.To.Sub(in.From).Seconds()
	names := make(map[string]bool, len(in.Nodes))
	for i, n := range in.Nodes {
		k, ok := parseNodeKind(n.Kind)
		if !ok {
			bad("nodes[%d].kind: unknown node kind %q (want service, database, topic or virtual)", i, n.Kind)
		}
		if n.Name == "" || names[n.Name] {
			bad("nodes[%d].name: empty or repeated name %q", i, n.Name)
		}
		if n.Failed > n.Requests {
			bad("nodes[%d]: failed (%d) above requests (%d)", i, n.Failed, n.Requests)
		}
		names[n.Name] = true
		d.Nodes = append(d.Nodes, ViewNode{Name: n.Name, Kind: k, Count: n.Requests, Failed: n.Failed, Rate: rate(n.Requests, secs)})
	}
	for i, e := range in.Edges {
		k, err := ParseKind(e.Kind)
		if err != nil {
			bad("edges[%d].kind: %v", i, err)
		}
		if !names[e.Client] || !names[e.Server] {
			bad("edges[%d]: %q → %q names a node the document does not list", i, e.Client, e.Server)
		}
		if e.Failed > e.Requests {
			bad("edges[%d]: failed (%d) above requests (%d)", i, e.Failed, e.Requests)
		}
		if !(e.MeanSeconds >= 0) {
			bad("edges[%d].mean_seconds must not be negative, got %g", i, e.MeanSeconds)
		}
		se := SampleEdge{ViewEdge: ViewEdge{Client: e.Client, Server: e.Server, Kind: k, Count: e.Requests, Failed: e.Failed,
			Rate: rate(e.Requests, secs), MeanSeconds: e.MeanSeconds, FirstSeen: e.FirstSeen, LastSeen: e.LastSeen}}
		if h := e.Histogram; h != nil {
			if len(h.Counts) != len(in.Bounds)+1 {
				bad("edges[%d].histogram: %d counts, want %d (one per bound, then +Inf)", i, len(h.Counts), len(in.Bounds)+1)
			}
			se.Hist = &Histogram{Counts: h.Counts, Sum: h.Sum, Count: h.Count}
		}
		d.Edges = append(d.Edges, se)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("snapshot version 1: %w", errors.Join(errs...))
	}
	return d, nil
}

func rate(n uint64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return float64(n) / secs
}

// parseNodeKind is the inverse of NodeKind.String.
func parseNodeKind(s string) (NodeKind, bool) {
	for i, n := range nodeKindNames {
		if s == n {
			return NodeKind(i), true
		}
	}
	return 0, false
}
