package pairing

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time this process has used (user + system, every
// thread: the garbage collector's too).
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkConsumeRecord is the Kafka path through pairing on the bench
// workload, beside the OTLP receivers' (ConsumeTracesProto): live
// (pairing, links resolved or routed) and replayed (index-only, what a
// new owner does with --kafka-replay of a partition at a handover). Each
// op is a fresh processor fed the whole workload. One CPU:
// go test -bench ConsumeRecord -cpu 1. cpu-spans/s divides the spans by
// the process CPU time of the timed parts (all threads, GC included): the
// spans per second per core on a shared machine, where wall time is not.
func BenchmarkConsumeRecord(b *testing.B) {
	recs := wireWorkload(b)
	for _, mode := range []struct {
		name         string
		replay, otlp bool
	}{{"otlp", false, true}, {"live", false, false}, {"replay", true, false}} {
		b.Run(mode.name, func(b *testing.B) {
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
				before := processCPU(b)
				for _, r := range recs {
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
				cpu += processCPU(b) - before
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
