#!/usr/bin/env bash
# `npm start`: from a fresh clone to a running collector. Installs dependencies when node_modules is missing,
# gets the Temporal CLI (built once from its Go module when none is available), then runs dev/demo/main.ts:
# a Temporal dev server, the worker and one org's workflow, on local stand-ins unless real credentials are set.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/@temporalio/worker ] || npm ci --no-audit --no-fund
if [ -z "${TEMPORAL_ADDRESS:-}" ]; then
  TEMPORAL_CLI_PATH="$(bash dev/temporal-cli.sh)"
  export TEMPORAL_CLI_PATH
fi
# exec: Ctrl-C and SIGTERM reach the demo itself, which stops the worker before the servers.
exec node_modules/.bin/tsx dev/demo/main.ts
