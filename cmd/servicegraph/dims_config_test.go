package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDimensionFlagErrors: the dimension and idle-series options are
// validated with the others, named by flag and YAML key.
func TestDimensionFlagErrors(t *testing.T) {
	_, stderr, code := runMain(t, "serve", "--data-dir", "", "--dimensions", "service.namespace,service_namespace",
		"--max-dimension-values", "0", "--series-idle-timeout", "-1s")
	want := "servicegraph: invalid configuration:\n" +
		`  --dimensions (graph.dimensions): "service.namespace" and "service_namespace" both make the labels client_service_namespace and server_service_namespace` + "\n" +
		"  --max-dimension-values (graph.max_dimension_values): must be at least 1, got 0\n" +
		"  --series-idle-timeout (metrics.series_idle_timeout): must not be negative, got -1s\n" +
		"run 'servicegraph serve --help' for the flags\n"
	if code != 2 || stderr != want {
		t.Errorf("exit %d, stderr:\n%s\nwant 2 and\n%s", code, stderr, want)
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("graph:\n  dimensions: [service.namespace]\n  max_dimension_series: 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = runMain(t, "serve", "--config", path, "--data-dir", "")
	want = "servicegraph: invalid configuration in " + path + ":\n" +
		"  line 3: graph.max_dimension_series: must be at least 1, got 0\n" +
		"run 'servicegraph serve --help' for the flags\n"
	if code != 2 || stderr != want {
		t.Errorf("exit %d, stderr:\n%s\nwant 2 and\n%s", code, stderr, want)
	}
}
