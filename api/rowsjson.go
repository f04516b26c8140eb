package api

import (
	"bufio"
	"bytes"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/traceurl"
)

// The node and edge rows are written straight to the connection, one row
// at a time, without reflection and without holding the whole answer: at
// 100k edges the answer is ~30 MB, and building it in memory first made
// each read allocate ~4x that, enough garbage to slow ingestion through
// the collector. The bytes are exactly encoding/json's (HTML-escaped, its
// float format, a final newline), which TestRowsJSONMatchesEncodingJSON
// holds them to. A view with a non-finite number (encoding/json refuses
// it) takes writeJSON's path, so the answer stays a clean 500.

// rowsBufferSize is what is buffered before a write to the connection.
const rowsBufferSize = 64 << 10

// writeRows answers 200 with the JSON that write appends, streamed.
func writeRows(w http.ResponseWriter, write func(b []byte, flush func([]byte) []byte) []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, rowsBufferSize)
	flush := func(b []byte) []byte {
		if len(b) >= rowsBufferSize/2 {
			_, _ = bw.Write(b)
			// Yield the processor every 32 KB (~30 µs of rows): at 100k
			// edges an answer is ~30 MB, and a waiting ingest goroutine
			// would otherwise wait for the scheduler's next 10 ms
			// preemption at each hop of an export.
			runtime.Gosched()
			return b[:0]
		}
		return b
	}
	b := write(make([]byte, 0, rowsBufferSize), flush)
	_, _ = bw.Write(append(b, '\n'))
	_ = bw.Flush()
}

// finiteView reports whether every number the rows of v carry is finite.
func finiteView(v *graph.View) bool {
	for i := range v.Nodes {
		n := &v.Nodes[i]
		if !finite(n.Rate) || !finite(n.ErrorRate()) {
			return false
		}
	}
	for i := range v.Edges {
		e := &v.Edges[i]
		if !finite(e.Rate) || !finite(e.ErrorRate()) || !finite(e.MeanSeconds) {
			return false
		}
	}
	return true
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// appendNodes appends the view's node rows as a JSON array, given the
// edges' sampleTimes; infinity adds the arc colour columns of
// infinityNodeRow.
func appendNodes(b []byte, v *graph.View, times []int64, infinity bool, tpl traceurl.Template, flush func([]byte) []byte) []byte {
	samples := nodeSamples(v, times, tpl)
	b = append(b, '[')
	for i := range v.Nodes {
		if i > 0 {
			b = append(b, ',')
		}
		r := nodeRowOf(&v.Nodes[i])
		s := samples[r.ID]
		r.TraceID, r.TraceURL = s[0], s[1]
		b = appendNodeRow(b, r, infinity)
		b = flush(b)
	}
	return append(b, ']')
}

// appendEdges appends the view's edge rows as a JSON array, given the
// edges' sampleTimes. An edge's row comes from the topology's rowCache,
// its thickness put in, when the edge and what the window makes of it
// (counts, rate, mean, whether its sample trace is in the window) are
// those it was encoded from; in a new topology's first answer, from the
// previous topology's cache when the edge did not change.
func appendEdges(b []byte, v *graph.View, times []int64, tpl traceurl.Template, flush func([]byte) []byte) []byte {
	maxCount := maxEdgeCount(v)
	steps := newThicknessSteps(maxCount)
	rc, _ := v.Shared(rowCacheKey{}, func() any { return newRowCache() }).(*rowCache)
	if rc != nil && !rc.mu.TryLock() {
		rc = nil // another request is using it: encode every row
	}
	var carry map[*graph.EdgeData]*cachedRow // the previous topology's rows, by edge
	if rc != nil {
		defer rc.mu.Unlock()
		if prev := rc.prev; prev != nil && prev.mu.TryLock() {
			defer prev.mu.Unlock()
			rc.prev = nil
			carry = make(map[*graph.EdgeData]*cachedRow, len(prev.rows))
			for i := range prev.rows {
				if r := &prev.rows[i]; r.data != nil {
					carry[r.data] = r
				}
			}
		}
	}
	var id []byte
	b = append(b, '[')
	for i := range v.Edges {
		if i > 0 {
			b = append(b, ',')
		}
		e := &v.Edges[i]
		pos, data, ok := v.Source(i)
		if rc == nil || !ok {
			id = appendEdgeID(id[:0], e)
			row := edgeRowOf(e, maxCount, false)
			row.TraceID, row.TraceURL = rowSample(v, data, tpl)
			b = appendEdgeRow(b, row, id)
			b = flush(b)
			continue
		}
		if pos >= len(rc.rows) {
			rc.rows = append(rc.rows, make([]cachedRow, max(pos+1, len(v.Edges))-len(rc.rows))...)
		}
		r := &rc.rows[pos]
		in := rowInputs{count: e.Count, failed: e.Failed, rate: e.Rate, mean: e.MeanSeconds, sampled: times[i] != 0}
		if r.data != data || r.in != in || r.tpl != tpl {
			if old := carry[data]; old != nil && old.in == in && old.tpl == tpl {
				// Taken, not copied: should the old topology serve
				// again, it encodes the row anew.
				*r, *old = *old, cachedRow{}
			} else {
				// Encoded with thickness 0, whose digit is cut out: the
				// thickness follows the busiest edge, which changes often.
				id = appendEdgeID(id[:0], e)
				row := edgeRowOf(e, maxCount, false)
				row.TraceID, row.TraceURL = rowSample(v, data, tpl)
				row.Thickness = 0
				enc := appendEdgeRow(r.row[:0], row, id)
				cut := bytes.LastIndex(enc, []byte(thicknessKey)) + len(thicknessKey)
				*r = cachedRow{data: data, in: in, tpl: tpl, row: enc, cut: cut}
			}
		}
		b = append(b, r.row[:r.cut]...)
		b = strconv.AppendInt(b, int64(steps.of(e.Count)), 10)
		b = flush(append(b, r.row[r.cut+1:]...))
	}
	return append(b, ']')
}

// rowCache keeps the encoded edge rows of one topology, by the edge's
// position in the snapshots' Edges (graph.View.Shared keeps one per
// topology and drops it with the topology's snapshots). A row is
// re-encoded when its edge changed or its counts in the window did; its
// thickness, which follows the view's busiest edge, is written per
// answer. A new topology (an edge or a node added) starts from the rows
// of the cache made before it (prev, recentRows): the rows of the edges
// that did not change (the same graph.EdgeData) are taken from it in its
// first answer, so that an edge added to 100k costs one row, not 100k
// (~100 ms and ~30 MB of garbage, which made collections, and the export
// latency they cause, while new edges kept coming). Memory: the rows
// (~310 B per edge with 10-byte names) and 64 B per edge of the topology,
// ~37 MB at 100k edges; bounded by the edge cap; the previous topology's
// until the new one's first answer.
type rowCache struct {
	mu   sync.Mutex // guards rows and prev; held while a request encodes, others encode without it
	rows []cachedRow
	prev *rowCache // whose rows the first answer takes; then nil
}

type rowCacheKey struct{}

// recentRows is the row cache made last, which the next one starts from.
// Rows are taken by their edge's data pointer, which only a snapshot of
// the same store holds: a cache of another store (several servers in one
// process) gives none.
var recentRows atomic.Pointer[rowCache]

// newRowCache returns a new topology's cache, to start from the last one
// made (or, if that one never answered, from the one it started from).
func newRowCache() *rowCache {
	rc := &rowCache{}
	p := recentRows.Swap(rc)
	if p != nil && p.mu.TryLock() {
		if len(p.rows) == 0 {
			rc.prev = p.prev // never answered: start from what it would have
		} else {
			rc.prev = p
		}
		p.mu.Unlock()
	} else {
		rc.prev = p // answering now: it has rows
	}
	return rc
}

// cachedRow is one encoded edge row and what it was encoded from.
type cachedRow struct {
	data *graph.EdgeData
	in   rowInputs
	tpl  traceurl.Template // of the trace URL (servers over one graph may differ)
	row  []byte            // with thickness 0
	cut  int               // where the thickness digit is in row
}

// rowInputs is what a window makes of an edge's row: a window that moved
// a bucket (once a minute by default) changes only the rows of the edges
// whose counts in it changed, not all 100k (~30 MB of garbage each time).
// A NaN rate or mean never equals itself: such a row is encoded each time.
type rowInputs struct {
	count, failed uint64
	rate, mean    float64
	sampled       bool // the edge's sample trace is in the window (rowSample)
}

// sampleTimes is, per view edge, the time of its sample trace if that is
// in the window (rowSampled), else 0, shared by a rows answer's node rows
// and edge rows. Reading it from each edge's data costs a cache miss an
// edge (~13 ms at 100k edges), so the topology's sampleMemo keeps it, and
// only the edges whose data changed are read.
func sampleTimes(v *graph.View) []int64 {
	times := make([]int64, len(v.Edges))
	from, to := v.From.UnixNano(), v.To.UnixNano()
	m, _ := v.Shared(sampleMemoKey{}, func() any { return new(sampleMemo) }).(*sampleMemo)
	if m != nil && !m.mu.TryLock() {
		m = nil // another request is using it: read every edge's data
	}
	if m != nil {
		defer m.mu.Unlock()
	}
	for i := range times {
		pos, data, ok := v.Source(i)
		if !ok || data == nil {
			continue
		}
		var at int64
		if m != nil && pos < len(m.data) && m.data[pos] == data {
			at = m.at[pos]
		} else {
			if ex := &data.Exemplar; ex.Valid() {
				at = ex.Time // not 0: Valid
			}
			if m != nil {
				if pos >= len(m.data) {
					n := max(pos+1, len(v.Edges))
					m.data = append(m.data, make([]*graph.EdgeData, n-len(m.data))...)
					m.at = append(m.at, make([]int64, n-len(m.at))...)
				}
				m.data[pos], m.at[pos] = data, at
			}
		}
		if at != 0 && at >= from && at < to {
			times[i] = at
		}
	}
	return times
}

// sampleMemo keeps, per edge of one topology (by its position in the
// snapshots' Edges, as rowCache does), the sample time of the edge data
// it last read (0: none), valid while the edge's data is that one.
type sampleMemo struct {
	mu   sync.Mutex
	data []*graph.EdgeData
	at   []int64
}

type sampleMemoKey struct{}

// rowSampled reports whether rowSample gives the edge of data a trace.
func rowSampled(v *graph.View, data *graph.EdgeData) bool {
	if data == nil {
		return false
	}
	ex := &data.Exemplar
	return ex.Valid() && ex.Time >= v.From.UnixNano() && ex.Time < v.To.UnixNano()
}

// thicknessKey precedes an edge row's thickness.
const thicknessKey = `,"thickness":`

// appendNodeRow is encoding/json's encoding of nodeRow (infinityNodeRow
// when infinity), without the final newline.
func appendNodeRow(b []byte, r nodeRow, infinity bool) []byte {
	b = appendKey(b, `{"id":`, r.ID)
	b = appendKey(b, `,"title":`, r.Title)
	b = appendKey(b, `,"subtitle":`, r.Subtitle)
	b = appendFloat(append(b, `,"mainstat":`...), r.MainStat)
	b = appendFloat(append(b, `,"secondarystat":`...), r.SecondaryStat)
	b = appendFloat(append(b, `,"arc__success":`...), r.ArcSuccess)
	b = appendFloat(append(b, `,"arc__failed":`...), r.ArcFailed)
	b = appendKey(b, `,"color":`, r.Color)
	b = strconv.AppendUint(append(b, `,"detail__requests":`...), r.Requests, 10)
	b = strconv.AppendUint(append(b, `,"detail__failed":`...), r.Failed, 10)
	b = appendKey(b, `,"detail__trace_id":`, r.TraceID)
	if r.TraceURL != "" {
		b = appendKey(b, `,"detail__trace_url":`, r.TraceURL)
	}
	if infinity {
		b = appendKey(b, `,"arc__success_color":`, arcSuccess)
		b = appendKey(b, `,"arc__failed_color":`, arcFailed)
	}
	return append(b, '}')
}

// appendEdgeRow is encoding/json's encoding of edgeRow, with id instead
// of r.ID when id is not nil.
func appendEdgeRow(b []byte, r edgeRow, id []byte) []byte {
	if id == nil {
		b = appendKey(b, `{"id":`, r.ID)
	} else {
		b = appendString(append(b, `{"id":`...), id)
	}
	b = appendKey(b, `,"source":`, r.Source)
	b = appendKey(b, `,"target":`, r.Target)
	b = appendFloat(append(b, `,"mainstat":`...), r.MainStat)
	b = appendFloat(append(b, `,"secondarystat":`...), r.SecondaryStat)
	b = strconv.AppendInt(append(b, thicknessKey...), int64(r.Thickness), 10)
	b = appendKey(b, `,"color":`, r.Color)
	b = appendKey(b, `,"strokeDasharray":`, r.StrokeDasharray)
	b = appendKey(b, `,"detail__connection_type":`, r.ConnectionType)
	b = strconv.AppendUint(append(b, `,"detail__requests":`...), r.Requests, 10)
	b = strconv.AppendUint(append(b, `,"detail__failed":`...), r.Failed, 10)
	b = appendFloat(append(b, `,"detail__mean_seconds":`...), r.MeanSeconds)
	b = appendKey(b, `,"detail__trace_id":`, r.TraceID)
	if r.TraceURL != "" {
		b = appendKey(b, `,"detail__trace_url":`, r.TraceURL)
	}
	return append(b, '}')
}

func appendKey(b []byte, key, s string) []byte { return appendString(append(b, key...), s) }

// appendString is encoding/json's HTML-escaped string (its appendString
// with escapeHTML): quotes, backslashes, control bytes, <, > and &
// escaped, invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendString[S []byte | string](b []byte, s S) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(len(s), i+utf8.UTFMax)]))
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendFloat is encoding/json's float64 format; f must be finite.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
