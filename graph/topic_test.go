package graph_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

func nodeKinds(s *graph.Snapshot) []string {
	var out []string
	for _, n := range s.Nodes {
		k := n.Name + " " + n.Kind.String()
		if n.Detail != "" {
			k += " (" + n.Detail + ")"
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestTopicNode: a topic node (--broker-nodes) keeps its kind and detail
// (its messaging system) through the state file, the peer wire form and
// the cluster merge; a name also given
// as a service is a service, whatever the order, in the store and in the
// merge; a database named like a topic becomes the topic.
func TestTopicNode(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	newStore := func() *graph.Store {
		return graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: func() time.Time { return now }})
	}
	s := newStore()
	orders, billing := s.Node("orders", graph.ServiceNode), s.Node("billing", graph.ServiceNode)
	topic := s.Node("orders-topic", graph.TopicNode)
	s.Node("billing", graph.TopicNode) // a service stays a service
	s.Node("orders-topic", graph.DatabaseNode)
	s.Node("ledger", graph.DatabaseNode)
	s.Node("ledger", graph.TopicNode) // a database named like a topic: the topic ranks higher
	s.SetDetail(topic, "rabbitmq")
	s.SetDetail(topic, "kafka") // the latest wins
	s.SetDetail(topic, "")      // ignored
	s.Observe([]graph.Observation{
		{Client: orders, Server: topic, Kind: graph.Messaging, Seconds: [2]float64{-1, -1}},
		{Client: topic, Server: billing, Kind: graph.Messaging, Seconds: [2]float64{0.5, -1}},
	}, nil)
	want := []string{"billing service", "ledger topic", "orders service", "orders-topic topic (kafka)"}
	if got := nodeKinds(s.Snapshot()); !slices.Equal(got, want) {
		t.Fatalf("store: got %q, want %q", got, want)
	}

	var state bytes.Buffer
	if err := s.WriteState(&state); err != nil {
		t.Fatal(err)
	}
	restored := newStore()
	if err := restored.ReadState(&state); err != nil {
		t.Fatal(err)
	}
	if got := nodeKinds(restored.Snapshot()); !slices.Equal(got, want) {
		t.Errorf("state file: got %q, want %q", got, want)
	}

	var wire bytes.Buffer
	if err := graph.WriteSnapshot(&wire, s.Snapshot()); err != nil {
		t.Fatal(err)
	}
	peer, err := graph.ReadSnapshot(&wire)
	if err != nil {
		t.Fatal(err)
	}
	if got := nodeKinds(peer); !slices.Equal(got, want) {
		t.Errorf("peer wire: got %q, want %q", got, want)
	}

	other := newStore()
	other.SetDetail(other.Node("orders-topic", graph.ServiceNode), "") // another instance saw a service of that name
	other.Node("ledger", graph.DatabaseNode)
	lim := graph.MergeLimits{MaxNodes: 100, MaxEdges: 100}
	for _, order := range [][2]*graph.Snapshot{{peer, other.Snapshot()}, {other.Snapshot(), peer}} {
		m, _, err := graph.Merge(lim, order[0], order[1])
		if err != nil {
			t.Fatal(err)
		}
		if got, want := nodeKinds(m), []string{"billing service", "ledger topic", "orders service", "orders-topic service"}; !slices.Equal(got, want) {
			t.Errorf("merge: got %q, want %q", got, want)
		}
	}
}
