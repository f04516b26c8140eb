package graph_test

import (
	"testing"

	"github.com/servicegraph/servicegraph/graph"
)

// New refuses a configuration that would fail later (a zero bucket width
// divided by zero at the first observation), with every problem at once.
func TestNewValidates(t *testing.T) {
	zeroWidth := graph.NewDefaultConfig()
	zeroWidth.BucketWidth = 0
	tests := []struct {
		name string
		cfg  graph.Config
		want string
	}{
		{"zero bucket width", zeroWidth, "graph config: bucket_width must be at least 1s, got 0s"},
		{"zero value", graph.Config{}, "graph config: max_nodes must be at least 2, got 0\n" +
			"max_edges must be positive, got 0\n" +
			"max_name_bytes must be at least 16, got 0\n" +
			"bucket_width must be at least 1s, got 0s\n" +
			"max_history_bytes must be at least 496 B per edge of max_edges (496), got 0\n" +
			"latency_buckets must not be empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := graph.New(tc.cfg, graph.Settings{})
			if s != nil || err == nil || err.Error() != tc.want {
				t.Fatalf("New = %v, %v; want nil, %q", s, err, tc.want)
			}
		})
	}
	if s, err := graph.New(graph.NewDefaultConfig(), graph.Settings{}); s == nil || err != nil {
		t.Fatalf("defaults: %v, %v", s, err)
	}
}
