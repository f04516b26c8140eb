#!/usr/bin/env bash
# The test command: every test, race detector on. Tests that need
# Prometheus, Chromium or telemetrygen skip without them outside CI and fail
# without them in CI (.ci/run installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
go vet ./...
go test -race -count=1 -timeout 15m ./...
