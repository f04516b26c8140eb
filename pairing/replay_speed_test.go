package pairing

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/internal/cputime"
	"github.com/servicegraph/servicegraph/internal/workload"
)

// BenchmarkConsumeRecord is the Kafka path through pairing on the bench
// workload, beside the OTLP receivers' (ConsumeTracesProto): live
// (pairing, links resolved or routed) and replayed (index-only, what a
// new owner does with --kafka-replay of a partition at a handover). Each
// op is a fresh processor fed the whole workload. One CPU:
// go test -bench ConsumeRecord -cpu 1. cpu-spans/s divides the spans by
// the process CPU time of the timed parts (all threads, GC included): the
// spans per second per core on a shared machine, where wall time is not.
//
// The records are the workload's requests (512 traces each) except in the
// -traces modes, where each holds one trace as the Collector's
// kafkaexporter writes them (partition_traces_by_id): the per-record costs
// (the resource decoded again for each trace) weigh there. replay has
// every record written within --pair-wait of the handover (each CLIENT
// span waits again, the most work a replay does); replay-window spreads
// the records' times evenly over the 60 s before it (--kafka-replay's
// default), so that those older than --pair-wait (10 s) only index.
func BenchmarkConsumeRecord(b *testing.B) {
	reqs := wireWorkload(b)
	traces := sync.OnceValue(func() [][]byte { return traceRecords(b, reqs) })
	const window = 60 * time.Second
	for _, mode := range []struct {
		name                 string
		replay, otlp, window bool
		perTrace             bool
	}{
		{name: "otlp", otlp: true}, {name: "live"}, {name: "replay", replay: true},
		{name: "replay-window", replay: true, window: true},
		{name: "otlp-traces", otlp: true, perTrace: true}, {name: "live-traces", perTrace: true},
		{name: "replay-window-traces", replay: true, window: true, perTrace: true},
	} {
		b.Run(mode.name, func(b *testing.B) {
			recs := reqs
			if mode.perTrace {
				recs = traces()
			}
			now := time.Now()
			rec := Record{Replay: mode.replay, Time: now, Handover: now}
			routed, spans := 0, 0
			var cpu time.Duration
			route := func(*RoutedLink) { routed++ }
			b.ReportAllocs()
			for range b.N {
				b.StopTimer()
				p := wireBenchProcessor(b, nil)
				b.StartTimer()
				before := cputime.Process()
				for i, r := range recs {
					if mode.window {
						rec.Time = now.Add(-window + window*time.Duration(i)/time.Duration(len(recs)))
					}
					var err error
					if mode.otlp { // the same records through the OTLP receivers' path
						err = p.ConsumeTracesProto(context.Background(), r)
					} else {
						err = p.ConsumeRecord(context.Background(), r, rec, route)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				cpu += cputime.Process() - before
				b.StopTimer()
				spans = int(p.Stats().SpansReceived)
				b.StartTimer()
			}
			b.ReportMetric(float64(spans)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
			b.ReportMetric(float64(spans)*float64(b.N)/cpu.Seconds(), "cpu-spans/s")
			b.ReportMetric(float64(routed)/float64(b.N), "routed/op")
		})
	}
}

// traceRecords splits requests as the Collector's kafkaexporter does with
// partition_traces_by_id: one record per trace of each request
// (workload.SplitByTrace).
func traceRecords(tb testing.TB, reqs [][]byte) [][]byte {
	var recs [][]byte
	for _, raw := range reqs {
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(raw); err != nil {
			tb.Fatal(err)
		}
		split, err := workload.SplitByTrace(req.Traces())
		if err != nil {
			tb.Fatal(err)
		}
		for _, r := range split {
			recs = append(recs, r.Value)
		}
	}
	return recs
}
