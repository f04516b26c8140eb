package receiver_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/servicegraph/servicegraph/receiver"
)

// Example starts a receiver on ephemeral ports, posts one OTLP/JSON span
// to it and shows what the consumer got and what the sender was answered.
func Example() {
	printSpans := consumerFunc(func(_ context.Context, td ptrace.Traces) error {
		for _, rs := range td.ResourceSpans().All() {
			svc, _ := rs.Resource().Attributes().Get("service.name")
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					fmt.Printf("consumed %s: %q (%s)\n", svc.Str(), s.Name(), s.Kind())
				}
			}
		}
		return nil
	})

	cfg := receiver.NewDefaultConfig()
	cfg.GRPCAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	r, err := receiver.New(cfg, receiver.Settings{Logger: slog.New(slog.DiscardHandler)}, printSpans)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := r.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer r.Shutdown(ctx)

	body := `{"resourceSpans":[{
	  "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
	  "scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",
	    "spanId":"eee19b7ec3c1b174","name":"GET /cart","kind":2}]}]}]}`
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Post(
		"http://"+r.HTTPAddr().String()+"/v1/traces", "application/json", strings.NewReader(body))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"))
	// Output:
	// consumed checkout: "GET /cart" (Server)
	// 200 OK application/json
}
