package api_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

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
func TestBrowserPage(t *testing.T) {
	path := chromium(t)
	artifacts := os.Getenv("SERVICEGRAPH_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	userData := t.TempDir()
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

	// The whole browser session is bounded; a hung page fails the test
	// instead of the run.
	parent, cancelParent := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelParent()
	alloc, cancelAlloc := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(userData),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1280, 1000))
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	// Start the browser on ctx: it lives as long as the context of the
	// first run.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// do runs steps within a few seconds, so that a failure leaves time to
	// look at the page.
	do := func(steps ...chromedp.Action[chromedp.Void]) error {
		step, cancel := context.WithTimeout(ctx, 8*time.Second)
		defer cancel()
		return chromedp.Do(step, steps...)
	}
	// setValue sets an input's live value (chromedp's Clear only resets the
	// attribute).
	setValue := func(id, v string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf("void (document.getElementById(%q).value = %q)", id, v))
	}
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
	screenshot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	shot := filepath.Join(artifacts, "page.png")
	if err := os.WriteFile(shot, screenshot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)

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
	if err := chromedp.Cancel(ctx); err != nil {
		t.Errorf("close the browser: %v", err)
	}
}
