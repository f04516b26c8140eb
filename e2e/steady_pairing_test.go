package e2e

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"syscall"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// spRequest encodes one service's spans of traces [from, to): CLIENT calls
// to backend with every dbEvery-th trace also querying a database (client),
// or their SERVER sides (server).
func spRequest(t *testing.T, client bool, from, to, dbEvery int) []byte {
	t.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	svc := "backend"
	if client {
		svc = "frontend"
	}
	rs.Resource().Attributes().PutStr("service.name", svc)
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	id := func(n, b int) [8]byte {
		var v [8]byte
		binary.BigEndian.PutUint32(v[:4], uint32(n)+1)
		v[7] = byte(b)
		return v
	}
	for n := from; n < to; n++ {
		var tr [16]byte
		binary.BigEndian.PutUint64(tr[8:], uint64(n)+1)
		add := func(sid, parent int, kind ptrace.SpanKind) ptrace.Span {
			s := spans.AppendEmpty()
			s.SetTraceID(tr)
			s.SetSpanID(id(n, sid))
			if parent != 0 {
				s.SetParentSpanID(id(n, parent))
			}
			s.SetKind(kind)
			s.SetName("op")
			s.SetStartTimestamp(1)
			s.SetEndTimestamp(2)
			return s
		}
		if !client {
			add(3, 1, ptrace.SpanKindServer)
			continue
		}
		add(1, 0, ptrace.SpanKindClient).Attributes().PutStr("server.address", "backend")
		if n%dbEvery == 0 {
			db := add(2, 0, ptrace.SpanKindClient)
			db.Attributes().PutStr("db.system", "postgresql")
			db.Attributes().PutStr("db.name", "orders")
		}
	}
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSteadyPairingClientsAtRate sends, within one --pair-wait, 2,000
// CLIENT calls whose server side arrives in the next request and 200
// database calls, against a pending cap of 256: the calls that pair leave
// the clients queue at once, so nothing is dropped, 200 wait (as the
// pending and capacity gauges show), and after a shutdown (which ends every
// wait) every database call is an edge. Before, all 2,200 held a place for
// the whole wait: 1,944 were dropped, database calls among them.
func TestSteadyPairingClientsAtRate(t *testing.T) {
	dir := t.TempDir()
	flags := []string{"--max-pending-spans", "256", "--shards", "1", "--pair-wait", "1h"}
	s := start(t, dir, flags...)
	const traces, per, dbEvery = 2000, 50, 10
	for from := 0; from < traces; from += per {
		for _, client := range []bool{true, false} {
			resp, err := http.Post("http://"+s.http+"/v1/traces", "application/x-protobuf",
				bytes.NewReader(spRequest(t, client, from, from+per, dbEvery)))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("POST /v1/traces: %d", resp.StatusCode)
			}
		}
	}
	fams := s.metrics(t)
	for _, c := range []struct {
		name, label string
		want        float64
	}{
		{"servicegraph_spans_received_total", "", 2*traces + traces/dbEvery},
		{"servicegraph_dropped_total", "queue=clients", 0},
		{"servicegraph_pending_items", "queue=clients", traces / dbEvery},
		{"servicegraph_pending_capacity", "queue=clients", 256},
	} {
		var lv []string
		if c.label != "" {
			lv = append(lv, c.label)
		}
		if v, ok := value(fams, c.name, lv...); !ok || v != c.want {
			t.Errorf("%s{%s} = %v (found %v), want %v", c.name, c.label, v, ok, c.want)
		}
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	s = start(t, dir, flags...)
	fams = s.metrics(t)
	if v, ok := value(fams, "traces_service_graph_request_total", "client=frontend", "connection_type=database", "server=orders"); v != traces/dbEvery {
		t.Errorf("database edge count %v (found %v), want %d; edges:\n%q", v, ok, traces/dbEvery,
			series(fams, "traces_service_graph_request_total"))
	}
}
