import { type CpuState, Eflags, LazyOp, PARITY_TABLE, STATUS_FLAGS } from './cpu-state';

/**
 * Integer semantics, indexed by operation and width: each function takes the state (for flags
 * in and out), the operands as 32-bit numbers (upper bits beyond the width are ignored) and
 * returns the result masked to the width. Flags follow the SDM vol. 2 "Flags Affected" sections;
 * where the SDM leaves a flag undefined these functions pick a value (documented in
 * testdata/undefined-flags-report.txt against this host).
 */

/** The two-operand ALU operations in opcode order (`00`/`08`/…/`38` and ModRM.reg of `80`). */
export const AluOp = { add: 0, or: 1, adc: 2, sbb: 3, and: 4, sub: 5, xor: 6, cmp: 7, test: 8 } as const;
export type AluOp = (typeof AluOp)[keyof typeof AluOp];

/** Shift/rotate operations in ModRM.reg order of `C0`/`D0`/`D2` (SAL = 6 behaves as SHL). */
export const ShiftOp = { rol: 0, ror: 1, rcl: 2, rcr: 3, shl: 4, shr: 5, sal: 6, sar: 7 } as const;
export type ShiftOp = (typeof ShiftOp)[keyof typeof ShiftOp];

export function maskOf(bits: number): number {
  return bits === 32 ? -1 : (1 << bits) - 1;
}

function signExtend(v: number, bits: number): number {
  return bits === 32 ? v | 0 : bits === 16 ? (v << 16) >> 16 : (v << 24) >> 24;
}

/** Two-operand ALU: returns the result (for CMP/TEST, the result that would be written). */
export function alu(s: CpuState, op: number, a: number, b: number, bits: number): number {
  const m = maskOf(bits);
  let r: number;
  switch (op) {
    case AluOp.add:
      r = (a + b) & m;
      s.setLazy(LazyOp.add, a & m, b & m, r, bits);
      return r;
    case AluOp.or:
      r = (a | b) & m;
      s.setLazy(LazyOp.logic, 0, 0, r, bits);
      return r;
    case AluOp.adc: {
      const c = s.getCF();
      r = (a + b + c) & m;
      s.setLazyCarry(LazyOp.adc, a & m, b & m, c, r, bits);
      return r;
    }
    case AluOp.sbb: {
      const c = s.getCF();
      r = (a - b - c) & m;
      s.setLazyCarry(LazyOp.sbb, a & m, b & m, c, r, bits);
      return r;
    }
    case AluOp.and:
    case AluOp.test:
      r = a & b & m;
      s.setLazy(LazyOp.logic, 0, 0, r, bits);
      return r;
    case AluOp.sub:
    case AluOp.cmp:
      r = (a - b) & m;
      s.setLazy(LazyOp.sub, a & m, b & m, r, bits);
      return r;
    default:
      r = (a ^ b) & m;
      s.setLazy(LazyOp.logic, 0, 0, r, bits);
      return r;
  }
}

export function inc(s: CpuState, a: number, bits: number): number {
  const m = maskOf(bits);
  const r = (a + 1) & m;
  s.setLazy(LazyOp.inc, a & m, 1, r, bits);
  return r;
}

export function dec(s: CpuState, a: number, bits: number): number {
  const m = maskOf(bits);
  const r = (a - 1) & m;
  s.setLazy(LazyOp.dec, a & m, 1, r, bits);
  return r;
}

export function neg(s: CpuState, a: number, bits: number): number {
  const m = maskOf(bits);
  const r = -a & m;
  s.setLazy(LazyOp.sub, 0, a & m, r, bits);
  return r;
}

/** Sets all six status flags at once from explicit values (shifts, multiplies, BCD). */
export function setStatus(s: CpuState, cf: number, of: number, r: number, bits: number, af = 0): void {
  const m = maskOf(bits);
  const v = r & m;
  let f = s.flags & ~STATUS_FLAGS;
  if (cf) f |= Eflags.cf;
  if (of) f |= Eflags.of;
  if (af) f |= Eflags.af;
  if (v === 0) f |= Eflags.zf;
  if ((v >>> (bits - 1)) & 1) f |= Eflags.sf;
  f |= PARITY_TABLE[v & 0xff] ?? 0;
  s.flags = f;
  s.lazyOp = LazyOp.none;
}

/** Sets CF and OF (nonzero: set) with the other status flags as they stand. */
export function setCfOf(s: CpuState, cf: number, of: number): void {
  s.materializeFlags();
  s.flags = (s.flags & ~(Eflags.cf | Eflags.of)) | (cf ? Eflags.cf : 0) | (of ? Eflags.of : 0);
}

/**
 * Shift or rotate `a` by `count` (the raw count byte; masked to 5 bits as on every processor
 * since the 80286, SDM vol. 2 "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR").
 */
export function shift(s: CpuState, op: number, a: number, count: number, bits: number): number {
  const m = maskOf(bits);
  const c = count & 31;
  a &= m;
  if (c === 0) return a;
  const top = bits - 1;
  switch (op) {
    case ShiftOp.rol: {
      const n = c % bits;
      const r = n === 0 ? a : ((a << n) | (a >>> (bits - n))) & m;
      const cf = r & 1;
      setCfOf(s, cf, ((r >>> top) & 1) ^ cf);
      return r;
    }
    case ShiftOp.ror: {
      const n = c % bits;
      const r = n === 0 ? a : ((a >>> n) | (a << (bits - n))) & m;
      const cf = (r >>> top) & 1;
      setCfOf(s, cf, cf ^ ((r >>> (top - 1)) & 1));
      return r;
    }
    case ShiftOp.rcl: {
      const n = c % (bits + 1);
      let cf = s.getCF();
      let r = a;
      for (let i = 0; i < n; i++) {
        const out = (r >>> top) & 1;
        r = ((r << 1) | cf) & m;
        cf = out;
      }
      setCfOf(s, cf, ((r >>> top) & 1) ^ cf);
      return r;
    }
    case ShiftOp.rcr: {
      const n = c % (bits + 1);
      let cf = s.getCF();
      const of = ((a >>> top) & 1) ^ cf;
      let r = a;
      for (let i = 0; i < n; i++) {
        const out = r & 1;
        r = ((r >>> 1) | (cf << top)) & m;
        cf = out;
      }
      setCfOf(s, cf, of);
      return r;
    }
    case ShiftOp.shl:
    case ShiftOp.sal: {
      // Flags from (a, c, r) on demand: CF = the last bit out, OF = r's top bit ^ CF.
      const r = c >= 32 ? 0 : (a << c) & m;
      s.setLazy(LazyOp.shl, a, c, r, bits);
      return r;
    }
    case ShiftOp.shr: {
      const r = c >= bits ? 0 : a >>> c;
      s.setLazy(LazyOp.shr, a, c, r, bits);
      return r;
    }
    default: {
      const r = (signExtend(a, bits) >> Math.min(c, 31)) & m;
      s.setLazy(LazyOp.sar, a, c, r, bits);
      return r;
    }
  }
}

/** SHLD/SHRD (SDM vol. 2 "SHLD", "SHRD"): count masked to 5 bits; counts above the width are undefined. */
export function doubleShift(
  s: CpuState,
  left: boolean,
  a: number,
  b: number,
  count: number,
  bits: number,
): number {
  const m = maskOf(bits);
  const c = count & 31;
  a &= m;
  b &= m;
  if (c === 0) return a;
  const top = bits - 1;
  let r: number;
  let cf: number;
  if (bits === 32) {
    if (left) {
      r = (a << c) | (b >>> (32 - c)) | 0;
      cf = (a >>> (32 - c)) & 1;
    } else {
      r = (a >>> c) | (b << (32 - c)) | 0;
      cf = (a >>> (c - 1)) & 1;
    }
  } else {
    // 16-bit: treat dst:src (or src:dst) as a 32-bit value, as hardware does for counts up to 16.
    if (left) {
      const wide = ((a << 16) | b) >>> 0;
      const wide2 = c > 16 ? ((b << 16) | a) >>> 0 : wide;
      const n = c > 16 ? c - 16 : c;
      r = ((wide2 << n) >>> 16) & m;
      cf = c > 16 ? (b >>> (16 - n)) & 1 : (a >>> (16 - c)) & 1;
    } else {
      const wide = ((b << 16) | a) >>> 0;
      const wide2 = c > 16 ? ((a << 16) | b) >>> 0 : wide;
      const n = c > 16 ? c - 16 : c;
      r = (wide2 >>> n) & m;
      cf = c > 16 ? (b >>> (n - 1)) & 1 : (a >>> (c - 1)) & 1;
    }
  }
  r &= m;
  const of = ((r ^ a) >>> top) & 1;
  setStatus(s, cf, of, r, bits);
  return r;
}

/**
 * One-operand MUL (`signed` false) or IMUL: multiplies the accumulator by `b`. Returns the low
 * half; the high half is left in `MULDIV_OUT[1]`. CF = OF = high half significant.
 */
export const MULDIV_OUT = new Int32Array(2);

export function mul1(s: CpuState, signed: boolean, a: number, b: number, bits: number): void {
  const m = maskOf(bits);
  let lo: number;
  let hi: number;
  if (bits < 32) {
    const p = signed ? signExtend(a, bits) * signExtend(b, bits) : (a & m) * (b & m);
    lo = p & m;
    hi = (p >> bits) & m;
    const over = signed ? p !== signExtend(lo, bits) : hi !== 0;
    setStatus(s, over ? 1 : 0, over ? 1 : 0, lo, bits);
  } else {
    const x = signed ? BigInt(a | 0) * BigInt(b | 0) : BigInt(a >>> 0) * BigInt(b >>> 0);
    lo = Number(BigInt.asIntN(32, x));
    hi = Number(BigInt.asIntN(32, x >> 32n));
    const over = signed ? x !== BigInt(lo) : hi !== 0;
    setStatus(s, over ? 1 : 0, over ? 1 : 0, lo, bits);
  }
  MULDIV_OUT[0] = lo;
  MULDIV_OUT[1] = hi;
}

/** Two- and three-operand IMUL: the truncated signed product; CF = OF = truncation lost bits. */
export function imul2(s: CpuState, a: number, b: number, bits: number): number {
  const m = maskOf(bits);
  if (bits === 16) {
    const p = signExtend(a, 16) * signExtend(b, 16);
    const r = p & m;
    const over = p !== signExtend(r, 16) ? 1 : 0;
    setStatus(s, over, over, r, bits);
    return r;
  }
  const r = Math.imul(a, b);
  // The double product is exact whenever it fits in 32 bits, and a product that does not fit
  // cannot round to a value that does: comparing the two detects overflow without BigInt.
  const over = (a | 0) * (b | 0) !== r ? 1 : 0;
  setStatus(s, over, over, r, bits);
  return r;
}

/**
 * DIV/IDIV of the double-width dividend `hi:lo` by `b`. Returns false when the quotient does
 * not fit or `b` is 0 (the caller raises #DE, SDM vol. 2 "DIV"); otherwise the quotient and
 * remainder are in `MULDIV_OUT[0]`/`[1]`. Flags are undefined and left unchanged.
 */
export function div(signed: boolean, lo: number, hi: number, b: number, bits: number): boolean {
  const m = maskOf(bits);
  if ((b & m) === 0) return false;
  if (bits === 32) {
    if (signed) {
      const n = (BigInt(hi | 0) << 32n) | BigInt(lo >>> 0);
      const d = BigInt(b | 0);
      const q = n / d;
      if (q > 0x7fffffffn || q < -0x80000000n) return false;
      MULDIV_OUT[0] = Number(q);
      MULDIV_OUT[1] = Number(n % d);
    } else {
      const n = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
      const d = BigInt(b >>> 0);
      const q = n / d;
      if (q > 0xffffffffn) return false;
      MULDIV_OUT[0] = Number(q) | 0;
      MULDIV_OUT[1] = Number(n % d) | 0;
    }
    return true;
  }
  // 8/16-bit: the dividend fits a double exactly.
  if (signed) {
    const n = bits === 8 ? signExtend(lo, 16) : (hi << 16) | (lo & 0xffff) | 0;
    const d = signExtend(b, bits);
    const q = Math.trunc(n / d);
    const lim = bits === 8 ? 0x80 : 0x8000;
    if (q >= lim || q < -lim) return false;
    MULDIV_OUT[0] = q & m;
    MULDIV_OUT[1] = (n % d) & m;
  } else {
    const n = bits === 8 ? lo & 0xffff : (((hi & 0xffff) << 16) | (lo & 0xffff)) >>> 0;
    const d = b & m;
    const q = Math.floor(n / d);
    if (q > m) return false;
    MULDIV_OUT[0] = q;
    MULDIV_OUT[1] = n % d;
  }
  return true;
}

/** BT/BTS/BTR/BTC on a register value: `which` 0 = test, 1 = set, 2 = reset, 3 = complement. */
export function bitOp(s: CpuState, which: number, a: number, bit: number, bits: number): number {
  const n = bit & (bits - 1);
  const cf = (a >>> n) & 1;
  s.materializeFlags();
  s.flags = (s.flags & ~Eflags.cf) | cf;
  const mask = 1 << n;
  const r = which === 1 ? a | mask : which === 2 ? a & ~mask : which === 3 ? a ^ mask : a;
  return r & maskOf(bits);
}

/** BSF/BSR: returns the bit index, or -1 for a zero source (destination left unchanged, ZF = 1). */
export function bitScan(s: CpuState, reverse: boolean, v: number, bits: number): number {
  const x = v & maskOf(bits);
  s.materializeFlags();
  if (x === 0) {
    s.flags |= Eflags.zf;
    return -1;
  }
  s.flags &= ~Eflags.zf;
  return reverse ? 31 - Math.clz32(x) : 31 - Math.clz32(x & -x);
}

export function bswap32(v: number): number {
  return (v >>> 24) | ((v >>> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24) | 0;
}
