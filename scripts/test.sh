#!/usr/bin/env bash
# The test command: go vet and staticcheck, then every test, race detector on. Tests that need
# Prometheus, Chromium or telemetrygen skip without them outside CI and fail
# without them in CI (.ci/run installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
go vet ./...
# staticcheck: the installed one (.ci/run installs it), else the pinned
# version through the module proxy.
if command -v staticcheck >/dev/null; then
  staticcheck ./...
else
  go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
fi
# -artifacts keeps what tests save with t.ArtifactDir() (the browser tests'
# screenshots) under out/artifacts/_artifacts/ for CI to upload.
mkdir -p out/artifacts
go test -race -count=1 -timeout 15m -artifacts -outputdir out/artifacts ./...
