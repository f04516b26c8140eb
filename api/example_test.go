package api_test

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
)

// A store with one asynchronous edge, served as Jaeger's dependencies.
func Example() {
	st := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{})
	shop, mailer := st.Node("shop", graph.ServiceNode), st.Node("mailer", graph.ServiceNode)
	st.Observe([]graph.Observation{{Client: shop, Server: mailer, Kind: graph.Messaging}}, nil)

	s, err := api.New(api.NewDefaultConfig(), api.Settings{}, api.Sources{Graph: st})
	if err != nil {
		panic(err)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/dependencies", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output: 200 {"data":[{"parent":"shop","child":"mailer","callCount":1}],"total":0,"limit":0,"offset":0,"errors":null}
}

// Grafana sends ${__from} in Unix milliseconds; seconds and RFC 3339 work
// too.
func ExampleParseQuery() {
	v, _ := url.ParseQuery("from=1717243200000&to=2024-06-01T13:00:00Z&service=checkout&kinds=call,span_link")
	q, err := api.ParseQuery(v, time.Now(), api.DefaultMaxDepth)
	fmt.Println(q.From.UTC(), "|", q.To.UTC(), "|", q.Service, q.Depth, err)
	// Output: 2024-06-01 12:00:00 +0000 UTC | 2024-06-01 13:00:00 +0000 UTC | checkout 2 <nil>
}
