package graph

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Dimensions: extra labels on the edge metric series, from span or resource
// attributes (Tempo's dimensions with enable_client_server_prefix). Each
// span's values of the configured attributes make a tuple, interned here
// (DimTuple) and carried by pairing as a number; an observation names its
// client side's and server side's tuples, and the edge counts the
// occurrence in the sub-series of that pair as well as in its totals, so
// that the sub-series of an edge always sum to its totals. Nothing of this
// exists, per edge or per span, unless dimensions are configured.

// MaxDimensions bounds Config.Dimensions.
const MaxDimensions = 8

// MaxDimensionTuples bounds the distinct tuples of dimension values (value
// combinations) a store interns; past it a new combination is counted as
// the all-OverflowNode tuple (DimTupleOverflow).
const MaxDimensionTuples = 1 << 16

// The reserved tuples: every value empty, and every value OverflowNode.
const (
	DimTupleNone     uint32 = 0
	DimTupleOverflow uint32 = 1
)

// invalidLabelChar matches what Prometheus' strutil.SanitizeLabelName
// replaces with an underscore.
var invalidLabelChar = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// DimensionLabel returns the label suffix of a dimension attribute: every
// character outside [a-zA-Z0-9_] becomes "_" (service.namespace:
// service_namespace), as Tempo's enable_client_server_prefix names the
// labels client_<suffix> and server_<suffix>.
func DimensionLabel(attr string) string { return invalidLabelChar.ReplaceAllString(attr, "_") }

// validateDimensions checks a dimension list.
func validateDimensions(dims []string, maxValues, maxSeries int) []error {
	var errs []error
	if len(dims) > MaxDimensions {
		errs = append(errs, fmt.Errorf("dimensions: at most %d, got %d", MaxDimensions, len(dims)))
	}
	seen := map[string]string{}
	for _, d := range dims {
		l := DimensionLabel(d)
		switch {
		case d == "":
			errs = append(errs, fmt.Errorf("dimensions: an attribute name must not be empty"))
		case seen[l] != "":
			errs = append(errs, fmt.Errorf("dimensions: %q and %q both make the labels client_%s and server_%s", seen[l], d, l, l))
		default:
			seen[l] = d
		}
	}
	if len(dims) > 0 && maxValues < 1 {
		errs = append(errs, fmt.Errorf("max_dimension_values must be at least 1, got %d", maxValues))
	}
	if len(dims) > 0 && maxSeries < 1 {
		errs = append(errs, fmt.Errorf("max_dimension_series must be at least 1, got %d", maxSeries))
	}
	return errs
}

// dimTable interns the tuples of dimension values.
type dimTable struct {
	n        int // len(Config.Dimensions)
	maxVals  int // Config.MaxDimensionValues
	maxBytes int // Config.MaxNameBytes

	mu     sync.Mutex
	values []map[string]string // per dimension: distinct values kept (value → itself, one copy)
	tuples [][]string          // id → values; ids 0 and 1 reserved
	byKey  map[string]uint32   // values joined by \xff → id
	// valuesFolded counts, per dimension, values counted as OverflowNode
	// past maxVals; tuplesFolded new tuples past MaxDimensionTuples.
	valuesFolded []uint64
	tuplesFolded uint64
}

func newDimTable(cfg Config) *dimTable {
	n := len(cfg.Dimensions)
	if n == 0 {
		return nil
	}
	t := &dimTable{n: n, maxVals: cfg.MaxDimensionValues, maxBytes: cfg.MaxNameBytes,
		values: make([]map[string]string, n), byKey: map[string]uint32{}, valuesFolded: make([]uint64, n)}
	for i := range t.values {
		t.values[i] = map[string]string{}
	}
	none, over := make([]string, n), make([]string, n)
	for i := range over {
		over[i] = OverflowNode
	}
	t.tuples = [][]string{none, over}
	t.byKey[strings.Join(none, "\xff")] = DimTupleNone
	t.byKey[strings.Join(over, "\xff")] = DimTupleOverflow
	return t
}

// DimTuple returns the id of the tuple of dimension values vals (one per
// Config.Dimensions, "" for none; not retained). Values are sanitised as
// node names are (invalid UTF-8 repaired, cut to MaxNameBytes, a value
// spelled like OverflowNode gets ReservedSuffix); past
// MaxDimensionValues distinct values of a dimension a new value counts as
// OverflowNode, past MaxDimensionTuples a new tuple as DimTupleOverflow
// (both counted). Without dimensions it returns DimTupleNone. Safe for
// concurrent use.
func (s *Store) DimTuple(vals []string) uint32 {
	t := s.dims
	if t == nil || len(vals) != t.n {
		return DimTupleNone
	}
	empty := true
	for _, v := range vals {
		empty = empty && v == ""
	}
	if empty {
		return DimTupleNone
	}
	var buf [MaxDimensions]string
	clean := buf[:t.n]
	for i, v := range vals {
		if !utf8.ValidString(v) {
			v = strings.ToValidUTF8(v, "\uFFFD")
		}
		if strings.TrimRight(v, ReservedSuffix) == OverflowNode {
			v += ReservedSuffix
		}
		clean[i] = cutName(v, t.maxBytes)
	}
	var kb [256]byte
	kbuf := kb[:0] // the values joined by \xff: a known tuple is found without allocating
	for i, v := range clean {
		if i > 0 {
			kbuf = append(kbuf, 0xff)
		}
		kbuf = append(kbuf, v...)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.byKey[string(kbuf)]; ok {
		return id
	}
	key := string(kbuf)
	// A new tuple: its values, past a dimension's cap, fold.
	folded := false
	for i, v := range clean {
		if v == "" {
			continue
		}
		if kept, ok := t.values[i][v]; ok {
			clean[i] = kept
			continue
		}
		if len(t.values[i]) >= t.maxVals {
			t.valuesFolded[i]++
			clean[i], folded = OverflowNode, true
			continue
		}
		kept := strings.Clone(v)
		t.values[i][kept] = kept
		clean[i] = kept
	}
	if folded {
		fk := strings.Join(clean, "\xff")
		if id, ok := t.byKey[fk]; ok {
			return id
		}
		key = fk
	}
	if len(t.tuples) >= MaxDimensionTuples {
		t.tuplesFolded++
		return DimTupleOverflow
	}
	id := uint32(len(t.tuples))
	t.tuples = append(t.tuples, slices.Clone(clean))
	if !folded {
		t.byKey[strings.Clone(key)] = id
	} else {
		t.byKey[key] = id
	}
	return id
}

// tuple returns the values of id (DimTupleNone's for an unknown id).
func (t *dimTable) tuple(id uint32) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if int(id) < len(t.tuples) {
		return t.tuples[id]
	}
	return t.tuples[DimTupleNone]
}

// DimStats are the dimension tables' counters.
type DimStats struct {
	// Dimensions are the dimension attributes (Config.Dimensions).
	Dimensions []string
	// ValuesFolded counts, per dimension (Config.Dimensions order), new
	// values counted as OverflowNode past MaxDimensionValues.
	ValuesFolded []uint64
	// TuplesFolded counts new value combinations counted as
	// DimTupleOverflow past MaxDimensionTuples.
	TuplesFolded uint64
	// SeriesFolded counts occurrences counted in their edge's
	// all-OverflowNode sub-series because the edge held
	// MaxDimensionValues sub-series already, or all edges together
	// MaxDimensionSeries.
	SeriesFolded uint64
	// Series is the number of sub-series held by every edge together.
	Series int
}

// DimStats returns the dimension counters (zero without dimensions).
func (s *Store) DimStats() DimStats {
	t := s.dims
	if t == nil {
		return DimStats{}
	}
	t.mu.Lock()
	st := DimStats{Dimensions: s.cfg.Dimensions, ValuesFolded: slices.Clone(t.valuesFolded), TuplesFolded: t.tuplesFolded}
	t.mu.Unlock()
	st.SeriesFolded, st.Series = s.dimSeriesFolded.Load(), int(s.dimSeries.Load())
	return st
}

// edgeDims holds an edge's sub-series, by client tuple << 32 | server
// tuple: at most MaxDimensionValues, plus the all-overflow one; all edges
// together at most MaxDimensionSeries, plus one all-overflow sub-series
// per edge.
type edgeDims struct {
	series map[uint64]*dimSeries
}

// dimSeries is one sub-series: counts and histograms as the edge's.
type dimSeries struct {
	client, server []string // the tuples' values (shared, immutable)
	count, failed  uint64
	hist, async    [2]histogram
}

// observeDims counts o in e's sub-series of its tuples. It needs e.mu;
// it reports whether a sub-series was added and whether o was folded.
func (s *Store) observeDims(e *edge, o *Observation) (added, folded bool) {
	d, added, folded := s.dimSeriesOf(e, o.ClientDims, o.ServerDims)
	w := uint64(max(o.Weight, 1))
	d.count += w
	if o.Failed {
		d.failed += w
	}
	for i, v := range o.Seconds {
		if v >= 0 {
			d.hist[i].addN(bucketIndex(s.cfg.LatencyBuckets, v), v, w)
		}
	}
	if o.AsyncTimed && d.async[0].counts != nil {
		for i, v := range o.AsyncSeconds {
			if v >= 0 {
				d.async[i].addN(bucketIndex(s.cfg.LatencyBuckets, v), v, w)
			}
		}
	}
	return added, folded
}

// dimSeriesOf returns e's sub-series of the tuples client and server,
// made if new, or its all-overflow one past the caps (folded). It needs
// e.mu.
func (s *Store) dimSeriesOf(e *edge, client, server uint32) (d *dimSeries, added, folded bool) {
	if e.dims == nil {
		e.dims = &edgeDims{series: map[uint64]*dimSeries{}}
	}
	key := uint64(client)<<32 | uint64(server)
	if d = e.dims.series[key]; d != nil {
		return d, false, false
	}
	if len(e.dims.series) >= s.cfg.MaxDimensionValues || s.dimSeries.Load() >= int64(s.cfg.MaxDimensionSeries) {
		key, folded = uint64(DimTupleOverflow)<<32|uint64(DimTupleOverflow), true
		client, server = DimTupleOverflow, DimTupleOverflow
		if d = e.dims.series[key]; d != nil {
			return d, false, true
		}
	}
	d = &dimSeries{client: s.dims.tuple(client), server: s.dims.tuple(server)}
	nb := len(s.cfg.LatencyBuckets) + 1
	for i := range d.hist {
		d.hist[i].counts = make([]uint64, nb)
	}
	if e.key.kind.Async() {
		for i := range d.async {
			d.async[i].counts = make([]uint64, nb)
		}
	}
	e.dims.series[key] = d
	return d, true, folded
}

// stateDim is a saved sub-series (DimSeries): its values and counts, and
// the histograms of Hist (AsyncHist is not saved, as the edge's is not).
type stateDim struct {
	Client, Server []string
	Count, Failed  uint64
	Hist           [2]stateHist
}

// toStateDims is the saved form of an edge's sub-series.
func toStateDims(ds []DimSeries) []stateDim {
	if len(ds) == 0 {
		return nil
	}
	out := make([]stateDim, len(ds))
	for i, d := range ds {
		out[i] = stateDim{Client: d.Client, Server: d.Server, Count: d.Count, Failed: d.Failed}
		for j, h := range d.Hist {
			out[i].Hist[j] = stateHist{Counts: h.Counts, Sum: h.Sum, N: h.Count}
		}
	}
	return out
}

// restoreDims adds saved sub-series to e's, their values looked up anew
// (so under the caps of this configuration; values saved for other
// dimensions are dropped). It needs s.mu and e.mu.
func (s *Store) restoreDims(e *edge, sds []stateDim) {
	for _, sd := range sds {
		if len(sd.Client) != s.dims.n || len(sd.Server) != s.dims.n {
			continue // saved with other dimensions
		}
		d, added, folded := s.dimSeriesOf(e, s.DimTuple(sd.Client), s.DimTuple(sd.Server))
		if added {
			s.dimSeries.Add(1)
		}
		if folded {
			s.dimSeriesFolded.Add(sd.Count)
		}
		d.count += sd.Count
		d.failed += sd.Failed
		for i, h := range sd.Hist {
			d.hist[i].merge(h)
		}
	}
}

// DimSeries is one sub-series of an edge: the occurrences whose client
// side had the values Client and server side Server of
// Config.Dimensions; counts and histograms read as Edge's.
type DimSeries struct {
	Client, Server []string
	Count, Failed  uint64
	Hist           [2]Histogram
	AsyncHist      [2]Histogram
}

// export copies the sub-series, sorted by client then server values.
func (d *edgeDims) export(arena *[]uint64) []DimSeries {
	if d == nil {
		return nil
	}
	out := make([]DimSeries, 0, len(d.series))
	for _, s := range d.series {
		x := DimSeries{Client: s.client, Server: s.server, Count: s.count, Failed: s.failed}
		for i := range s.hist {
			x.Hist[i] = s.hist[i].export(arena)
		}
		if s.async[0].counts != nil {
			for i := range s.async {
				x.AsyncHist[i] = s.async[i].export(arena)
			}
		}
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b DimSeries) int {
		return cmp.Or(slices.Compare(a.Client, b.Client), slices.Compare(a.Server, b.Server))
	})
	return out
}

// cutName shortens name to limit bytes at a UTF-8 boundary.
func cutName(name string, limit int) string {
	if len(name) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut]
	}
	return name
}

// countDims is observeDims with the store's accounts. It needs e.mu.
func (s *Store) countDims(e *edge, o *Observation) {
	added, folded := s.observeDims(e, o)
	if added {
		s.dimSeries.Add(1)
	}
	if folded {
		s.dimSeriesFolded.Add(1)
	}
}

// Dimensions returns the configured dimension attributes (Config.Dimensions).
func (s *Store) Dimensions() []string { return slices.Clone(s.cfg.Dimensions) }

// DimTupleValues returns the values of tuple id, one per Config.Dimensions
// (nil without dimensions).
func (s *Store) DimTupleValues(id uint32) []string {
	if s.dims == nil {
		return nil
	}
	return slices.Clone(s.dims.tuple(id))
}
