import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble } from './assemble';
import { findNasm, hex, readVectors, runNasm } from './test-nasm';

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
    test: (bits, src, ours) =>
      bits === 16 && /^(j\w+|call|xbegin) \$[+-]0x/.test(src) && ours.startsWith('66'),
    reason:
      'branch target beyond 64 KiB in 16-bit code: NASM truncates it to 16 bits, this assembler uses the 32-bit form',
  },
  {
    test: (bits, src) => bits === 16 && /^(jmp|call) 0x[0-9a-f]+:0x[0-9a-f]{5,}$/.test(src),
    reason: 'far offset wider than 16 bits: NASM truncates it (with a warning), this assembler uses ptr16:32',
  },
  {
    test: (bits, src) => bits === 16 && /^push 0x[0-9a-f]{5,}$/.test(src),
    reason: 'immediate wider than 16 bits: NASM truncates it (with a warning), this assembler pushes a dword',
  },
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
