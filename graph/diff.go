package graph

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Sample is one window of the graph as a diff compares it: the nodes and
// edges of a view with, per edge, the latency or delay histogram of the
// window when it is known. NewSample makes one from a live snapshot,
// ReadDocument from a saved snapshot document.
type Sample struct {
	From, To time.Time
	Bounds   []float64    // histogram upper bounds, seconds (Snapshot.Bounds)
	Nodes    []ViewNode   // sorted by name
	Edges    []SampleEdge // sorted by client, server, kind
}

// SampleEdge is a view edge with its histogram over the window.
type SampleEdge struct {
	ViewEdge
	// Hist is the window's histogram of the edge's main measure (the
	// server-side duration of sync edges, client-side where the server
	// recorded none; the delay of async edges), nil when unknown. Counts
	// has one entry per bound of Sample.Bounds plus +Inf.
	Hist *Histogram
}

// NewSample returns the sample of view v, the result of s.Query. An
// edge's histogram over the window is the sum of its history buckets'
// histograms (EdgeData.WindowHist: the buckets the window's counts come
// from), so percentiles are those of exactly the occurrences counted. A
// bucket without one (restored from a state file of format 1, or merged
// from other bounds) leaves the window's unknown, unless the window holds
// every occurrence the edge has had since it was first seen (its count in
// the window equals its total): then the edge's cumulative histograms are
// the window's. Otherwise SampleEdge.Hist is nil and percentiles are
// unknown (the mean, from the buckets' sums, is exact either way).
func NewSample(s *Snapshot, v *View) Sample {
	out := Sample{From: v.From, To: v.To, Bounds: s.Bounds, Nodes: v.Nodes, Edges: make([]SampleEdge, len(v.Edges))}
	for i := range v.Edges {
		out.Edges[i].ViewEdge = v.Edges[i]
		_, data, ok := v.Source(i)
		if !ok {
			continue
		}
		if counts, known := data.WindowHist(v.From, v.To, s.BucketWidth); known && counts != nil {
			w := data.Window(v.From, v.To, s.BucketWidth)
			out.Edges[i].Hist = &Histogram{Counts: counts, Sum: w.Sum, Count: w.N}
		} else if data.Count == v.Edges[i].Count {
			out.Edges[i].Hist = mainHist(data)
		}
	}
	return out
}

// mainHist is the histogram of e's main measure: index 0 (server
// duration, or delay), else index 1 (client duration); nil when both are
// empty.
func mainHist(e *EdgeData) *Histogram {
	for i := range e.Hist {
		if e.Hist[i].Count > 0 {
			h := e.Hist[i]
			return &h
		}
	}
	return nil
}

// Quantile returns the q-quantile (0 < q < 1) of histogram h with upper
// bounds bounds, as Prometheus' histogram_quantile does: linear
// interpolation within the bucket that holds the rank, the first bucket
// starting at 0, and the highest finite bound for a rank in the +Inf
// bucket. ok is false for an empty or malformed histogram.
func Quantile(q float64, bounds []float64, h *Histogram) (v float64, ok bool) {
	if h == nil || len(h.Counts) != len(bounds)+1 || len(bounds) == 0 || q <= 0 || q >= 1 {
		return 0, false
	}
	var total uint64
	for _, c := range h.Counts {
		total += c
	}
	if total == 0 {
		return 0, false
	}
	rank := q * float64(total)
	var below uint64
	for i, c := range h.Counts {
		if float64(below+c) < rank || c == 0 {
			below += c
			continue
		}
		if i == len(bounds) {
			return bounds[len(bounds)-1], true
		}
		lo := 0.0
		if i > 0 {
			lo = bounds[i-1]
		}
		return lo + (bounds[i]-lo)*(rank-float64(below))/float64(c), true
	}
	return bounds[len(bounds)-1], true
}

// Status is what happened to a node or an edge between two windows.
type Status uint8

// The statuses, in the order a diff lists them for a person.
const (
	Same    Status = iota // in both windows, within the thresholds
	Added                 // only in the new window
	Removed               // only in the old (baseline) window
	Changed               // in both, with a change past a threshold
)

var statusNames = [...]string{"same", "added", "removed", "changed"}

// String returns same, added, removed or changed.
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Thresholds decide when a node or an edge present in both windows is
// Changed: any one crossed is enough.
type Thresholds struct {
	// Rate is the relative change of requests per second, |new−old|/old,
	// at or above which the rate changed (0.5: +50% or −50%).
	Rate float64
	// ErrorPoints is the change of the error percentage, in percentage
	// points, at or above which errors changed (1: 0.5% → 1.5%).
	ErrorPoints float64
	// Latency is the relative change, |new−old|/old, of the p95 latency or
	// async delay (the mean when either window's p95 is unknown) at or
	// above which it changed.
	Latency float64
}

// DefaultThresholds are the API's and the CLI's defaults.
var DefaultThresholds = Thresholds{Rate: 0.5, ErrorPoints: 1, Latency: 0.5}

// Validate reports every problem at once.
func (t Thresholds) Validate() error {
	var errs []error
	if !(t.Rate > 0) || math.IsInf(t.Rate, 0) {
		errs = append(errs, fmt.Errorf("rate threshold must be a positive number, got %g", t.Rate))
	}
	if !(t.ErrorPoints > 0 && t.ErrorPoints <= 100) {
		errs = append(errs, fmt.Errorf("error threshold must be above 0 and at most 100 percentage points, got %g", t.ErrorPoints))
	}
	if !(t.Latency > 0) || math.IsInf(t.Latency, 0) {
		errs = append(errs, fmt.Errorf("latency threshold must be a positive number, got %g", t.Latency))
	}
	return errors.Join(errs...)
}

// Diff compares two samples of the graph: Old (the baseline) and New.
type Diff struct {
	Old, New   Window
	Thresholds Thresholds
	Nodes      []NodeDiff // sorted by name
	Edges      []EdgeDiff // sorted by client, server, kind
}

// Window is a sample's time range.
type Window struct{ From, To time.Time }

// Reasons a node or an edge is Changed, in EdgeDiff.Reasons and
// NodeDiff.Reasons.
const (
	ReasonRate    = "rate"
	ReasonErrors  = "errors"
	ReasonLatency = "latency"
)

// NodeDiff is one node of either window.
type NodeDiff struct {
	Name    string
	Kind    NodeKind // the new window's kind when in both
	Status  Status
	Reasons []string  // why it is Changed: ReasonRate, ReasonErrors
	Old     *NodeSide // nil when Added
	New     *NodeSide // nil when Removed
}

// NodeSide is a node's numbers in one window.
type NodeSide struct {
	Count, Failed uint64
	Rate          float64 // requests per second of the window
	ErrorPercent  float64 // 100 × Failed/Count
}

// EdgeDiff is one edge of either window.
type EdgeDiff struct {
	Client, Server string
	Kind           Kind
	Status         Status
	Reasons        []string  // why it is Changed: ReasonRate, ReasonErrors, ReasonLatency
	Old            *EdgeSide // nil when Added
	New            *EdgeSide // nil when Removed
}

// EdgeSide is an edge's numbers in one window. For async edges
// (messaging_system, span_link) the seconds are the delay, for the others
// the latency.
type EdgeSide struct {
	Count, Failed       uint64
	Rate                float64 // requests per second of the window
	ErrorPercent        float64 // 100 × Failed/Count
	MeanSeconds         float64 // 0 when unknown
	P50, P95            float64 // seconds; valid when Percentiles
	Percentiles         bool    // the window's histogram is known (see NewSample)
	FirstSeen, LastSeen time.Time
}

// Compare returns the diff from old (the baseline) to new with
// thresholds t (validated). A node or an edge in one window only is Added
// or Removed; one in both is Changed if a threshold is crossed, else
// Same.
func Compare(old, new Sample, t Thresholds) (*Diff, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	d := &Diff{Old: Window{old.From, old.To}, New: Window{new.From, new.To}, Thresholds: t}
	on := slices.Clone(old.Nodes)
	nn := slices.Clone(new.Nodes)
	byName := func(a, b ViewNode) int { return cmp.Compare(a.Name, b.Name) }
	slices.SortFunc(on, byName)
	slices.SortFunc(nn, byName)
	i, j := 0, 0
	for i < len(on) || j < len(nn) {
		switch {
		case j == len(nn) || i < len(on) && on[i].Name < nn[j].Name:
			d.Nodes = append(d.Nodes, NodeDiff{Name: on[i].Name, Kind: on[i].Kind, Status: Removed, Old: nodeSide(&on[i])})
			i++
		case i == len(on) || nn[j].Name < on[i].Name:
			d.Nodes = append(d.Nodes, NodeDiff{Name: nn[j].Name, Kind: nn[j].Kind, Status: Added, New: nodeSide(&nn[j])})
			j++
		default:
			nd := NodeDiff{Name: nn[j].Name, Kind: nn[j].Kind, Old: nodeSide(&on[i]), New: nodeSide(&nn[j])}
			nd.Reasons = t.reasons(d.rateRatio(nd.Old.Count, nd.New.Count), nd.Old.ErrorPercent, nd.New.ErrorPercent, nil, nil)
			if len(nd.Reasons) > 0 {
				nd.Status = Changed
			}
			d.Nodes = append(d.Nodes, nd)
			i, j = i+1, j+1
		}
	}
	oe, ne := slices.Clone(old.Edges), slices.Clone(new.Edges)
	slices.SortFunc(oe, compareEdges)
	slices.SortFunc(ne, compareEdges)
	i, j = 0, 0
	for i < len(oe) || j < len(ne) {
		c := 0
		switch {
		case j == len(ne):
			c = -1
		case i == len(oe):
			c = 1
		default:
			c = compareEdges(oe[i], ne[j])
		}
		switch {
		case c < 0:
			e := &oe[i]
			d.Edges = append(d.Edges, EdgeDiff{Client: e.Client, Server: e.Server, Kind: e.Kind, Status: Removed, Old: edgeSide(e, old.Bounds)})
			i++
		case c > 0:
			e := &ne[j]
			d.Edges = append(d.Edges, EdgeDiff{Client: e.Client, Server: e.Server, Kind: e.Kind, Status: Added, New: edgeSide(e, new.Bounds)})
			j++
		default:
			e := &ne[j]
			ed := EdgeDiff{Client: e.Client, Server: e.Server, Kind: e.Kind, Old: edgeSide(&oe[i], old.Bounds), New: edgeSide(e, new.Bounds)}
			ed.Reasons = t.reasons(d.rateRatio(ed.Old.Count, ed.New.Count), ed.Old.ErrorPercent, ed.New.ErrorPercent, ed.Old, ed.New)
			if len(ed.Reasons) > 0 {
				ed.Status = Changed
			}
			d.Edges = append(d.Edges, ed)
			i, j = i+1, j+1
		}
	}
	return d, nil
}

func compareEdges(a, b SampleEdge) int {
	return cmp.Or(cmp.Compare(a.Client, b.Client), cmp.Compare(a.Server, b.Server), cmp.Compare(a.Kind, b.Kind))
}

// reasons lists the thresholds crossed; rate is the relative change of
// the rate; old and new sides carry the seconds of edges (nil for nodes).
func (t Thresholds) reasons(rate, oldErr, newErr float64, o, n *EdgeSide) []string {
	var out []string
	if math.Abs(rate) >= t.Rate {
		out = append(out, ReasonRate)
	}
	if math.Abs(newErr-oldErr) >= t.ErrorPoints {
		out = append(out, ReasonErrors)
	}
	if o != nil && n != nil {
		a, b := o.MeanSeconds, n.MeanSeconds
		if o.Percentiles && n.Percentiles {
			a, b = o.P95, n.P95
		}
		if a > 0 && b > 0 && RelChange(a, b) >= t.Latency {
			out = append(out, ReasonLatency)
		}
	}
	return out
}

// RateChange returns the change of the rate of something counted
// oldCount times in the old window and newCount times in the new one:
// the difference of the rates (per second) and their relative change,
// (new − old)/old, computed from the counts and the windows' lengths so
// that equal windows give exact ratios (10 → 30 requests is 2, not
// 2.0000000000000004). ok is false when oldCount is 0.
func (d *Diff) RateChange(oldCount, newCount uint64) (delta, ratio float64, ok bool) {
	os, ns := d.Old.To.Sub(d.Old.From).Seconds(), d.New.To.Sub(d.New.From).Seconds()
	if os <= 0 || ns <= 0 {
		return 0, 0, false
	}
	oc, nc := float64(oldCount), float64(newCount)
	delta = (nc*os - oc*ns) / (os * ns)
	if oldCount == 0 {
		return delta, 0, false
	}
	return delta, (nc*os - oc*ns) / (oc * ns), true
}

// rateRatio is RateChange's ratio, +Inf when oldCount is 0 and newCount
// is not.
func (d *Diff) rateRatio(oldCount, newCount uint64) float64 {
	_, r, ok := d.RateChange(oldCount, newCount)
	if !ok {
		if newCount == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return r
}

// RelChange is |new−old|/old; +Inf when old is 0 and new is not, 0 when
// both are.
func RelChange(old, new float64) float64 {
	switch {
	case old == new:
		return 0
	case old == 0:
		return math.Inf(1)
	}
	return math.Abs(new-old) / math.Abs(old)
}

func nodeSide(n *ViewNode) *NodeSide {
	return &NodeSide{Count: n.Count, Failed: n.Failed, Rate: n.Rate, ErrorPercent: 100 * n.ErrorRate()}
}

func edgeSide(e *SampleEdge, bounds []float64) *EdgeSide {
	s := &EdgeSide{Count: e.Count, Failed: e.Failed, Rate: e.Rate, ErrorPercent: 100 * e.ErrorRate(),
		MeanSeconds: e.MeanSeconds, FirstSeen: e.FirstSeen, LastSeen: e.LastSeen}
	p50, ok50 := Quantile(0.5, bounds, e.Hist)
	p95, ok95 := Quantile(0.95, bounds, e.Hist)
	if ok50 && ok95 {
		s.P50, s.P95, s.Percentiles = p50, p95, true
	}
	return s
}

// Counts returns how many nodes and edges have each status, indexed by
// Status.
func (d *Diff) Counts() (nodes, edges [len(statusNames)]int) {
	for i := range d.Nodes {
		nodes[d.Nodes[i].Status]++
	}
	for i := range d.Edges {
		edges[d.Edges[i].Status]++
	}
	return nodes, edges
}

// View returns the union of the two windows as a view, for what needs
// one (the renderer's size bounds, a topology hash): every node and edge
// of the diff, with the new window's numbers (the old window's for
// removed ones) over the new window.
func (d *Diff) View() *View {
	v := &View{From: d.New.From, To: d.New.To, Nodes: make([]ViewNode, 0, len(d.Nodes)), Edges: make([]ViewEdge, 0, len(d.Edges))}
	for i := range d.Nodes {
		n := &d.Nodes[i]
		s := n.New
		if s == nil {
			s = n.Old
		}
		v.Nodes = append(v.Nodes, ViewNode{Name: n.Name, Kind: n.Kind, Count: s.Count, Failed: s.Failed, Rate: s.Rate})
	}
	for i := range d.Edges {
		e := &d.Edges[i]
		s := e.New
		if s == nil {
			s = e.Old
		}
		v.Edges = append(v.Edges, ViewEdge{Client: e.Client, Server: e.Server, Kind: e.Kind, Count: s.Count, Failed: s.Failed,
			Rate: s.Rate, MeanSeconds: s.MeanSeconds, FirstSeen: s.FirstSeen, LastSeen: s.LastSeen})
	}
	return v
}
