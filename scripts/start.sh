#!/usr/bin/env bash
# The main job for now: fetch Debian's i386 kernel and a busybox initramfs (cached), build the
# CLI, and boot the guest with its serial console on this terminal (C-a x quits). Extra
# arguments go to `ringzero run` (e.g. --deterministic, --max-instructions N, --stats).
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1
pnpm -s fetch-linux-guest
pnpm -s turbo run build --filter @ringzero/cli --output-logs=errors-only >/dev/null
manifest=.cache/guests/linux-i386/manifest.json
kernel=$(node -p "require('./$manifest').kernel")
initrd=$(node -p "require('./$manifest').initrd")
exec node apps/cli/dist/main.js run --kernel "$kernel" --initrd "$initrd" --append "console=ttyS0" "$@"
