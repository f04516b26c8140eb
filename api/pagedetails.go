package api

import (
	"math"
	"net/http"
	"time"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/traceurl"
)

// detailsBody is the answer of /api/graph/details: every node and edge of
// the view with the numbers the page's side panel shows.
type detailsBody struct {
	From    time.Time     `json:"from"`
	To      time.Time     `json:"to"`
	Seconds float64       `json:"seconds"` // the window's length: rates divide by it
	Nodes   []detailsNode `json:"nodes"`
	Edges   []detailsEdge `json:"edges"`
}

type detailsNode struct {
	Name         string  `json:"name"`
	Kind         string  `json:"kind"`
	Requests     uint64  `json:"requests"` // incoming edges' requests in the window (a root's outgoing)
	Failed       uint64  `json:"failed"`
	Rate         float64 `json:"rate"` // requests per second
	ErrorPercent float64 `json:"error_percent"`
	// Links counts the span links this node's spans declared, by result,
	// since the graph began (link health); zero for databases and virtual
	// nodes.
	Links map[string]uint64 `json:"links"`
	sample
}

// sample is a sample trace of a node or edge: the latest traced
// occurrence in the window (of an edge; of a node, of its edges), its ids
// hex, and its link when a trace URL template is configured. Empty (left
// out) when the window has none.
type sample struct {
	TraceID  string `json:"trace_id,omitempty"`
	SpanID   string `json:"span_id,omitempty"`
	TraceURL string `json:"trace_url,omitempty"`
}

type detailsEdge struct {
	Client       string  `json:"client"`
	Server       string  `json:"server"`
	Kind         string  `json:"kind"`
	Async        bool    `json:"async"`
	Requests     uint64  `json:"requests"`
	Failed       uint64  `json:"failed"`
	Rate         float64 `json:"rate"`
	ErrorPercent float64 `json:"error_percent"`
	// MeanSeconds is the window's mean server duration (sync) or delay
	// (async); 0 when unknown.
	MeanSeconds float64 `json:"mean_seconds"`
	// Percentiles of the same duration or delay over the window (the
	// history buckets' histograms, as the diff's: graph.NewSample); null
	// when unknown (no occurrence with the measure, or a bucket restored
	// from a state file of format 1). HistogramCount is how many
	// occurrences they are of.
	P50Seconds     *float64  `json:"p50_seconds"`
	P95Seconds     *float64  `json:"p95_seconds"`
	P99Seconds     *float64  `json:"p99_seconds"`
	HistogramCount uint64    `json:"histogram_count"`
	FirstSeen      time.Time `json:"first_seen"`
	LastSeen       time.Time `json:"last_seen"`
	sample
}

// serveDetails answers the view of the common filters with each node's and
// edge's numbers, for the page's side panel and search.
func (s *Server) serveDetails(r *http.Request) apiFuncResult {
	snap, q, v, err := s.view(r)
	if err != nil {
		return apiFuncResult{err: err}
	}
	out := detailsBody{From: q.From.UTC(), To: q.To.UTC(), Seconds: q.To.Sub(q.From).Seconds(),
		Nodes: make([]detailsNode, 0, len(v.Nodes)), Edges: make([]detailsEdge, 0, len(v.Edges))}
	tpl := s.traceURL()
	from, to := q.From.UnixNano(), q.To.UnixNano()
	latest := make(map[string]graph.Exemplar) // a node's latest sample in the window
	smp := graph.NewSample(snap, v)
	for i := range v.Edges {
		e := &v.Edges[i]
		d := detailsEdge{Client: e.Client, Server: e.Server, Kind: e.Kind.String(), Async: e.Kind.Async(),
			Requests: e.Count, Failed: e.Failed, Rate: e.Rate, ErrorPercent: 100 * e.ErrorRate(),
			MeanSeconds: e.MeanSeconds, FirstSeen: e.FirstSeen.UTC(), LastSeen: e.LastSeen.UTC()}
		if _, data, ok := v.Source(i); ok && data != nil {
			if h := smp.Edges[i].Hist; h != nil {
				d.HistogramCount = h.Count
				d.P50Seconds = quantile(h, snap.Bounds, 0.5)
				d.P95Seconds = quantile(h, snap.Bounds, 0.95)
				d.P99Seconds = quantile(h, snap.Bounds, 0.99)
			}
			if ex := data.Exemplar; ex.Valid() && ex.Time >= from && ex.Time < to {
				d.sample = sampleOf(&ex, tpl)
				for _, n := range [2]string{e.Client, e.Server} {
					if have, ok := latest[n]; !ok || ex.Time > have.Time {
						latest[n] = ex
					}
				}
			}
		}
		out.Edges = append(out.Edges, d)
	}
	for i := range v.Nodes {
		n := &v.Nodes[i]
		d := detailsNode{Name: n.Name, Kind: n.Kind.String(), Requests: n.Count, Failed: n.Failed, Rate: n.Rate,
			ErrorPercent: 100 * n.ErrorRate(), Links: map[string]uint64{}}
		if sn, ok := snap.Node(n.Name); ok {
			for r := range graph.NumLinkResults {
				d.Links[r.String()] = sn.Links[r]
			}
		}
		if ex, ok := latest[n.Name]; ok {
			d.sample = sampleOf(&ex, tpl)
		}
		out.Nodes = append(out.Nodes, d)
	}
	return apiFuncResult{data: out}
}

// sampleOf is ex as a sample, linked by tpl.
func sampleOf(ex *graph.Exemplar, tpl traceurl.Template) sample {
	t, sp := ex.TraceID(), ex.SpanID()
	return sample{TraceID: t, SpanID: sp, TraceURL: tpl.URL(t, sp)}
}

// quantile estimates the q-quantile of h as Prometheus' histogram_quantile
// does: linear within the bucket that holds it, the first bucket starting
// at 0, and the last finite bound for the +Inf bucket. nil for an empty
// histogram.
func quantile(h *graph.Histogram, bounds []float64, q float64) *float64 {
	var total uint64
	for _, c := range h.Counts {
		total += c
	}
	if total == 0 || len(bounds) == 0 || len(h.Counts) != len(bounds)+1 {
		return nil
	}
	rank := q * float64(total)
	var cum uint64
	for i, c := range h.Counts {
		if c == 0 || float64(cum+c) < rank {
			cum += c
			continue
		}
		var x float64
		switch {
		case i == len(bounds): // +Inf: the highest finite bound
			x = bounds[len(bounds)-1]
		default:
			lo := 0.0
			if i > 0 {
				lo = bounds[i-1]
			}
			x = lo + (bounds[i]-lo)*(rank-float64(cum))/float64(c)
		}
		x = math.Round(x*1e9) / 1e9
		return &x
	}
	x := bounds[len(bounds)-1]
	return &x
}
