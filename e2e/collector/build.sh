#!/usr/bin/env bash
# Builds the e2e Collector (otlpreceiver + contrib kafkaexporter, this
# module's pins) into e2e/collector/bin/collector. One build at a time
# (flock): .ci/run starts it in the background before apt-get and the
# Kafka Collector test runs it again, which then waits for that build and
# finds the binary up to date (the Go build cache; a no-op of ~2 s).
# Takes minutes on a clean module and build cache.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="/usr/local/go/bin:$PATH"
mkdir -p bin
exec flock bin/.lock go build -buildvcs=false -o bin/collector .
