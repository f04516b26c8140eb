package api

import (
	"bytes"
	"cmp"
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/render/picture"
)

// staticFS holds the built-in page: its template, script and style sheet.
// Nothing is fetched from elsewhere, so the page works offline.
//
//go:embed static
var staticFS embed.FS

// maxPageServices bounds the service suggestions listed in the page.
const maxPageServices = 2000

// pageWindows are the page's window choices, in seconds.
var pageWindows = []option{
	{Value: "5m", Secs: 300}, {Value: "15m", Secs: 900}, {Value: "1h", Secs: 3600},
	{Value: "6h", Secs: 21600}, {Value: "24h", Secs: 86400}, {Value: windowCustom, Label: "custom…"},
}

// windowCustom is the window choice that shows the from/to pickers.
const windowCustom = "custom"

// pickerLayout is the value layout of the page's datetime-local pickers,
// which show UTC.
const pickerLayout = "2006-01-02T15:04:05"

// option is one choice of a page control.
type option struct {
	Value, Label string
	Selected     bool
	Secs         int // windows: length in seconds
}

type pageData struct {
	NowMillis      int64 // server clock: the page's windows end at it
	RefreshSeconds int
	AutoRefresh    bool
	Service        string
	Depth          int
	MaxDepth       int
	Services       []string
	Kinds          []option
	Windows        []option
	RankDirs       []option
	Custom         bool   // the custom window is chosen: the pickers show
	From, To       string // the pickers' values, UTC, pickerLayout
}

// servePage renders the built-in page. Its filters start from the query
// string (service, depth, kinds, window, rankdir, refresh=0|1); bad values
// fall back to defaults here, the page's own requests report them. Every
// value is escaped by html/template.
func (s *Server) servePage(r *http.Request) apiFuncResult {
	v := r.URL.Query()
	d := pageData{
		NowMillis:      s.now().UnixMilli(),
		RefreshSeconds: int(s.cfg.PageRefresh / time.Second),
		AutoRefresh:    v.Get("refresh") != "0",
		Service:        v.Get(ParamService),
		Depth:          graph.DefaultDepth,
		MaxDepth:       s.cfg.MaxDepth,
	}
	if n, err := strconv.Atoi(v.Get(ParamDepth)); err == nil && n >= 0 && n <= s.cfg.MaxDepth {
		d.Depth = n
	}
	kinds, err := graph.ParseKinds(v.Get(ParamKinds))
	if err != nil {
		kinds = graph.AllKinds
	}
	for _, k := range graph.Kinds {
		d.Kinds = append(d.Kinds, option{Value: k.String(), Label: strings.ReplaceAll(k.String(), "_", " "), Selected: kinds.Has(k)})
	}
	window := v.Get("window")
	if !slices.ContainsFunc(pageWindows, func(o option) bool { return o.Value == window }) {
		window = "1h"
	}
	for _, o := range pageWindows {
		o.Label, o.Selected = cmp.Or(o.Label, o.Value), o.Value == window
		d.Windows = append(d.Windows, o)
	}
	// The pickers start at the URL's from and to (a custom window), else
	// at the last hour.
	to, from := s.now(), s.now().Add(-time.Hour)
	if window == windowCustom {
		d.Custom = true
		if q, err := ParseQuery(url.Values{"from": {v.Get("from")}, "to": {v.Get("to")}}, s.now(), s.cfg.MaxDepth); err == nil {
			from, to = q.From, q.To
		}
	}
	d.From, d.To = from.UTC().Format(pickerLayout), to.UTC().Format(pickerLayout)
	rankdir, err := parseRankDir(v)
	if err != nil {
		rankdir = picture.RankDirs[0]
	}
	for _, rd := range picture.RankDirs {
		d.RankDirs = append(d.RankDirs, option{Value: rd, Label: rd, Selected: rd == rankdir})
	}
	for _, n := range s.src.Graph.Snapshot().Nodes {
		if len(d.Services) == maxPageServices {
			break
		}
		d.Services = append(d.Services, n.Name)
	}
	var b bytes.Buffer
	if err := s.page.Execute(&b, d); err != nil {
		return apiFuncResult{err: fmt.Errorf("page template: %w", err)}
	}
	return apiFuncResult{body: b.Bytes(), contentType: "text/html; charset=utf-8"}
}

// staticFile serves one embedded file.
func staticFile(name string) apiFunc {
	data, err := fs.ReadFile(staticFS, name)
	if err != nil {
		panic("api: missing embedded " + name) // a build error, caught by every test
	}
	ctype := "text/plain; charset=utf-8"
	switch {
	case strings.HasSuffix(name, ".js"):
		ctype = "text/javascript; charset=utf-8"
	case strings.HasSuffix(name, ".css"):
		ctype = "text/css; charset=utf-8"
	}
	return func(*http.Request) apiFuncResult {
		return apiFuncResult{body: data, contentType: ctype, header: http.Header{"Cache-Control": {"no-cache"}}}
	}
}
