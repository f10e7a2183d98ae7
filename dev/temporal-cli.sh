#!/usr/bin/env bash
# Prints the path of a Temporal CLI (which carries the dev server and its Web UI):
# `temporal` from PATH, else the project's cached build, else builds it once from its Go module.
# The SDK's own download cannot be reached on machines without internet access; the Go module proxy can.
set -euo pipefail
version="v1.5.1" # a release whose go.mod has no replace directive, so `go install` works
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${TEMPORAL_CLI_CACHE:-$root/.cache/temporal-cli}"

if [ -n "${TEMPORAL_CLI_PATH:-}" ] && [ -x "$TEMPORAL_CLI_PATH" ]; then echo "$TEMPORAL_CLI_PATH"; exit 0; fi
if command -v temporal >/dev/null 2>&1; then command -v temporal; exit 0; fi
if [ -x "$cache/bin/temporal" ]; then echo "$cache/bin/temporal"; exit 0; fi

if ! command -v go >/dev/null 2>&1; then
  echo "temporal-cli: no 'temporal' on PATH and no Go toolchain to build it; install Go 1.23+ or the Temporal CLI" >&2
  exit 1
fi
echo "temporal-cli: building the Temporal CLI $version from its Go module (about 3 minutes the first time)..." >&2
mkdir -p "$cache/bin"
start=$(date +%s)
GOBIN="$cache/bin" GOFLAGS="-trimpath" go install "github.com/temporalio/cli/cmd/temporal@$version" >&2
echo "temporal-cli: built in $(( $(date +%s) - start )) s" >&2
echo "$cache/bin/temporal"
