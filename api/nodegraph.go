package api

import (
	"math"
	"slices"
	"strings"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/traceurl"
)

// Colours of the Grafana rows. Edges and nodes follow the error rate with
// the render package's thresholds; arcs are green (success) and red
// (failed).
const (
	colourOK   = "#73bf69" // error rate below 1%
	colourWarn = "#ff9830" // below 5%
	colourBad  = "#f2495c" // 5% and above
	arcSuccess = "green"
	arcFailed  = "red"
	// asyncDash is the strokeDasharray of messaging_system and span_link
	// edges; sync edges have "" (solid).
	asyncDash    = "6 4"
	minThickness = 1
	maxThickness = 5
)

// field describes one column for the Node Graph API datasource
// (hamedkarbasi93-nodegraphapi-datasource): it turns "type" into the
// frame field's type, "color" into config.color (fixed) and "displayName"
// into config.displayName.
type field struct {
	Name        string `json:"field_name"`
	Type        string `json:"type"` // "string" or "number"
	DisplayName string `json:"displayName,omitempty"`
	Color       string `json:"color,omitempty"`
}

type fieldsBody struct {
	Nodes []field `json:"nodes_fields"`
	Edges []field `json:"edges_fields"`
}

// nodeGraphFields is the answer of /api/graph/fields: one entry per key of
// nodeRow and edgeRow, in the same order.
var nodeGraphFields = fieldsBody{
	Nodes: []field{
		{Name: "id", Type: "string"},
		{Name: "title", Type: "string", DisplayName: "Service"},
		{Name: "subtitle", Type: "string", DisplayName: "Kind"},
		{Name: "mainstat", Type: "number", DisplayName: "Requests/s"},
		{Name: "secondarystat", Type: "number", DisplayName: "Error %"},
		{Name: "arc__success", Type: "number", DisplayName: "Success", Color: arcSuccess},
		{Name: "arc__failed", Type: "number", DisplayName: "Failed", Color: arcFailed},
		{Name: "color", Type: "string"},
		{Name: "detail__requests", Type: "number", DisplayName: "Requests in window"},
		{Name: "detail__failed", Type: "number", DisplayName: "Failed in window"},
		{Name: "detail__trace_id", Type: "string", DisplayName: "Sample trace"},
	},
	Edges: []field{
		{Name: "id", Type: "string"},
		{Name: "source", Type: "string"},
		{Name: "target", Type: "string"},
		{Name: "mainstat", Type: "number", DisplayName: "Requests/s"},
		{Name: "secondarystat", Type: "number", DisplayName: "Error %"},
		{Name: "thickness", Type: "number"},
		{Name: "color", Type: "string"},
		{Name: "strokeDasharray", Type: "string"},
		{Name: "detail__connection_type", Type: "string", DisplayName: "Connection type"},
		{Name: "detail__requests", Type: "number", DisplayName: "Requests in window"},
		{Name: "detail__failed", Type: "number", DisplayName: "Failed in window"},
		{Name: "detail__mean_seconds", Type: "number", DisplayName: "Mean duration or delay (s)"},
		{Name: "detail__trace_id", Type: "string", DisplayName: "Sample trace"},
	},
}

// traceURLField is the field of the sample trace's URL, listed (after
// detail__trace_id) when a trace URL template is configured.
var traceURLField = field{Name: "detail__trace_url", Type: "string", DisplayName: "Sample trace URL"}

// nodeGraphFieldsFor is nodeGraphFields, with the URL fields when tpl
// makes URLs.
func nodeGraphFieldsFor(tpl traceurl.Template) fieldsBody {
	if !tpl.Set() {
		return nodeGraphFields
	}
	return fieldsBody{Nodes: append(slices.Clone(nodeGraphFields.Nodes), traceURLField),
		Edges: append(slices.Clone(nodeGraphFields.Edges), traceURLField)}
}

// rowSample is the sample trace of an edge row: data's latest traced
// occurrence if it falls in the view's window, its id hex and its URL
// (tpl's; "" without one).
func rowSample(v *graph.View, data *graph.EdgeData, tpl traceurl.Template) (id, url string) {
	if !rowSampled(v, data) {
		return "", ""
	}
	ex := &data.Exemplar
	id = ex.TraceID()
	return id, tpl.URL(id, ex.SpanID())
}

// nodeSamples is, per node name, the latest sample trace in the window of
// the view's edges to or from it (of equal times, the first edge's), given
// the edges' sampleTimes. It picks each node's edge first and encodes only
// those samples: a view has far fewer nodes than edges (100k edges, a few
// hundred nodes), and encoding every edge's sample took ~20 ms of a
// 100k-edge answer.
func nodeSamples(v *graph.View, times []int64, tpl traceurl.Template) map[string][2]string {
	type latest struct {
		at   int64
		edge int
	}
	pick := make(map[string]latest)
	for i, at := range times {
		if at == 0 {
			continue
		}
		e := &v.Edges[i]
		for _, n := range [2]string{e.Client, e.Server} {
			if l, seen := pick[n]; !seen || at > l.at {
				pick[n] = latest{at, i}
			}
		}
	}
	out := make(map[string][2]string, len(pick))
	for n, l := range pick {
		_, data, _ := v.Source(l.edge)
		id, url := rowSample(v, data, tpl)
		out[n] = [2]string{id, url}
	}
	return out
}

// nodeRow is one node, keyed by field name.
type nodeRow struct {
	ID            string  `json:"id"`
	Title         string  `json:"title"`
	Subtitle      string  `json:"subtitle"`
	MainStat      float64 `json:"mainstat"`      // requests/s in the window
	SecondaryStat float64 `json:"secondarystat"` // error %
	ArcSuccess    float64 `json:"arc__success"`  // ArcSuccess+ArcFailed == 1 exactly
	ArcFailed     float64 `json:"arc__failed"`
	Color         string  `json:"color"`
	Requests      uint64  `json:"detail__requests"`
	Failed        uint64  `json:"detail__failed"`
	// TraceID is the window's latest sample trace of the node's edges, ""
	// if none; TraceURL its link (with a trace URL template).
	TraceID  string `json:"detail__trace_id"`
	TraceURL string `json:"detail__trace_url,omitempty"`
}

// infinityNodeRow adds the arc colours as Infinity's node-graph-nodes
// format wants them: a column arc__<name>_color next to arc__<name>.
type infinityNodeRow struct {
	nodeRow
	ArcSuccessColor string `json:"arc__success_color"`
	ArcFailedColor  string `json:"arc__failed_color"`
}

// edgeRow is one edge, keyed by field name. The field is "source", in
// lowercase: Grafana tells the edges frame from the nodes frame by it.
type edgeRow struct {
	ID              string  `json:"id"`
	Source          string  `json:"source"`
	Target          string  `json:"target"`
	MainStat        float64 `json:"mainstat"`      // requests/s in the window
	SecondaryStat   float64 `json:"secondarystat"` // error %
	Thickness       int     `json:"thickness"`     // 1..5, log scale of the view's busiest edge
	Color           string  `json:"color"`
	StrokeDasharray string  `json:"strokeDasharray"` // "6 4" async, "" sync
	ConnectionType  string  `json:"detail__connection_type"`
	Requests        uint64  `json:"detail__requests"`
	Failed          uint64  `json:"detail__failed"`
	MeanSeconds     float64 `json:"detail__mean_seconds"`
	// TraceID is the window's latest sample trace of the edge, "" if
	// none; TraceURL its link (with a trace URL template).
	TraceID  string `json:"detail__trace_id"`
	TraceURL string `json:"detail__trace_url,omitempty"`
}

type dataBody struct {
	Nodes []nodeRow `json:"nodes"`
	Edges []edgeRow `json:"edges"`
}

// nodeRows returns the view's nodes, sorted by id (the view's order),
// with their sample traces (tpl's URLs).
func nodeRows(v *graph.View, tpl traceurl.Template) []nodeRow {
	rows := make([]nodeRow, 0, len(v.Nodes))
	samples := nodeSamples(v, sampleTimes(v), tpl)
	for i := range v.Nodes {
		r := nodeRowOf(&v.Nodes[i])
		s := samples[r.ID]
		r.TraceID, r.TraceURL = s[0], s[1]
		rows = append(rows, r)
	}
	return rows
}

// nodeRowOf is n's row.
func nodeRowOf(n *graph.ViewNode) nodeRow {
	rate := n.ErrorRate()
	return nodeRow{
		ID: n.Name, Title: n.Name, Subtitle: n.Subtitle(),
		MainStat: n.Rate, SecondaryStat: 100 * rate,
		// 1-f is exact for f >= 0.5 and within half an ulp of [0.5, 1)
		// otherwise, so (1-f)+f rounds to exactly 1.
		ArcSuccess: 1 - rate, ArcFailed: rate,
		Color:    errColour(rate),
		Requests: n.Count, Failed: n.Failed,
	}
}

// edgeRows returns the view's edges, sorted by client, server, kind (the
// view's order), with their sample traces (tpl's URLs).
func edgeRows(v *graph.View, tpl traceurl.Template) []edgeRow {
	maxCount := maxEdgeCount(v)
	rows := make([]edgeRow, 0, len(v.Edges))
	for i := range v.Edges {
		r := edgeRowOf(&v.Edges[i], maxCount, true)
		_, data, _ := v.Source(i)
		r.TraceID, r.TraceURL = rowSample(v, data, tpl)
		rows = append(rows, r)
	}
	return rows
}

// maxEdgeCount is the largest count of the view's edges: the scale of
// thickness.
func maxEdgeCount(v *graph.View) uint64 {
	var m uint64
	for i := range v.Edges {
		m = max(m, v.Edges[i].Count)
	}
	return m
}

// edgeRowOf is e's row, its thickness scaled to maxCount; withID sets
// its ID (a string built per edge).
func edgeRowOf(e *graph.ViewEdge, maxCount uint64, withID bool) edgeRow {
	dash := ""
	if e.Kind.Async() {
		dash = asyncDash
	}
	id := ""
	if withID {
		id = edgeID(e)
	}
	return edgeRow{
		ID: id, Source: e.Client, Target: e.Server,
		MainStat: e.Rate, SecondaryStat: 100 * e.ErrorRate(),
		Thickness: thickness(e.Count, maxCount), Color: errColour(e.ErrorRate()),
		StrokeDasharray: dash, ConnectionType: e.Kind.String(),
		Requests: e.Count, Failed: e.Failed, MeanSeconds: e.MeanSeconds,
	}
}

// idEscaper keeps edge ids unambiguous whatever the names hold.
var idEscaper = strings.NewReplacer("%", "%25", ">", "%3E", ":", "%3A")

// edgeID is "client>server:kind", with '%', '>' and ':' in names
// percent-encoded: stable and unique per edge.
func edgeID(e *graph.ViewEdge) string {
	return idEscaper.Replace(e.Client) + ">" + idEscaper.Replace(e.Server) + ":" + e.Kind.String()
}

// appendEdgeID appends edgeID(e) to b.
func appendEdgeID(b []byte, e *graph.ViewEdge) []byte {
	esc := func(b []byte, s string) []byte {
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case '%':
				b = append(b, "%25"...)
			case '>':
				b = append(b, "%3E"...)
			case ':':
				b = append(b, "%3A"...)
			default:
				b = append(b, s[i])
			}
		}
		return b
	}
	b = append(esc(b, e.Client), '>')
	b = append(esc(b, e.Server), ':')
	return append(b, e.Kind.String()...)
}

func errColour(rate float64) string {
	return [...]string{graph.Healthy: colourOK, graph.Degraded: colourWarn, graph.Failing: colourBad}[graph.HealthOf(rate)]
}

// thickness maps count to 1..5 on a log scale of the largest count.
func thickness(count, maxCount uint64) int {
	return int(math.Round(minThickness + (maxThickness-minThickness)*graph.Volume(count, maxCount)))
}

// thicknessSteps is thickness for one largest count, as the smallest count
// of each step: thickness never falls as count grows, so the steps are
// found once per answer (a binary search each) and an edge then costs a
// few comparisons instead of two logarithms (8 ms of a 100k-edge answer).
type thicknessSteps [maxThickness - minThickness + 1]uint64 // [k]: the smallest count of thickness minThickness+k

func newThicknessSteps(maxCount uint64) *thicknessSteps {
	var s thicknessSteps
	for k := 1; k < len(s); k++ {
		// thickness(maxCount) is maxThickness when maxCount > 1 (else
		// every count is minThickness), and a larger count is clamped to
		// it: the smallest count of step k is at most maxCount, if any.
		if thickness(maxCount, maxCount) < minThickness+k {
			s[k] = math.MaxUint64
			continue
		}
		lo, hi := uint64(0), maxCount // thickness(hi) reaches step k
		for lo < hi {
			mid := lo + (hi-lo)/2
			if thickness(mid, maxCount) >= minThickness+k {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		s[k] = lo
	}
	return &s
}

// of is thickness(count, the steps' largest count).
func (s *thicknessSteps) of(count uint64) int {
	t := minThickness
	for k := 1; k < len(s) && count >= s[k]; k++ {
		t = minThickness + k
	}
	return t
}
