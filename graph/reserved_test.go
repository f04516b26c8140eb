package graph_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// Names given to Node never become a synthetic node: reserved names, and
// reserved names followed by the suffix, gain one more suffix.
func TestReservedNames(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := graph.NewDefaultConfig()
	cfg.MaxNameBytes = 16
	s := graph.MustNew(cfg, graph.Settings{Now: func() time.Time { return now }})
	user := s.User()
	tests := []struct{ in, want string }{
		{"user", "user~"},
		{"user~", "user~~"},
		{"user~~", "user~~~"},
		{"__overflow__", "__overflow__~"},
		{"__overflow__~", "__overflow__~~"},
		{"users", "users"},
		{"~user", "~user"},
		{"user~x", "user~x"},
		{"User", "User"},
		{"user" + strings.Repeat("~", 20), "user" + strings.Repeat("~", 12)}, // escaped, then cut
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			id := s.Node(tc.in, graph.ServiceNode)
			if got := s.Name(id); got != tc.want {
				t.Fatalf("Node(%q) is named %q, want %q", tc.in, got, tc.want)
			}
			if id == user {
				t.Fatalf("Node(%q) is the synthetic user node", tc.in)
			}
		})
	}
	if got := s.User(); got != user || s.Name(got) != graph.UserNode {
		t.Fatalf("User() = %d %q, want %d %q", got, s.Name(got), user, graph.UserNode)
	}
	web := s.Node("web", graph.ServiceNode)
	realUser := s.Node("user", graph.ServiceNode)
	s.Observe([]graph.Observation{
		{Client: user, Server: web, Kind: graph.Virtual, Seconds: [2]float64{0.1, -1}},
		{Client: realUser, Server: web, Kind: graph.Call, Seconds: [2]float64{0.2, -1}},
		{Client: user, Server: realUser, Kind: graph.Virtual, Seconds: [2]float64{0.3, -1}},
	}, nil)
	want := []string{"user>user~:virtual_node:1", "user>web:virtual_node:1", "user~>web:call:1"}
	if got := edgeList(s.Snapshot()); !slices.Equal(got, want) {
		t.Fatalf("edges %q, want %q", got, want)
	}
	n, _ := s.Snapshot().Node("user")
	r, _ := s.Snapshot().Node("user~")
	if n.Kind != graph.VirtualNode || r.Kind != graph.ServiceNode {
		t.Fatalf("kinds: user %s, user~ %s; want virtual, service", n.Kind, r.Kind)
	}

	// A save and restore keeps the synthetic node and the escaped one apart.
	var buf bytes.Buffer
	if err := s.WriteState(&buf); err != nil {
		t.Fatal(err)
	}
	r2 := graph.MustNew(cfg, graph.Settings{Now: func() time.Time { return now }})
	if err := r2.ReadState(&buf); err != nil {
		t.Fatal(err)
	}
	if got := edgeList(r2.Snapshot()); !slices.Equal(got, want) {
		t.Fatalf("restored edges %q, want %q", got, want)
	}
	if got := r2.Node("user", graph.ServiceNode); r2.Name(got) != "user~" || got == r2.User() {
		t.Fatalf("after restore Node(user) = %q", r2.Name(got))
	}
}

// The overflow node cannot be named either, even past the node cap.
func TestReservedOverflow(t *testing.T) {
	cfg := graph.NewDefaultConfig()
	cfg.MaxNodes = 3
	s := graph.MustNew(cfg, graph.Settings{})
	a := s.Node("__overflow__", graph.ServiceNode) // a real service: "__overflow__~"
	b := s.Node("b", graph.ServiceNode)
	c := s.Node("c", graph.ServiceNode) // past the cap: folded
	d := s.Node("__overflow__", graph.ServiceNode)
	if got := []string{s.Name(a), s.Name(b), s.Name(c), s.Name(d)}; !slices.Equal(got, []string{"__overflow__~", "b", graph.OverflowNode, "__overflow__~"}) {
		t.Fatalf("names %q", got)
	}
	if st := s.Stats(); st.Nodes != 3 || st.NodesOverflowed != 1 {
		t.Fatalf("stats %+v, want 3 nodes, 1 overflowed", st)
	}
}

func edgeList(snap *graph.Snapshot) []string {
	var out []string
	for _, e := range snap.Edges {
		out = append(out, fmt.Sprintf("%s>%s:%s:%d", e.Client, e.Server, e.Kind, e.Count))
	}
	return out
}
