package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/servicegraph/servicegraph/internal/workload"
)

// truthCheck polls the server's /metrics until its edges equal the
// workload's truth file or the timeout passes, and prints one line:
// "truth exact: <per-kind summary>" or the differences (then it fails).
func truthCheck(args []string) error {
	fs := flag.NewFlagSet("truth", flag.ContinueOnError)
	api := fs.String("api", "http://127.0.0.1:8080", "the server's HTTP API base URL")
	truthPath := fs.String("truth", "workload.otlp.truth.json", "the workload's truth file")
	timeout := fs.Duration("timeout", 90*time.Second, "how long to wait for the edges to settle (pairs wait --pair-wait)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	truth, err := workload.LoadTruth(*truthPath)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var diff []string
	var got []workload.Edge
	for {
		got, err = scrapeEdges(ctx, *api)
		if err == nil {
			if diff = workload.Diff(truth.Edges, got); len(diff) == 0 {
				fmt.Printf("truth exact: %s\n", workload.Summary(truth.Edges, got))
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("truth: %w", err)
			}
			fmt.Printf("truth differs: %s\n", workload.Summary(truth.Edges, got))
			return fmt.Errorf("after %s, /metrics differs from the truth:\n%s", *timeout, strings.Join(diff, "\n"))
		case <-time.After(time.Second):
		}
	}
}

func scrapeEdges(ctx context.Context, api string) ([]workload.Edge, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	return workload.FromMetrics(fams), nil
}
