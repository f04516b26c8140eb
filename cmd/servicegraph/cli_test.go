package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runMain runs a command line as main does, returning what it printed and
// its exit status. None of the cases starts the service.
func runMain(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = report(run(context.Background(), args, &out, &errb), &errb)
	return out.String(), errb.String(), code
}

func TestCommandLine(t *testing.T) {
	topHelp := `servicegraph builds a live service graph, span-link edges included, from
OpenTelemetry traces.

Usage:
  servicegraph [COMMAND] [flags]

Commands:
  serve    receive OTLP traces and serve the live graph (the default command)
  demo     run the service fed with generated shop traffic, to try it out
  render   draw OTLP/JSON trace files offline as DOT, SVG or PNG
  diff     compare two trace files or saved snapshots: what was added, removed or changed
  snapshot save a window of a running instance's graph as a versioned JSON snapshot
  help     show this help, or a command's (servicegraph help COMMAND)

Run 'servicegraph COMMAND --help' for a command's flags.
Exit status: 0 done, 1 failed, 2 wrong command line or configuration.
`
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string   // exact, unless lines is set
		lines  []string // lines stdout must hold, in this order
		stderr string   // exact
	}{
		{name: "--help lists the commands", args: []string{"--help"}, stdout: topHelp},
		{name: "-h", args: []string{"-h"}, stdout: topHelp},
		{name: "help", args: []string{"help"}, stdout: topHelp},
		{name: "help --help", args: []string{"help", "--help"}, stdout: topHelp},
		{name: "serve --help", args: []string{"serve", "--help"}, lines: []string{
			"Usage: servicegraph serve [flags]",
			"",
			"Receive OTLP traces and serve the live graph (the default command).",
			"",
			"Flags (defaults shown; --config FILE sets the same keys in YAML, flags win):",
			"  -config string",
			"  -max-nodes int",
		}},
		{name: "help serve is serve --help", args: []string{"help", "serve"}, lines: []string{"Usage: servicegraph serve [flags]"}},
		{name: "demo --help", args: []string{"demo", "-help"}, lines: []string{
			"Usage: servicegraph demo [flags]",
			"",
			"Run the service fed with generated shop traffic, to try it out.",
			"",
			"The demo saves nothing (--data-dir is empty; set it to keep the demo's graph,",
			"  -data-dir string",
			"  -demo-rate float",
			"    \tgenerated user requests per second, from 0 to 10000; 0 means the default (20) (default 20)",
			"  -link-wait duration",
			"    \thow long a link waits for its target span to arrive (yaml: pairing.link_wait, a duration) (default 20s)",
		}},
		{name: "render --help", args: []string{"help", "render"}, lines: []string{"Usage: servicegraph render [flags] FILE..."}},
		{name: "unknown flag: the error once and a hint", args: []string{"--no-such-flag"}, code: 2,
			stderr: "servicegraph: flag provided but not defined: -no-such-flag\nrun 'servicegraph serve --help' for the flags\n"},
		{name: "unknown demo flag", args: []string{"demo", "--no-such-flag"}, code: 2,
			stderr: "servicegraph: flag provided but not defined: -no-such-flag\nrun 'servicegraph demo --help' for the flags\n"},
		{name: "bad flag value", args: []string{"serve", "--max-nodes", "many"}, code: 2,
			stderr: "servicegraph: invalid value \"many\" for flag -max-nodes: not an integer\nrun 'servicegraph serve --help' for the flags\n"},
		{name: "arguments serve does not take", args: []string{"serve", "x"}, code: 2,
			stderr: "servicegraph: unexpected arguments: [\"x\"]\nrun 'servicegraph serve --help' for the flags\n"},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2,
			stderr: "servicegraph: unknown command \"frobnicate\"\nrun 'servicegraph --help' for the commands\n"},
		{name: "help for an unknown command", args: []string{"help", "frobnicate"}, code: 2,
			stderr: "servicegraph: help: unknown command \"frobnicate\"\nrun 'servicegraph --help' for the commands\n"},
		{name: "negative demo rate", args: []string{"demo", "--demo-rate", "-1"}, code: 2,
			stderr: "servicegraph: --demo-rate must be from 0 to 10000 (0: the default, 20), got -1\nrun 'servicegraph demo --help' for the flags\n"},
		{name: "demo rate past the cap", args: []string{"demo", "--demo-rate", "20000"}, code: 2,
			stderr: "servicegraph: --demo-rate must be from 0 to 10000 (0: the default, 20), got 20000\nrun 'servicegraph demo --help' for the flags\n"},
		{name: "a range error of a flag", args: []string{"--max-request-bytes", "0"}, code: 2,
			stderr: "servicegraph: invalid configuration:\n  --max-request-bytes (receiver.max_request_bytes): must be positive, got 0\n" +
				"run 'servicegraph serve --help' for the flags\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runMain(t, tc.args...)
			if code != tc.code || stderr != tc.stderr {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d, stderr:\n%s", code, stderr, tc.code, tc.stderr)
			}
			if tc.lines == nil {
				if stdout != tc.stdout {
					t.Fatalf("stdout:\n%s\nwant:\n%s", stdout, tc.stdout)
				}
				return
			}
			got := strings.Split(stdout, "\n")
			i := 0
			for _, want := range tc.lines {
				for i < len(got) && got[i] != want {
					i++
				}
				if i == len(got) {
					t.Fatalf("stdout lacks the line %q (in this order):\n%s", want, stdout)
				}
			}
		})
	}
}

// Every problem of a configuration is reported at once, file problems with
// their line, as the user wrote the key; flags name themselves.
func TestConfigErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	yaml := `receiver:
  grpc_addr: 127.0.0.1:0
  max_request_bytes: 0
  max_request_byte: 5
graph:
  max_nodes: lots
  bucket_width: 0s
state:
  save_interval: 10
log:
  level: loud
  level: debug
api:
  tls:
    health_without_client_cert: true
pairing: [1, 2]
`
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runMain(t, "--config", path, "--max-edges", "0")
	want := "servicegraph: invalid configuration in " + path + ":\n" +
		"  line 3: receiver.max_request_bytes: must be positive, got 0\n" +
		"  line 4: receiver.max_request_byte: unknown key (known: grpc_addr, http_addr, max_request_bytes, max_concurrent_requests, " +
		"max_inflight_bytes, read_header_timeout, request_timeout, read_timeout, max_streams_per_connection, max_connections, idle_timeout, tls, auth)\n" +
		"  line 6: graph.max_nodes: want a whole number, got \"lots\"\n" +
		"  line 7: graph.bucket_width: must be at least 1s, got 0s\n" +
		"  line 9: state.save_interval: want a duration (e.g. 10s, 5m), got \"10\"\n" +
		"  line 11: log.level: must be debug, info, warn or error, got \"loud\"\n" +
		"  line 12: log.level: set twice (first on line 11)\n" +
		"  line 15: api.tls.health_without_client_cert: needs client_ca_file (it exempts the probes from mutual TLS)\n" +
		"  line 16: pairing: want a mapping of keys, got a list\n" +
		"  --max-edges (graph.max_edges): must be positive, got 0\n" +
		"run 'servicegraph serve --help' for the flags\n"
	if code != 2 || stderr != want {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit 2, stderr:\n%s", code, stderr, want)
	}
}
