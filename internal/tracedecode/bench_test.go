package tracedecode

import (
	"context"
	"errors"
	"os"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/internal/workload"
)

// benchWorkload loads the workload pairing's benchmarks replay:
// SERVICEGRAPH_WORKLOAD when set, else a small generated one (1,000 user
// requests, about 35,000 spans). Without either it skips, except under CI.
func benchWorkload(b *testing.B) [][]byte {
	path, err := workload.Locate(context.Background(), b.TempDir(), 1000)
	if errors.Is(err, workload.ErrNoWorkload) {
		if _, ci := os.LookupEnv("CI"); !ci {
			b.Skip(err)
		}
	}
	if err != nil {
		b.Fatal(err)
	}
	recs, err := workload.ReadAll(path)
	if err != nil {
		b.Fatal(err)
	}
	return recs
}

// BenchmarkDecodePdata is the decode step alone through pdata:
// UnmarshalProto then FromTraces.
func BenchmarkDecodePdata(b *testing.B) {
	recs := benchWorkload(b)
	var r Records
	spans := 0
	b.ReportAllocs()
	for b.Loop() {
		spans = 0
		for _, buf := range recs {
			req := ptraceotlp.NewExportRequest()
			if err := req.UnmarshalProto(buf); err != nil {
				b.Fatal(err)
			}
			if err := FromTraces(req.Traces(), &r); err != nil {
				b.Fatal(err)
			}
			spans += len(r.Spans)
			r.Reset()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(spans)/float64(b.N), "ns/span")
}

// BenchmarkDecodeProto is the decode step alone through Decode.
func BenchmarkDecodeProto(b *testing.B) { benchDecode(b, Decode) }

// BenchmarkDecodeIndexOnly is the decode step alone through
// DecodeIndexOnly (a replayed Kafka record whose waits are over), beside
// BenchmarkDecodeProto.
func BenchmarkDecodeIndexOnly(b *testing.B) { benchDecode(b, DecodeIndexOnly) }

// benchDecode decodes the bench workload's records with decode.
func benchDecode(b *testing.B, decode func([]byte, *Records) error) {
	recs := benchWorkload(b)
	var r Records
	spans := 0
	b.ReportAllocs()
	for b.Loop() {
		spans = 0
		for _, buf := range recs {
			if err := decode(buf, &r); err != nil {
				b.Fatal(err)
			}
			spans += len(r.Spans)
			r.Reset()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(spans)/float64(b.N), "ns/span")
}
