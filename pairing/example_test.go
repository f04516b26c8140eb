package pairing_test

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/pairing"
)

// The core runs in process: hand it ptrace.Traces as a collector consumer
// would, and read the graph's snapshot.
func Example() {
	g := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{})
	p, err := pairing.New(pairing.NewDefaultConfig(), pairing.Settings{}, g)
	if err != nil {
		panic(err)
	}
	// A producer in one trace, and a consumer in a new trace that links to it.
	_ = p.ConsumeTraces(context.Background(), traces(
		sp{svc: "checkout", trace: 1, id: 1, kind: ptrace.SpanKindProducer},
		sp{svc: "shipping", trace: 2, id: 2, kind: ptrace.SpanKindConsumer, links: [][2]byte{{1, 1}}},
	))
	for _, e := range g.Snapshot().Edges {
		fmt.Printf("%s -> %s %s x%d\n", e.Client, e.Server, e.Kind.ConnectionType(), e.Count)
	}
	// Output:
	// checkout -> shipping messaging_system x1
}
