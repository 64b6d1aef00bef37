#!/usr/bin/env bash
# Boot Debian's i686 Linux kernel with a busybox initramfs: fetch both (through apt, cached in
# .cache/guests/linux-i386), build the CLI and run it with the serial console on this terminal
# (C-a x quits). Extra arguments go to `ringzero run` (e.g. --deterministic, --stats).
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1
pnpm -s fetch-linux-guest
pnpm -s turbo run build --filter @ringzero/cli --output-logs=errors-only >/dev/null
manifest=.cache/guests/linux-i386/manifest.json
kernel=$(node -p "require('./$manifest').kernel")
initrd=$(node -p "require('./$manifest').initrd")
exec node apps/cli/dist/main.js run --kernel "$kernel" --initrd "$initrd" \
  --append "console=ttyS0 cryptomgr.notests" "$@"
