package api_test

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/api"
)

// frame is a data frame as the Node Graph API datasource builds it: one
// field per entry of the fields answer, filled row by row from the data
// answer (rows are keyed by field_name).
type frame struct {
	fields map[string]fieldDef
	rows   []map[string]any
}

type fieldDef struct {
	Name        string `json:"field_name"`
	Type        string `json:"type"`
	DisplayName string `json:"displayName"`
	Color       string `json:"color"`
}

func (f frame) has(name string) bool { _, ok := f.fields[name]; return ok }

// panelFrames fetches fields and data with the same query string, as the
// plugin does, and sorts the frames into nodes and edges as Grafana's
// useCategorizeFrames does: the frame with a field named exactly "source"
// is the edges frame.
func panelFrames(t *testing.T, h http.Handler, query string) (nodes, edges frame) {
	t.Helper()
	var fields struct {
		Nodes []fieldDef `json:"nodes_fields"`
		Edges []fieldDef `json:"edges_fields"`
	}
	var data struct {
		Nodes []map[string]any `json:"nodes"`
		Edges []map[string]any `json:"edges"`
	}
	for target, v := range map[string]any{"/api/graph/fields?" + query: &fields, "/api/graph/data?" + query: &data} {
		rec := get(h, target)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body)
		}
		decode(t, rec, v)
	}
	build := func(defs []fieldDef, rows []map[string]any) frame {
		f := frame{fields: map[string]fieldDef{}, rows: rows}
		for _, d := range defs {
			if _, dup := f.fields[d.Name]; dup {
				t.Errorf("field %q declared twice", d.Name)
			}
			f.fields[d.Name] = d
		}
		return f
	}
	frames := []frame{build(fields.Nodes, data.Nodes), build(fields.Edges, data.Edges)}
	for _, f := range frames {
		if f.has("source") {
			edges = f
		} else {
			nodes = f
		}
	}
	if !edges.has("source") || nodes.has("source") {
		t.Fatalf("frames not told apart by the source field: nodes %v, edges %v", nodes.fields, edges.fields)
	}
	return nodes, edges
}

// checkRows verifies that every row has exactly the declared fields, with
// values of the declared type.
func checkRows(t *testing.T, what string, f frame) {
	t.Helper()
	for i, row := range f.rows {
		if len(row) != len(f.fields) {
			t.Errorf("%s row %d has %d keys, %d fields are declared", what, i, len(row), len(f.fields))
		}
		for k, v := range row {
			def, ok := f.fields[k]
			if !ok {
				t.Errorf("%s row %d: key %q is not a declared field", what, i, k)
				continue
			}
			switch def.Type {
			case "number":
				if _, ok := v.(float64); !ok {
					t.Errorf("%s row %d: %s = %#v, want a number", what, i, k, v)
				}
			case "string":
				if _, ok := v.(string); !ok {
					t.Errorf("%s row %d: %s = %#v, want a string", what, i, k, v)
				}
			default:
				t.Errorf("%s field %s has type %q", what, k, def.Type)
			}
		}
	}
}

func TestNodeGraphContract(t *testing.T) {
	st, c := fixture(t)
	s, _ := newServer(t, c, api.Sources{Graph: st}, nil)
	fourHours := "from=" + unix(t0.Add(-4*time.Hour)) + "&to=" + unix(t0)
	tests := []struct {
		name, query string
		wantNodes   int
		wantEdges   int
	}{
		{name: "default hour", query: "", wantNodes: 8, wantEdges: 8},
		{name: "four hours", query: fourHours, wantNodes: 9, wantEdges: 9},
		{name: "neighbourhood", query: "service=checkout&depth=1", wantNodes: 6, wantEdges: 6},
		{name: "async only", query: "kinds=messaging_system,span_link", wantNodes: 4, wantEdges: 3},
		{name: "idle centre", query: "service=legacy&depth=3", wantNodes: 1, wantEdges: 0},
		{name: "grafana millis", query: "from=" + millis(t0.Add(-time.Hour)) + "&to=" + millis(t0) + "&service=payments&depth=1", wantNodes: 3, wantEdges: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes, edges := panelFrames(t, s.Handler(), tt.query)
			checkRows(t, "node", nodes)
			checkRows(t, "edge", edges)
			if len(nodes.rows) != tt.wantNodes || len(edges.rows) != tt.wantEdges {
				t.Errorf("%d nodes and %d edges, want %d and %d", len(nodes.rows), len(edges.rows), tt.wantNodes, tt.wantEdges)
			}
			ids := map[string]bool{}
			for _, n := range nodes.rows {
				id := n["id"].(string)
				if ids[id] {
					t.Errorf("node id %q twice", id)
				}
				ids[id] = true
				var sum float64
				arcs := 0
				for name, def := range nodes.fields {
					if strings.HasPrefix(name, "arc__") {
						arcs++
						sum += n[name].(float64)
						if def.Color == "" {
							t.Errorf("arc field %s has no color", name)
						}
					}
				}
				if arcs != 2 || math.Abs(sum-1) > 1e-9 || sum != 1 {
					t.Errorf("node %s: %d arcs summing to %v, want 2 summing to exactly 1", id, arcs, sum)
				}
				if n["detail__requests"].(float64) == 0 && (n["arc__success"] != 1.0 || n["arc__failed"] != 0.0) {
					t.Errorf("idle node %s: arcs %v/%v, want 1/0", id, n["arc__success"], n["arc__failed"])
				}
			}
			edgeIDs := map[string]bool{}
			for _, e := range edges.rows {
				id := e["id"].(string)
				if edgeIDs[id] {
					t.Errorf("edge id %q twice", id)
				}
				edgeIDs[id] = true
				for _, end := range []string{"source", "target"} {
					if !ids[e[end].(string)] {
						t.Errorf("edge %s: %s %q is no node id", id, end, e[end])
					}
				}
				ct := e["detail__connection_type"].(string)
				async := ct == "messaging_system" || ct == "span_link"
				if dash := e["strokeDasharray"].(string); (dash != "") != async {
					t.Errorf("edge %s (%s): strokeDasharray %q", id, ct, dash)
				}
				if th := e["thickness"].(float64); th < 1 || th > 5 {
					t.Errorf("edge %s: thickness %v outside 1..5", id, th)
				}
			}
		})
	}
}

// TestInfinityRows checks the flat arrays against Infinity's node-graph
// formats: the node query needs id and arc__* with arc__*_color columns,
// the edge query id, source and target.
func TestInfinityRows(t *testing.T) {
	st, c := fixture(t)
	s, _ := newServer(t, c, api.Sources{Graph: st}, nil)
	var nodes, edges []map[string]any
	decode(t, get(s.Handler(), "/api/graph/nodes"), &nodes)
	decode(t, get(s.Handler(), "/api/graph/edges"), &edges)
	if len(nodes) == 0 || len(edges) == 0 {
		t.Fatalf("%d nodes, %d edges", len(nodes), len(edges))
	}
	for _, n := range nodes {
		for _, arc := range []string{"arc__success", "arc__failed"} {
			if _, ok := n[arc].(float64); !ok {
				t.Errorf("node %v: no %s", n["id"], arc)
			}
			if col, _ := n[arc+"_color"].(string); col == "" {
				t.Errorf("node %v: no %s_color", n["id"], arc)
			}
		}
	}
	for _, e := range edges {
		for _, k := range []string{"id", "source", "target", "strokeDasharray"} {
			if _, ok := e[k].(string); !ok {
				t.Errorf("edge %v: no %s", e["id"], k)
			}
		}
	}
}
