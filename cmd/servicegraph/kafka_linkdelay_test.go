package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/kafka"
	"github.com/servicegraph/servicegraph/pairing"
)

// servicegraph_kafka_link_resolution_seconds observes each live link
// record's age (now − its Kafka timestamp) when the owner of its target
// handles it, and not a replayed one.
func TestLinkResolutionSeconds(t *testing.T) {
	proc, err := pairing.New(pairing.NewDefaultConfig(), pairing.Settings{}, graph.MustNew(graph.NewDefaultConfig(), graph.Settings{}))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	k := &kafkaIngest{proc: proc, logger: slog.New(slog.NewTextHandler(io.Discard, nil)), now: func() time.Time { return now },
		linkDelay: newLinkDelay()}
	l := kafka.Link{Service: "billing", Kind: 5}
	l.TargetTrace[0], l.TargetSpan[0], l.FromTrace[0], l.FromSpan[0] = 1, 1, 2, 2
	for _, pos := range []kafka.Position{
		{Timestamp: now.Add(-300 * time.Millisecond)},
		{Timestamp: now.Add(-2 * time.Second)},
		{Timestamp: now.Add(-time.Minute), Replay: true}, // not observed
	} {
		if err := k.Link(context.Background(), &l, pos); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(k.linkDelay)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(fams) != 1 || fams[0].GetName() != "servicegraph_kafka_link_resolution_seconds" {
		t.Fatalf("families %v", fams)
	}
	h := fams[0].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 2.3 {
		t.Errorf("count %d sum %v, want 2 and 2.3", h.GetSampleCount(), h.GetSampleSum())
	}
	for _, b := range h.GetBucket() {
		want := uint64(0)
		switch ub := b.GetUpperBound(); {
		case ub >= 2.5:
			want = 2
		case ub >= 0.5:
			want = 1
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
}
