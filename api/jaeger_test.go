package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
)

func TestDependencies(t *testing.T) {
	st, c := fixture(t)
	// A second kind between checkout and payments: summed with the call.
	st.Observe(make5(st, graph.SpanLink), nil)
	s, _ := newServer(t, c, api.Sources{Graph: st}, nil)
	type link struct {
		Parent    string `json:"parent"`
		Child     string `json:"child"`
		CallCount uint64 `json:"callCount"`
	}
	tests := []struct {
		name, query string
		want        []link
	}{
		{name: "old window", query: "endTs=" + millis(t0.Add(-2*time.Hour)) + "&lookback=" + ms(2*time.Hour),
			want: []link{{"frontend", "legacy", 10}}},
		{name: "service", query: "service=payments",
			want: []link{{"checkout", "payments", 65}, {"payments", "bank-api", 50}, {"payments", "payments", 8}}},
		{name: "last five minutes", query: "lookback=" + ms(5*time.Minute), want: []link{{"checkout", "payments", 5}}},
		{name: "nothing yet", query: "endTs=" + millis(t0.Add(-5*time.Hour)) + "&lookback=" + ms(time.Hour), want: []link{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(s.Handler(), "/api/dependencies?"+tt.query)
			if rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			var raw map[string]json.RawMessage
			decode(t, rec, &raw)
			// Jaeger's structuredResponse: every key, total/limit/offset 0, errors null.
			if !strings.HasPrefix(rec.Body.String(), `{"data":[`) ||
				!strings.HasSuffix(strings.TrimSpace(rec.Body.String()), `],"total":0,"limit":0,"offset":0,"errors":null}`) || len(raw) != 5 {
				t.Errorf("body %s: want Jaeger's full envelope", rec.Body)
			}
			var got []link
			if err := json.Unmarshal(raw["data"], &got); err != nil || got == nil {
				t.Fatalf("data %s: %v", raw["data"], err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("data = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("data[%d] = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
	for _, bad := range []string{"endTs=now", "endTs=-1", "lookback=0", "lookback=1h", "lookback=99999999999999999"} {
		t.Run(bad, func(t *testing.T) {
			rec := get(s.Handler(), "/api/dependencies?"+bad)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			param := strings.SplitN(bad, "=", 2)[0]
			var body struct {
				Data   *[]any `json:"data"`
				Errors []struct {
					Code int    `json:"code"`
					Msg  string `json:"msg"`
				} `json:"errors"`
			}
			decode(t, rec, &body)
			if !strings.HasPrefix(rec.Body.String(), `{"data":null,"total":0,"limit":0,"offset":0,"errors":[`) || body.Data != nil || len(body.Errors) != 1 ||
				body.Errors[0].Code != 400 || !strings.Contains(body.Errors[0].Msg, param) {
				t.Errorf("body %s: want Jaeger's error shape naming %s", rec.Body, param)
			}
		})
	}
}

func ms(d time.Duration) string { return millis(time.UnixMilli(0).Add(d)) }

// make5 is five occurrences of checkout → payments of kind k, now.
func make5(st *graph.Store, k graph.Kind) []graph.Observation {
	o := graph.Observation{Client: st.Node("checkout", graph.ServiceNode), Server: st.Node("payments", graph.ServiceNode), Kind: k}
	return []graph.Observation{o, o, o, o, o}
}
