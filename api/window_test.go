package api_test

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/api"
)

func unix(t time.Time) string   { return strconv.FormatInt(t.Unix(), 10) }
func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

type edgeOut struct {
	ID       string  `json:"id"`
	MainStat float64 `json:"mainstat"`
	Requests uint64  `json:"detail__requests"`
}

func edgesAt(t *testing.T, h http.Handler, query string) map[string]edgeOut {
	t.Helper()
	rec := get(h, "/api/graph/edges?"+query)
	if rec.Code != http.StatusOK {
		t.Fatalf("%s: %d %s", query, rec.Code, rec.Body)
	}
	var rows []edgeOut
	decode(t, rec, &rows)
	out := map[string]edgeOut{}
	for _, r := range rows {
		out[r.ID] = r
	}
	return out
}

func TestWindows(t *testing.T) {
	st, c := fixture(t)
	s, _ := newServer(t, c, api.Sources{Graph: st}, nil)
	const legacy, checkout = "frontend>legacy:call", "frontend>checkout:call"
	tests := []struct {
		name       string
		from, to   time.Time
		wantLegacy bool
		wantCount  uint64 // of frontend>checkout
	}{
		{name: "last hour", from: t0.Add(-time.Hour), to: t0, wantCount: 100},
		{name: "last four hours", from: t0.Add(-4 * time.Hour), to: t0, wantLegacy: true, wantCount: 100},
		{name: "around the old edge only", from: t0.Add(-4 * time.Hour), to: t0.Add(-2 * time.Hour), wantLegacy: true},
		{name: "last five minutes", from: t0.Add(-5 * time.Minute), to: t0},
		{name: "two hours", from: t0.Add(-2 * time.Hour), to: t0, wantCount: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edges := edgesAt(t, s.Handler(), "from="+unix(tt.from)+"&to="+unix(tt.to))
			if _, ok := edges[legacy]; ok != tt.wantLegacy {
				t.Errorf("legacy edge present = %v, want %v", ok, tt.wantLegacy)
			}
			e, ok := edges[checkout]
			if (tt.wantCount > 0) != ok || e.Requests != tt.wantCount {
				t.Fatalf("frontend>checkout = %+v (present %v), want count %d", e, ok, tt.wantCount)
			}
			if want := float64(tt.wantCount) / tt.to.Sub(tt.from).Seconds(); ok && e.MainStat != want {
				t.Errorf("rate = %v, want count/window seconds = %v", e.MainStat, want)
			}
		})
	}
}

// TestTimeFormats: the same window in seconds, milliseconds, RFC 3339 and
// RFC 3339 with an offset whose '+' arrived as a space gives the same
// answer.
func TestTimeFormats(t *testing.T) {
	st, c := fixture(t)
	s, _ := newServer(t, c, api.Sources{Graph: st}, nil)
	from, to := t0.Add(-4*time.Hour), t0.Add(-time.Minute)
	want := get(s.Handler(), "/api/graph/data?from="+unix(from)+"&to="+unix(to)).Body.String()
	paris := time.FixedZone("CEST", 2*3600)
	tests := []struct{ name, query string }{
		{name: "milliseconds", query: "from=" + millis(from) + "&to=" + millis(to)},
		{name: "RFC 3339 UTC", query: "from=" + from.Format(time.RFC3339) + "&to=" + to.Format(time.RFC3339)},
		{name: "RFC 3339 offset", query: "from=" + from.In(paris).Format(time.RFC3339) + "&to=" + to.In(paris).Format(time.RFC3339)},
		{name: "RFC 3339 encoded offset", query: "from=2025-06-01T10%3A00%3A30%2B02%3A00&to=" + to.Format(time.RFC3339Nano)},
		{name: "mixed", query: "from=" + millis(from) + "&to=" + to.Format(time.RFC3339)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(s.Handler(), "/api/graph/data?"+tt.query)
			if rec.Code != http.StatusOK || rec.Body.String() != want {
				t.Errorf("%s: %d %s\nwant %s", tt.query, rec.Code, rec.Body, want)
			}
		})
	}
}

// TestReachAndCycles: direction walks the neighbourhood one way (with the
// edges among the nodes reached) and cycles keeps the edges on a cycle,
// over the handler as a client sees them.
func TestReachAndCycles(t *testing.T) {
	st, c := fixture(t)
	s, _ := newServer(t, c, api.Sources{Graph: st}, nil)
	tests := []struct {
		query string
		want  []string
	}{
		{"service=payments&depth=10&direction=upstream",
			[]string{"checkout>payments:call", "frontend>checkout:call", "payments>payments:span_link", "user>frontend:virtual_node"}},
		{"service=checkout&depth=1&direction=downstream",
			[]string{"checkout>batch:span_link", "checkout>fulfilment:messaging_system", "checkout>orders-db:database", "checkout>payments:call", "payments>payments:span_link"}},
		{"cycles=true", []string{"payments>payments:span_link"}},
		{"service=frontend&depth=1&direction=upstream&cycles=true", nil},
	}
	for _, tt := range tests {
		got := edgesAt(t, s.Handler(), tt.query)
		ids := make([]string, 0, len(got))
		for id := range got {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, tt.want) {
			t.Errorf("%s: edges %v, want %v", tt.query, ids, tt.want)
		}
	}
}
