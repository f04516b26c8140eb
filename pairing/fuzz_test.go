package pairing_test

import (
	"context"
	"slices"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/servicegraph/servicegraph/pairing"
)

// FuzzOrderIndependence builds spans from the input (services, kinds,
// parents, links, errors, peers; every span id distinct) and checks the
// pairing core's central promise: delivering them in the given order, in
// reverse, all at once, or twice gives the same graph.
func FuzzOrderIndependence(f *testing.F) {
	f.Add([]byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x11, 0x22, 0x33, 0x44})
	f.Add([]byte{2, 3, 1, 0, 5, 2, 3, 1, 4, 0, 0, 9, 3, 3, 3, 3})
	f.Add([]byte("producer consumer batch retry fan-out"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 600 {
			in = in[:600]
		}
		var spans []sp
		kinds := []ptrace.SpanKind{ptrace.SpanKindInternal, ptrace.SpanKindServer, ptrace.SpanKindClient,
			ptrace.SpanKindProducer, ptrace.SpanKindConsumer}
		for i := 0; i+3 < len(in) && len(spans) < 120; i += 4 {
			a, b, c, d := in[i], in[i+1], in[i+2], in[i+3]
			id := byte(len(spans) + 1) // distinct span ids
			s := sp{svc: string(rune('a' + a%4)), trace: 1 + b%4, id: id, kind: kinds[a/4%5], err: c&1 == 1}
			if id > 1 && c&2 != 0 {
				s.parent = 1 + d%(id-1) // an earlier span; may be in another trace: then it never pairs
			}
			if c&4 != 0 && s.kind == ptrace.SpanKindClient {
				s.attrs = map[string]string{"peer.service": "peer" + string(rune('0'+d%3))}
			}
			if c&8 != 0 {
				s.links = append(s.links, [2]byte{1 + d%4, 1 + (d/4)%uint8(min(int(id), 60))})
			}
			if c&16 != 0 {
				s.links = append(s.links, [2]byte{0, 7}) // invalid
			}
			spans = append(spans, s)
		}
		if len(spans) == 0 {
			return
		}
		run := func(reqs ...ptrace.Traces) []string {
			p, g, _ := newPipeline(t, pairing.NewDefaultConfig())
			for _, td := range reqs {
				_ = p.ConsumeTraces(context.Background(), td) // zero ids are partial errors
			}
			p.Flush()
			return append(edgesOf(g.Snapshot()), linksOf(g.Snapshot())...)
		}
		var fwd, rev []ptrace.Traces
		for i := range spans {
			fwd = append(fwd, traces(spans[i]))
			rev = append(rev, traces(spans[len(spans)-1-i]))
		}
		want := run(fwd...)
		if got := run(rev...); !slices.Equal(got, want) {
			t.Fatalf("reversed order:\n got %q\nwant %q", got, want)
		}
		if got := run(traces(spans...)); !slices.Equal(got, want) {
			t.Fatalf("one request:\n got %q\nwant %q", got, want)
		}
		if got := run(append(fwd, rev...)...); !slices.Equal(got, want) {
			t.Fatalf("delivered twice:\n got %q\nwant %q", got, want)
		}
	})
}
