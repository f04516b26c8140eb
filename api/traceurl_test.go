package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/pairing"
)

// With a trace URL template, /api/links/unresolved links each problem's
// linking trace and, when its ids are valid, the link's target trace;
// without one it carries the ids only.
func TestUnresolvedLinksTraceURL(t *testing.T) {
	st, c := fixture(t)
	problems := []pairing.Problem{
		{Result: "unresolved", Service: "batch", SpanName: "run", TraceID: "0102030405060708090a0b0c0d0e0f10", SpanID: "1112131415161718",
			LinkTraceID: "a1a2a3a4a5a6a7a8a9aaabacadaeafb0", LinkSpanID: "b1b2b3b4b5b6b7b8", Time: t0, LikelyCause: pairing.CauseNeverSeen},
		{Result: "invalid", Service: "batch", SpanName: "run", TraceID: "0102030405060708090a0b0c0d0e0f10", SpanID: "2122232425262728",
			LinkTraceID: "00000000000000000000000000000000", LinkSpanID: "0000000000000000", Time: t0.Add(-time.Second), LikelyCause: pairing.CauseInvalid},
	}
	src := api.Sources{Graph: st, Problems: func() []pairing.Problem { return problems }}
	with, _ := newServer(t, c, src, func(cfg *api.Config) { cfg.TraceURLTemplate = "http://jaeger:16686/trace/{trace_id}?uiFind={span_id}" })
	without, _ := newServer(t, c, src, nil)
	for _, tc := range []struct {
		name string
		h    http.Handler
		want string
	}{
		{"template", with.Handler(), `{"problems":[` +
			`{"result":"unresolved","service":"batch","span_name":"run","trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"1112131415161718","link_trace_id":"a1a2a3a4a5a6a7a8a9aaabacadaeafb0","link_span_id":"b1b2b3b4b5b6b7b8","time":"2025-06-01T12:00:30Z","likely_cause":"` + pairing.CauseNeverSeen + `",` +
			`"trace_url":"http://jaeger:16686/trace/0102030405060708090a0b0c0d0e0f10?uiFind=1112131415161718","link_trace_url":"http://jaeger:16686/trace/a1a2a3a4a5a6a7a8a9aaabacadaeafb0?uiFind=b1b2b3b4b5b6b7b8"},` +
			`{"result":"invalid","service":"batch","span_name":"run","trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"2122232425262728","link_trace_id":"00000000000000000000000000000000","link_span_id":"0000000000000000","time":"2025-06-01T12:00:29Z","likely_cause":"` + pairing.CauseInvalid + `",` +
			`"trace_url":"http://jaeger:16686/trace/0102030405060708090a0b0c0d0e0f10?uiFind=2122232425262728"}]}`},
		{"no template", without.Handler(), `{"problems":[` +
			`{"result":"unresolved","service":"batch","span_name":"run","trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"1112131415161718","link_trace_id":"a1a2a3a4a5a6a7a8a9aaabacadaeafb0","link_span_id":"b1b2b3b4b5b6b7b8","time":"2025-06-01T12:00:30Z","likely_cause":"` + pairing.CauseNeverSeen + `"},` +
			`{"result":"invalid","service":"batch","span_name":"run","trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"2122232425262728","link_trace_id":"00000000000000000000000000000000","link_span_id":"0000000000000000","time":"2025-06-01T12:00:29Z","likely_cause":"` + pairing.CauseInvalid + `"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(tc.h, "/api/links/unresolved")
			if got := strings.TrimSpace(rec.Body.String()); got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// A bad template is refused at start with what is wrong.
func TestTraceURLTemplateValidate(t *testing.T) {
	cfg := api.NewDefaultConfig()
	cfg.TraceURLTemplate = "http://jaeger:16686/trace/"
	err := cfg.Validate()
	if err == nil || err.Error() != `trace_url_template: trace URL template "http://jaeger:16686/trace/" has no {trace_id} placeholder` {
		t.Fatalf("err = %v", err)
	}
}
