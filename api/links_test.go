package api_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/pairing"
)

func TestUnresolvedLinks(t *testing.T) {
	st, c := fixture(t)
	var all []pairing.Problem
	for i := range 1500 { // out of order, two services
		svc := "batch"
		if i%3 == 0 {
			svc = "fulfilment"
		}
		all = append(all, pairing.Problem{Result: "unresolved", Service: svc, SpanName: fmt.Sprint("span-", i),
			Time: t0.Add(time.Duration((i*7919)%1500) * time.Second), LikelyCause: pairing.CauseNeverSeen})
	}
	s, _ := newServer(t, c, api.Sources{Graph: st, Problems: func() []pairing.Problem { return all }}, nil)
	none, _ := newServer(t, c, api.Sources{Graph: st}, nil)
	tests := []struct {
		name, target string
		h            http.Handler
		want         int
		service      string
	}{
		{name: "default limit", target: "/api/links/unresolved", h: s.Handler(), want: 100},
		{name: "limit", target: "/api/links/unresolved?limit=7", h: s.Handler(), want: 7},
		{name: "max limit", target: "/api/links/unresolved?limit=1000", h: s.Handler(), want: 1000},
		{name: "service", target: "/api/links/unresolved?service=fulfilment&limit=1000", h: s.Handler(), want: 500, service: "fulfilment"},
		{name: "unknown service", target: "/api/links/unresolved?service=nope", h: s.Handler(), want: 0},
		{name: "no source", target: "/api/links/unresolved", h: none.Handler(), want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(tt.h, tt.target)
			if rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			var body struct {
				Problems []pairing.Problem `json:"problems"`
			}
			decode(t, rec, &body)
			if body.Problems == nil || len(body.Problems) != tt.want {
				t.Fatalf("%d problems (nil %v), want %d", len(body.Problems), body.Problems == nil, tt.want)
			}
			for i, p := range body.Problems {
				if i > 0 && p.Time.After(body.Problems[i-1].Time) {
					t.Fatalf("problem %d is newer than %d: not newest first", i, i-1)
				}
				if tt.service != "" && p.Service != tt.service {
					t.Fatalf("problem of %q in a %q list", p.Service, tt.service)
				}
			}
		})
	}
}
