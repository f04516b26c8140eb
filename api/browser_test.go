package api_test

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/pairing"
	"github.com/servicegraph/servicegraph/render/picture"
)

// chromium finds the browser: $SERVICEGRAPH_CHROMIUM, else chromium on
// the PATH (Debian's chromium package installs /usr/bin/chromium).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("SERVICEGRAPH_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found and CI is set: apt-get install -y chromium")
	}
	t.Skip("chromium not found: apt-get install -y chromium (or set SERVICEGRAPH_CHROMIUM)")
	return ""
}

type shownEdge struct {
	Title  string `json:"title"`
	Dashed bool   `json:"dashed"`
}

// TestBrowserPage drives the built-in page in headless Chromium: the SVG
// is shown, exactly the async edges are dashed, typing a service and
// refreshing changes the edges, server errors are shown, the unresolved
// links table is filled with text only. It saves a screenshot to
// $SERVICEGRAPH_ARTIFACTS (or a temporary directory).
// browser is a headless Chromium driven by chromedp for one test.
type browser struct {
	t   *testing.T
	ctx context.Context
}

// newBrowser starts Chromium for t (skipping without it outside CI), bounded
// to 40 s in all; it closes at the end of the test.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromium(t)
	userData := t.TempDir()
	// The whole browser session is bounded; a hung page fails the test
	// instead of the run.
	parent, cancelParent := context.WithTimeout(context.Background(), 40*time.Second)
	alloc, cancelAlloc := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(userData),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1280, 1000))
	ctx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		if err := chromedp.Cancel(ctx); err != nil {
			t.Errorf("close the browser: %v", err)
		}
		cancelBrowser()
		cancelAlloc()
		cancelParent()
	})
	// Start the browser on ctx: it lives as long as the context of the
	// first run.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx}
}

// do runs steps within a few seconds, so that a failure leaves time to
// look at the page.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) error {
	step, cancel := context.WithTimeout(b.ctx, 8*time.Second)
	defer cancel()
	return chromedp.Do(step, steps...)
}

// eval evaluates a JavaScript expression into out's type.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// screenshot saves the page to name in the test's artifact directory
// (go test -artifacts -outputdir DIR keeps it; see the README).
func (b *browser) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	shot := filepath.Join(b.t.ArtifactDir(), name)
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", shot)
}

// setValue sets an input's live value (chromedp's Clear only resets the
// attribute).
func setValue(id, v string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf("void (document.getElementById(%q).value = %q)", id, v))
}

// TestBrowserPage drives the built-in page in headless Chromium: the SVG
// is shown, exactly the async edges are dashed, typing a service and
// refreshing changes the edges, server errors are shown, the unresolved
// links table is filled with text only. It saves a screenshot to the
// test's artifact directory.
func TestBrowserPage(t *testing.T) {
	br := newBrowser(t)
	ctx, do := br.ctx, br.do
	st, c := fixture(t)
	r := &fakeRenderer{}
	problems := func() []pairing.Problem {
		return []pairing.Problem{{Result: "unresolved", Service: "batch", SpanName: "<b>nightly</b>", TraceID: "0af7651916cd43dd8448eb211c80319c",
			SpanID: "b7ad6b7169203331", Time: t0.Add(-time.Minute), LikelyCause: pairing.CauseNeverSeen}}
	}
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: r, Problems: problems}, nil)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	base := "http://" + s.Addr().String()

	dump := func() string {
		s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({graph: document.getElementById('graph').dataset,
			error: document.getElementById('error').textContent, service: document.getElementById('service').value,
			status: document.getElementById('status').textContent, url: location.href})`))
		return s
	}

	shown := func(state string) []shownEdge {
		t.Helper()
		if err := do(chromedp.WaitVisible(chromedp.CSS(`#graph[data-state="` + state + `"]`))); err != nil {
			t.Fatalf("wait for the graph: %v; page: %s", err, dump())
		}
		edges, err := chromedp.Run(ctx, chromedp.Evaluate[[]shownEdge](`[...document.querySelectorAll('#graph svg g.edge')].map(g => ({
			title: g.querySelector('title').textContent,
			dashed: g.querySelector('path').hasAttribute('stroke-dasharray')}))`))
		if err != nil {
			t.Fatalf("read the shown edges: %v", err)
		}
		slices.SortFunc(edges, func(a, b shownEdge) int { return strings.Compare(a.Title, b.Title) })
		return edges
	}
	// want asks the API for the edges the page should show.
	want := func(query string) []shownEdge {
		t.Helper()
		var rows []struct {
			Source, Target, StrokeDasharray string
		}
		decode(t, get(s.Handler(), "/api/graph/edges?"+query), &rows)
		var out []shownEdge
		for _, e := range rows {
			out = append(out, shownEdge{Title: e.Source + "->" + e.Target, Dashed: e.StrokeDasharray != ""})
		}
		slices.SortFunc(out, func(a, b shownEdge) int { return strings.Compare(a.Title, b.Title) })
		return out
	}

	if err := do(chromedp.Navigate(base + "/?refresh=0")); err != nil {
		t.Fatalf("open the page: %v", err)
	}
	all := shown("ok")
	if fmt.Sprint(all) != fmt.Sprint(want("")) || len(all) != 8 {
		t.Fatalf("shown edges %v, want %v", all, want(""))
	}
	var dashed []string
	for _, e := range all {
		if e.Dashed {
			dashed = append(dashed, e.Title)
		}
	}
	if fmt.Sprint(dashed) != "[checkout->batch checkout->fulfilment payments->payments]" {
		t.Errorf("dashed edges %v, want exactly the async ones", dashed)
	}

	if err := do(chromedp.WaitVisible(chromedp.CSS(`#links tbody tr`))); err != nil {
		t.Fatalf("unresolved links table: %v", err)
	}
	cells, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#links tbody td')].map(td => td.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	bold, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#links b').length`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(cells, "<b>nightly</b>") || bold != 0 {
		t.Errorf("links table cells %q (%d <b> elements): want the span name as text", cells, bold)
	}

	// Type a service and refresh: the neighbourhood's edges replace the graph.
	if err := do(
		chromedp.SendKeys(chromedp.ID("service"), "fulfilment"),
		setValue("depth", "1"),
		chromedp.Click(chromedp.ID("refresh")),
		chromedp.WaitVisible(chromedp.CSS(`#graph[data-query*="service=fulfilment"][data-query*="depth=1"]`))); err != nil {
		t.Fatalf("filter by service: %v; page: %s", err, dump())
	}
	narrow := shown("ok")
	if fmt.Sprint(narrow) != fmt.Sprint(want("service=fulfilment&depth=1")) || len(narrow) != 1 || !narrow[0].Dashed {
		t.Errorf("edges around fulfilment %v, want %v", narrow, want("service=fulfilment&depth=1"))
	}
	if err := do(setValue("service", ""), setValue("depth", "2"),
		chromedp.Click(chromedp.ID("refresh")),
		chromedp.WaitVisible(chromedp.CSS(`#graph[data-state="ok"][data-query*="depth=2"]:not([data-query*="service="])`))); err != nil {
		t.Fatalf("back to the whole graph: %v; page: %s", err, dump())
	}
	br.screenshot("page.png")

	// Server errors are shown: a bad service (400 JSON), then a picture too
	// large to draw (422 text with the hint).
	if err := do(
		chromedp.SendKeys(chromedp.ID("service"), "nope"),
		chromedp.Click(chromedp.ID("refresh")),
		chromedp.WaitVisible(chromedp.CSS(`#graph[data-state="error"][data-query*="service=nope"]`))); err != nil {
		t.Fatalf("bad service: %v; page: %s", err, dump())
	}
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("error")))
	if err != nil || !strings.Contains(msg, "unknown service") || !strings.Contains(msg, "parameter: service") {
		t.Errorf("error shown %q (%v)", msg, err)
	}
	r.mu.Lock()
	r.err = fmt.Errorf("%w: 400 nodes, the limit is 300", picture.ErrTooLarge)
	r.mu.Unlock()
	if err := do(setValue("service", ""), chromedp.Click(chromedp.ID("refresh")),
		chromedp.WaitVisible(chromedp.CSS(`#graph[data-state="error"]:not([data-query*="service="])`))); err != nil {
		t.Fatalf("too large: %v; page: %s", err, dump())
	}
	msg, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID("error")))
	if err != nil || !strings.Contains(msg, "too large") || !strings.Contains(msg, "service=") {
		t.Errorf("too-large error shown %q (%v)", msg, err)
	}
	if rec := get(s.Handler(), "/graph.svg"); rec.Code != http.StatusUnprocessableEntity {
		t.Errorf("graph.svg: %d", rec.Code)
	}
}

// panel reads the side panel: its title and each value by its key.
type panel struct {
	Title  string            `json:"title"`
	Kind   string            `json:"kind"`
	Values map[string]string `json:"values"`
}

const readPanel = `(() => {
	const d = document.getElementById('details');
	const values = {};
	for (const dd of d.querySelectorAll('dd[data-k]')) values[dd.dataset.k] = dd.textContent;
	return {title: d.hidden ? '' : document.getElementById('details-title').textContent, kind: d.dataset.kind || '', values};
})()`

// TestBrowserExplore drives the explorable page over the real renderer's
// SVG: clicking a node and an edge shows their exact numbers in the side
// panel, hovering a node highlights exactly its neighbours, search finds a
// service and says when none matches, the keyboard reaches an edge and
// opens and closes its panel, zoom changes the view box, the legend is
// outside the drawing, a custom window is sent as from/to, and filters that
// match nothing say so. Screenshots go to the test's artifact directory.
func TestBrowserExplore(t *testing.T) {
	br := newBrowser(t)
	st, c := fixture(t)
	problems := func() []pairing.Problem {
		return []pairing.Problem{{Result: "unresolved", Service: "payments", SpanName: "settle", TraceID: "0af7651916cd43dd8448eb211c80319c",
			SpanID: "b7ad6b7169203331", Time: t0.Add(-time.Minute), LikelyCause: pairing.CauseNeverSeen}}
	}
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: newRealRenderer(t, prometheus.NewRegistry(), nil), Problems: problems}, nil)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	base := "http://" + s.Addr().String()
	dump := func() string {
		return eval[string](br, `JSON.stringify({graph: document.getElementById('graph').dataset, error: document.getElementById('error').textContent,
			empty: document.getElementById('empty').textContent, find: document.getElementById('find-status').textContent,
			details: document.getElementById('details').hidden, active: document.activeElement && document.activeElement.outerHTML.slice(0, 120)})`)
	}
	must := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := br.do(steps...); err != nil {
			t.Fatalf("%s: %v; page: %s", what, err, dump())
		}
	}
	wantPanel := func(title string, want map[string]string) {
		t.Helper()
		must("panel "+title, chromedp.WaitVisible(chromedp.CSS(`#details:not([hidden])`)))
		got := eval[panel](br, readPanel)
		if got.Title != title {
			t.Errorf("panel title %q, want %q", got.Title, title)
		}
		for k, v := range want {
			if got.Values[k] != v {
				t.Errorf("panel %s: %s = %q, want %q", title, k, got.Values[k], v)
			}
		}
	}

	must("open the page", chromedp.Navigate(base+"/?refresh=0"), chromedp.WaitVisible(chromedp.CSS(`#graph[data-state="ok"]`)))
	// Every node and edge of the view is wired, the renderer's legend is
	// gone from the drawing and the page's own is shown beside it.
	if n := eval[int](br, `document.querySelectorAll('#graph [data-node]').length`); n != 8 {
		t.Errorf("%d nodes wired, want 8", n)
	}
	if n := eval[int](br, `document.querySelectorAll('#graph [data-edge]').length`); n != 8 {
		t.Errorf("%d edges wired, want 8", n)
	}
	if n := eval[int](br, `document.querySelectorAll('#graph [id^="legend"]').length`); n != 0 {
		t.Errorf("%d legend elements left in the drawing", n)
	}
	if !eval[bool](br, `(() => { const l = document.getElementById('legend').getBoundingClientRect(), g = document.getElementById('graph').getBoundingClientRect(); return l.height > 0 && l.top >= g.bottom; })()`) {
		t.Errorf("the legend is not below the drawing")
	}

	// A self-loop's label stays clear of the loop (the renderer puts it
	// beside the loop, not on it), in every direction.
	for _, rankdir := range []string{"TB", "RL", "BT", "LR"} {
		must("rankdir "+rankdir, chromedp.SetValue(chromedp.ID("rankdir"), rankdir),
			chromedp.Evaluate[chromedp.Void](`void document.getElementById('rankdir').dispatchEvent(new Event('change'))`),
			chromedp.WaitVisible(chromedp.CSS(`#graph[data-state="ok"][data-rankdir="`+rankdir+`"]`)))
		if overlap := eval[string](br, `(() => {
		const bad = [];
		for (const g of document.querySelectorAll('#graph [data-edge]')) {
			const [client, server] = g.dataset.edge.split('\u0000');
			if (client !== server) continue;
			const p = g.querySelector('path').getBoundingClientRect();
			for (const t of g.querySelectorAll('text')) {
				const r = t.getBoundingClientRect();
				if (r.left < p.right && r.right > p.left && r.top < p.bottom && r.bottom > p.top) bad.push(client + ': ' + t.textContent);
			}
		}
		return bad.join('; '); })()`); overlap != "" {
			t.Errorf("rankdir %s: self-loop labels overlap their loop: %s", rankdir, overlap)
		}
	}

	// PNG export: the picture with its legend at twice /graph.png's size
	// (one pixel per point of the SVG's view box), drawn by the browser.
	var vb struct {
		W, H float64
	}
	svg := get(s.Handler(), "/graph.svg").Body.String()
	if i := strings.Index(svg, `viewBox="`); i < 0 {
		t.Fatalf("no viewBox in the SVG")
	} else if _, err := fmt.Sscanf(svg[i+len(`viewBox="`):], "0.00 0.00 %f %f", &vb.W, &vb.H); err != nil {
		t.Fatalf("read the viewBox: %v", err)
	}
	must("export PNG", chromedp.Click(chromedp.ID("export-png")), chromedp.WaitVisible(chromedp.CSS(`#export-png[data-size]`)))
	if size, want := eval[string](br, `document.getElementById('export-png').dataset.size`), fmt.Sprintf("%dx%d", int(math.Round(2*vb.W)), int(math.Round(2*vb.H))); size != want {
		t.Errorf("PNG export %s, want %s (the view box %gx%g at 2x)", size, want, vb.W, vb.H)
	}

	// The export links carry the page's query; the snapshot link shows
	// because the server has /api/graph/snapshot.
	must("snapshot export", chromedp.WaitVisible(chromedp.ID("export-snapshot")))
	links := eval[map[string]string](br, `Object.fromEntries(['export-svg', 'export-dot', 'export-snapshot'].map((id) => [id, document.getElementById(id).getAttribute('href')]))`)
	q := eval[string](br, `document.getElementById('graph').dataset.query`)
	if links["export-svg"] != "graph.svg?"+q+"&rankdir=LR" || links["export-dot"] != "graph.dot?"+q+"&rankdir=LR" || links["export-snapshot"] != "api/graph/snapshot?"+q {
		t.Errorf("export links %v for the query %q", links, q)
	}
	if rec := get(s.Handler(), "/"+links["export-snapshot"]); rec.Code != http.StatusOK {
		t.Errorf("GET %s: %d %s", links["export-snapshot"], rec.Code, rec.Body)
	}

	// Click a node: its numbers over the window and its link health.
	must("click payments", chromedp.Click(chromedp.CSS(`#graph [data-node="payments"]`)))
	wantPanel("payments", map[string]string{
		"kind": "service", "requests": "68", "rate": "0.0189/s", "failed": "14", "errors": "20.59 %",
		"links_resolved": "0", "links_unresolved": "0", "links_invalid": "0", "links_dropped": "0",
	})
	must("payments' unresolved links", chromedp.WaitVisible(chromedp.CSS(`#details-problems li`)))
	if txt := eval[string](br, `document.getElementById('details-problems').textContent`); !strings.Contains(txt, "unresolved: settle") ||
		!strings.Contains(txt, "0af7651916cd43dd8448eb211c80319c") {
		t.Errorf("payments' problems: %q", txt)
	}
	br.screenshot("explore-node.png")

	// Click an edge's label: its numbers, the percentiles and first/last seen.
	xy := eval[[]float64](br, `(() => {
		const g = [...document.querySelectorAll('#graph [data-edge]')].find((g) => g.dataset.edge === 'checkout\u0000payments\u0000call');
		const r = g.querySelector('text').getBoundingClientRect();
		return [r.x + r.width / 2, r.y + r.height / 2]; })()`)
	must("click checkout → payments", chromedp.MouseClickXY(xy[0], xy[1]))
	wantPanel("checkout → payments", map[string]string{
		"kind": "call (sync)", "requests": "60", "rate": "0.0167/s", "failed": "6", "errors": "10.00 %",
		"mean": "250 ms", "p50": "300 ms", "p95": "390 ms", "p99": "398 ms",
		"first_seen": "2025-06-01T11:20:30Z", "last_seen": "2025-06-01T11:20:30Z",
	})
	if sel := eval[string](br, `[...document.querySelectorAll('#graph .sel')].map((g) => g.dataset.edge || g.dataset.node).join()`); sel != "checkout\x00payments\x00call" {
		t.Errorf("selected %q, want the edge", sel)
	}

	// Hover a node: it, its edges and its neighbours stay, the rest dims.
	must("hover checkout", chromedp.Evaluate[chromedp.Void](`void document.querySelector('#graph [data-node="checkout"] text').dispatchEvent(new MouseEvent('mouseover', {bubbles: true}))`))
	lit := eval[[]string](br, `[...document.querySelectorAll('#graph svg.dim .hl[data-node]')].map((g) => g.dataset.node).sort()`)
	if fmt.Sprint(lit) != "[batch checkout frontend fulfilment orders-db payments]" {
		t.Errorf("highlighted around checkout: %v", lit)
	}
	if n := eval[int](br, `document.querySelectorAll('#graph svg.dim .hl[data-edge]').length`); n != 5 {
		t.Errorf("%d edges highlighted around checkout, want 5", n)
	}

	// Zoom in with the button: the view box shrinks by 1.25.
	must("zoom in", chromedp.Click(chromedp.ID("zoom-in")), chromedp.WaitVisible(chromedp.CSS(`#graph[data-zoom="1.250"]`)))
	// A refresh of the same picture keeps the zoom and the open panel.
	draws := eval[string](br, `document.getElementById('graph').dataset.draws`)
	next, _ := strconv.Atoi(draws)
	must("refresh", chromedp.Click(chromedp.ID("refresh")), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#graph[data-draws="%d"]`, next+1))))
	if z := eval[string](br, `document.getElementById('graph').dataset.zoom`); z != "1.250" {
		t.Errorf("zoom after a refresh %s, want 1.250 kept", z)
	}
	if title := eval[panel](br, readPanel).Title; title != "checkout → payments" {
		t.Errorf("panel after a refresh %q, want the edge's kept", title)
	}
	must("fit", chromedp.Click(chromedp.ID("zoom-reset")), chromedp.WaitVisible(chromedp.CSS(`#graph[data-zoom="1.000"]`)))

	// Search: a part of a name finds the service and opens its panel; a
	// name not drawn says so.
	must("find fulf", setValue("find", "fulf"), chromedp.Click(chromedp.ID("find-go")))
	wantPanel("fulfilment", map[string]string{"requests": "40", "errors": "0.00 %"})
	if z := eval[string](br, `document.getElementById('graph').dataset.zoom`); z == "1.000" {
		t.Errorf("search did not zoom to the service")
	}
	if a := eval[string](br, `document.activeElement.dataset.node || ''`); a != "fulfilment" {
		t.Errorf("focus after search on %q", a)
	}
	must("find nothing", setValue("find", "zzz"), chromedp.Click(chromedp.ID("find-go")),
		chromedp.WaitVisible(chromedp.CSS(`#find-status`)))
	if msg := eval[string](br, `document.getElementById('find-status').textContent`); msg != "No service named like “zzz” in this drawing." {
		t.Errorf("search for zzz: %q", msg)
	}

	// Keyboard: from the drawing, Tab reaches the first edge; Enter opens
	// its panel with the focus on it; Escape closes it and gives the focus
	// back.
	must("keyboard", chromedp.Click(chromedp.ID("zoom-reset")), chromedp.Focus(chromedp.ID("graph")), chromedp.KeyEvent("\t"))
	first := eval[string](br, `document.activeElement.dataset.edge || ''`)
	if first != "checkout\x00batch\x00span_link" {
		t.Fatalf("Tab from the drawing focused %q, want the first edge; page: %s", first, dump())
	}
	must("Enter", chromedp.KeyEvent("\r"))
	wantPanel("checkout → batch", map[string]string{"kind": "span_link (async)", "requests": "30", "mean": "12 s", "errors": "10.00 %"})
	if a := eval[string](br, `document.activeElement.id`); a != "details-title" {
		t.Errorf("focus after Enter on %q, want the panel's title", a)
	}
	must("Escape", chromedp.KeyEvent("\x1b"), chromedp.WaitNotVisible(chromedp.ID("details")))
	if a := eval[string](br, `document.activeElement.dataset.edge || ''`); a != first {
		t.Errorf("focus after Escape on %q, want the edge back", a)
	}
	br.screenshot("explore.png")

	// A custom window goes to the API as from/to: 45 to 35 minutes ago
	// holds the two edges observed 40 minutes ago.
	from, to := t0.Add(-45*time.Minute).UTC(), t0.Add(-35*time.Minute).UTC()
	must("custom window", chromedp.SetValue(chromedp.ID("window"), "custom"),
		chromedp.Evaluate[chromedp.Void](`void document.getElementById('window').dispatchEvent(new Event('change'))`),
		chromedp.WaitVisible(chromedp.ID("from")),
		setValue("from", from.Format("2006-01-02T15:04:05")), setValue("to", to.Format("2006-01-02T15:04:05")),
		chromedp.Click(chromedp.ID("refresh")),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#graph[data-state="ok"][data-query*="from=%d&to=%d"]`, from.Unix(), to.Unix()))))
	edges := eval[[]string](br, `[...document.querySelectorAll('#graph [data-edge]')].map((g) => g.dataset.edge.replaceAll('\u0000', ' ')).sort()`)
	if fmt.Sprint(edges) != "[checkout orders-db database checkout payments call]" {
		t.Errorf("edges 45 to 35 minutes ago: %v", edges)
	}
	if u := eval[string](br, `location.search`); !strings.Contains(u, fmt.Sprintf("window=custom&from=%d&to=%d", from.Unix(), to.Unix())) {
		t.Errorf("page URL %q lacks the custom window", u)
	}

	// Filters that match nothing: nothing was seen in the last 9 minutes.
	from, to = t0.Add(-9*time.Minute).UTC(), t0.Add(-time.Minute).UTC()
	must("empty", setValue("from", from.Format("2006-01-02T15:04:05")), setValue("to", to.Format("2006-01-02T15:04:05")),
		chromedp.Click(chromedp.ID("refresh")),
		chromedp.WaitVisible(chromedp.CSS(`#graph[data-state="empty"]`)), chromedp.WaitVisible(chromedp.ID("empty")))
	msg := eval[string](br, `document.getElementById('empty').textContent`)
	want := fmt.Sprintf("Nothing matches: no edge had requests between %s and %s. Try a longer window.",
		from.Format(time.RFC3339), to.Format(time.RFC3339))
	if msg != want {
		t.Errorf("empty message %q, want %q", msg, want)
	}
	br.screenshot("explore-empty.png")
}

// TestBrowserDiff opens the page in diff mode from its URL (a custom window
// and a custom baseline) and finds the added edge highlighted as added and
// the removed one as removed, with both windows' numbers in the side
// panel; choosing "the window before" sends that baseline.
func TestBrowserDiff(t *testing.T) {
	br := newBrowser(t)
	st, c := fixture(t)
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: newRealRenderer(t, prometheus.NewRegistry(), nil)}, nil)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	base := "http://" + s.Addr().String()
	// Now: 35 to 5 minutes ago; the baseline: 60 to 35 minutes ago.
	from, to := t0.Add(-35*time.Minute).Unix(), t0.Add(-5*time.Minute).Unix()
	bf, bt := t0.Add(-60*time.Minute).Unix(), from
	dump := func() string {
		return eval[string](br, `JSON.stringify({graph: document.getElementById('graph').dataset, error: document.getElementById('error').textContent})`)
	}
	must := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := br.do(steps...); err != nil {
			t.Fatalf("%s: %v; page: %s", what, err, dump())
		}
	}
	must("open the diff", chromedp.Navigate(fmt.Sprintf("%s/?refresh=0&window=custom&from=%d&to=%d&baseline=custom&baseline_from=%d&baseline_to=%d", base, from, to, bf, bt)),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#graph[data-state="ok"][data-diff="on"][data-query*="baseline_from=%d&baseline_to=%d"]`, bf, bt))))
	status := eval[map[string]string](br, `Object.fromEntries([...document.querySelectorAll('#graph [data-edge]')].map((g) =>
		[g.dataset.edge.replaceAll('\u0000', ' '), [...g.classList].filter((c) => c.startsWith('diff-')).join()]))`)
	want := map[string]string{
		"checkout fulfilment messaging_system": "diff-added", "checkout batch span_link": "diff-added",
		"payments payments span_link": "diff-added", "payments bank-api virtual_node": "diff-added",
		"user frontend virtual_node": "diff-removed", "frontend checkout call": "diff-removed",
		"checkout payments call": "diff-removed", "checkout orders-db database": "diff-removed",
	}
	if fmt.Sprint(status) != fmt.Sprint(want) {
		t.Errorf("edges' diff classes %v, want %v", status, want)
	}
	if sum := eval[string](br, `document.getElementById('diff-legend').hidden ? '' : document.getElementById('diff-summary').textContent`); !strings.Contains(sum, "edges 4 added, 4 removed, 0 changed, 0 same") {
		t.Errorf("diff summary %q", sum)
	}
	// The added edge: clicked, its panel says added, with no baseline.
	xy := eval[[]float64](br, `(() => {
		const g = [...document.querySelectorAll('#graph [data-edge]')].find((g) => g.dataset.edge === 'checkout\u0000fulfilment\u0000messaging_system');
		const r = g.querySelector('text').getBoundingClientRect();
		return [r.x + r.width / 2, r.y + r.height / 2]; })()`)
	must("click the added edge", chromedp.MouseClickXY(xy[0], xy[1]), chromedp.WaitVisible(chromedp.CSS(`#details:not([hidden])`)))
	got := eval[panel](br, readPanel)
	for k, v := range map[string]string{"status": "added", "requests": "– → 40", "rate": "– → 0.0222/s", "kind": "messaging_system (async)"} {
		if got.Values[k] != v {
			t.Errorf("added edge's panel: %s = %q, want %q (%+v)", k, got.Values[k], v, got)
		}
	}
	br.screenshot("diff.png")
	// The window before: 65 to 35 minutes ago.
	must("the window before", chromedp.SetValue(chromedp.ID("baseline"), "previous"),
		chromedp.Evaluate[chromedp.Void](`void document.getElementById('baseline').dispatchEvent(new Event('change'))`),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#graph[data-state="ok"][data-query*="baseline_from=%d&baseline_to=%d"]`, t0.Add(-65*time.Minute).Unix(), from))))
	if u := eval[string](br, `location.search`); !strings.Contains(u, "baseline=previous") || strings.Contains(u, "baseline_from") {
		t.Errorf("page URL %q", u)
	}
	// Off again: the plain view, its legend and no diff classes.
	must("no diff", chromedp.SetValue(chromedp.ID("baseline"), ""),
		chromedp.Evaluate[chromedp.Void](`void document.getElementById('baseline').dispatchEvent(new Event('change'))`),
		chromedp.WaitVisible(chromedp.CSS(`#graph[data-state="ok"][data-diff="off"]`)))
	if n := eval[int](br, `document.querySelectorAll('#graph [class*="diff-"]').length`); n != 0 {
		t.Errorf("%d elements keep a diff class", n)
	}
}

// TestBrowser300 opens the page on 300 services (316 nodes, 730 edges, the
// size the README's render figures use) with the real renderer: every
// node and edge is wired, hovering, clicking and searching work, and the
// page logs what they cost in this browser.
func TestBrowser300(t *testing.T) {
	br := newBrowser(t)
	st, c, _ := layeredStore(t, 300)
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: newRealRenderer(t, prometheus.NewRegistry(), nil)}, nil)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	// The layout takes a few seconds: wait up to the browser's bound.
	step, cancel := context.WithTimeout(br.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(step, chromedp.Navigate("http://"+s.Addr().String()+"/?refresh=0"),
		chromedp.WaitVisible(chromedp.CSS(`#graph[data-state="ok"]`))); err != nil {
		t.Fatalf("open the page: %v", err)
	}
	type measured struct {
		Nodes, Edges, Lit  int
		Title              string
		Wire               string
		Hover, Click, Find float64
	}
	got := eval[measured](br, `(() => {
		const nodes = document.querySelectorAll('#graph [data-node]').length, edges = document.querySelectorAll('#graph [data-edge]').length;
		const g = document.querySelector('#graph [data-node="l1-svc-000"] text');
		const t1 = performance.now();
		g.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
		const t2 = performance.now();
		const lit = document.querySelectorAll('#graph .hl[data-node]').length;
		g.dispatchEvent(new MouseEvent('click', {bubbles: true}));
		const t3 = performance.now();
		document.getElementById('find').value = 'l3-svc-050';
		document.getElementById('find-go').click();
		const t4 = performance.now();
		return {nodes, edges, lit, title: document.getElementById('details-title').textContent,
			wire: document.getElementById('graph').dataset.wireMs, hover: t2 - t1, click: t3 - t2, find: t4 - t3};
	})()`)
	if got.Nodes != 316 || got.Edges != 730 || got.Title != "l3-svc-050" || got.Lit < 2 {
		t.Errorf("at 300 services: %+v", got)
	}
	t.Logf("300 services: show and wire %s ms, hover %.1f ms, click %.1f ms, search %.1f ms", got.Wire, got.Hover, got.Click, got.Find)
	br.screenshot("page-300.png")
}

// TestBrowserPartial: with a cluster peer that does not answer, the page
// says its numbers are partial and names the peer.
func TestBrowserPartial(t *testing.T) {
	br := newBrowser(t)
	st, c := fixture(t)
	// A peer that refuses connections: a port just closed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: &fakeRenderer{}}, func(cfg *api.Config) { cfg.Cluster.Peers = []string{dead} })
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if err := br.do(chromedp.Navigate("http://"+s.Addr().String()+"/?refresh=0"),
		chromedp.WaitVisible(chromedp.CSS(`#graph[data-state="ok"]`)), chromedp.WaitVisible(chromedp.ID("partial"))); err != nil {
		t.Fatalf("partial note: %v", err)
	}
	want := "Partial result: these cluster members did not answer: " + dead + ". Counts may be low and edges missing."
	if got := eval[string](br, `document.getElementById('partial').textContent`); got != want {
		t.Errorf("partial note %q, want %q", got, want)
	}
}

// TestBrowserDetailsDown: when /api/graph/details fails, the drawing is
// still shown, with the reason, and clicking does nothing.
func TestBrowserDetailsDown(t *testing.T) {
	br := newBrowser(t)
	st, c := fixture(t)
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: &fakeRenderer{}}, nil)
	h := s.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/graph/details" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":"no query slot"}`)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer ts.Close()
	if err := br.do(chromedp.Navigate(ts.URL+"/?refresh=0"), chromedp.WaitVisible(chromedp.CSS(`#graph[data-state="ok"] svg g.edge`)),
		chromedp.WaitVisible(chromedp.ID("error"))); err != nil {
		t.Fatalf("open the page: %v", err)
	}
	if msg := eval[string](br, `document.getElementById('error').textContent`); msg != "The drawing is shown, but its numbers could not be loaded: no query slot" {
		t.Errorf("error %q", msg)
	}
	if n := eval[int](br, `document.querySelectorAll('#graph [data-node], #graph [data-edge]').length`); n != 0 {
		t.Errorf("%d elements wired without numbers", n)
	}
}

// TestBrowserTraceLinks: with a trace URL template, clicking an edge
// shows "Open a sample trace" linking to its latest trace, as does the
// node at its end, and the unresolved links table links its traces.
func TestBrowserTraceLinks(t *testing.T) {
	br := newBrowser(t)
	st, c := tracedFixture(t)
	problems := func() []pairing.Problem {
		return []pairing.Problem{{Result: "unresolved", Service: "payments", SpanName: "settle", TraceID: "1af7651916cd43dd8448eb211c80319c",
			SpanID: "b7ad6b7169203331", LinkTraceID: "2af7651916cd43dd8448eb211c80319c", LinkSpanID: "c7ad6b7169203331",
			Time: t0.Add(-time.Minute), LikelyCause: pairing.CauseNeverSeen}}
	}
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: newRealRenderer(t, prometheus.NewRegistry(), nil), Problems: problems},
		func(cfg *api.Config) { cfg.TraceURLTemplate = "http://jaeger.example:16686/trace/{trace_id}" })
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	must := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := br.do(steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	link := func() string {
		return eval[string](br, `(() => { const a = document.querySelector('#details .sample-trace a'); return a ? a.textContent + ' ' + a.getAttribute('href') + ' ' + a.target : ''; })()`)
	}
	const want = "Open a sample trace http://jaeger.example:16686/trace/0af7651916cd43dd8448eb211c80319c _blank"
	must("open the page", chromedp.Navigate("http://"+s.Addr().String()+"/?refresh=0"), chromedp.WaitVisible(chromedp.CSS(`#graph[data-state="ok"]`)))
	xy := eval[[]float64](br, `(() => {
		const g = [...document.querySelectorAll('#graph [data-edge]')].find((g) => g.dataset.edge === 'checkout\u0000payments\u0000call');
		const r = g.querySelector('text').getBoundingClientRect();
		return [r.x + r.width / 2, r.y + r.height / 2]; })()`)
	must("click checkout → payments", chromedp.MouseClickXY(xy[0], xy[1]), chromedp.WaitVisible(chromedp.CSS(`#details .sample-trace a`)))
	if got := link(); got != want {
		t.Errorf("edge panel link %q, want %q", got, want)
	}
	br.screenshot("trace-link-edge.png")
	must("click payments", chromedp.Click(chromedp.CSS(`#graph [data-node="payments"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#details-problems li`)))
	if got := link(); got != want {
		t.Errorf("node panel link %q, want %q", got, want)
	}
	if got := eval[string](br, `[...document.querySelectorAll('#details-problems a')].map((a) => a.getAttribute('href')).join(' ')`); got !=
		"http://jaeger.example:16686/trace/1af7651916cd43dd8448eb211c80319c http://jaeger.example:16686/trace/2af7651916cd43dd8448eb211c80319c" {
		t.Errorf("problem links %q", got)
	}
	// A node without a traced occurrence in the window has no link.
	must("click frontend", chromedp.Click(chromedp.CSS(`#graph [data-node="frontend"]`)), chromedp.WaitVisible(chromedp.CSS(`#details:not([hidden])`)))
	if got := eval[string](br, `document.getElementById('details-title').textContent + ' ' + document.querySelectorAll('#details .sample-trace').length`); got != "frontend 0" {
		t.Errorf("frontend's panel: %q", got)
	}
}
