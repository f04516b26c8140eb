package api_test

import (
	"net/http"
	"testing"

	"github.com/servicegraph/servicegraph/api"
)

func TestGolden(t *testing.T) {
	st, c := fixture(t)
	s, _ := newServer(t, c, api.Sources{Graph: st}, nil)
	tests := []struct {
		name, target string
	}{
		{name: "fields", target: "/api/graph/fields"},
		{name: "data", target: "/api/graph/data"},
		{name: "nodes", target: "/api/graph/nodes"},
		{name: "edges", target: "/api/graph/edges"},
		{name: "data_service_checkout_depth1", target: "/api/graph/data?service=checkout&depth=1"},
		{name: "dependencies", target: "/api/dependencies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(s.Handler(), tt.target)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			golden(t, tt.name, rec.Body.Bytes())
		})
	}
}
