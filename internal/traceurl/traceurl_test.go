package traceurl_test

import (
	"testing"

	"github.com/servicegraph/servicegraph/internal/traceurl"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in, trace, span, want, err string
	}{
		{name: "jaeger", in: "http://localhost:16686/trace/{trace_id}", trace: "ab01", want: "http://localhost:16686/trace/ab01"},
		{name: "span too", in: "https://tempo.example/trace/{trace_id}?uiFind={span_id}", trace: "ab01", span: "cd02",
			want: "https://tempo.example/trace/ab01?uiFind=cd02"},
		{name: "grafana explore", in: `https://grafana.example/explore?left={"datasource":"tempo","queries":[{"query":"{trace_id}"}]}`, trace: "ab01",
			want: `https://grafana.example/explore?left={"datasource":"tempo","queries":[{"query":"ab01"}]}`},
		{name: "empty", in: "", trace: "ab01", want: ""},
		{name: "no placeholder", in: "http://jaeger/trace/", err: `trace URL template "http://jaeger/trace/" has no {trace_id} placeholder`},
		{name: "relative", in: "/trace/{trace_id}", err: `trace URL template "/trace/{trace_id}" must be an http:// or https:// URL with a host`},
		{name: "scheme", in: "javascript:alert({trace_id})", err: `trace URL template "javascript:alert({trace_id})" must be an http:// or https:// URL with a host`},
		{name: "bad url", in: "http://[::1/{trace_id}", err: `trace URL template "http://[::1/{trace_id}": missing ']' in host`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp, err := traceurl.Parse(tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tp.URL(tc.trace, tc.span); got != tc.want {
				t.Fatalf("URL = %q, want %q", got, tc.want)
			}
			if got := tp.URL("", ""); got != "" {
				t.Fatalf("URL of no trace = %q", got)
			}
		})
	}
}
