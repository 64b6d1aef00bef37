import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Reg } from './cpu-state';
import { Vector } from './fault';
import { createHarness, runSnippet } from './harness';
import { StopReason } from './tier0';
import { doubleToExtended, extendedToDouble } from './x87';

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const A = 0x3000;
const B = 0x3008;
const R = 0x3010;
const SW = 0x3018;
const CW = 0x3020;

const MEMOPS: Record<string, number> = { fadd: 0, fmul: 1, fcom: 3, fsub: 4, fsubr: 5, fdiv: 6, fdivr: 7 };
const UNOPS: Record<string, number[]> = {
  fsqrt: [0xd9, 0xfa],
  fsin: [0xd9, 0xfe],
  fcos: [0xd9, 0xff],
  frndint: [0xd9, 0xfc],
  f2xm1: [0xd9, 0xf0],
  fabs: [0xd9, 0xe1],
  fchs: [0xd9, 0xe0],
  fptan: [0xd9, 0xf2, 0xdd, 0xd8],
};
const STKOPS: Record<string, number[]> = {
  fpatan: [0xd9, 0xf3],
  fyl2x: [0xd9, 0xf1],
  fscale: [0xd9, 0xfd],
  fprem: [0xd9, 0xf8],
  fprem1: [0xd9, 0xf5],
};
const EXACT = new Set([
  'fadd',
  'fsub',
  'fsubr',
  'fmul',
  'fdiv',
  'fdivr',
  'fsqrt',
  'frndint',
  'fabs',
  'fchs',
  'fscale',
  'fprem',
  'fprem1',
]);

function program(op: string): number[] {
  const pre = [0xdb, 0xe3, 0xd9, 0x2d, ...le32(CW)]; // fninit; fldcw [CW]
  const fldA = [0xdd, 0x05, ...le32(A)];
  const fldB = [0xdd, 0x05, ...le32(B)];
  const post = [0xdd, 0x3d, ...le32(SW), 0xdd, 0x1d, ...le32(R), 0xf4]; // fnstsw [SW]; fstp qword [R]; hlt
  const m = MEMOPS[op];
  if (m !== undefined)
    return [
      ...pre,
      ...fldA,
      0xdc,
      (m << 3) | 5,
      ...le32(B),
      ...(op === 'fcom' ? [0xdd, 0x3d, ...le32(SW), 0xf4] : post),
    ];
  const u = UNOPS[op];
  if (u) return [...pre, ...fldA, ...u, ...post];
  const k = STKOPS[op];
  if (k) return [...pre, ...fldA, ...fldB, ...k, ...post];
  // fcomi: fld b; fld a; fcomip st, st(1); hlt
  return [...pre, ...fldB, ...fldA, 0xdf, 0xf1, 0xf4];
}

const harness = createHarness(new Uint8Array(0));
const view = new DataView(harness.memory.ram.buffer, harness.memory.ram.byteOffset);

function ulps(a: number, b: number): number {
  const x = new DataView(new ArrayBuffer(16));
  x.setFloat64(0, a);
  x.setFloat64(8, b);
  return Number(
    x.getBigInt64(0) - x.getBigInt64(8) < 0n
      ? x.getBigInt64(8) - x.getBigInt64(0)
      : x.getBigInt64(0) - x.getBigInt64(8),
  );
}

/**
 * Transcendental results: within 2 ulp, or an absolute error of 1e-15 × max(1, |x|) where the
 * x87 reduces its argument with a 66-bit π (SDM vol. 1 §8.3.10) and IEEE doubles cannot.
 * F2XM1 is only defined for |x| ≤ 1.
 */
function closeEnough(op: string, row: Row, got: number, want: number): boolean {
  const f = new DataView(new ArrayBuffer(8));
  f.setBigUint64(0, row.a);
  const x = f.getFloat64(0);
  if (op === 'f2xm1' && !(Math.abs(x) <= 1)) return true;
  return ulps(got, want) <= 2 || Math.abs(got - want) <= 1e-15 * Math.max(1, Math.abs(x));
}

interface Row {
  op: string;
  a: bigint;
  b: bigint;
  r: bigint;
  sw: number;
}

const rows: Row[] = readFileSync(new URL('../testdata/x87.txt', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => {
    const f = l.split(' ');
    return {
      op: f[0] ?? '',
      a: BigInt(`0x${f[1]}`),
      b: BigInt(`0x${f[2]}`),
      r: BigInt(`0x${f[3]}`),
      sw: Number.parseInt(f[4] ?? '0', 16),
    };
  });

function replay(row: Row): { r: number; sw: number; flags: number } {
  const { cpu, memory } = harness;
  const code = program(row.op);
  memory.ram.set(code, 0x1000);
  cpu.invalidateCode(0x1000, code.length);
  view.setBigUint64(A, row.a, true);
  view.setBigUint64(B, row.b, true);
  view.setUint16(CW, 0x27f, true);
  const s = cpu.state;
  s.eip = 0x1000;
  s.halted = false;
  s.cr0 = (s.cr0 & ~0xc) | 0x20;
  cpu.run(100);
  return { r: view.getFloat64(R, true), sw: view.getUint16(SW, true), flags: s.getFlags() & 0x45 };
}

describe('x87 against hardware vectors (double precision control, all exceptions masked)', () => {
  const ops = [...new Set(rows.map((r) => r.op))];
  for (const op of ops) {
    const mine = rows.filter((r) => r.op === op);
    const exact = EXACT.has(op);
    it(`${op}: ${exact ? 'bit-exact results' : 'results within 2 ulp or 1e-15·max(1,|x|) absolute'} and matching status flags (${mine.length} vectors)`, () => {
      const bad: string[] = [];
      const f = new DataView(new ArrayBuffer(8));
      for (const row of mine) {
        const got = replay(row);
        f.setBigUint64(0, row.r);
        const want = f.getFloat64(0);
        let ok: boolean;
        if (op === 'fcomi') ok = got.flags === (row.sw & 0x45);
        else if (op === 'fcom') ok = (got.sw & 0x4500) === (row.sw & 0x4500);
        else {
          const sameValue = Number.isNaN(want)
            ? Number.isNaN(got.r)
            : exact
              ? Object.is(got.r, want) || (Math.abs(want) < 2.2250738585072014e-308 && ulps(got.r, want) <= 2)
              : closeEnough(op, row, got.r, want);
          // IE and ZE always; the quotient bits C0/C1/C3 and C2 for the partial remainders.
          const mask = 0x5 | (op === 'fprem' || op === 'fprem1' ? 0x4700 : 0);
          // An incomplete partial remainder (C2 = 1) is checked for C2 only.
          const partial = (op === 'fprem' || op === 'fprem1') && (row.sw & 0x400) !== 0;
          ok = partial ? (got.sw & 0x400) !== 0 : sameValue && (got.sw & mask) === (row.sw & mask);
        }
        if (!ok)
          bad.push(
            `${row.a.toString(16)} ${row.b.toString(16)} → ${got.r} sw ${got.sw.toString(16)}, host ${want} sw ${row.sw.toString(16)}`,
          );
      }
      expect(bad.slice(0, 3).join('; ')).toBe('');
    });
  }
});

describe('x87 semantics', () => {
  it('80-bit extended conversion round-trips doubles, including denormals and infinities (SDM vol. 1 §4.2.2)', () => {
    const out = new Int32Array(3);
    for (const v of [
      0,
      -0,
      1,
      -2.5,
      Math.PI,
      5e-324,
      2.2250738585072014e-308,
      1.7976931348623157e308,
      Number.POSITIVE_INFINITY,
    ]) {
      doubleToExtended(v, out);
      expect(Object.is(extendedToDouble(out[0]!, out[1]!, out[2]!), v)).toBe(true);
    }
    doubleToExtended(1, out);
    expect([out[0], out[1]! >>> 0, out[2]]).toEqual([0, 0x80000000, 0x3fff]);
  });

  it('an unmasked zero-divide sets ES and raises #MF at the next waiting x87 instruction (SDM vol. 1 §8.6)', () => {
    // fninit; fldcw [cw=0x37b: ZM clear]; fld1; fldz; fdivp st1,st; fwait
    const code = [0xdb, 0xe3, 0xd9, 0x2d, ...le32(CW), 0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9, 0x9b, 0xf4];
    const { cpu, memory } = createHarness(new Uint8Array(code), { callouts: { exception: () => true } });
    memory.write16(CW, 0x37b);
    cpu.state.cr0 |= 0x20;
    const reason = cpu.run(100);
    expect(reason).toBe(StopReason.exception);
    expect(cpu.lastVector).toBe(Vector.mf);
    expect(cpu.state.eip).toBe(0x100e); // the FWAIT
    expect(cpu.state.fpuStatus & 0x84).toBe(0x84);
  });

  it('a masked stack underflow gives the indefinite NaN and sets IE and SF (SDM vol. 1 §8.5.1.1)', () => {
    // fninit; fadd st0,st1 (both empty) ; fnstsw ax; hlt
    const { cpu } = runSnippet(new Uint8Array([0xdb, 0xe3, 0xd8, 0xc1, 0xdf, 0xe0, 0xf4]));
    expect(cpu.state.regs[Reg.eax]! & 0x41).toBe(0x41);
  });

  it('CR0.TS makes the first x87 instruction raise #NM (SDM vol. 3 §2.5)', () => {
    const { cpu } = createHarness(new Uint8Array([0xd9, 0xe8, 0xf4]), {
      callouts: { exception: () => true },
    });
    cpu.state.cr0 |= 8;
    cpu.run(10);
    expect(cpu.lastVector).toBe(Vector.nm);
  });

  it('FCMOVB copies ST(i) when CF is set (SDM vol. 2 "FCMOVcc")', () => {
    // fninit; fld1; fldz; stc; fcmovb st0,st1; fistp dword [R]; hlt
    const { memory } = runSnippet(
      new Uint8Array([0xdb, 0xe3, 0xd9, 0xe8, 0xd9, 0xee, 0xf9, 0xda, 0xc1, 0xdb, 0x1d, ...le32(R), 0xf4]),
    );
    expect(memory.read32(R)).toBe(1);
  });

  it('FNSAVE then FRSTOR restores the register stack and control word (SDM vol. 2 "FSAVE")', () => {
    // fninit; fldpi; fld1; fnsave [0x4000]; fld1 (fresh); frstor [0x4000]; fstp qword [R]; hlt
    const code = [
      0xdb,
      0xe3,
      0xd9,
      0xeb,
      0xd9,
      0xe8,
      0xdd,
      0x35,
      ...le32(0x4000),
      0xd9,
      0xe8,
      0xdd,
      0x25,
      ...le32(0x4000),
      0xdd,
      0x1d,
      ...le32(R),
      0xdd,
      0x1d,
      ...le32(R + 8),
      0xf4,
    ];
    const { memory } = runSnippet(new Uint8Array(code));
    const v = new DataView(memory.ram.buffer, memory.ram.byteOffset);
    expect(v.getFloat64(R, true)).toBe(1);
    expect(v.getFloat64(R + 8, true)).toBe(Math.PI);
  });

  it('FXSAVE to a misaligned address raises #GP(0) (SDM vol. 2 "FXSAVE")', () => {
    const { cpu } = runSnippet(new Uint8Array([0x0f, 0xae, 0x05, ...le32(0x4004), 0xf4]), {
      callouts: { exception: () => true },
    });
    expect(cpu.lastVector).toBe(Vector.gp);
  });
});
