package pairing_test

import (
	"context"
	"runtime"
	"sync"
	"testing"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/workload"
	"github.com/servicegraph/servicegraph/pairing"
)

// BenchmarkParallel feeds the workload's raw protobuf requests from
// GOMAXPROCS goroutines at once (run with -cpu 1,2 for the scaling), each
// taking every GOMAXPROCS-th request, as concurrent OTLP requests do.
func BenchmarkParallel(b *testing.B) {
	recs, _, spans := workloadRecords(b)
	workers := runtime.GOMAXPROCS(0)
	runWorkload(b, spans, func(p *pairing.Processor) {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(recs); i += workers {
					if err := p.ConsumeTracesProto(context.Background(), recs[i]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

// BenchmarkRetained reports the heap the pairing state and graph retain
// after the whole workload went through (the raw input excluded), the
// figure ../shared/bench/peer reports as retained_mb for the connector.
func BenchmarkRetained(b *testing.B) {
	recs, err := workload.ReadAll(workloadPath(b))
	if err != nil {
		b.Fatal(err)
	}
	var retained float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		g := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{})
		p, err := pairing.New(benchConfig(), pairing.Settings{}, g)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			if err := p.ConsumeTracesProto(context.Background(), r); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		retained = float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
		runtime.KeepAlive(p)
	}
	b.ReportMetric(retained, "MB-retained")
}
