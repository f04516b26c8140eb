package tracedecode

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// TestNaming checks, through both decoders, which node each span names
// under a Naming: databases, peers, and root spans' callers.
func TestNaming(t *testing.T) {
	type want struct {
		peer string
		kind PeerKind
	}
	tests := []struct {
		name   string
		kind   ptrace.SpanKind
		root   bool
		attrs  map[string]any
		naming *Naming // nil: the defaults
		want   want
	}{
		{"database by namespace", ptrace.SpanKindClient, false,
			map[string]any{"db.system.name": "postgresql", "db.namespace": "orders", "server.address": "pg"}, nil, want{"orders", PeerDatabase}},
		{"database by address and int port", ptrace.SpanKindClient, false,
			map[string]any{"db.system": "redis", "network.peer.address": "10.0.0.7", "network.peer.port": int64(6379)}, nil,
			want{"10.0.0.7:6379", PeerDatabase}},
		{"empty values skipped", ptrace.SpanKindClient, false,
			map[string]any{"db.system": "redis", "db.name": "", "peer.service": ""}, nil, want{"redis", PeerDatabase}},
		{"peer", ptrace.SpanKindClient, false, map[string]any{"server.address": "api.example.com", "peer.service": "stripe"}, nil,
			want{"stripe", PeerService}},
		{"a peer address with its port", ptrace.SpanKindClient, false,
			map[string]any{"network.peer.address": "10.0.0.9", "network.peer.port": int64(443)}, nil, want{"10.0.0.9:443", PeerService}},
		{"root server's caller", ptrace.SpanKindServer, true, map[string]any{"peer.service": "cron"}, nil, want{"cron", PeerCaller}},
		{"root consumer's caller", ptrace.SpanKindConsumer, true, map[string]any{"service.peer.name": "legacy"}, nil,
			want{"legacy", PeerCaller}},
		{"no address as caller by default", ptrace.SpanKindServer, true, map[string]any{"client.address": "10.1.1.1"}, nil, want{}},
		{"a child server names no caller", ptrace.SpanKindServer, false, map[string]any{"peer.service": "cron"}, nil, want{}},
		{"an internal span names nothing", ptrace.SpanKindInternal, true, map[string]any{"peer.service": "cron"}, nil, want{}},
		{"custom lists", ptrace.SpanKindServer, true, map[string]any{"client.address": "10.1.1.1"},
			mustNaming(t, []string{"db.name"}, []string{"net.peer.name"}, []string{"client.address"}), want{"10.1.1.1", PeerCaller}},
		{"the connector's database list", ptrace.SpanKindClient, false, map[string]any{"db.system": "redis", "server.address": "r"},
			mustNaming(t, []string{"db.name"}, DefaultPeerAttributes, nil), want{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td := ptrace.NewTraces()
			sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
			sp.SetTraceID([16]byte{1})
			sp.SetSpanID([8]byte{1})
			if !tt.root {
				sp.SetParentSpanID([8]byte{2})
			}
			sp.SetKind(tt.kind)
			if err := sp.Attributes().FromRaw(tt.attrs); err != nil {
				t.Fatal(err)
			}
			var viaPdata, viaWire Records
			viaPdata.Naming, viaWire.Naming = tt.naming, tt.naming
			if err := FromTraces(td, &viaPdata); err != nil {
				t.Fatal(err)
			}
			buf, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
			if err != nil {
				t.Fatal(err)
			}
			if err := Decode(buf, &viaWire); err != nil {
				t.Fatal(err)
			}
			for name, r := range map[string]*Records{"pdata": &viaPdata, "wire": &viaWire} {
				if got := (want{r.Spans[0].Peer, r.Spans[0].PeerKind}); got != tt.want {
					t.Errorf("%s: got %+v, want %+v", name, got, tt.want)
				}
			}
		})
	}
}

func mustNaming(t *testing.T, database, peer, caller []string) *Naming {
	t.Helper()
	n, err := NewNaming(database, peer, caller)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
