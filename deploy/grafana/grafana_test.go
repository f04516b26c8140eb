// Package grafana_test checks the shipped Grafana provisioning files: they
// parse, the dashboard uses only the provisioned datasources, and every
// query the dashboard makes, with Grafana's variables filled in as Grafana
// fills them, is answered by the API with what the panels need.
package grafana_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"gopkg.in/yaml.v3"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
)

const (
	nodeGraphAPI = "hamedkarbasi93-nodegraphapi-datasource"
	infinity     = "yesoreyeram-infinity-datasource"
	apiURL       = "http://127.0.0.1:8080"
	diffUID      = "servicegraph-nodegraph-diff"
	// diffQuery is the "What changed" panel's query string.
	diffQuery = "from=${__from}&to=${__to}&service=${service:percentencode}&depth=${depth}&baseline_offset=${baseline_offset}&baseline_from=${baseline_from:percentencode}"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type datasource struct {
	Name     string         `yaml:"name"`
	UID      string         `yaml:"uid"`
	Type     string         `yaml:"type"`
	Access   string         `yaml:"access"`
	URL      string         `yaml:"url"`
	JSONData map[string]any `yaml:"jsonData"`
	Editable bool           `yaml:"editable"`
}

type target struct {
	RefID           string `json:"refId"`
	Datasource      struct{ Type, UID string }
	QueryText       string `json:"queryText"`
	FieldAPIURLPath string `json:"fieldApiUrlPath"`
	DataAPIURLPath  string `json:"dataApiUrlPath"`
	Type            string `json:"type"`
	Source          string `json:"source"`
	Format          string `json:"format"`
	URL             string `json:"url"`
	RootSelector    string `json:"root_selector"`
}

type panel struct {
	Type        string
	Title       string
	Description string
	Datasource  struct{ Type, UID string }
	Targets     []target
	Options     struct {
		Nodes struct {
			Arcs []struct{ Field, Color string }
		}
	}
}

type dashboard struct {
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct{ Name, Type string } `json:"list"`
	} `json:"templating"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func load(t *testing.T) (map[string]datasource, dashboard) {
	t.Helper()
	var ds struct {
		APIVersion  int          `yaml:"apiVersion"`
		Datasources []datasource `yaml:"datasources"`
	}
	readYAML(t, "datasources.yaml", &ds)
	byUID := map[string]datasource{}
	for _, d := range ds.Datasources {
		byUID[d.UID] = d
	}
	var providers struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Folder, Type    string
			OrgID                 int            `yaml:"orgId"`
			DisableDeletion       bool           `yaml:"disableDeletion"`
			AllowUIUpdates        bool           `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int            `yaml:"updateIntervalSeconds"`
			Options               map[string]any `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "dashboards.yaml", &providers)
	if len(providers.Providers) != 1 || providers.Providers[0].Type != "file" || providers.Providers[0].Options["path"] == nil {
		t.Errorf("dashboards.yaml: want one file provider with a path, got %+v", providers.Providers)
	}
	b, err := os.ReadFile("dashboards/servicegraph.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	return byUID, d
}

func TestProvisioning(t *testing.T) {
	ds, d := load(t)
	if len(ds) != 3 {
		t.Errorf("%d datasources, want 3: %+v", len(ds), ds)
	}
	for uid, want := range map[string]struct{ name, url string }{
		"servicegraph-nodegraph": {"servicegraph", apiURL},
		diffUID:                  {"servicegraph (diff)", apiURL + "/diff"},
	} {
		if n := ds[uid]; n.Name != want.name || n.Type != nodeGraphAPI || n.JSONData["url"] != want.url || n.Access != "proxy" {
			t.Errorf("Node Graph API datasource %s: %+v: want name %q, access proxy and jsonData.url %s", uid, n, want.name, want.url)
		}
	}
	if inf := ds["servicegraph-infinity"]; inf.Type != infinity || inf.URL != apiURL ||
		!strings.Contains(strings.Join(anyStrings(inf.JSONData["allowedHosts"]), " "), apiURL) {
		t.Errorf("Infinity datasource %+v: want url and allowedHosts %s", inf, apiURL)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["service"] == "" || vars["depth"] == "" || vars["baseline_from"] != "textbox" || vars["baseline_offset"] != "custom" {
		t.Errorf("dashboard variables %v: want service, depth, the custom baseline_offset and the textbox baseline_from", vars)
	}
	graphs := 0
	for _, p := range d.Panels {
		if _, ok := ds[p.Datasource.UID]; !ok {
			t.Errorf("panel %q uses datasource %q, which is not provisioned", p.Title, p.Datasource.UID)
		}
		if p.Type == "nodeGraph" {
			graphs++
		}
		for _, tg := range p.Targets {
			if x, ok := ds[tg.Datasource.UID]; !ok || x.Type != tg.Datasource.Type {
				t.Errorf("panel %q target %s: datasource %+v not provisioned with that type", p.Title, tg.RefID, tg.Datasource)
			}
			if tg.Datasource.Type == nodeGraphAPI && !strings.HasPrefix(tg.QueryText, "from=${__from}&to=${__to}&service=") {
				t.Errorf("panel %q: query string %q", p.Title, tg.QueryText)
			}
		}
	}
	if graphs != 3 {
		t.Errorf("%d node graph panels, want 3", graphs)
	}
	// The diff panel: its datasource, its query, the status arcs in the
	// API's colours, and a description that explains them.
	p := diffPanel(t, d)
	if p.Type != "nodeGraph" || p.Datasource.UID != diffUID || len(p.Targets) != 1 || p.Targets[0].QueryText != diffQuery ||
		p.Targets[0].Datasource.UID != diffUID {
		t.Errorf("What changed panel %+v: want a nodeGraph of %s with query %s", p, diffUID, diffQuery)
	}
	wantArcs := map[string]string{"arc__added": api.ColourAdded, "arc__removed": api.ColourRemoved,
		"arc__changed": api.ColourChanged, "arc__same": api.ColourSame}
	if len(p.Options.Nodes.Arcs) != len(wantArcs) {
		t.Errorf("What changed arcs %+v, want %v", p.Options.Nodes.Arcs, wantArcs)
	}
	for _, a := range p.Options.Nodes.Arcs {
		if wantArcs[a.Field] != a.Color {
			t.Errorf("What changed arc %s colour %s, want %s", a.Field, a.Color, wantArcs[a.Field])
		}
	}
	for _, w := range []string{"green " + api.ColourAdded + " added", "red " + api.ColourRemoved + " removed",
		"orange " + api.ColourChanged + " changed", "grey " + api.ColourSame + " same", "dashed"} {
		if !strings.Contains(p.Description, w) {
			t.Errorf("What changed description lacks %q", w)
		}
	}
}

// diffPanel returns the "What changed" panel.
func diffPanel(t *testing.T, d dashboard) panel {
	t.Helper()
	for _, p := range d.Panels {
		if p.Title == "What changed" {
			return p
		}
	}
	t.Fatal(`no "What changed" panel`)
	return panel{}
}

// TestDashboardQueries runs every query of the dashboard against the API,
// as the datasources send them, with ${__from}/${__to} in milliseconds.
func TestDashboardQueries(t *testing.T) {
	ds, d := load(t)
	now := time.Date(2025, 6, 1, 12, 0, 30, 0, time.UTC)
	st := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: func() time.Time { return now.Add(-time.Minute) }})
	shop, mail := st.Node("shop & co", graph.ServiceNode), st.Node("mailer", graph.ServiceNode)
	st.Observe([]graph.Observation{{Client: shop, Server: mail, Kind: graph.Messaging}}, nil)
	s, err := api.New(api.NewDefaultConfig(), api.Settings{Now: func() time.Time { return now }}, api.Sources{Graph: st})
	if err != nil {
		t.Fatal(err)
	}
	for _, service := range []string{"", "shop & co"} {
		fill := strings.NewReplacer(
			"${__from}", strconv.FormatInt(now.Add(-time.Hour).UnixMilli(), 10),
			"${__to}", strconv.FormatInt(now.UnixMilli(), 10),
			"${service:percentencode}", url.QueryEscape(service), "${depth}", "2", "${baseline_offset}", "", "${baseline_from:percentencode}", "")
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				var targets []string
				switch tg.Datasource.Type {
				case nodeGraphAPI: // the plugin sends the query string to both paths, under its URL
					base := dsPath(t, ds[tg.Datasource.UID])
					targets = []string{base + tg.FieldAPIURLPath + "?" + fill.Replace(tg.QueryText), base + tg.DataAPIURLPath + "?" + fill.Replace(tg.QueryText)}
				case infinity:
					targets = []string{fill.Replace(tg.URL)}
				}
				for _, target := range targets {
					rec := httptest.NewRecorder()
					s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
					if rec.Code != http.StatusOK {
						t.Errorf("panel %q: GET %s: %d %s", p.Title, target, rec.Code, rec.Body)
						continue
					}
					checkShape(t, tg, target, rec.Body.Bytes())
				}
			}
		}
	}
}

// checkShape verifies what the panel reads from the answer.
func checkShape(t *testing.T, tg target, target string, body []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	switch tg.Format {
	case "node-graph-nodes", "node-graph-edges":
		rows, _ := v.([]any)
		key := map[string]string{"node-graph-nodes": "arc__success_color", "node-graph-edges": "source"}[tg.Format]
		if len(rows) == 0 {
			t.Fatalf("GET %s: no rows", target)
		}
		for _, r := range rows {
			if _, ok := r.(map[string]any)[key]; !ok {
				t.Errorf("GET %s: row %v lacks %s", target, r, key)
			}
		}
	case "table":
		if _, ok := v.(map[string]any)[tg.RootSelector]; !ok {
			t.Errorf("GET %s: no %q at the root", target, tg.RootSelector)
		}
	default:
		m, _ := v.(map[string]any)
		if strings.Contains(target, "/fields") {
			if m["nodes_fields"] == nil || m["edges_fields"] == nil {
				t.Errorf("GET %s: %s", target, body)
			}
		} else if m["nodes"] == nil || m["edges"] == nil {
			t.Errorf("GET %s: %s", target, body)
		}
	}
}

func anyStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// dsPath is the path of a Node Graph API datasource's URL, which the
// plugin puts before /api/health and the panel's paths.
func dsPath(t *testing.T, d datasource) string {
	t.Helper()
	raw, _ := d.JSONData["url"].(string)
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("datasource %s: url %q: %v", d.UID, raw, err)
	}
	return strings.TrimSuffix(u.Path, "/")
}

// TestDashboardDiffPanel answers "what changed since last week's review?"
// as the "What changed" panel asks it: the provisioned diff datasource's
// Save & Test, then its query string with Grafana's variables filled in,
// against constructed windows; the rows' statuses and colours are exact.
//
//	                    last week's window   the window before   the current hour
//	shop & co→mailer    10 (messaging)       40                  10
//	shop & co→legacy    10                   -                   -
//	shop & co→search    -                    -                   5
//
// shop & co's 15 requests are 62.5 % fewer than the window before's 40
// (changed) and 25 % fewer than last week's 20 (same).
func TestDashboardDiffPanel(t *testing.T) {
	ds, d := load(t)
	p := diffPanel(t, d)
	now := time.Date(2025, 6, 1, 12, 0, 30, 0, time.UTC)
	clock := now
	cfg := graph.NewDefaultConfig()
	cfg.Retention = 8 * 24 * time.Hour
	st := graph.MustNew(cfg, graph.Settings{Now: func() time.Time { return clock }})
	shop, mail := st.Node("shop & co", graph.ServiceNode), st.Node("mailer", graph.ServiceNode)
	legacy, search := st.Node("legacy", graph.ServiceNode), st.Node("search", graph.ServiceNode)
	observe := func(ago time.Duration, server graph.NodeID, k graph.Kind, n int) {
		clock = now.Add(-ago)
		st.Observe(slices.Repeat([]graph.Observation{{Client: shop, Server: server, Kind: k}}, n), nil)
	}
	week := 7 * 24 * time.Hour
	observe(week+30*time.Minute, mail, graph.Messaging, 10)
	observe(week+30*time.Minute, legacy, graph.Call, 10)
	observe(90*time.Minute, mail, graph.Messaging, 40)
	observe(30*time.Minute, mail, graph.Messaging, 10)
	observe(30*time.Minute, search, graph.Call, 5)
	clock = now
	s, err := api.New(api.NewDefaultConfig(), api.Settings{Now: func() time.Time { return now }}, api.Sources{Graph: st})
	if err != nil {
		t.Fatal(err)
	}
	base := dsPath(t, ds[p.Datasource.UID])
	get := func(target string) []byte {
		t.Helper()
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body)
		}
		return rec.Body.Bytes()
	}
	get(base + "/api/health") // Save & Test

	type row struct{ Status, Colour, Dash string }
	lastWeek := map[string]row{
		"shop & co": {"same", api.ColourSame, ""}, "mailer": {"same", api.ColourSame, ""},
		"legacy": {"removed", api.ColourRemoved, ""}, "search": {"added", api.ColourAdded, ""},
	}
	lastWeekEdges := map[string]row{
		"shop & co>mailer": {"same", api.ColourSame, "6 4"}, "shop & co>legacy": {"removed", api.ColourRemoved, ""},
		"shop & co>search": {"added", api.ColourAdded, ""},
	}
	for _, tc := range []struct {
		name, offset, baseline string
		nodes, edges           map[string]row
	}{
		{"window before", "", "", map[string]row{
			"shop & co": {"changed", api.ColourChanged, ""}, "mailer": {"changed", api.ColourChanged, ""},
			"search": {"added", api.ColourAdded, ""},
		}, map[string]row{
			"shop & co>mailer": {"changed", api.ColourChanged, "6 4"}, "shop & co>search": {"added", api.ColourAdded, ""},
		}},
		{"custom start: last week's review", "", "2025-05-25T11:00:30Z", lastWeek, lastWeekEdges},
		{"1 week before", "7d", "", lastWeek, lastWeekEdges},
		// Nothing a day before: every edge is new; the queried service is
		// in both windows (the view's centre), its rate up from 0.
		{"1 day before", "1d", "", map[string]row{
			"shop & co": {"changed", api.ColourChanged, ""}, "mailer": {"added", api.ColourAdded, ""},
			"search": {"added", api.ColourAdded, ""},
		}, map[string]row{
			"shop & co>mailer": {"added", api.ColourAdded, "6 4"}, "shop & co>search": {"added", api.ColourAdded, ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := strings.NewReplacer(
				"${__from}", strconv.FormatInt(now.Add(-time.Hour).UnixMilli(), 10),
				"${__to}", strconv.FormatInt(now.UnixMilli(), 10),
				"${service:percentencode}", url.QueryEscape("shop & co"), "${depth}", "1", "${baseline_offset}", tc.offset,
				"${baseline_from:percentencode}", url.QueryEscape(tc.baseline)).Replace(p.Targets[0].QueryText)
			if strings.Contains(q, "$") {
				t.Fatalf("query %s: a variable is left", q)
			}
			var fields struct {
				Nodes []struct {
					Name  string `json:"field_name"`
					Color string `json:"color"`
				} `json:"nodes_fields"`
			}
			if err := json.Unmarshal(get(base+p.Targets[0].FieldAPIURLPath+"?"+q), &fields); err != nil {
				t.Fatal(err)
			}
			arcs := map[string]string{}
			for _, f := range fields.Nodes {
				if strings.HasPrefix(f.Name, "arc__") {
					arcs[f.Name] = f.Color
				}
			}
			for _, a := range p.Options.Nodes.Arcs {
				if arcs[a.Field] != a.Color {
					t.Errorf("field %s: colour %q, the panel's %q", a.Field, arcs[a.Field], a.Color)
				}
			}
			var data struct {
				Nodes []struct {
					ID, Subtitle, Color string
				} `json:"nodes"`
				Edges []struct {
					Source, Target, Color, StrokeDasharray string
					Status                                 string `json:"detail__status"`
				} `json:"edges"`
			}
			if err := json.Unmarshal(get(base+p.Targets[0].DataAPIURLPath+"?"+q), &data); err != nil {
				t.Fatal(err)
			}
			nodes, edges := map[string]row{}, map[string]row{}
			for _, n := range data.Nodes {
				nodes[n.ID] = row{n.Subtitle, n.Color, ""}
			}
			for _, e := range data.Edges {
				edges[e.Source+">"+e.Target] = row{e.Status, e.Color, e.StrokeDasharray}
			}
			if !maps.Equal(nodes, tc.nodes) {
				t.Errorf("nodes %v, want %v", nodes, tc.nodes)
			}
			if !maps.Equal(edges, tc.edges) {
				t.Errorf("edges %v, want %v", edges, tc.edges)
			}
		})
	}
	// A preset with a Baseline start left filled in: the panel shows why.
	q := strings.NewReplacer("${__from}", "0", "${__to}", "3600000", "${service:percentencode}", "", "${depth}", "1",
		"${baseline_offset}", "7d", "${baseline_from:percentencode}", "1000").Replace(p.Targets[0].QueryText)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, base+p.Targets[0].DataAPIURLPath+"?"+q, nil))
	if want := `"error":"give the baseline either as baseline_offset or as baseline_from/baseline_to, not both"`; rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), want) {
		t.Errorf("preset and custom start: %d %s, want 400 %s", rec.Code, rec.Body, want)
	}
}

// TestREADMEDiffSnippets: the README's paste-able datasource and panel
// for diffs are the provisioned ones (the datasource's host aside).
func TestREADMEDiffSnippets(t *testing.T) {
	ds, d := load(t)
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	block := func(lang, start string) string {
		t.Helper()
		i := strings.Index(readme, "```"+lang+"\n"+start)
		if i < 0 {
			t.Fatalf("README: no %s block starting %q", lang, start)
		}
		body := readme[i+len("```"+lang+"\n"):]
		return body[:strings.Index(body, "```")]
	}
	var y struct {
		Datasources []datasource `yaml:"datasources"`
	}
	if err := yaml.Unmarshal([]byte(block("yaml", "apiVersion: 1\ndatasources:\n  - name: servicegraph (diff)")), &y); err != nil {
		t.Fatal(err)
	}
	want := ds[diffUID]
	want.JSONData = map[string]any{"url": "http://servicegraph:8080/diff"}
	want.Editable = false
	if len(y.Datasources) != 1 || !reflect.DeepEqual(y.Datasources[0], want) {
		t.Errorf("README datasource %+v, want %+v", y.Datasources, want)
	}

	var snippet, provisioned map[string]any
	if err := json.Unmarshal([]byte(block("json", `{"type": "nodeGraph", "title": "What changed"`)), &snippet); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("dashboards/servicegraph.json")
	if err != nil {
		t.Fatal(err)
	}
	var all struct{ Panels []map[string]any }
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	for _, p := range all.Panels {
		if p["title"] == diffPanel(t, d).Title {
			provisioned = p
		}
	}
	for _, k := range []string{"type", "title", "datasource", "targets", "options"} {
		if !reflect.DeepEqual(snippet[k], provisioned[k]) {
			t.Errorf("README panel %s = %v, the dashboard's %v", k, snippet[k], provisioned[k])
		}
	}
}
