import { CODE_NAMES, OpKind, Register } from '@ringzero/decoder';
import { Eflags, LazyOp, Seg } from './cpu-state';
import type { Decoded } from './decoded';
import { raise, Vector } from './fault';
import type { Handler } from './handlers';
import type { Tier0 } from './tier0';

/*
 * x87 semantics on IEEE doubles (documented limit: the architectural 80-bit extended format is
 * converted on FLD/FSTP m80 and FSAVE/FXSAVE, computation is in double precision, and the
 * precision-control field is stored but not applied). Exceptions follow SDM vol. 1 §8.4–8.5:
 * a masked exception sets its status flag and delivers the default result; an unmasked one also
 * sets ES/B and is reported as #MF by the next waiting x87 instruction (when CR0.NE = 1).
 */

const SW_IE = 0x1;
const SW_DE = 0x2;
const SW_ZE = 0x4;
const SW_OE = 0x8;
const SW_SF = 0x40;
const SW_ES = 0x80;
const SW_C0 = 0x100;
const SW_C1 = 0x200;
const SW_C2 = 0x400;
const SW_C3 = 0x4000;
const SW_B = 0x8000;
const CC_MASK = SW_C0 | SW_C1 | SW_C2 | SW_C3;

const TAG_EMPTY = 3;

/**
 * Thrown inside an x87 handler when an unmasked exception stops it: the instruction completes
 * without a result and #MF is reported by the next waiting x87 instruction (SDM vol. 1 §8.6).
 */
const ABORT = { abort: true };

const scratch = new DataView(new ArrayBuffer(16));

function tagOf(c: Tier0, phys: number): number {
  return (c.state.fpuTag >>> (phys * 2)) & 3;
}

function setTag(c: Tier0, phys: number, tag: number): void {
  const s = c.state;
  s.fpuTag = (s.fpuTag & ~(3 << (phys * 2))) | (tag << (phys * 2));
}

function tagFor(v: number): number {
  if (v === 0) return 1;
  if (!Number.isFinite(v)) return 2;
  return 0;
}

/** Records an exception; returns true when it is masked (deliver the default result). */
function fpuException(c: Tier0, flags: number): boolean {
  const s = c.state;
  s.fpuStatus |= flags;
  const unmasked = flags & ~s.fpuControl & 0x3f;
  if (unmasked) {
    s.fpuStatus |= SW_ES | SW_B;
    return false;
  }
  return true;
}

/**
 * The real indefinite: the QNaN with the sign bit set that the x87 returns for a masked invalid
 * operation (SDM vol. 1 §4.8.3.7, table 4-3). `Number.NaN` has the sign bit clear, so the value
 * is built from its bits (typed arrays and DataView keep NaN bits). This host stores it as
 * FFF8000000000000 after 0/0, a stack overflow, a stack underflow and √−1.
 */
const INDEFINITE = nanWithHigh(0xfff80000);
/** A QNaN with the sign bit clear, for loading a positive NaN from an 80-bit image. */
const POSITIVE_NAN = nanWithHigh(0x7ff80000);

function nanWithHigh(hi: number): number {
  const d = new DataView(new ArrayBuffer(8));
  d.setUint32(4, hi, true);
  return d.getFloat64(0, true);
}

function st(c: Tier0, i: number): number {
  const s = c.state;
  const p = (s.fpuTop + i) & 7;
  if (tagOf(c, p) === TAG_EMPTY) {
    // Stack underflow (SDM vol. 1 §8.5.1.1): IE + SF, C1 = 0.
    s.fpuStatus &= ~SW_C1;
    if (!fpuException(c, SW_IE | SW_SF)) throw ABORT;
    return INDEFINITE;
  }
  return s.fpr[p] ?? 0;
}

function setSt(c: Tier0, i: number, v: number): void {
  const p = (c.state.fpuTop + i) & 7;
  c.state.fpr[p] = v;
  setTag(c, p, tagFor(v));
}

function push(c: Tier0, v: number): void {
  const s = c.state;
  const p = (s.fpuTop - 1) & 7;
  if (tagOf(c, p) !== TAG_EMPTY) {
    s.fpuStatus |= SW_C1;
    if (!fpuException(c, SW_IE | SW_SF)) return;
    v = INDEFINITE;
  }
  s.fpuTop = p;
  s.fpr[p] = v;
  setTag(c, p, tagFor(v));
}

function pop(c: Tier0): void {
  const s = c.state;
  setTag(c, s.fpuTop, TAG_EMPTY);
  s.fpuTop = (s.fpuTop + 1) & 7;
}

/** Before a waiting x87 instruction: #NM for CR0.EM/TS, #MF for a pending unmasked exception. */
function prologue(c: Tier0, ins: Decoded, control: boolean): void {
  const s = c.state;
  if (s.cr0 & 0xc) raise(Vector.nm);
  if (!control && s.fpuStatus & SW_ES && s.cr0 & 0x20) raise(Vector.mf);
  if (!control) {
    s.fpuIp = c.startEip;
    s.fpuCs = s.segSel[Seg.cs] ?? 0;
    if (ins.kind0 === OpKind.memory || ins.kind1 === OpKind.memory) {
      s.fpuDp = c.offset(ins);
      s.fpuDs = s.segSel[ins.mSeg - Register.es] ?? 0;
    }
  }
}

function roundInt(c: Tier0, v: number): number {
  let r: number;
  switch ((c.state.fpuControl >>> 10) & 3) {
    case 0: {
      // Round to nearest even.
      const f = Math.floor(v);
      const d = v - f;
      r = d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
      break;
    }
    case 1:
      r = Math.floor(v);
      break;
    case 2:
      r = Math.ceil(v);
      break;
    default:
      r = Math.trunc(v);
  }
  // A zero result keeps the sign of the operand (SDM vol. 1 §4.8.3.4).
  return r === 0 && (v < 0 || Object.is(v, -0)) ? -0 : r;
}

/** v × 2^n without intermediate overflow to infinity (FSCALE). */
function scale(v: number, n: number): number {
  if (v === 0 || !Number.isFinite(v) || Number.isNaN(n)) return v;
  let k = Math.max(-2200, Math.min(2200, n));
  let r = v;
  while (k > 1000) {
    r *= 2 ** 1000;
    k -= 1000;
  }
  while (k < -1000) {
    r *= 2 ** -1000;
    k += 1000;
  }
  return r * 2 ** k;
}

// ---- Memory formats -------------------------------------------------------------------------

function read64(c: Tier0, lin: number): void {
  scratch.setInt32(0, c.read(lin, 32), true);
  scratch.setInt32(4, c.read(lin + 4, 32), true);
}

function write64(c: Tier0, lin: number): void {
  c.write(lin, scratch.getInt32(0, true), 32);
  c.write(lin + 4, scratch.getInt32(4, true), 32);
}

/** 80-bit extended → double (SDM vol. 1 §4.2.2, table 4-3). */
export function extendedToDouble(lo: number, hi: number, se: number): number {
  const sign = se & 0x8000 ? -1 : 1;
  const exp = se & 0x7fff;
  const mant = (hi >>> 0) * 4294967296 + (lo >>> 0);
  if (exp === 0x7fff) {
    const frac = ((hi & 0x7fffffff) >>> 0) * 4294967296 + (lo >>> 0);
    return frac === 0 ? sign * Number.POSITIVE_INFINITY : sign < 0 ? INDEFINITE : POSITIVE_NAN;
  }
  if (mant === 0) return sign * 0;
  let e = (exp === 0 ? 1 : exp) - 16383 - 63;
  let m = mant;
  // Scale in steps so the intermediate neither overflows nor flushes to zero too early.
  while (e > 1000) {
    m *= 2 ** 1000;
    e -= 1000;
  }
  while (e < -1000) {
    m *= 2 ** -1000;
    e += 1000;
  }
  return sign * m * 2 ** e;
}

/** double → 80-bit extended: writes [lo, hi, sign/exponent] to `out`. */
export function doubleToExtended(v: number, out: Int32Array): void {
  scratch.setFloat64(8, v, true);
  const dlo = scratch.getUint32(8, true);
  const dhi = scratch.getUint32(12, true);
  const sign = dhi >>> 31;
  const exp = (dhi >>> 20) & 0x7ff;
  let frac = ((dhi & 0xfffff) >>> 0) * 4294967296 + dlo;
  let e: number;
  let intBit = 1;
  if (exp === 0x7ff) {
    e = 0x7fff;
    if (frac !== 0) frac = 2 ** 51; // quiet NaN
  } else if (exp === 0) {
    if (frac === 0) {
      out[0] = 0;
      out[1] = 0;
      out[2] = sign << 15;
      return;
    }
    // Denormal double: normalize into the extended range.
    e = 1 - 1023 + 16383;
    while (frac < 2 ** 52) {
      frac *= 2;
      e--;
    }
    frac -= 2 ** 52;
  } else e = exp - 1023 + 16383;
  // 64-bit mantissa = intBit:frac(52 bits):11 zero bits.
  const hi = intBit * 2 ** 31 + Math.floor(frac / 2 ** 21);
  const lo = (frac % 2 ** 21) * 2 ** 11;
  if (exp === 0x7ff && frac === 0) intBit = 1;
  out[0] = lo | 0;
  out[1] = hi | 0;
  out[2] = (sign << 15) | e;
}

const EXT = new Int32Array(3);
const SIZES: Record<string, number> = {
  m32fp: 4,
  m64fp: 8,
  m80fp: 10,
  m16int: 2,
  m32int: 4,
  m64int: 8,
  m80bcd: 10,
};
const RESTORE = new Float64Array(8);

function readMemValue(c: Tier0, ins: Decoded, kind: string): number {
  const lin = c.memLinear(ins, SIZES[kind] ?? 4, false);
  switch (kind) {
    case 'm32fp':
      scratch.setInt32(0, c.read(lin, 32), true);
      return scratch.getFloat32(0, true);
    case 'm64fp':
      read64(c, lin);
      return scratch.getFloat64(0, true);
    case 'm80fp':
      return extendedToDouble(c.read(lin, 32), c.read(lin + 4, 32), c.read(lin + 8, 16));
    case 'm16int':
      return (c.read(lin, 16) << 16) >> 16;
    case 'm32int':
      return c.read(lin, 32) | 0;
    case 'm64int':
      read64(c, lin);
      return Number(scratch.getBigInt64(0, true));
    default: {
      // Packed BCD: 18 digits, sign in bit 79 (SDM vol. 1 §4.7).
      let v = 0;
      for (let i = 8; i >= 0; i--) {
        const b = c.read(lin + i, 8);
        v = v * 100 + (b >> 4) * 10 + (b & 0xf);
      }
      return c.read(lin + 9, 8) & 0x80 ? -v : v;
    }
  }
}

/** Stores ST(0) to memory in `kind` format; returns false when an unmasked exception blocks it. */
function storeMemValue(c: Tier0, ins: Decoded, kind: string, v: number): boolean {
  const size = SIZES[kind] ?? 4;
  const lin = c.memLinear(ins, size, true);
  c.mmu.probeWrite(lin, size, c.state.cpl === 3);
  switch (kind) {
    case 'm32fp': {
      const f = Math.fround(v);
      if (!Number.isFinite(f) && Number.isFinite(v) && !fpuException(c, SW_OE)) return false;
      scratch.setFloat32(0, v, true);
      c.write(lin, scratch.getInt32(0, true), 32);
      return true;
    }
    case 'm64fp':
      scratch.setFloat64(0, v, true);
      write64(c, lin);
      return true;
    case 'm80fp':
      doubleToExtended(v, EXT);
      c.write(lin, EXT[0] ?? 0, 32);
      c.write(lin + 4, EXT[1] ?? 0, 32);
      c.write(lin + 8, EXT[2] ?? 0, 16);
      return true;
    case 'm80bcd': {
      const r = roundInt(c, v);
      if (!Number.isFinite(r) || Math.abs(r) >= 1e18) {
        if (!fpuException(c, SW_IE)) return false;
        // BCD indefinite: FFFF C000 0000 0000 0000.
        for (let i = 0; i < 7; i++) c.write(lin + i, 0, 8);
        c.write(lin + 7, 0xc0, 8);
        c.write(lin + 8, 0xff, 8);
        c.write(lin + 9, 0xff, 8);
        return true;
      }
      let a = Math.abs(r);
      for (let i = 0; i < 9; i++) {
        const lo = a % 10;
        a = Math.floor(a / 10);
        const hi = a % 10;
        a = Math.floor(a / 10);
        c.write(lin + i, (hi << 4) | lo, 8);
      }
      c.write(lin + 9, r < 0 || Object.is(r, -0) ? 0x80 : 0, 8);
      return true;
    }
    default: {
      const bits = kind === 'm16int' ? 16 : kind === 'm32int' ? 32 : 64;
      const r = roundInt(c, v);
      const lim = 2 ** (bits - 1);
      if (!Number.isFinite(r) || r >= lim || r < -lim) {
        if (!fpuException(c, SW_IE)) return false;
        // Integer indefinite: the most negative value.
        if (bits === 64) {
          scratch.setBigInt64(0, -(2n ** 63n), true);
          write64(c, lin);
        } else c.write(lin, bits === 16 ? 0x8000 : 0x80000000, bits);
        return true;
      }
      if (bits === 64) {
        scratch.setBigInt64(0, BigInt(r), true);
        write64(c, lin);
      } else c.write(lin, r, bits);
      return true;
    }
  }
}

// ---- Arithmetic -----------------------------------------------------------------------------

const ArithOp = { add: 0, mul: 1, sub: 2, subr: 3, div: 4, divr: 5 } as const;

function arith(c: Tier0, op: number, a: number, b: number): number {
  let r: number;
  switch (op) {
    case ArithOp.add:
      r = a + b;
      break;
    case ArithOp.mul:
      r = a * b;
      break;
    case ArithOp.sub:
      r = a - b;
      break;
    case ArithOp.subr:
      r = b - a;
      break;
    case ArithOp.div:
      if (b === 0 && a !== 0 && Number.isFinite(a) && !fpuException(c, SW_ZE)) throw ABORT;
      r = a / b;
      break;
    default:
      if (a === 0 && b !== 0 && Number.isFinite(b) && !fpuException(c, SW_ZE)) throw ABORT;
      r = b / a;
      break;
  }
  if (Number.isNaN(r) && !Number.isNaN(a) && !Number.isNaN(b)) {
    if (!fpuException(c, SW_IE)) throw ABORT;
  } else if (
    !Number.isFinite(r) &&
    Number.isFinite(a) &&
    Number.isFinite(b) &&
    op !== ArithOp.div &&
    op !== ArithOp.divr
  ) {
    if (!fpuException(c, SW_OE)) throw ABORT;
  }
  return r;
}

function compare(c: Tier0, a: number, b: number, unordered: boolean): number {
  const s = c.state;
  s.fpuStatus &= ~CC_MASK;
  if (Number.isNaN(a) || Number.isNaN(b)) {
    if (!unordered && !fpuException(c, SW_IE)) throw ABORT;
    return SW_C0 | SW_C2 | SW_C3;
  }
  return a > b ? 0 : a < b ? SW_C0 : SW_C3;
}

/** FCOMI/FUCOMI: ZF, PF, CF from the comparison; OF, SF, AF cleared (SDM vol. 2 "FCOMI"). */
function compareToEflags(c: Tier0, cc: number): void {
  const s = c.state;
  s.materializeFlags();
  let f = s.flags & ~(Eflags.zf | Eflags.pf | Eflags.cf | Eflags.of | Eflags.sf | Eflags.af);
  if (cc & SW_C3) f |= Eflags.zf;
  if (cc & SW_C2) f |= Eflags.pf;
  if (cc & SW_C0) f |= Eflags.cf;
  s.flags = f;
  s.lazyOp = LazyOp.none;
}

// ---- Environment ----------------------------------------------------------------------------

function fullTag(c: Tier0): number {
  const s = c.state;
  let t = 0;
  for (let p = 0; p < 8; p++) {
    const tag = tagOf(c, p) === TAG_EMPTY ? TAG_EMPTY : tagFor(s.fpr[p] ?? 0);
    t |= tag << (p * 2);
  }
  return t;
}

function statusWord(c: Tier0): number {
  const s = c.state;
  return (s.fpuStatus & ~0x3800) | (s.fpuTop << 11);
}

function setStatusWord(c: Tier0, v: number): void {
  c.state.fpuStatus = v & ~0x3800 & 0xffff;
  c.state.fpuTop = (v >>> 11) & 7;
}

/** FSTENV/FNSAVE environment image: 14 bytes (16-bit) or 28 bytes (32-bit), protected-mode layout. */
function storeEnv(c: Tier0, lin: number, bits: number): void {
  const s = c.state;
  const w = bits === 32 ? 32 : 16;
  const step = bits === 32 ? 4 : 2;
  c.write(lin, s.fpuControl | (bits === 32 ? 0xffff0000 : 0), w);
  c.write(lin + step, statusWord(c) | (bits === 32 ? 0xffff0000 : 0), w);
  c.write(lin + step * 2, fullTag(c) | (bits === 32 ? 0xffff0000 : 0), w);
  c.write(lin + step * 3, s.fpuIp, w);
  c.write(lin + step * 4, bits === 32 ? (s.fpuCs & 0xffff) | ((s.fpuOpcode & 0x7ff) << 16) : s.fpuCs, w);
  c.write(lin + step * 5, s.fpuDp, w);
  c.write(lin + step * 6, s.fpuDs | (bits === 32 ? 0xffff0000 : 0), w);
}

function loadEnv(c: Tier0, lin: number, bits: number): void {
  const s = c.state;
  const w = bits === 32 ? 32 : 16;
  const step = bits === 32 ? 4 : 2;
  s.fpuControl = c.read(lin, w) & 0x1f7f;
  setStatusWord(c, c.read(lin + step, w));
  s.fpuTag = c.read(lin + step * 2, w) & 0xffff;
  s.fpuIp = c.read(lin + step * 3, w);
  const csOp = c.read(lin + step * 4, w);
  s.fpuCs = csOp & 0xffff;
  s.fpuOpcode = bits === 32 ? (csOp >>> 16) & 0x7ff : 0;
  s.fpuDp = c.read(lin + step * 5, w);
  s.fpuDs = c.read(lin + step * 6, w) & 0xffff;
}

/**
 * Faults before a state image (FSTENV/FLDENV/FSAVE/FRSTOR/FXSAVE/FXRSTOR) is read or written, so
 * nothing is stored or loaded from an image that is partly unmapped (images are at most 512
 * bytes: two pages). The last byte is checked first: for an image straddling into an unmapped
 * page this host reports CR2 = that byte for all six forms (recorded against a PROT_NONE page),
 * where an ordinary split access reports the first byte of the second page.
 */
function probeImage(c: Tier0, lin: number, size: number, write: boolean): void {
  const user = c.state.cpl === 3;
  c.mmu.translate((lin + size - 1) | 0, write, user);
  c.mmu.translate(lin, write, user);
}

function fninit(c: Tier0): void {
  const s = c.state;
  s.fpuControl = 0x37f;
  s.fpuStatus = 0;
  s.fpuTop = 0;
  s.fpuTag = 0xffff;
  s.fpuIp = 0;
  s.fpuCs = 0;
  s.fpuDp = 0;
  s.fpuDs = 0;
  s.fpuOpcode = 0;
}

const SAVE_ORDER = (c: Tier0, i: number) => (c.state.fpuTop + i) & 7;

// ---- Handler table --------------------------------------------------------------------------

function memKind(name: string): string {
  const m = /_(m\d+(?:fp|int|bcd))$/.exec(name);
  return m?.[1] ?? '';
}

const CONSTANTS: Record<string, number> = {
  fld1: 1,
  fldl2t: Math.log2(10),
  fldl2e: Math.LOG2E,
  fldpi: Math.PI,
  fldlg2: Math.LOG10E * Math.LN2,
  fldln2: Math.LN2,
  fldz: 0,
};

const ARITH: Record<string, number> = {
  fadd: ArithOp.add,
  fmul: ArithOp.mul,
  fsub: ArithOp.sub,
  fsubr: ArithOp.subr,
  fdiv: ArithOp.div,
  fdivr: ArithOp.divr,
};

function stiOf(ins: Decoded): number {
  const r = ins.kind1 === OpKind.register && ins.reg1 >= Register.st0 ? ins.reg1 : ins.reg0;
  return r >= Register.st0 && r < Register.st0 + 8 ? r - Register.st0 : 1;
}

function x87(name: string, body: Handler, control = false): Handler {
  void name;
  return (c, ins) => {
    const s = c.state;
    const ip = s.fpuIp;
    const cs = s.fpuCs;
    const dp = s.fpuDp;
    const ds = s.fpuDs;
    prologue(c, ins, control);
    try {
      body(c, ins);
    } catch (e) {
      if (e === ABORT) return;
      // A fault on the memory operand means the instruction did not execute: the pointers keep
      // those of the last x87 instruction that did (SDM vol. 1 §8.1.8), like the rest of the state.
      s.fpuIp = ip;
      s.fpuCs = cs;
      s.fpuDp = dp;
      s.fpuDs = ds;
      throw e;
    }
  };
}

function buildArith(name: string, m: string): Handler | undefined {
  const base = m.replace(/^fi/, 'f').replace(/p$/, '');
  const op = ARITH[base];
  if (op === undefined) return undefined;
  const kind = memKind(name);
  if (kind) {
    return x87(name, (c, ins) => {
      const v = readMemValue(c, ins, kind);
      setSt(c, 0, arith(c, op, st(c, 0), v));
    });
  }
  const popAfter = m.endsWith('p');
  if (name.endsWith('_sti_st0')) {
    // ST(i) ← ST(i) op ST(0)
    return x87(name, (c, ins) => {
      const i = ins.reg0 - Register.st0;
      setSt(c, i, arith(c, op, st(c, i), st(c, 0)));
      if (popAfter) pop(c);
    });
  }
  return x87(name, (c, ins) => {
    const i = stiOf(ins);
    setSt(c, 0, arith(c, op, st(c, 0), st(c, i)));
  });
}

function buildCompare(name: string, m: string): Handler | undefined {
  const unordered = m.startsWith('fucom');
  const base = m.replace(/^fi/, 'f');
  if (!/^f(u)?com(p|pp|i|ip)?$/.test(base)) return undefined;
  const pops = base.endsWith('pp') ? 2 : base.endsWith('p') ? 1 : 0;
  const toEflags = base.includes('comi');
  const kind = memKind(name);
  return x87(name, (c, ins) => {
    const b = kind
      ? readMemValue(c, ins, kind)
      : m === 'fcompp' || m === 'fucompp'
        ? st(c, 1)
        : st(c, stiOf(ins));
    const cc = compare(c, st(c, 0), b, unordered);
    if (toEflags) compareToEflags(c, cc);
    else c.state.fpuStatus = (c.state.fpuStatus & ~CC_MASK) | cc;
    for (let k = 0; k < pops; k++) pop(c);
  });
}

const FCMOV: Record<string, (f: number) => boolean> = {
  fcmovb: (f) => (f & Eflags.cf) !== 0,
  fcmove: (f) => (f & Eflags.zf) !== 0,
  fcmovbe: (f) => (f & (Eflags.cf | Eflags.zf)) !== 0,
  fcmovu: (f) => (f & Eflags.pf) !== 0,
  fcmovnb: (f) => (f & Eflags.cf) === 0,
  fcmovne: (f) => (f & Eflags.zf) === 0,
  fcmovnbe: (f) => (f & (Eflags.cf | Eflags.zf)) === 0,
  fcmovnu: (f) => (f & Eflags.pf) === 0,
};

function unary(name: string, f: (c: Tier0, v: number) => number): Handler {
  return x87(name, (c) => {
    const v = st(c, 0);
    const r = f(c, v);
    if (Number.isNaN(r) && !Number.isNaN(v) && !fpuException(c, SW_IE)) throw ABORT;
    setSt(c, 0, r);
  });
}

function exponentOf(v: number): number {
  return Math.floor(Math.log2(Math.abs(v)));
}

/**
 * FPREM (truncating) and FPREM1 (IEEE round-to-nearest) partial remainder (SDM vol. 2
 * "FPREM"): complete when the exponents differ by less than 64, with the low three quotient
 * bits in C0, C3, C1; otherwise one partial step and C2 = 1.
 */
function partialRemainder(c: Tier0, ieee: boolean): void {
  const a = st(c, 0);
  const b = st(c, 1);
  const s = c.state;
  s.fpuStatus &= ~CC_MASK;
  if (Number.isNaN(a) || Number.isNaN(b) || !Number.isFinite(a) || b === 0) {
    if (!fpuException(c, SW_IE)) throw ABORT;
    setSt(c, 0, INDEFINITE);
    return;
  }
  if (a === 0 || !Number.isFinite(b)) {
    setSt(c, 0, a);
    return;
  }
  const d = exponentOf(a) - exponentOf(b);
  if (d >= 64) {
    // Partial: reduce by b·2^(d−32) (the host's step size is implementation-dependent).
    const bb = scale(Math.abs(b), d - 32);
    s.fpuStatus |= SW_C2;
    setSt(c, 0, a % bb);
    return;
  }
  let r = a % b; // exact (IEEE fmod)
  let q = Math.abs(Math.trunc((a - r) / b));
  if (ieee) {
    const half = Math.abs(b) / 2;
    const ar = Math.abs(r);
    if (ar > half || (ar === half && q % 2 === 1)) {
      r = r - Math.sign(a) * Math.abs(b);
      q += 1;
    }
    if (r === 0) r = a < 0 ? -0 : 0;
  }
  let cc = 0;
  if (q % 2 === 1) cc |= SW_C1;
  if (Math.floor(q / 2) % 2 === 1) cc |= SW_C3;
  if (Math.floor(q / 4) % 2 === 1) cc |= SW_C0;
  s.fpuStatus |= cc;
  setSt(c, 0, r);
}

function build(name: string): Handler | undefined {
  const m = name.split('_')[0] ?? '';
  if (m === 'wait') {
    return (c) => {
      const s = c.state;
      if ((s.cr0 & 0xa) === 0xa) raise(Vector.nm);
      if (s.fpuStatus & SW_ES && s.cr0 & 0x20) raise(Vector.mf);
    };
  }
  const konst = CONSTANTS[m];
  if (konst !== undefined) return x87(name, (c) => push(c, konst));
  const a = buildArith(name, m);
  if (a) return a;
  const cmp = buildCompare(name, m);
  if (cmp) return cmp;
  const fcmov = FCMOV[m];
  if (fcmov) {
    return x87(name, (c, ins) => {
      const v = st(c, stiOf(ins));
      if (fcmov(c.state.getFlags())) setSt(c, 0, v);
    });
  }
  const kind = memKind(name);
  switch (m) {
    case 'fld':
    case 'fild':
    case 'fbld':
      if (kind) return x87(name, (c, ins) => push(c, readMemValue(c, ins, kind)));
      return x87(name, (c, ins) => push(c, st(c, stiOf(ins))));
    case 'fst':
    case 'fstp':
    case 'fist':
    case 'fistp':
    case 'fbstp':
    case 'fstpnce': {
      const popAfter = m.endsWith('p') || m === 'fstpnce';
      if (kind) {
        return x87(name, (c, ins) => {
          if (storeMemValue(c, ins, kind, st(c, 0)) && popAfter) pop(c);
        });
      }
      return x87(name, (c, ins) => {
        setSt(c, ins.reg0 - Register.st0, st(c, 0));
        if (popAfter) pop(c);
      });
    }
    case 'fisttp':
      return () => raise(Vector.ud); // SSE3, not on an i686
    case 'fxch':
      return x87(name, (c, ins) => {
        const i = stiOf(ins);
        const x = st(c, 0);
        const y = st(c, i);
        setSt(c, 0, y);
        setSt(c, i, x);
        c.state.fpuStatus &= ~SW_C1;
      });
    case 'fchs':
      return unary(name, (_c, v) => -v);
    case 'fabs':
      return unary(name, (_c, v) => Math.abs(v));
    case 'fsqrt':
      return unary(name, (_c, v) => Math.sqrt(v));
    case 'frndint':
      return unary(name, (c, v) => (Number.isFinite(v) ? roundInt(c, v) : v));
    case 'f2xm1':
      return unary(name, (_c, v) => Math.expm1(v * Math.LN2));
    case 'fsin':
    case 'fcos':
      return x87(name, (c) => {
        const v = st(c, 0);
        c.state.fpuStatus &= ~SW_C2;
        if (Math.abs(v) >= 2 ** 63) {
          c.state.fpuStatus |= SW_C2; // operand out of range: unchanged (SDM vol. 2 "FSIN")
          return;
        }
        setSt(c, 0, m === 'fsin' ? Math.sin(v) : Math.cos(v));
      });
    case 'fsincos':
      return x87(name, (c) => {
        const v = st(c, 0);
        c.state.fpuStatus &= ~SW_C2;
        if (Math.abs(v) >= 2 ** 63) {
          c.state.fpuStatus |= SW_C2;
          return;
        }
        setSt(c, 0, Math.sin(v));
        push(c, Math.cos(v));
      });
    case 'fptan':
      return x87(name, (c) => {
        const v = st(c, 0);
        c.state.fpuStatus &= ~SW_C2;
        if (Math.abs(v) >= 2 ** 63) {
          c.state.fpuStatus |= SW_C2;
          return;
        }
        setSt(c, 0, Math.tan(v));
        push(c, 1);
      });
    case 'fpatan':
      return x87(name, (c) => {
        const r = Math.atan2(st(c, 1), st(c, 0));
        setSt(c, 1, r);
        pop(c);
      });
    case 'fyl2x':
    case 'fyl2xp1':
      return x87(name, (c) => {
        const x = st(c, 0);
        const y = st(c, 1);
        if (m === 'fyl2x' && x === 0 && Number.isFinite(y) && y !== 0 && !fpuException(c, SW_ZE)) throw ABORT;
        if ((m === 'fyl2x' ? x < 0 : x < -1) && !fpuException(c, SW_IE)) throw ABORT;
        setSt(c, 1, y * (m === 'fyl2x' ? Math.log2(x) : Math.log1p(x) / Math.LN2));
        pop(c);
      });
    case 'fscale':
      return x87(name, (c) => {
        setSt(c, 0, scale(st(c, 0), Math.trunc(st(c, 1))));
      });
    case 'fxtract':
      return x87(name, (c) => {
        const v = st(c, 0);
        if (v === 0) {
          if (!fpuException(c, SW_ZE)) throw ABORT;
          setSt(c, 0, Number.NEGATIVE_INFINITY);
          push(c, v);
          return;
        }
        const e = Number.isFinite(v) ? Math.floor(Math.log2(Math.abs(v))) : Number.POSITIVE_INFINITY;
        let sig = Number.isFinite(v) ? v / 2 ** e : v;
        if (Math.abs(sig) >= 2) sig /= 2;
        setSt(c, 0, Number.isFinite(v) ? (Math.abs(sig) < 1 ? e - 1 : e) : e);
        push(c, Math.abs(sig) < 1 ? sig * 2 : sig);
      });
    case 'fprem':
      return x87(name, (c) => partialRemainder(c, false));
    case 'fprem1':
      return x87(name, (c) => partialRemainder(c, true));
    case 'ftst':
      return x87(name, (c) => {
        c.state.fpuStatus = (c.state.fpuStatus & ~CC_MASK) | compare(c, st(c, 0), 0, false);
      });
    case 'fxam':
      return x87(name, (c) => {
        const s = c.state;
        const p = s.fpuTop;
        const v = s.fpr[p] ?? 0;
        let cc = 0;
        if (tagOf(c, p) === TAG_EMPTY) cc = SW_C3 | SW_C0;
        else if (Number.isNaN(v)) cc = SW_C0;
        else if (!Number.isFinite(v)) cc = SW_C2 | SW_C0;
        else if (v === 0) cc = SW_C3;
        else if (Math.abs(v) < 2.2250738585072014e-308) cc = SW_C3 | SW_C2;
        else cc = SW_C2;
        if (v < 0 || Object.is(v, -0)) cc |= SW_C1;
        s.fpuStatus = (s.fpuStatus & ~CC_MASK) | cc;
      });
    case 'fdecstp':
      return x87(name, (c) => {
        c.state.fpuTop = (c.state.fpuTop - 1) & 7;
        c.state.fpuStatus &= ~SW_C1;
      });
    case 'fincstp':
      return x87(name, (c) => {
        c.state.fpuTop = (c.state.fpuTop + 1) & 7;
        c.state.fpuStatus &= ~SW_C1;
      });
    case 'ffree':
      return x87(name, (c, ins) => setTag(c, (c.state.fpuTop + ins.reg0 - Register.st0) & 7, TAG_EMPTY));
    case 'ffreep':
      return x87(name, (c, ins) => {
        setTag(c, (c.state.fpuTop + ins.reg0 - Register.st0) & 7, TAG_EMPTY);
        pop(c);
      });
    case 'fnop':
      return x87(name, () => {});
    case 'fneni':
    case 'fndisi':
    case 'fnsetpm':
      return x87(name, () => {}, true);
    case 'fninit':
      return x87(name, (c) => fninit(c), true);
    case 'fnclex':
      return x87(
        name,
        (c) => {
          c.state.fpuStatus &= ~(0xff | SW_B);
        },
        true,
      );
    case 'fldcw':
      return x87(
        name,
        (c, ins) => {
          const v = c.read(c.memLinear(ins, 2, false), 16);
          c.state.fpuControl = v & 0x1f7f;
          // Unmasking a pending exception makes it pending for the next waiting instruction.
          if (c.state.fpuStatus & ~v & 0x3f) c.state.fpuStatus |= SW_ES | SW_B;
          else c.state.fpuStatus &= ~(SW_ES | SW_B);
        },
        true,
      );
    case 'fnstcw':
      return x87(name, (c, ins) => c.write(c.memLinear(ins, 2, true), c.state.fpuControl, 16), true);
    case 'fnstsw':
      if (name === 'fnstsw_ax') return x87(name, (c) => c.writeReg(Register.ax, statusWord(c)), true);
      return x87(name, (c, ins) => c.write(c.memLinear(ins, 2, true), statusWord(c), 16), true);
    case 'fnstenv':
      return x87(
        name,
        (c, ins) => {
          const bits = ins.opBits === 16 ? 16 : 32;
          const lin = c.memLinear(ins, bits === 16 ? 14 : 28, true);
          probeImage(c, lin, bits === 16 ? 14 : 28, true);
          storeEnv(c, lin, bits);
          c.state.fpuControl |= 0x3f; // FSTENV masks all exceptions afterwards
        },
        true,
      );
    case 'fldenv':
      return x87(
        name,
        (c, ins) => {
          const bits = ins.opBits === 16 ? 16 : 32;
          const lin = c.memLinear(ins, bits === 16 ? 14 : 28, false);
          probeImage(c, lin, bits === 16 ? 14 : 28, false);
          loadEnv(c, lin, bits);
        },
        true,
      );
    case 'fnsave':
      return x87(
        name,
        (c, ins) => {
          const bits = ins.opBits === 16 ? 16 : 32;
          const env = bits === 16 ? 14 : 28;
          const lin = c.memLinear(ins, env + 80, true);
          probeImage(c, lin, env + 80, true);
          storeEnv(c, lin, bits);
          for (let i = 0; i < 8; i++) {
            doubleToExtended(c.state.fpr[SAVE_ORDER(c, i)] ?? 0, EXT);
            c.write(lin + env + i * 10, EXT[0] ?? 0, 32);
            c.write(lin + env + i * 10 + 4, EXT[1] ?? 0, 32);
            c.write(lin + env + i * 10 + 8, EXT[2] ?? 0, 16);
          }
          fninit(c);
        },
        true,
      );
    case 'frstor':
      return x87(
        name,
        (c, ins) => {
          const bits = ins.opBits === 16 ? 16 : 32;
          const env = bits === 16 ? 14 : 28;
          const lin = c.memLinear(ins, env + 80, false);
          probeImage(c, lin, env + 80, false);
          const vals = RESTORE;
          for (let i = 0; i < 8; i++) {
            vals[i] = extendedToDouble(
              c.read(lin + env + i * 10, 32),
              c.read(lin + env + i * 10 + 4, 32),
              c.read(lin + env + i * 10 + 8, 16),
            );
          }
          loadEnv(c, lin, bits);
          for (let i = 0; i < 8; i++) c.state.fpr[SAVE_ORDER(c, i)] = vals[i] ?? 0;
        },
        true,
      );
    case 'fxsave':
      return (c, ins) => {
        const s = c.state;
        if (s.cr0 & 0xc) raise(Vector.nm);
        const off = c.offset(ins);
        if (off & 15) raise(Vector.gp, 0);
        const lin = c.memLinear(ins, 512, true);
        probeImage(c, lin, 512, true);
        // FXSAVE layout (SDM vol. 2 "FXSAVE", table 3-53), 32-bit form.
        let abridged = 0;
        for (let p = 0; p < 8; p++) if (tagOf(c, p) !== TAG_EMPTY) abridged |= 1 << p;
        c.write(lin, s.fpuControl | (statusWord(c) << 16), 32);
        c.write(lin + 4, abridged | ((s.fpuOpcode & 0x7ff) << 16), 32);
        c.write(lin + 8, s.fpuIp, 32);
        c.write(lin + 12, s.fpuCs, 32);
        c.write(lin + 16, s.fpuDp, 32);
        c.write(lin + 20, s.fpuDs, 32);
        c.write(lin + 24, s.mxcsr, 32);
        c.write(lin + 28, 0xffff, 32);
        for (let i = 0; i < 8; i++) {
          doubleToExtended(s.fpr[SAVE_ORDER(c, i)] ?? 0, EXT);
          const at = lin + 32 + i * 16;
          c.write(at, EXT[0] ?? 0, 32);
          c.write(at + 4, EXT[1] ?? 0, 32);
          c.write(at + 8, EXT[2] ?? 0, 32);
          c.write(at + 12, 0, 32);
        }
        for (let i = 0; i < 32; i++) c.write(lin + 160 + i * 4, s.xmm[i] ?? 0, 32);
      };
    case 'fxrstor':
      return (c, ins) => {
        const s = c.state;
        if (s.cr0 & 0xc) raise(Vector.nm);
        const off = c.offset(ins);
        if (off & 15) raise(Vector.gp, 0);
        const lin = c.memLinear(ins, 512, false);
        probeImage(c, lin, 512, false);
        const mxcsr = c.read(lin + 24, 32);
        if (mxcsr & ~0xffff) raise(Vector.gp, 0);
        const cwsw = c.read(lin, 32);
        const tagop = c.read(lin + 4, 32);
        const vals = RESTORE;
        for (let i = 0; i < 8; i++) {
          const at = lin + 32 + i * 16;
          vals[i] = extendedToDouble(c.read(at, 32), c.read(at + 4, 32), c.read(at + 8, 16));
        }
        s.fpuControl = cwsw & 0x1f7f;
        setStatusWord(c, cwsw >>> 16);
        s.fpuOpcode = (tagop >>> 16) & 0x7ff;
        let tag = 0;
        for (let p = 0; p < 8; p++) tag |= (tagop & (1 << p) ? 0 : TAG_EMPTY) << (p * 2);
        s.fpuTag = tag;
        s.fpuIp = c.read(lin + 8, 32);
        s.fpuCs = c.read(lin + 12, 16);
        s.fpuDp = c.read(lin + 16, 32);
        s.fpuDs = c.read(lin + 20, 16);
        s.mxcsr = mxcsr;
        for (let i = 0; i < 8; i++) s.fpr[SAVE_ORDER(c, i)] = vals[i] ?? 0;
        for (let i = 0; i < 32; i++) s.xmm[i] = c.read(lin + 160 + i * 4, 32);
      };
    default:
      return undefined;
  }
}

/** x87 handlers by form name; tier 0's table takes these for every `f*` and `wait` form. */
export const X87_HANDLERS: Record<string, Handler> = (() => {
  const out: Record<string, Handler> = {};
  for (const name of CODE_NAMES) {
    if (!/^(f|wait)/.test(name) || /^fx(save|rstor)64/.test(name)) continue;
    const h = build(name);
    if (h) out[name] = h;
  }
  return out;
})();

export { SW_C0, SW_C1, SW_C2, SW_C3, SW_DE, SW_IE, SW_OE, SW_SF, SW_ZE };
