import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble } from './assemble';
import { findNasm, hex, randomLines, readVectors, runNasm } from './test-nasm';

/*
 * The corpus in testdata/*.asm (hand-written boot sector, protected-mode kernel and long-mode
 * code, plus formatIntel output for every decoder form) assembled by NASM and by this
 * assembler, compared line by line. Every difference must have a stated reason.
 */

const nasm = findNasm();
const testdata = new URL('../testdata/', import.meta.url);

/** Where NASM and this assembler disagree on purpose. */
const REASONS: readonly {
  readonly test: (bits: number, src: string, ours: string) => boolean;
  readonly reason: string;
}[] = [
  {
    test: (bits, src) => bits === 64 && /\[0x[0-9a-f]{9,}\]/.test(src),
    reason:
      'absolute address beyond 4 GiB: NASM truncates it to a 32-bit displacement (with a warning), this assembler uses moffs64',
  },
  {
    test: (bits, src) => bits === 64 && /^sldt r\w+$/.test(src),
    reason: 'sldt r64: NASM omits the REX.W that the decoder row (SDM: REX.W 0F 00 /0) has',
  },
  {
    test: (bits, src) => bits === 64 && /^pextrb r/.test(src),
    reason: 'pextrb r64: NASM omits the REX.W that the decoder row (SDM: 66 REX.W 0F 3A 14) has',
  },
  {
    test: (bits, src) => bits === 64 && /^invpcid /.test(src),
    reason: 'invpcid: NASM adds a redundant REX.W',
  },
];

interface Diff {
  readonly file: string;
  readonly line: number;
  readonly source: string;
  readonly nasm: string;
  readonly ours: string;
  readonly reason?: string;
}

function compare(
  file: string,
  source: string,
  nasmPath: string,
): { total: number; same: number; diffs: Diff[] } {
  const n = runNasm(nasmPath, source);
  if (!n.ok) throw new Error(`nasm rejected ${file}: ${JSON.stringify(n.errors.slice(0, 3))}`);
  const ours = assemble(source, { fileName: file });
  let bits = 16;
  let total = 0;
  let same = 0;
  const diffs: Diff[] = [];
  for (const l of ours.listing) {
    const m = /^\s*\[?bits (16|32|64)/i.exec(l.source);
    if (m) bits = Number(m[1]);
    const theirs = n.lines.get(l.line) ?? new Uint8Array();
    if (theirs.length === 0 && l.bytes.length === 0) continue;
    total++;
    const a = hex(theirs);
    const b = hex(l.bytes);
    if (a === b) {
      same++;
      continue;
    }
    const src = l.source.trim();
    const reason = REASONS.find((r) => r.test(bits, src, b))?.reason;
    diffs.push({ file, line: l.line, source: src, nasm: a, ours: b, reason });
  }
  return { total, same, diffs };
}

describe.skipIf(!nasm)('agreement with NASM (testdata/*.asm, nasm -f bin)', () => {
  const files = readdirSync(testdata)
    .filter((f) => f.endsWith('.asm'))
    .sort();

  it('finds the corpus for all three modes', () => {
    expect(files).toEqual(
      expect.arrayContaining(['boot16.asm', 'kernel32.asm', 'long64.asm', 'forms64.asm']),
    );
  });

  let allTotal = 0;
  let allSame = 0;
  const allDiffs: Diff[] = [];
  for (const file of files) {
    it(`${file}: at least 99% of instructions byte-identical, every difference explained`, () => {
      const source = readFileSync(new URL(file, testdata), 'utf8');
      const { total, same, diffs } = compare(file, source, nasm as string);
      allTotal += total;
      allSame += same;
      allDiffs.push(...diffs);
      expect(total).toBeGreaterThan(100);
      expect(
        diffs.filter((d) => !d.reason).map((d) => `${d.line}: ${d.source} nasm [${d.nasm}] ours [${d.ours}]`),
        'differences without a stated reason',
      ).toEqual([]);
      expect(same / total).toBeGreaterThanOrEqual(0.99);
    });
  }

  it('values NASM truncates (it warns) are out-of-range errors here, not a wider operand size', () => {
    let checked = 0;
    for (const file of files) {
      const source = readFileSync(new URL(file, testdata), 'utf8');
      const bits = Number(/^bits (16|32|64)/m.exec(source)?.[1] ?? 16) as 16 | 32 | 64;
      for (const m of source.matchAll(/^; out-of-range: (.*)$/gm)) {
        const line = m[1] ?? '';
        // At the end of the corpus, where these lines were (their `$`-relative targets depend on it).
        const at = `org 0x1000\ntimes 0x4000 nop\n${line}\n`;
        expect(runNasm(nasm as string, `bits ${bits}\n${at}`).ok, line).toBe(true);
        expect(() => assemble(at, { bits }), line).toThrow(/does not fit|out of range/);
        checked++;
      }
    }
    console.log(`${checked} corpus lines NASM truncates are reported as out of range`);
  });

  for (const bits of [16, 32, 64] as const) {
    it(`random ${bits}-bit instructions (seeded): byte-identical wherever both accept the line`, () => {
      const header = [`bits ${bits}`, 'org 0x1000', 'K equ 0x10', 'start: db 0x33', 'start2:'];
      let body = randomLines(bits, 0x5eed + bits, 2000);
      // Lines NASM rejects, and lines it accepts only by truncating a value, are left out.
      for (let round = 0; round < 10; round++) {
        const out = runNasm(nasm as string, [...header, ...body, 'lbl: nop'].join('\n'));
        if (out.ok) break;
        const bad = new Set(out.errors.map((e) => e.line - header.length - 1));
        body = body.filter((_, i) => !bad.has(i));
      }
      let truncated = 0;
      body = body.filter((l) => {
        try {
          assemble([...header, l, 'lbl: nop'].join('\n'));
          return true;
        } catch (e) {
          expect((e as Error).message).toMatch(/does not fit/);
          truncated++;
          return false;
        }
      });
      const source = [...header, ...body, 'lbl: nop'].join('\n');
      const { total, same, diffs } = compare(`random${bits}`, source, nasm as string);
      expect(diffs.map((d) => `${d.source} nasm [${d.nasm}] ours [${d.ours}]`).slice(0, 10)).toEqual([]);
      expect(total).toBeGreaterThan(1500);
      console.log(
        `random ${bits}-bit: ${same}/${total} identical; ${truncated} lines NASM truncates left out`,
      );
    });
  }

  it('testdata/vectors.txt matches the installed NASM', () => {
    const vectors = readVectors();
    const stale = vectors.filter((v) => {
      const out = runNasm(nasm as string, `bits ${v.bits}\n${v.source}\n`);
      return !out.ok || hex(out.bytes) !== v.bytes;
    });
    expect(stale.map((v) => `${v.bits} | ${v.source}`)).toEqual([]);
  });

  it('reports the agreement', () => {
    const byReason = new Map<string, number>();
    for (const d of allDiffs)
      byReason.set(d.reason ?? 'unexplained', (byReason.get(d.reason ?? 'unexplained') ?? 0) + 1);
    console.log(
      [
        `NASM agreement: ${allSame}/${allTotal} lines byte-identical (${((100 * allSame) / Math.max(1, allTotal)).toFixed(2)}%)`,
        ...[...byReason].map(([r, c]) => `  ${c} × ${r}`),
      ].join('\n'),
    );
    expect(allTotal).toBeGreaterThan(0);
  });
});

if (!nasm) {
  describe('agreement with NASM', () => {
    it.skip('skipped: nasm is not installed (apt-get install nasm, or set NASM=/path/to/nasm)', () => {});
  });
}
