package pairing_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/pairing"
)

// FuzzConsumeOTLP feeds arbitrary bytes through the OTLP JSON and protobuf
// decoders into the pairing core: whatever decodes must be consumed without
// panicking, twice (the second time all duplicates), and leave every span
// accounted for once the waits are over.
func FuzzConsumeOTLP(f *testing.F) {
	for _, name := range []string{"calls.json", "messaging.json", "links.json"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "traces", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
		if err != nil {
			f.Fatal(err)
		}
		pb, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(pb)
	}
	// An attribute value nested 130 levels deep, past the bound: refused.
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10",` +
		`"spanId":"0102030405060708","attributes":[{"key":"deep","value":` +
		strings.Repeat(`{"arrayValue":{"values":[`, 129) + `{"stringValue":"x"}` + strings.Repeat(`]}}`, 129) + `}]}]}]}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var tds []ptrace.Traces
		if td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(in); err == nil {
			tds = append(tds, td)
		}
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(in); err == nil {
			tds = append(tds, req.Traces())
		}
		if len(tds) == 0 {
			return
		}
		p, _, _ := newPipeline(t, pairing.NewDefaultConfig())
		for _, td := range tds {
			for range 2 {
				_ = p.ConsumeTraces(context.Background(), td) // partial errors are fine
			}
		}
		p.Flush()
		checkAccounting(t, p.Stats())
	})
}
