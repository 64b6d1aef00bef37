#!/usr/bin/env bash
# Rebuilds the hardware vectors in testdata/ by running instructions natively on this x86-64 host.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../testdata"
mkdir -p "$out"
bin="$(mktemp -d)/recorder"
gcc -O1 -mno-red-zone -o "$bin" "$here/recorder.c"
for kind in alu shift muldiv bits; do
  {
    echo "# recorded natively by native/recorder.c on: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
    echo "# op width in0 in1 in2 flagsIn out0 out1 flagsOut (hex; flags = CF PF AF ZF SF OF only)"
    "$bin" "$kind"
  } >"$out/$kind.txt"
done
rm -f "$bin"
wc -c "$out"/*.txt
xbin="$(mktemp -d)/x87"
gcc -O1 -mno-red-zone -o "$xbin" "$here/x87.c" -lm
{
  echo "# recorded natively by native/x87.c on: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "# op a b result status (hex; doubles as bit patterns; control word 0x027F)"
  "$xbin"
} >"$out/x87.txt"
rm -f "$xbin"
wc -c "$out/x87.txt"
mbin="$(mktemp -d)/mmx"
gcc -O1 -mno-red-zone -o "$mbin" "$here/mmx.c"
{
  echo "# recorded natively by native/mmx.c on: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "# op a b result (64-bit hex; op mm0=a, mm1=b)"
  "$mbin"
} >"$out/mmx.txt"
rm -f "$mbin"
wc -c "$out/mmx.txt"
cbin="$(mktemp -d)/compat"
gcc -O1 -no-pie -mno-red-zone -o "$cbin" "$here/compat.c"
{
  echo "# recorded natively by native/compat.c (32-bit compatibility mode) on: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "# op imm ax flagsIn axOut flagsOut (hex; flags = CF PF AF ZF SF OF only)"
  "$cbin"
} >"$out/bcd.txt"
rm -f "$cbin"
wc -c "$out/bcd.txt"
