#!/usr/bin/env bash
# The project's whole check, as CI runs it: generated code fresh, lint, typecheck, build, unit
# tests of every package, the guest-boot suite (Linux), then the counted summary. Run
# `bash scripts/setup.sh` first.
set -uo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 TURBO_NO_UPDATE_NOTIFIER=1 FORCE_COLOR=0
status=0

echo "== generate (generated code must be committed fresh)"
pnpm turbo run generate --output-logs=errors-only || status=1
if [ -d .git ] && ! git diff --quiet -- 'packages/*/src/generated' 'apps/*/src/generated'; then
  echo "generated code is stale; run 'pnpm generate' and commit the result:"
  git diff --stat -- 'packages/*/src/generated' 'apps/*/src/generated'
  status=1
fi

echo "== lint, typecheck, build, test"
rm -f packages/*/test-results.json apps/*/test-results.json
rm -f packages/*/guest-test-results.json apps/*/guest-test-results.json
# Two tasks at a time: the test suites are CPU-bound and CI hosts have few, shared cores.
pnpm turbo run lint typecheck build test --continue --concurrency=2 --output-logs=errors-only || status=1

echo "== guest-boot suite (fetches Debian's i686 kernel and busybox through apt, cached)"
pnpm turbo run test:guest --output-logs=new-only || status=1

branch=$(git rev-parse --abbrev-ref HEAD 2>/dev/null || echo main)
if [ "$branch" != "main" ] && [ "$branch" != "HEAD" ]; then
  echo "== changeset status"
  pnpm changeset status --since=main || status=1
fi

echo "== test summary"
node scripts/summarize-tests.mjs || status=1
exit $status
