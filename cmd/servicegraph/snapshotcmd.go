package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// snapshotFlags are the command line of servicegraph snapshot.
type snapshotFlags struct {
	url, out, tokenFile                 string
	from, to, service, kinds, direction string
	depth                               int
	cycles                              bool
	timeout                             time.Duration
	set                                 map[string]bool // flags given
}

// snapshotCmd saves a window of a running instance's graph
// (GET /api/graph/snapshot) as a snapshot document. A wrong command line,
// and a filter the server refuses (400), are usage errors (exit 2); an
// unreachable server or another error answer is a failure (exit 1).
func snapshotCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl, err := parseSnapshotFlags(args, stdout)
	if err != nil {
		return err
	}
	target, err := fl.target()
	if err != nil {
		return errUsage("snapshot", err)
	}
	var token string
	if fl.tokenFile != "" {
		b, err := os.ReadFile(fl.tokenFile)
		if err != nil {
			return errUsage("snapshot", fmt.Errorf("-token-file: %w", err))
		}
		token = strings.TrimSpace(string(b))
	}
	ctx, cancel := context.WithTimeout(ctx, fl.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return errUsage("snapshot", fmt.Errorf("-url: %w", err))
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("get snapshot: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, graph.MaxDocumentBytes+1))
	if err != nil {
		return fmt.Errorf("get snapshot: read %s: %w", target, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error, Parameter string }
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		err := fmt.Errorf("GET %s: %s: %s", target, resp.Status, cut(msg, 1024))
		if resp.StatusCode == http.StatusBadRequest && e.Parameter != "" {
			return errUsage("snapshot", fmt.Errorf("-%s: the server refused it: %s", e.Parameter, cut(msg, 1024)))
		}
		return err
	}
	if _, err := graph.ReadDocument(bytes.NewReader(body)); err != nil {
		return fmt.Errorf("GET %s: the answer is not a snapshot: %w", target, err)
	}
	if fl.out == "" {
		_, err = stdout.Write(body)
		return err
	}
	return os.WriteFile(fl.out, body, 0o644)
}

// cut returns s cut to n bytes and "…".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// parseSnapshotFlags parses the command line; -h prints the usage.
func parseSnapshotFlags(args []string, stdout io.Writer) (snapshotFlags, error) {
	fl := snapshotFlags{set: map[string]bool{}}
	fs := flag.NewFlagSet("servicegraph snapshot", flag.ContinueOnError)
	fs.StringVar(&fl.url, "url", "http://127.0.0.1:8080", "base URL of the running servicegraph's HTTP API")
	fs.StringVar(&fl.out, "o", "", "output file; default stdout")
	fs.StringVar(&fl.tokenFile, "token-file", "", "file holding a bearer token, when the API needs one")
	fs.StringVar(&fl.from, "from", "", "start of the window: Unix seconds or milliseconds, or RFC 3339 (default: an hour before -to)")
	fs.StringVar(&fl.to, "to", "", "end of the window (default: now)")
	fs.StringVar(&fl.service, "service", "", "save only this service's neighbourhood")
	fs.IntVar(&fl.depth, "depth", graph.DefaultDepth, "neighbourhood depth in hops with -service")
	fs.StringVar(&fl.direction, "direction", "", "with -service: both, downstream or upstream")
	fs.BoolVar(&fl.cycles, "cycles", false, "only the edges on a cycle")
	fs.StringVar(&fl.kinds, "kinds", "", "edge kinds (comma list of call,messaging_system,span_link,database,virtual_node); default all")
	fs.DurationVar(&fl.timeout, "timeout", 30*time.Second, "deadline of the request")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: servicegraph snapshot [flags]\n\n%s%s (GET /api/graph/snapshot):\n"+
			"format %q, version %d, with the window's time range, filters and histograms,\n"+
			"that 'servicegraph diff' compares with a later snapshot or with trace files.\n\nFlags:\n",
			strings.ToUpper(purpose("snapshot")[:1]), purpose("snapshot")[1:], graph.DocumentFormat, graph.DocumentVersion)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return fl, err
	}
	fs.Visit(func(f *flag.Flag) { fl.set[f.Name] = true })
	if fs.NArg() > 0 {
		return fl, errUsage("snapshot", fmt.Errorf("unexpected argument %q (the command takes flags only)", fs.Arg(0)))
	}
	return fl, nil
}

// target returns the request URL; the filters given are passed as the
// API's parameters, which the server checks.
func (fl snapshotFlags) target() (string, error) {
	var errs []error
	u, err := url.Parse(fl.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("-url must be an http:// or https:// URL, got %q", fl.url))
	}
	if fl.timeout <= 0 {
		errs = append(errs, fmt.Errorf("-timeout must be positive, got %s", fl.timeout))
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	q := url.Values{}
	for name, v := range map[string]string{"from": fl.from, "to": fl.to, "service": fl.service, "kinds": fl.kinds, "direction": fl.direction} {
		if fl.set[name] {
			q.Set(name, v)
		}
	}
	if fl.set["depth"] {
		q.Set("depth", strconv.Itoa(fl.depth))
	}
	if fl.set["cycles"] {
		q.Set("cycles", strconv.FormatBool(fl.cycles))
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/graph/snapshot"
	u.RawQuery = q.Encode()
	return u.String(), nil
}
