#!/usr/bin/env bash
# The main job: build the CLI and boot the bundled demo kernel (no download) with its serial
# console on this terminal. Type `help` at the `demo>` prompt; `halt` ends the run (C-a x quits
# at any time). Extra arguments go to `ringzero run` (e.g. --deterministic, --stats).
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1
pnpm -s turbo run build --filter @ringzero/cli --output-logs=errors-only >/dev/null
exec node apps/cli/dist/main.js run "$@"
