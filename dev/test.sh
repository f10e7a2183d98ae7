#!/usr/bin/env bash
# `npm test`: installs what is missing, type-checks, then runs the unit tests and the workflow tests against a
# real Temporal dev server (built once from its Go module if no `temporal` is on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/@temporalio/worker ] || npm ci --no-audit --no-fund
bash dev/temporal-cli.sh >/dev/null
TEMPORAL_TEST_SERVER_PATH="$(bash dev/temporal-test-server.sh)"
export TEMPORAL_TEST_SERVER_PATH
npx tsc --noEmit
# One test file at a time: the workflow tests share one dev server and assert on timing within poll intervals.
npx jest --runInBand "$@"
