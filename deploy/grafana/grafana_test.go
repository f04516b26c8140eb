// Package grafana_test checks the shipped Grafana provisioning files: they
// parse, the dashboard uses only the provisioned datasources, and every
// query the dashboard makes, with Grafana's variables filled in as Grafana
// fills them, is answered by the API with what the panels need.
package grafana_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
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

type dashboard struct {
	UID    string `json:"uid"`
	Panels []struct {
		Type       string
		Title      string
		Datasource struct{ Type, UID string }
		Targets    []target
	} `json:"panels"`
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
	types := map[string]datasource{}
	for _, x := range ds {
		types[x.Type] = x
	}
	if n := types[nodeGraphAPI]; n.JSONData["url"] != apiURL || n.Access != "proxy" {
		t.Errorf("Node Graph API datasource %+v: want access proxy and jsonData.url %s", n, apiURL)
	}
	if inf := types[infinity]; inf.URL != apiURL || !strings.Contains(strings.Join(anyStrings(inf.JSONData["allowedHosts"]), " "), apiURL) {
		t.Errorf("Infinity datasource %+v: want url and allowedHosts %s", inf, apiURL)
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	if !vars["service"] || !vars["depth"] {
		t.Errorf("dashboard variables %v: want service and depth", vars)
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
	if graphs != 2 {
		t.Errorf("%d node graph panels, want 2", graphs)
	}
}

// TestDashboardQueries runs every query of the dashboard against the API,
// as the datasources send them, with ${__from}/${__to} in milliseconds.
func TestDashboardQueries(t *testing.T) {
	_, d := load(t)
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
			"${service:percentencode}", url.QueryEscape(service), "${depth}", "2")
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				var targets []string
				switch tg.Datasource.Type {
				case nodeGraphAPI: // the plugin sends the query string to both paths
					targets = []string{tg.FieldAPIURLPath + "?" + fill.Replace(tg.QueryText), tg.DataAPIURLPath + "?" + fill.Replace(tg.QueryText)}
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
