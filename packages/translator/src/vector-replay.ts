import { Reg } from './cpu-state';
import { TranslatorError } from './errors';
import { createHarness } from './harness';

/**
 * Replays the hardware vectors of `testdata/*.txt` (written by `native/recorder.c`) through
 * tier 0: each vector becomes one instruction on registers, run in flat 32-bit mode.
 */

/** One recorded vector. */
export interface HwVector {
  readonly line: number;
  readonly op: string;
  readonly width: number;
  readonly in0: number;
  readonly in1: number;
  readonly in2: number;
  readonly flagsIn: number;
  readonly out0: number;
  readonly out1: number;
  readonly flagsOut: number;
}

export function parseVectors(text: string): HwVector[] {
  const out: HwVector[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] ?? '';
    if (l === '' || l.startsWith('#')) continue;
    const f = l.split(' ');
    const n = (k: number) => Number.parseInt(f[k] ?? '0', 16) >>> 0;
    out.push({
      line: i + 1,
      op: f[0] ?? '',
      width: Number(f[1]),
      in0: n(2),
      in1: n(3),
      in2: n(4),
      flagsIn: n(5),
      out0: n(6),
      out1: n(7),
      flagsOut: n(8),
    });
  }
  return out;
}

const ALU2 = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
const SHIFTS = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'];
const CCS = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
const GROUP3: Record<string, number> = { not: 2, neg: 3, mul: 4, imul1: 5, div: 6, idiv: 7 };
const BT: Record<string, number> = { bt: 0xa3, bts: 0xab, btr: 0xb3, btc: 0xbb };

/** Machine code of the instruction a vector exercises (registers: see `setup`). */
export function encode(v: HwVector): number[] {
  const pre = v.width === 16 ? [0x66] : [];
  const wbit = v.width === 8 ? 0 : 1;
  const alu = ALU2.indexOf(v.op);
  if (alu >= 0) return [...pre, (alu << 3) | wbit, 0xd8];
  if (v.op === 'test') return [...pre, 0x84 | wbit, 0xd8];
  if (v.op === 'xadd') return [...pre, 0x0f, 0xc0 | wbit, 0xd8];
  if (v.op === 'inc' || v.op === 'dec') return [...pre, 0xfe | wbit, 0xc0 | (v.op === 'dec' ? 8 : 0)];
  const g3 = GROUP3[v.op];
  if (g3 !== undefined)
    return [...pre, 0xf6 | wbit, 0xc0 | (g3 << 3) | (v.op === 'not' || v.op === 'neg' ? 0 : 3)];
  if (v.op === 'cmpxchg') return [...pre, 0x0f, 0xb0 | wbit, 0xcb];
  if (v.op === 'bswap') return [0x0f, 0xc8];
  const sh = SHIFTS.indexOf(v.op);
  if (sh >= 0) return [...pre, 0xd2 | wbit, 0xc0 | (sh << 3)];
  if (v.op === 'shld') return [...pre, 0x0f, 0xa5, 0xd8];
  if (v.op === 'shrd') return [...pre, 0x0f, 0xad, 0xd8];
  if (v.op === 'imul2') return [...pre, 0x0f, 0xaf, 0xc3];
  const bt = BT[v.op];
  if (bt !== undefined) return [...pre, 0x0f, bt, 0xd8];
  if (v.op === 'bsf') return [...pre, 0x0f, 0xbc, 0xc3];
  if (v.op === 'bsr') return [...pre, 0x0f, 0xbd, 0xc3];
  if (v.op.startsWith('set')) {
    const cc = CCS.indexOf(v.op.slice(3));
    // SETcc AL, then CMOVcc EBX, ECX: two instructions on the same flags.
    return [0x0f, 0x90 | cc, 0xc0, 0x0f, 0x40 | cc, 0xd9];
  }
  throw new TranslatorError('bad-argument', `no encoding for vector op ${v.op}`, v.op);
}

/** What a replay produced. */
export interface ReplayResult {
  out0: number;
  out1: number;
  flags: number;
}

const harness = createHarness(new Uint8Array(0), { memorySize: 0x10000 });
/** Tier 1 translating every address the first time it runs. */
const harness1 = createHarness(new Uint8Array(0), { memorySize: 0x10000, jit: true, jitThreshold: 1 });
const ORIGIN = 0x1000;

/**
 * Runs one vector through tier 0 (or, with `tier` 1, as a translated tier-1 block) and returns
 * results in the vector's terms.
 */
export function replay(v: HwVector, tier: 0 | 1 = 0): ReplayResult {
  const { cpu, memory } = tier === 1 ? harness1 : harness;
  const s = cpu.state;
  const code = encode(v);
  // HLT after the code ends the block there.
  memory.ram.set([...code, 0xf4], ORIGIN);
  cpu.invalidateCode(ORIGIN, 32);
  s.regs.fill(0);
  s.regs[Reg.esp] = 0x8000;
  s.eip = ORIGIN;
  s.setFlags(0x202 | v.flagsIn);
  const r = s.regs;
  const m = v.width === 32 ? 0xffffffff : (1 << v.width) - 1;
  let out0 = 0;
  let out1 = 0;
  switch (v.op) {
    case 'mul':
    case 'imul1':
    case 'div':
    case 'idiv':
      r[Reg.eax] = v.in0;
      r[Reg.edx] = v.in1;
      r[Reg.ebx] = v.in2;
      break;
    case 'cmpxchg':
      r[Reg.ebx] = v.in0;
      r[Reg.ecx] = v.in1;
      r[Reg.eax] = v.in2;
      break;
    case 'bsf':
    case 'bsr':
    case 'imul2':
      r[Reg.eax] = v.in0;
      r[Reg.ebx] = v.in1;
      break;
    default:
      if (v.op.startsWith('set')) {
        r[Reg.ebx] = 0x11111111;
        r[Reg.ecx] = 0x22222222;
      } else {
        r[Reg.eax] = v.in0;
        r[Reg.ebx] = v.in1;
        r[Reg.ecx] = v.in2;
      }
  }
  const count = v.op.startsWith('set') ? 2 : 1;
  if (tier === 1) cpu.run(count);
  else for (let k = 0; k < count; k++) cpu.step();
  const eax = (r[Reg.eax] ?? 0) >>> 0;
  switch (v.op) {
    case 'mul':
    case 'imul1':
    case 'div':
    case 'idiv':
      out0 = v.width === 8 ? eax & 0xffff : eax & m;
      out1 = v.width === 8 ? 0 : ((r[Reg.edx] ?? 0) >>> 0) & m;
      break;
    case 'cmpxchg':
      out0 = ((r[Reg.ebx] ?? 0) >>> 0) & m;
      out1 = eax & m;
      break;
    case 'xadd':
      out0 = eax & m;
      out1 = ((r[Reg.ebx] ?? 0) >>> 0) & m;
      break;
    default:
      if (v.op.startsWith('set')) {
        out0 = eax & 0xff;
        out1 = (r[Reg.ebx] ?? 0) >>> 0;
      } else out0 = eax & m;
  }
  return { out0: out0 >>> 0, out1: out1 >>> 0, flags: s.getFlags() & 0x8d5 };
}

/** Tier-1 block runs of the replay processor so far (to prove the vectors went through tier 1). */
export function tier1BlockRuns(): number {
  return harness1.cpu.jit?.stats.blockRuns ?? 0;
}

/**
 * Status flags the SDM defines after the vector's instruction (the others are "undefined").
 * `result` is false when the SDM leaves the destination undefined too.
 */
export function definedFlags(v: HwVector): { flags: number; result: boolean } {
  const all = 0x8d5;
  const c = v.in2 & 31;
  switch (v.op) {
    case 'and':
    case 'or':
    case 'xor':
    case 'test':
      return { flags: all & ~0x10, result: true };
    case 'shl':
    case 'sal':
    case 'shr':
      if (c === 0) return { flags: all, result: true };
      return { flags: 0xc4 | (c === 1 ? 0x800 : 0) | (c < v.width ? 1 : 0), result: true };
    case 'sar':
      if (c === 0) return { flags: all, result: true };
      return { flags: 0xc5 | (c === 1 ? 0x800 : 0), result: true };
    case 'rol':
    case 'ror':
    case 'rcl':
    case 'rcr':
      if (c === 0) return { flags: all, result: true };
      return { flags: all & ~(c === 1 ? 0 : 0x800), result: true };
    case 'shld':
    case 'shrd':
      if (c === 0) return { flags: all, result: true };
      if (c > v.width) return { flags: 0, result: false };
      return { flags: 0xc5 | (c === 1 ? 0x800 : 0), result: true };
    case 'mul':
    case 'imul1':
    case 'imul2':
      return { flags: 0x801, result: true };
    case 'div':
    case 'idiv':
      return { flags: 0, result: true };
    case 'bt':
    case 'bts':
    case 'btr':
    case 'btc':
      return { flags: 0x41, result: true };
    case 'bsf':
    case 'bsr':
      return { flags: 0x40, result: v.in1 !== 0 };
    default:
      return { flags: all, result: true };
  }
}
