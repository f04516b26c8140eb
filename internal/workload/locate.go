package workload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// EnvPath names the environment variable that points tests and benchmarks
// at a workload (scripts/bench.sh sets it).
const EnvPath = "SERVICEGRAPH_WORKLOAD"

// ErrNoWorkload means neither EnvPath nor ../shared/bench is available.
var ErrNoWorkload = errors.New("no workload: set " + EnvPath + " or check out ../shared/bench beside the repository")

// RepoRoot returns the directory holding the module's go.mod, searched
// upward from the working directory (a package's directory under go test).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Locate returns the workload to use: EnvPath when set (a relative path is
// taken from the repository root, so the README's commands work from any
// package), else a small one that ../shared/bench/gen writes into dir
// (userTraces user requests; 1,000 make about 35,000 spans in under a
// second), with its truth file beside it. Without either it returns
// ErrNoWorkload.
func Locate(ctx context.Context, dir string, userTraces int) (string, error) {
	p := os.Getenv(EnvPath)
	if p != "" && filepath.IsAbs(p) {
		return p, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	if p != "" {
		return filepath.Join(root, p), nil
	}
	bench := filepath.Join(filepath.Dir(root), "shared", "bench")
	if _, err := os.Stat(filepath.Join(bench, "gen", "main.go")); err != nil {
		return "", ErrNoWorkload
	}
	return Generate(ctx, bench, dir, userTraces)
}

// Generate runs the generator of the bench module at bench (a separate
// module, which may be read-only: only the build cache and dir are
// written) and returns the path of the workload it wrote into dir.
func Generate(ctx context.Context, bench, dir string, userTraces int) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("generate workload: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute) // the first build may download modules
	defer cancel()
	out := filepath.Join(dir, "workload.otlp")
	cmd := exec.CommandContext(ctx, goBin, "run", "./gen", "-seed", "1", "-traces", strconv.Itoa(userTraces), "-out", out)
	cmd.Dir = bench
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=",
		"GONOSUMDB=github.com/open-telemetry/opentelemetry-collector-contrib")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("generate workload (go run ./gen in %s): %w\n%s", bench, err, b)
	}
	return out, nil
}
