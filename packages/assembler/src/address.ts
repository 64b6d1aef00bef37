import type { Linear, Value } from './expression';
import { isGpr, type Reg } from './registers';

/** A memory operand with its registers chosen: what ModRM/SIB (or moffs) must express. */
export interface Address {
  readonly base?: Reg;
  readonly index?: Reg;
  readonly scale: 1 | 2 | 4 | 8;
  readonly disp: Value;
  readonly hasDisp: boolean;
  /** 16, 32 or 64; 0 when no register fixes it (the mode, a prefix or `[word x]` decides). */
  readonly regSize: number;
  /** XLAT's `[ebx+al]` shape. */
  readonly xlat: boolean;
  /** Why no ModRM form can express this operand (checked only when a form needs ModRM memory). */
  readonly error?: string;
}

const SCALES: Readonly<Record<string, 1 | 2 | 4 | 8>> = { '1': 1, '2': 2, '4': 4, '8': 8 };

/**
 * Picks base, index and scale from `[regs*factors + disp]` the way NASM does: a register written
 * with a factor is the index, the first plain register the base; `[eax*2]` becomes `[eax+eax]`
 * and `[eax*3]` `[eax+eax*2]` (unless `nosplit`); ESP/RSP is never an index (swapped when the
 * scale is 1).
 */
export function chooseAddress(lin: Linear, nosplit: boolean): Address {
  const regs = lin.regs;
  const base0 = { scale: 1 as const, disp: lin.disp, hasDisp: lin.hasDisp, xlat: false };
  if (regs.length === 0) return { ...base0, regSize: 0 };
  for (const r of regs) {
    if (!isGpr(r.reg) || r.reg.cls === 'gpr8') {
      if (r.reg.id === 1 /* al */ && regs.length === 2) {
        const other = regs.find((x) => x.reg.id !== r.reg.id);
        if (other && other.factor === 1n && ['bx', 'ebx', 'rbx'].includes(other.reg.name))
          return { ...base0, base: other.reg, regSize: other.reg.size * 8, xlat: true };
      }
      return { ...base0, regSize: 0, error: `'${r.reg.name}' cannot be used in an address` };
    }
  }
  const size = regs[0]?.reg.size ?? 0;
  if (regs.some((r) => r.reg.size !== size))
    return { ...base0, regSize: 0, error: 'address registers must all be the same size' };
  if (regs.some((r) => r.factor < 0n))
    return { ...base0, regSize: size * 8, error: 'a register cannot be subtracted in an address' };
  if (size === 2) {
    if (regs.some((r) => r.factor !== 1n))
      return { ...base0, regSize: 16, error: '16-bit addresses cannot scale a register' };
    if (regs.length > 2) return { ...base0, regSize: 16, error: 'too many registers in an address' };
    const names = regs.map((r) => r.reg.name);
    const b = names.find((n) => n === 'bx' || n === 'bp');
    const i = names.find((n) => n === 'si' || n === 'di');
    const okCount = (b ? 1 : 0) + (i ? 1 : 0);
    if (okCount !== regs.length)
      return {
        ...base0,
        regSize: 16,
        error: '16-bit addresses take bx or bp, and si or di ([bx+si], [bp+di+4], [si], ...)',
      };
    const breg = regs.find((r) => r.reg.name === b)?.reg;
    const ireg = regs.find((r) => r.reg.name === i)?.reg;
    return { ...base0, base: breg, index: ireg, regSize: 16 };
  }
  if (regs.length > 2) return { ...base0, regSize: size * 8, error: 'too many registers in an address' };
  let base: Reg | undefined;
  let index: Reg | undefined;
  let scale: 1 | 2 | 4 | 8 = 1;
  if (regs.length === 1) {
    const r = regs[0];
    if (!r) return { ...base0, regSize: size * 8 };
    const f = r.factor;
    if (f === 1n) base = r.reg;
    else if (!nosplit && (f === 2n || f === 3n || f === 5n || f === 9n)) {
      base = r.reg;
      index = r.reg;
      scale = SCALES[String(f - 1n)] ?? 1;
    } else {
      const s = SCALES[String(f)];
      if (s === undefined)
        return { ...base0, regSize: size * 8, error: `scale ${f} is not 1, 2, 4 or 8`, scale: 1 };
      index = r.reg;
      scale = s;
    }
  } else {
    const [a, b] = regs;
    if (!a || !b) return { ...base0, regSize: size * 8 };
    // The scaled register is the index; otherwise the first written is the base.
    let bi = a;
    let ii = b;
    if ((a.scaled || a.factor !== 1n) && b.factor === 1n && !b.scaled) {
      bi = b;
      ii = a;
    }
    if (bi.factor !== 1n) return { ...base0, regSize: size * 8, error: 'only one register can be scaled' };
    const s = SCALES[String(ii.factor)];
    if (s === undefined)
      return { ...base0, regSize: size * 8, error: `scale ${ii.factor} is not 1, 2, 4 or 8` };
    base = bi.reg;
    index = ii.reg;
    scale = s;
  }
  if (index && index.num === 4) {
    // ESP/RSP cannot be an index; with scale 1 swap it into the base.
    if (scale === 1 && base && base.num !== 4) {
      const t = base;
      base = index;
      index = t;
    } else return { ...base0, regSize: size * 8, error: `'${index.name}' cannot be an index register` };
  }
  return { ...base0, base, index, scale, regSize: size * 8 };
}

/** ModRM/SIB/displacement of a memory operand, before the REX bits are merged. */
export interface MemEncoding {
  readonly mod: number;
  readonly rm: number;
  /** SIB byte, or -1. */
  readonly sib: number;
  /** Displacement size in bytes (0, 1, 2, 4). */
  readonly dispSize: number;
  /** RIP-relative: the displacement is `disp - end of instruction`. */
  readonly ripRel: boolean;
  readonly rexX: number;
  readonly rexB: number;
}

const RM16: Readonly<Record<string, number>> = {
  'bx+si': 0,
  'bx+di': 1,
  'bp+si': 2,
  'bp+di': 3,
  si: 4,
  di: 5,
  bp: 6,
  bx: 7,
};

/** Whether a value is a plain number that sign-extends from 8 bits at `bits` width. */
export function fitsSigned8(v: Value, bits: number): boolean {
  if (!v.known || v.reloc !== 0) return false;
  const m = BigInt.asUintN(bits, v.n);
  const top = 1n << BigInt(bits);
  return m < 128n || m >= top - 128n;
}

/**
 * Encodes an address for ModRM. `addrSize` is the effective address size; `wide` forces the
 * full displacement (used when the layout may only grow); `dispSize` is a size keyword written
 * inside the brackets.
 */
export function encodeAddress(
  a: Address,
  addrSize: number,
  mode: number,
  ripRel: boolean,
  wide: boolean,
  forced: number | undefined,
): MemEncoding {
  const d = a.disp;
  const zero = !a.hasDisp || (d.known && d.reloc === 0 && d.n === 0n);
  if (addrSize === 16) {
    if (!a.base && !a.index) return { mod: 0, rm: 6, sib: -1, dispSize: 2, ripRel: false, rexX: 0, rexB: 0 };
    const key = [a.base?.name, a.index?.name].filter(Boolean).join('+');
    const rm = RM16[key] ?? 0;
    let mod: number;
    if (forced === 1) mod = 1;
    else if (forced === 2 || forced === 4 || wide) mod = 2;
    else if (zero && rm !== 6) mod = 0;
    else if (zero || fitsSigned8(d, 16)) mod = 1;
    else mod = 2;
    return { mod, rm, sib: -1, dispSize: mod === 0 ? 0 : mod === 1 ? 1 : 2, ripRel: false, rexX: 0, rexB: 0 };
  }
  if (!a.base && !a.index) {
    if (ripRel) return { mod: 0, rm: 5, sib: -1, dispSize: 4, ripRel: true, rexX: 0, rexB: 0 };
    if (mode === 64) return { mod: 0, rm: 4, sib: 0x25, dispSize: 4, ripRel: false, rexX: 0, rexB: 0 };
    return { mod: 0, rm: 5, sib: -1, dispSize: 4, ripRel: false, rexX: 0, rexB: 0 };
  }
  const scaleBits = a.scale === 1 ? 0 : a.scale === 2 ? 1 : a.scale === 4 ? 2 : 3;
  if (!a.base && a.index) {
    const sib = (scaleBits << 6) | ((a.index.num & 7) << 3) | 5;
    return { mod: 0, rm: 4, sib, dispSize: 4, ripRel: false, rexX: a.index.num >> 3, rexB: 0 };
  }
  const base = a.base as Reg;
  const bnum = base.num & 7;
  let mod: number;
  if (forced === 1) mod = 1;
  else if (forced === 2 || forced === 4 || forced === 8 || wide) mod = 2;
  else if (zero && bnum !== 5) mod = 0;
  else if (zero || fitsSigned8(d, addrSize)) mod = 1;
  else mod = 2;
  const dispSize = mod === 0 ? 0 : mod === 1 ? 1 : 4;
  if (a.index || bnum === 4) {
    const idx = a.index ? a.index.num & 7 : 4;
    const sib = (scaleBits << 6) | (idx << 3) | bnum;
    return {
      mod,
      rm: 4,
      sib,
      dispSize,
      ripRel: false,
      rexX: a.index ? a.index.num >> 3 : 0,
      rexB: base.num >> 3,
    };
  }
  return { mod, rm: bnum, sib: -1, dispSize, ripRel: false, rexX: 0, rexB: base.num >> 3 };
}
