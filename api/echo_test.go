package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/servicegraph/servicegraph/api"
)

// TestErrorsEchoCut: a parameter value of 100 KB is repeated in the error
// answer cut to 128 bytes and "…" (an unknown service used to come back
// whole), on every path that reports a bad value; a cut never splits a
// UTF-8 sequence.
func TestErrorsEchoCut(t *testing.T) {
	st, c := fixture(t)
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: &fakeRenderer{}}, nil)
	long := strings.Repeat("x", 100<<10)
	cut := strconv.Quote(strings.Repeat("x", 128) + "…")
	// "a" then 2-byte runes: 128 bytes would end inside the 64th rune.
	accents := "a" + strings.Repeat("é", 50<<10)
	accentsCut := strconv.Quote("a" + strings.Repeat("é", 63) + "…")
	kinds := "call, messaging_system, span_link, database, virtual_node"
	tests := []struct {
		name, target string
		status       int
		param, msg   string
	}{
		{"unknown service", "/api/graph/data?service=" + long, 400, "service", "unknown service " + cut},
		{"unknown service, edges", "/api/graph/edges?service=" + long, 400, "service", "unknown service " + cut},
		{"unknown service, svg", "/graph.svg?service=" + long, 400, "service", "unknown service " + cut},
		{"unknown service, utf-8", "/api/graph/nodes?service=" + url.QueryEscape(accents), 400, "service", "unknown service " + accentsCut},
		{"unknown kind", "/api/graph/data?kinds=call," + long, 400, "kinds", "kinds: unknown kind " + cut + " (want one of " + kinds + ")"},
		{"from", "/api/graph/data?from=" + long, 400, "from", "from " + cut + ": want Unix seconds, Unix milliseconds or RFC 3339"},
		{"to", "/api/graph/fields?to=" + long, 400, "to", "to " + cut + ": want Unix seconds, Unix milliseconds or RFC 3339"},
		{"depth", "/api/graph/data?depth=" + long, 400, "depth", "depth must be a whole number from 0 to 10, got " + cut},
		{"rankdir", "/graph.dot?rankdir=" + long, 400, "rankdir", "rankdir must be LR, TB, RL or BT, got " + cut},
		{"limit", "/api/links/unresolved?limit=" + long, 400, "limit", "limit must be a whole number from 1 to 1000, got " + cut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(s.Handler(), tt.target)
			want, _ := json.Marshal(map[string]string{"error": tt.msg, "parameter": tt.param})
			if rec.Code != tt.status || strings.TrimSuffix(rec.Body.String(), "\n") != string(want) {
				t.Fatalf("GET %s…: %d, %d bytes:\n%.600s\nwant %d:\n%s", tt.target[:40], rec.Code, rec.Body.Len(), rec.Body, tt.status, want)
			}
		})
	}
	// Jaeger's envelope goes through the same cut.
	for _, p := range []string{"endTs", "lookback"} {
		t.Run("jaeger "+p, func(t *testing.T) {
			rec := get(s.Handler(), "/api/dependencies?"+p+"="+long)
			var body struct {
				Errors []struct {
					Code int
					Msg  string
				}
			}
			decode(t, rec, &body)
			if rec.Code != http.StatusBadRequest || len(body.Errors) != 1 || !strings.HasSuffix(body.Errors[0].Msg, ", got "+cut) {
				t.Fatalf("%d %.600s", rec.Code, rec.Body)
			}
		})
	}
}
