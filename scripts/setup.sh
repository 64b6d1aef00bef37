#!/usr/bin/env bash
# Set up a checkout: the pinned pnpm, the locked dependencies, and (on Debian) the system
# packages the test suites use. Idempotent; says what it skipped and why.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

need_node_major=20
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt "$need_node_major" ]; then
  say "Node.js >= $need_node_major is required (found: $(node -v 2>/dev/null || echo none))"
  exit 1
fi

pnpm_version=$(node -p 'require("./package.json").packageManager.split("@")[1]')
if [ "$(pnpm -v 2>/dev/null || true)" != "$pnpm_version" ]; then
  say "installing pnpm $pnpm_version"
  npm install -g "pnpm@$pnpm_version" >/dev/null 2>&1 || {
    say "npm could not install pnpm $pnpm_version globally"; exit 1; }
fi

# System packages (Debian only): read from scripts/debian-packages.txt, one per line.
wanted=$(grep -v '^\s*#' scripts/debian-packages.txt | awk '{print $1}' | grep -v '^$' || true)
if [ -n "$wanted" ]; then
  if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then
    missing=()
    for p in $wanted; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
      if [ "$(id -u)" -eq 0 ]; then
        say "installing Debian packages: ${missing[*]}"
        apt-get update -qq >/dev/null 2>&1 || say "apt-get update reported errors; trying the install anyway"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
          || say "could not install ${missing[*]}; the tests that need them are skipped"
      elif command -v sudo >/dev/null 2>&1; then
        say "installing Debian packages with sudo: ${missing[*]}"
        sudo apt-get update -qq >/dev/null 2>&1 || true
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
          || say "could not install ${missing[*]}; the tests that need them are skipped"
      else
        say "skipped Debian packages (${missing[*]}): not root and no sudo; the tests that need them are skipped"
      fi
    fi
  else
    say "skipped Debian packages ($(echo $wanted)): this is not a Debian system; the tests that need them are skipped"
  fi
fi

say "installing dependencies (frozen lockfile)"
pnpm install --frozen-lockfile --reporter=silent
# Reference inputs the tests use (Debian only): real machine code for the decoder's
# differential tests. Cached under .cache/; skipped (and those tests skip) elsewhere.
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  pnpm --filter @ringzero/decoder --silent fetch-real-code >/dev/null 2>&1 \
    || say "could not fetch Debian's busybox for the decoder's real-code tests; they will be skipped"
else
  say "skipped fetching real code for the decoder's differential tests (needs Debian's apt as root)"
fi
say "ready"
