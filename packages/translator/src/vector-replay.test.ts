import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { definedFlags, type HwVector, parseVectors, replay, tier1BlockRuns } from './vector-replay';

const dir = new URL('../testdata/', import.meta.url);

function mismatches(vectors: HwVector[], tier: 0 | 1 = 0): string[] {
  const bad: string[] = [];
  for (const v of vectors) {
    const r = replay(v, tier);
    const d = definedFlags(v);
    const fl = (r.flags ^ v.flagsOut) & d.flags;
    if ((d.result && r.out0 !== v.out0) || r.out1 !== v.out1 || fl !== 0) {
      bad.push(
        `line ${v.line}: ${v.op}${v.width} in ${v.in0.toString(16)} ${v.in1.toString(16)} ${v.in2.toString(16)} f ${v.flagsIn.toString(16)}` +
          ` → got ${r.out0.toString(16)} ${r.out1.toString(16)} f ${r.flags.toString(16)},` +
          ` host ${v.out0.toString(16)} ${v.out1.toString(16)} f ${v.flagsOut.toString(16)}`,
      );
    }
  }
  return bad;
}

function byOp(file: string): Map<string, HwVector[]> {
  const m = new Map<string, HwVector[]>();
  for (const v of parseVectors(readFileSync(new URL(file, dir), 'utf8'))) {
    const k = `${v.op} ${v.width}`;
    const list = m.get(k) ?? [];
    list.push(v);
    m.set(k, list);
  }
  return m;
}

// Each group replays every vector recorded natively on the host (native/recorder.c) through
// tier 0 and compares the result(s) and every status flag the SDM vol. 2 "Flags Affected"
// section defines for that instruction; undefined flags are reported separately
// (testdata/undefined-flags-report.txt).
for (const file of ['alu.txt', 'shift.txt', 'muldiv.txt', 'bits.txt']) {
  describe(`hardware vectors: ${file}`, () => {
    for (const [key, vectors] of byOp(file)) {
      it(`${key}-bit results and defined flags match this host (${vectors.length} vectors)`, () => {
        expect(mismatches(vectors).slice(0, 5)).toEqual([]);
      });
      it(`${key}-bit: the same through tier 1 blocks`, () => {
        const before = tier1BlockRuns();
        expect(mismatches(vectors, 1).slice(0, 5)).toEqual([]);
        expect(tier1BlockRuns() - before).toBe(vectors.length);
      });
    }
  });
}
