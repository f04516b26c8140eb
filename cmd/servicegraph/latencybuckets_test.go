package main

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

// --latency-buckets sets graph.latency_buckets; bad lists are refused
// with what is wrong.
func TestLatencyBucketsFlag(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []float64
		err  string
	}{
		{name: "default", want: []float64{0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8}},
		{name: "set", args: []string{"--latency-buckets", "0.005, 0.01,0.025,0.05,1,2.5"}, want: []float64{0.005, 0.01, 0.025, 0.05, 1, 2.5}},
		{name: "not a number", args: []string{"--latency-buckets", "0.1,fast"},
			err: `invalid value "0.1,fast" for flag -latency-buckets: "fast" is not a number (want a comma-separated list such as 0.1,0.25,0.5,1)`},
		{name: "not increasing", args: []string{"--latency-buckets", "0.5,0.1"}, err: "--latency-buckets (graph.latency_buckets): must be positive and strictly increasing (at index 1: 0.1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			c, err := parseConfig(fs, tc.args, io.Discard, newDefaultConfig)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one naming %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Graph.LatencyBuckets, tc.want) {
				t.Fatalf("buckets %v, want %v", c.Graph.LatencyBuckets, tc.want)
			}
		})
	}
}
