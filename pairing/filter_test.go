package pairing_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"gopkg.in/yaml.v3"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/cputime"
	"github.com/servicegraph/servicegraph/pairing"
)

// filterSpans: a request through frontend and api to a database and a
// topic, a worker consuming it in a trace of its own (a link), a health
// check and a failed request.
var filterSpans = []sp{
	{svc: "frontend", trace: 1, id: 1, kind: ptrace.SpanKindServer, end: 100},
	{svc: "frontend", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindClient, startMs: 10, end: 60},
	{svc: "api", trace: 1, id: 3, parent: 2, kind: ptrace.SpanKindServer, startMs: 20, end: 50},
	{svc: "api", trace: 1, id: 4, parent: 3, kind: ptrace.SpanKindClient, startMs: 25, end: 30,
		attrs: map[string]string{"db.system": "postgresql", "db.namespace": "orders"}},
	{svc: "api", trace: 1, id: 5, parent: 3, kind: ptrace.SpanKindProducer, startMs: 30, end: 31,
		attrs: map[string]string{"messaging.destination.name": "orders-topic"}},
	{svc: "worker", trace: 2, id: 6, kind: ptrace.SpanKindConsumer, startMs: 40, end: 45, links: [][2]byte{{1, 5}}},
	{svc: "api", trace: 3, id: 7, kind: ptrace.SpanKindServer, end: 1},
	{svc: "frontend", trace: 4, id: 8, kind: ptrace.SpanKindServer, end: 5, err: true},
}

// filterAttrs gives the spans' resources a deployment.environment (worker
// staging, the rest prod), span 8 an int status code and span 7 a bool,
// and names spans 7 and 8.
func filterAttrs(td ptrace.Traces) {
	for _, rs := range td.ResourceSpans().All() {
		svc, _ := rs.Resource().Attributes().Get("service.name")
		env := "prod"
		if svc.Str() == "worker" {
			env = "staging"
		}
		rs.Resource().Attributes().PutStr("deployment.environment", env)
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				switch s.SpanID()[7] {
				case 7:
					s.SetName("/healthz")
					s.Attributes().PutBool("synthetic", true)
				case 8:
					s.SetName("GET /")
					s.Attributes().PutInt("http.response.status_code", 500)
				}
			}
		}
	}
}

func policy(include, exclude *pairing.PolicyMatch) pairing.FilterPolicy {
	return pairing.FilterPolicy{Include: include, Exclude: exclude}
}

func match(typ string, kv ...any) *pairing.PolicyMatch {
	m := &pairing.PolicyMatch{MatchType: typ}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Attributes = append(m.Attributes, pairing.MatchAttribute{Key: kv[i].(string), Value: kv[i+1]})
	}
	return m
}

// TestFilterPolicies: each kind of condition on and off, with the exact
// graph and count, in every arrival order, through both decoders. A
// dropped span is as if never sent: its children wait for it in vain
// (expired), links to it stay unresolved, its own links are not counted.
func TestFilterPolicies(t *testing.T) {
	all := []string{"api>orders:database 1/0", "api>worker:messaging_system 1/0", "frontend>api:call 1/0",
		"user>api:virtual_node 1/0", "user>frontend:virtual_node 2/1"}
	without := func(drop ...string) []string {
		var out []string
		for _, e := range all {
			keep := true
			for _, d := range drop {
				keep = keep && !strings.HasPrefix(e, d)
			}
			if keep {
				out = append(out, e)
			}
		}
		return out
	}
	resolved := []string{"worker resolved 1"}
	cases := []struct {
		name     string
		policies []pairing.FilterPolicy
		edges    []string
		links    []string
		filtered uint64
	}{
		{"no policy", nil, all, resolved, 0},
		{"exclude name strict", []pairing.FilterPolicy{policy(nil, match("strict", "name", "/healthz"))},
			without("user>api"), resolved, 1},
		{"exclude name regex", []pairing.FilterPolicy{policy(nil, match("regex", "name", "^/health"))},
			without("user>api"), resolved, 1},
		{"exclude span attribute regex", []pairing.FilterPolicy{policy(nil, match("regex", "span.db.system", "^postgres"))},
			without("api>orders"), resolved, 1},
		{"exclude kind: a dropped parent's child pairs with nothing", []pairing.FilterPolicy{policy(nil, match("strict", "kind", "SPAN_KIND_CLIENT"))},
			without("api>orders", "frontend>api"), resolved, 2},
		{"exclude kind, short form", []pairing.FilterPolicy{policy(nil, match("strict", "kind", "client"))},
			without("api>orders", "frontend>api"), resolved, 2},
		{"exclude status", []pairing.FilterPolicy{policy(nil, match("strict", "status", "error"))},
			[]string{"api>orders:database 1/0", "api>worker:messaging_system 1/0", "frontend>api:call 1/0",
				"user>api:virtual_node 1/0", "user>frontend:virtual_node 1/0"}, resolved, 1},
		{"include status regex", []pairing.FilterPolicy{policy(match("regex", "status", "UNSET|OK"), nil)},
			[]string{"api>orders:database 1/0", "api>worker:messaging_system 1/0", "frontend>api:call 1/0",
				"user>api:virtual_node 1/0", "user>frontend:virtual_node 1/0"}, resolved, 1},
		{"include resource attribute: a dropped linking span's links are not counted",
			[]pairing.FilterPolicy{policy(match("regex", "resource.deployment.environment", "^prod$"), nil)},
			without("api>worker"), nil, 1},
		{"exclude a link's target: the link stays unresolved",
			[]pairing.FilterPolicy{policy(nil, match("strict", "span.messaging.destination.name", "orders-topic"))},
			without("api>worker"), []string{"worker unresolved 1"}, 1},
		{"strict int", []pairing.FilterPolicy{policy(nil, match("strict", "span.http.response.status_code", 500))},
			[]string{"api>orders:database 1/0", "api>worker:messaging_system 1/0", "frontend>api:call 1/0",
				"user>api:virtual_node 1/0", "user>frontend:virtual_node 1/0"}, resolved, 1},
		{"strict string does not match an int", []pairing.FilterPolicy{policy(nil, match("strict", "span.http.response.status_code", "500"))},
			all, resolved, 0},
		{"regex matches an int as text", []pairing.FilterPolicy{policy(nil, match("regex", "span.http.response.status_code", "^5"))},
			[]string{"api>orders:database 1/0", "api>worker:messaging_system 1/0", "frontend>api:call 1/0",
				"user>api:virtual_node 1/0", "user>frontend:virtual_node 1/0"}, resolved, 1},
		{"strict bool", []pairing.FilterPolicy{policy(nil, match("strict", "span.synthetic", true))},
			without("user>api"), resolved, 1},
		{"missing attribute matches no span", []pairing.FilterPolicy{policy(nil, match("strict", "resource.team", "x"))},
			all, resolved, 0},
		{"include without attributes keeps every span", []pairing.FilterPolicy{policy(match("strict"), nil)},
			all, resolved, 0},
		{"include and exclude in one policy", []pairing.FilterPolicy{policy(
			match("regex", "resource.service.name", "^(frontend|api)$"), match("strict", "name", "/healthz"))},
			without("api>worker", "user>api"), nil, 2},
		{"every condition of a match must hold", []pairing.FilterPolicy{policy(nil,
			match("strict", "resource.service.name", "api", "kind", "server"))},
			without("user>api", "frontend>api"), resolved, 2},
		{"every policy must keep the span", []pairing.FilterPolicy{
			policy(match("regex", "kind", "SERVER|CLIENT|PRODUCER"), nil),
			policy(nil, match("strict", "resource.service.name", "frontend"))},
			[]string{"api>orders:database 1/0", "user>api:virtual_node 1/0"}, nil, 4},
	}
	var tests []fidelityCase
	for _, c := range cases {
		tests = append(tests, fidelityCase{name: c.name, spans: filterSpans, mutate: filterAttrs,
			cfg: func(cfg *pairing.Config) { cfg.FilterPolicies = c.policies }, edges: c.edges, links: c.links, filtered: c.filtered})
	}
	runFidelity(t, tests)
}

// TestFilterDroppedServer: a dropped SERVER span leaves its CLIENT to
// expire into the peer it names, as an uninstrumented server would.
func TestFilterDroppedServer(t *testing.T) {
	spans := []sp{
		{svc: "web", trace: 1, id: 1, kind: ptrace.SpanKindServer, end: 50},
		{svc: "web", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindClient, startMs: 10, end: 30,
			attrs: map[string]string{"peer.service": "payments"}},
		{svc: "payments", trace: 1, id: 3, parent: 2, kind: ptrace.SpanKindServer, startMs: 12, end: 28},
	}
	runFidelity(t, []fidelityCase{
		{name: "kept", spans: spans, edges: []string{"user>web:virtual_node 1/0", "web>payments:call 1/0"}},
		{name: "dropped", spans: spans, filtered: 1,
			cfg: func(c *pairing.Config) {
				c.FilterPolicies = []pairing.FilterPolicy{policy(nil, match("strict", "resource.service.name", "payments"))}
			},
			edges: []string{"user>web:virtual_node 1/0", "web>payments:virtual_node 1/0"}},
	})
}

// TestFilterPolicyErrors: bad policies are refused at start, every problem
// at once, with where it is.
func TestFilterPolicyErrors(t *testing.T) {
	cfg := pairing.NewDefaultConfig()
	cfg.FilterPolicies = []pairing.FilterPolicy{
		{},
		policy(match("glob", "name", "x"), nil),
		policy(nil, match("regex", "name", "(", "span.x", 5)),
		policy(match("strict", "kind", "SERVERS", "status", 2, "name", 3, "span.a", []any{1}, "foo", "x", "span.", "x"), nil),
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		`filter_policies: policy 1: want include, exclude or both`,
		`filter_policies: policy 2: include: match_type must be strict or regex, got "glob"`,
		"filter_policies: policy 3: exclude: attribute 1 (\"name\"): bad regex: error parsing regexp: missing closing ): `(`",
		`filter_policies: policy 3: exclude: attribute 2 ("span.x"): a regex value must be a string, got 5`,
		`filter_policies: policy 4: include: attribute 1 ("kind"): want one of SPAN_KIND_UNSPECIFIED, SPAN_KIND_INTERNAL, SPAN_KIND_SERVER, SPAN_KIND_CLIENT, SPAN_KIND_PRODUCER, SPAN_KIND_CONSUMER (or unspecified, internal, server, client, producer, consumer), got "SERVERS"`,
		`filter_policies: policy 4: include: attribute 2 ("status"): want one of STATUS_CODE_UNSET, STATUS_CODE_OK, STATUS_CODE_ERROR (or unset, ok, error), got 2`,
		`filter_policies: policy 4: include: attribute 3 ("name"): name takes a string, got 3`,
		`filter_policies: policy 4: include: attribute 4 ("span.a"): value must be a string, number or boolean, got []interface {}`,
		`filter_policies: policy 4: include: attribute 5 ("foo"): key must be kind, name, status, span.<attribute> or resource.<attribute>`,
		`filter_policies: policy 4: include: attribute 6 ("span."): key must be kind, name, status, span.<attribute> or resource.<attribute>`,
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	if _, err := pairing.New(cfg, pairing.Settings{}, nil); err == nil {
		t.Error("New accepted bad policies")
	}
}

// TestFilterPolicyYAML: the configuration file's form, Tempo's, with typed
// values; unknown keys are refused.
func TestFilterPolicyYAML(t *testing.T) {
	var cfg pairing.Config
	doc := `
filter_policies:
  - include:
      match_type: regex
      attributes:
        - key: resource.deployment.environment
          value: ^prod$
    exclude:
      match_type: strict
      attributes:
        - key: span.http.response.status_code
          value: 200
        - key: span.synthetic
          value: true
`
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	want := []pairing.FilterPolicy{policy(match("regex", "resource.deployment.environment", "^prod$"),
		match("strict", "span.http.response.status_code", 200, "span.synthetic", true))}
	if got, w := yamlString(t, cfg.FilterPolicies), yamlString(t, want); got != w {
		t.Errorf("got\n%s\nwant\n%s", got, w)
	}
	for _, bad := range []struct{ doc, want string }{
		{"filter_policies: [{include: {match_type: strict}, exlude: {}}]", `line 1: unknown key "exlude" (known: include, exclude)`},
		{"filter_policies: [{include: {match_typ: strict}}]", `line 1: unknown key "match_typ" (known: match_type, attributes)`},
		{"filter_policies: [{include: {attributes: [{key: name, val: x}]}}]", `line 1: unknown key "val" (known: key, value)`},
	} {
		var c pairing.Config
		if err := yaml.Unmarshal([]byte(bad.doc), &c); err == nil || err.Error() != bad.want {
			t.Errorf("%s: got %v, want %s", bad.doc, err, bad.want)
		}
	}
}

func yamlString(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// BenchmarkFilterCost measures the workload through ConsumeTracesProto
// with no policy and with policies of each reach: the intrinsics only
// (name), a span attribute, a resource attribute. Every policy keeps every
// span of the workload, so the graphs are the same and only the walk's
// cost differs.
func BenchmarkFilterCost(b *testing.B) {
	recs, _, spans := workloadRecords(b)
	for _, bc := range []struct {
		name     string
		policies []pairing.FilterPolicy
	}{
		{"none", nil},
		{"name", []pairing.FilterPolicy{policy(nil, match("regex", "name", "^/healthz$"))}},
		{"span-attribute", []pairing.FilterPolicy{policy(nil, match("strict", "span.synthetic", true))}},
		{"resource-attribute", []pairing.FilterPolicy{policy(nil, match("strict", "resource.deployment.environment", "staging"))}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				cfg := benchConfig()
				cfg.FilterPolicies = bc.policies
				p, err := pairing.New(cfg, pairing.Settings{}, graph.MustNew(graph.NewDefaultConfig(), graph.Settings{}))
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				cpu0 := cputime.Process()
				for _, r := range recs {
					if err := p.ConsumeTracesProto(context.Background(), r); err != nil {
						b.Fatal(err)
					}
				}
				cpu += cputime.Process() - cpu0
				if st := p.Stats(); st.SpansFiltered != 0 {
					b.Fatalf("%d spans filtered", st.SpansFiltered)
				}
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(spans*b.N), "cpu-ns/span")
		})
	}
}
