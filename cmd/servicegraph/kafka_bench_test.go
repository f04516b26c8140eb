package main

import (
	"context"
	"encoding/hex"
	"hash/fnv"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/workload"
	"github.com/servicegraph/servicegraph/kafka"
	"github.com/servicegraph/servicegraph/pairing"
)

// benchCPU is the CPU time this process has used (user + system, every
// thread).
func benchCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRecords splits the bench workload's requests as the Collector's
// kafkaexporter does with partition_traces_by_id: one record per trace of
// each request, keyed by its hex trace id.
func benchRecords(b *testing.B) ([]*kgo.Record, int) {
	path, err := workload.Locate(context.Background(), b.TempDir(), 3000)
	if err != nil {
		b.Fatal(err)
	}
	reqs, err := workload.ReadAll(path)
	if err != nil {
		b.Fatal(err)
	}
	var recs []*kgo.Record
	spans := 0
	for _, raw := range reqs {
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(raw); err != nil {
			b.Fatal(err)
		}
		byTrace := map[pcommon.TraceID]ptrace.Traces{}
		var order []pcommon.TraceID
		for _, rs := range req.Traces().ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					td, ok := byTrace[sp.TraceID()]
					if !ok {
						td = ptrace.NewTraces()
						byTrace[sp.TraceID()] = td
						order = append(order, sp.TraceID())
					}
					// One resource and scope per span: a little larger
					// than the exporter's records, never smaller.
					nrs := td.ResourceSpans().AppendEmpty()
					rs.Resource().CopyTo(nrs.Resource())
					nss := nrs.ScopeSpans().AppendEmpty()
					ss.Scope().CopyTo(nss.Scope())
					sp.CopyTo(nss.Spans().AppendEmpty())
					spans++
				}
			}
		}
		for _, id := range order {
			v, err := ptraceotlp.NewExportRequestFromTraces(byTrace[id]).MarshalProto()
			if err != nil {
				b.Fatal(err)
			}
			recs = append(recs, &kgo.Record{Topic: "otlp_spans", Key: []byte(hex.EncodeToString(id[:])), Value: v})
		}
	}
	return recs, spans
}

// BenchmarkKafkaIngest is the Kafka consume path whole: franz-go fetching
// from an in-process kfake broker, the handler, pairing, link routing
// through the links topic, commits. Each op is a fresh processor and group
// reading the bench workload, written beforehand as the exporter writes
// it. cpu-spans/s divides the spans by the process CPU time from the
// consumer's start (after its topic checks) until every record is
// handled: it includes the
// in-process broker serving the fetches (and the produces of routed
// links), so it is a lower bound of the consumer's own speed. Compare
// with BenchmarkConsumeRecord/live in pairing (pairing alone) and the
// OTLP/gRPC rows of the README:
// go test ./cmd/servicegraph -run '^$' -bench KafkaIngest -benchtime 3x.
func BenchmarkKafkaIngest(b *testing.B) {
	recs, spans := benchRecords(b)
	var cpu time.Duration
	for i := range b.N {
		b.StopTimer()
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "otlp_spans"))
		if err != nil {
			b.Fatal(err)
		}
		hasher := kgo.SaramaCompatHasher(func(k []byte) uint32 { h := fnv.New32a(); h.Write(k); return h.Sum32() })
		prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(hasher)))
		if err != nil {
			b.Fatal(err)
		}
		if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
		prod.Close()
		g := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{})
		pcfg := pairing.NewDefaultConfig()
		pcfg.MaxIndexSpans = 2 << 20
		proc, err := pairing.New(pcfg, pairing.Settings{}, g)
		if err != nil {
			b.Fatal(err)
		}
		cfg := kafka.NewDefaultConfig()
		cfg.Brokers = c.ListenAddrs()
		cfg.Group = "bench" + string(rune('a'+i%26))
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		k, err := startKafka(context.Background(), cfg, "bench", proc, logger, prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		before := benchCPU(b) // the start's topic checks not included
		deadline := time.Now().Add(5 * time.Minute)
		for k.c.Stats().SpanRecords < uint64(len(recs)) {
			if time.Now().After(deadline) {
				b.Fatalf("handled %d of %d records in 5 minutes", k.c.Stats().SpanRecords, len(recs))
			}
			time.Sleep(time.Millisecond) // polls the counter without spending the CPU measured
		}
		cpu += benchCPU(b) - before
		b.StopTimer()
		if err := k.shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
		c.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(spans)*float64(b.N)/cpu.Seconds(), "cpu-spans/s")
	b.ReportMetric(float64(spans)/float64(len(recs)), "spans/record")
	b.ReportMetric(float64(spans), "spans/op")
}
