package pairing

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/graph"
)

func TestKeepName(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"short", "GET /x", "GET /x"},
		{"exactly the limit", strings.Repeat("a", 16), strings.Repeat("a", 16)},
		{"ascii cut", strings.Repeat("a", 17), strings.Repeat("a", 16)},
		{"two-byte runes", strings.Repeat("ü", 20), strings.Repeat("ü", 8)},
		{"four-byte rune across the limit", strings.Repeat("a", 15) + "😀", strings.Repeat("a", 15)},
		{"three-byte rune across the limit", strings.Repeat("a", 14) + "€b", strings.Repeat("a", 14)},
		{"invalid bytes cut, then repaired (a run becomes one U+FFFD)", strings.Repeat("\xff", 40), "\uFFFD"},
		{"repair past the limit cut again", strings.Repeat("a", 15) + "\xff", strings.Repeat("a", 15)},
		{"invalid byte inside", "ab\xffcd", "ab\uFFFDcd"},
		{"continuation bytes at the limit", strings.Repeat("a", 12) + strings.Repeat("\x80", 10), strings.Repeat("a", 12) + "\uFFFD"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keepName(tt.in, 16); got != tt.want {
				t.Fatalf("keepName(%q, 16) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// namedLinks is a request of one span with the given name and links to
// targets that never arrive (trace 9), or invalid (all-zero) links.
func namedLinks(name string, trace byte, links int, invalid bool) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "batch")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID([16]byte{1, trace})
	sp.SetSpanID([8]byte{1, trace})
	sp.SetName(name)
	for i := range links {
		l := sp.Links().AppendEmpty()
		if !invalid {
			l.SetTraceID([16]byte{9, trace, byte(i)})
			l.SetSpanID([8]byte{9, trace, byte(i)})
		}
	}
	return td
}

// Span names kept past the request (waiting links, dropped and unresolved
// links, invalid links: Problems) are cut to MaxNameBytes, through both
// decoders.
func TestKeptNamesAreCut(t *testing.T) {
	name := strings.Repeat("ü", 100) // 200 bytes
	want := strings.Repeat("ü", 8)   // MaxNameBytes 17: 8 runes, 16 bytes
	for _, wire := range []bool{false, true} {
		t.Run(map[bool]string{false: "pdata", true: "wire"}[wire], func(t *testing.T) {
			cfg := NewDefaultConfig()
			cfg.Shards, cfg.MaxPendingLinks, cfg.MaxNameBytes = 1, 2, 17
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			p, err := New(cfg, Settings{Now: func() time.Time { return now }}, graph.MustNew(graph.NewDefaultConfig(), graph.Settings{}))
			if err != nil {
				t.Fatal(err)
			}
			send := func(td ptrace.Traces) {
				if !wire {
					if err := p.ConsumeTraces(context.Background(), td); err != nil {
						t.Fatal(err)
					}
					return
				}
				buf, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
				if err != nil {
					t.Fatal(err)
				}
				if err := p.ConsumeTracesProto(context.Background(), buf); err != nil {
					t.Fatal(err)
				}
			}
			send(namedLinks(name, 1, 3, false)) // 3 wait, 1 dropped at the cap of 2
			send(namedLinks(name, 2, 1, true))  // invalid at once
			sh := p.shards[0]
			for pos := uint32(0); pos < sh.links.r.n; pos++ {
				if w := sh.links.r.at((sh.links.r.head + pos) % sh.links.r.cap); !w.done && w.name != want {
					t.Fatalf("waiting link keeps name %q, want %q", w.name, want)
				}
			}
			p.Flush() // the 2 waiting links are unresolved
			probs := p.Problems()
			if len(probs) != 4 {
				t.Fatalf("%d problems, want 4: %+v", len(probs), probs)
			}
			for _, pr := range probs {
				if pr.SpanName != want {
					t.Fatalf("%s problem keeps name %q, want %q", pr.Result, pr.SpanName, want)
				}
			}
		})
	}
}

// Forty links waiting with 8 MB names hold the cut names only: the heap
// grows by well under one name (it grew by 320 MB when whole names were
// kept).
func TestWaitingLinksHoldCutNames(t *testing.T) {
	cfg := NewDefaultConfig()
	cfg.Shards = 2
	p, err := New(cfg, Settings{}, graph.MustNew(graph.NewDefaultConfig(), graph.Settings{}))
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 40 {
		buf, err := ptraceotlp.NewExportRequestFromTraces(namedLinks(strings.Repeat("n", 8<<20), byte(i+1), 1, false)).MarshalProto()
		if err != nil {
			t.Fatal(err)
		}
		if err := p.ConsumeTracesProto(context.Background(), buf); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if st := p.Stats(); st.PendingLinks != 40 {
		t.Fatalf("%d links waiting, want 40", st.PendingLinks)
	}
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %d bytes for 40 waiting links", grew)
	if grew > 4<<20 {
		t.Fatalf("heap grew by %d bytes for 40 waiting links, want under 4 MiB", grew)
	}
	runtime.KeepAlive(p)
}
