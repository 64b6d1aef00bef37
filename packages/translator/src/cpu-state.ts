import { TranslatorError } from './errors';

/** Indexes of the general registers in `CpuState.regs` (encoding order). */
export const Reg = { eax: 0, ecx: 1, edx: 2, ebx: 3, esp: 4, ebp: 5, esi: 6, edi: 7 } as const;
export type Reg = (typeof Reg)[keyof typeof Reg];

/** Indexes of the segment registers (encoding order, as in the ModRM reg field of MOV Sreg). */
export const Seg = { es: 0, cs: 1, ss: 2, ds: 3, fs: 4, gs: 5 } as const;
export type Seg = (typeof Seg)[keyof typeof Seg];

/** EFLAGS bits (SDM vol. 1 §3.4.3). */
export const Eflags = {
  cf: 0x1,
  fixed1: 0x2,
  pf: 0x4,
  af: 0x10,
  zf: 0x40,
  sf: 0x80,
  tf: 0x100,
  if: 0x200,
  df: 0x400,
  of: 0x800,
  iopl: 0x3000,
  nt: 0x4000,
  rf: 0x10000,
  vm: 0x20000,
  ac: 0x40000,
  vif: 0x80000,
  vip: 0x100000,
  id: 0x200000,
} as const;

/** The six status flags. */
export const STATUS_FLAGS = 0x8d5;
/** Bits of EFLAGS that exist on an i686 (the rest read as 0; bit 1 reads as 1). */
export const EFLAGS_VALID = 0x3f7fd5;

/**
 * How the status flags of the last flag-setting operation are computed on demand. When
 * `lazyOp` is `none`, `CpuState.flags` holds every flag; otherwise the six status flags come
 * from (`lazyA`, `lazyB`, `lazyRes`, `lazyBits`) and — for INC/DEC, which leave CF alone — CF
 * comes from `flags`. For the shifts SHL/SAL, SHR and SAR (a count of 1–31; a count of 0 changes
 * no flag and records nothing), `lazyA` is the operand before the shift and `lazyB` the count,
 * so CF (the last bit shifted out) and OF are recovered from them; AF reads as 0, the value this
 * processor model gives the flag the SDM leaves undefined for shifts.
 */
export const LazyOp = {
  none: 0,
  add: 1,
  adc: 2,
  sub: 3,
  sbb: 4,
  logic: 5,
  inc: 6,
  dec: 7,
  shl: 8,
  shr: 9,
  sar: 10,
} as const;
export type LazyOp = (typeof LazyOp)[keyof typeof LazyOp];

/**
 * Whether segment `seg` is flat data: present, a data segment, expand-up, base 0 and a 4 GiB
 * limit, and writable when `write`, so an offset in it is the linear address and no access
 * through it faults on the segment. Tier 1's mode key and tier 0's REP runs both ask this.
 */
export function isFlatDataSegment(s: CpuState, seg: number, write: boolean): boolean {
  const acc = s.segAccess[seg] ?? 0;
  return (
    (s.segBase[seg] ?? 0) === 0 &&
    (s.segLimit[seg] ?? 0) === 0xffffffff &&
    (write ? (acc & 0x9e) === 0x92 : (acc & 0x9c) === 0x90)
  );
}

/** The descriptor cache of one segment register (SDM vol. 3 §3.4.3, "hidden part"). */
export interface SegmentCache {
  selector: number;
  base: number;
  limit: number;
  /** Descriptor bytes 5–6: access byte in bits 0–7, flags nibble (AVL L D/B G) in bits 12–15. */
  access: number;
}

const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let p = 1;
  for (let b = 0; b < 8; b++) p ^= (i >> b) & 1;
  PARITY[i] = p ? Eflags.pf : 0;
}
/** PF for each low byte (set when the byte has an even number of one bits). */
export const PARITY_TABLE: Readonly<Uint8Array> = PARITY;

/**
 * The architectural state of one i686 processor. Everything is a number or a typed array so
 * that tier 0 and emitted tier 1 code can reach it without allocation.
 */
export class CpuState {
  /**
   * EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI as signed 32-bit values: the constructor's array when
   * given (tier 1's WebAssembly regions keep them in their memory), else a new one.
   */
  readonly regs: Int32Array;
  eip = 0;
  /** EFLAGS; the status flags are stale while `lazyOp !== LazyOp.none`. */
  flags: number = Eflags.fixed1;
  lazyOp: LazyOp = LazyOp.none;
  lazyA = 0;
  lazyB = 0;
  lazyRes = 0;
  lazyBits = 32;
  /** Carry-in of ADC/SBB (0 or 1). */
  lazyCin = 0;

  /** Segment registers: visible selector and hidden descriptor cache, indexed by `Seg`. */
  readonly segSel = new Uint16Array(6);
  readonly segBase = new Int32Array(6);
  readonly segLimit = new Uint32Array(6);
  readonly segAccess = new Uint16Array(6);

  cr0 = 0x60000010;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  /** DR0–DR7 (DR4/DR5 alias DR6/DR7 when CR4.DE is clear). */
  readonly dr = new Int32Array(8);
  /** Current privilege level (CS.RPL in protected mode; 0 in real mode; 3 in virtual-8086). */
  cpl = 0;

  gdtrBase = 0;
  gdtrLimit = 0xffff;
  idtrBase = 0;
  idtrLimit = 0x3ff;
  readonly ldtr: SegmentCache = { selector: 0, base: 0, limit: 0xffff, access: 0x82 };
  readonly tr: SegmentCache = { selector: 0, base: 0, limit: 0xffff, access: 0x8b };

  efer = 0;
  sysenterCs = 0;
  sysenterEsp = 0;
  sysenterEip = 0;
  apicBase = 0xfee00900;
  /** Time-stamp counter (advanced by the run loop; read by RDTSC through a callout). */
  tsc = 0n;
  pat = 0x0007040600070406n;
  /** MTRRs and any other model-specific register stored without meaning. */
  readonly msrs = new Map<number, bigint>();

  /** x87 registers st(0)–st(7) as IEEE doubles, indexed physically (st(i) = fpr[(top+i)&7]). */
  readonly fpr = new Float64Array(8);
  fpuTop = 0;
  fpuControl = 0x37f;
  /** Status word without TOP (bits 11–13 live in `fpuTop`). */
  fpuStatus = 0;
  /** Full tag word, two bits per physical register (11 = empty). */
  fpuTag = 0xffff;
  fpuOpcode = 0;
  fpuIp = 0;
  fpuCs = 0;
  fpuDp = 0;
  fpuDs = 0;
  /** MM0–MM7 as 16 lanes of 32 bits (low, high); not aliased onto `fpr` (see README). */
  readonly mmx = new Int32Array(16);
  /** XMM0–XMM7 as 32 lanes of 32 bits. */
  readonly xmm = new Int32Array(32);
  mxcsr = 0x1f80;

  /** Set by HLT until an interrupt arrives. */
  halted = false;
  /** Interrupts are inhibited for one instruction after MOV SS / POP SS / STI. */
  interruptShadow = false;

  constructor(regs?: Int32Array) {
    if (regs !== undefined && regs.length !== 8) {
      throw new RangeError(`CpuState: regs must have 8 entries (got ${regs.length})`);
    }
    this.regs = regs ?? new Int32Array(8);
    this.reset();
  }

  /** The state after RESET (SDM vol. 3 §9.1.1, table 9-1), with CS:EIP = F000:FFF0. */
  reset(): void {
    this.regs.fill(0);
    this.regs[Reg.edx] = 0x600;
    this.eip = 0xfff0;
    this.flags = Eflags.fixed1;
    this.lazyOp = LazyOp.none;
    for (let s = 0; s < 6; s++) {
      this.segSel[s] = 0;
      this.segBase[s] = 0;
      this.segLimit[s] = 0xffff;
      this.segAccess[s] = 0x93;
    }
    this.segSel[Seg.cs] = 0xf000;
    this.segBase[Seg.cs] = 0xffff0000 | 0;
    this.segAccess[Seg.cs] = 0x9b;
    this.cr0 = 0x60000010;
    this.cr2 = 0;
    this.cr3 = 0;
    this.cr4 = 0;
    this.dr.fill(0);
    this.dr[6] = 0xffff0ff0 | 0;
    this.dr[7] = 0x400;
    this.cpl = 0;
    this.gdtrBase = 0;
    this.gdtrLimit = 0xffff;
    this.idtrBase = 0;
    this.idtrLimit = 0x3ff;
    this.efer = 0;
    this.fpr.fill(0);
    this.fpuTop = 0;
    this.fpuControl = 0x40;
    this.fpuStatus = 0;
    this.fpuTag = 0x5555;
    this.mmx.fill(0);
    this.xmm.fill(0);
    this.mxcsr = 0x1f80;
    this.halted = false;
    this.interruptShadow = false;
  }

  /** Loads a real-mode segment: base = selector × 16 (SDM vol. 3 §20.1.1). */
  loadRealSegment(seg: Seg, selector: number): void {
    this.segSel[seg] = selector & 0xffff;
    this.segBase[seg] = (selector & 0xffff) << 4;
  }

  /** Puts the processor in flat 32-bit protected mode at CPL 0 (for harnesses and tests). */
  setFlat32(): void {
    this.cr0 |= 1;
    for (let s = 0; s < 6; s++) {
      this.segSel[s] = s === Seg.cs ? 0x08 : 0x10;
      this.segBase[s] = 0;
      this.segLimit[s] = 0xffffffff;
      this.segAccess[s] = s === Seg.cs ? 0xc09b : 0xc093;
    }
    this.cpl = 0;
  }

  /** Whether CR0.PE is set. */
  get protectedMode(): boolean {
    return (this.cr0 & 1) !== 0;
  }

  /** Default operand/address size of the code segment (CS.D), 16 or 32. */
  get codeBits(): 16 | 32 {
    return (this.segAccess[Seg.cs] ?? 0) & 0x4000 ? 32 : 16;
  }

  /** Stack address size (SS.B), 16 or 32. */
  get stackBits(): 16 | 32 {
    return (this.segAccess[Seg.ss] ?? 0) & 0x4000 ? 32 : 16;
  }

  // ---- Lazy flags -------------------------------------------------------------------------

  /** Records an arithmetic result whose status flags are computed when first read. */
  setLazy(op: LazyOp, a: number, b: number, res: number, bits: number): void {
    if ((op === LazyOp.inc || op === LazyOp.dec) && this.lazyOp !== LazyOp.none) {
      // INC/DEC keep CF: freeze the previous one first.
      this.flags = (this.flags & ~Eflags.cf) | this.getCF();
    }
    this.lazyOp = op;
    this.lazyA = a;
    this.lazyB = b;
    this.lazyRes = res;
    this.lazyBits = bits;
  }

  /** Records ADC/SBB: `res = a ± b ± cin`. */
  setLazyCarry(op: LazyOp, a: number, b: number, cin: number, res: number, bits: number): void {
    this.lazyOp = op;
    this.lazyA = a;
    this.lazyB = b;
    this.lazyCin = cin;
    this.lazyRes = res;
    this.lazyBits = bits;
  }

  getCF(): number {
    const bits = this.lazyBits;
    const m = bits === 32 ? -1 : (1 << bits) - 1;
    switch (this.lazyOp) {
      case LazyOp.none:
      case LazyOp.inc:
      case LazyOp.dec:
        return this.flags & 1;
      case LazyOp.add:
        return (this.lazyRes & m) >>> 0 < (this.lazyA & m) >>> 0 ? 1 : 0;
      case LazyOp.adc:
        return this.lazyCin
          ? (this.lazyRes & m) >>> 0 <= (this.lazyA & m) >>> 0
            ? 1
            : 0
          : (this.lazyRes & m) >>> 0 < (this.lazyA & m) >>> 0
            ? 1
            : 0;
      case LazyOp.sub:
        return (this.lazyA & m) >>> 0 < (this.lazyB & m) >>> 0 ? 1 : 0;
      case LazyOp.sbb:
        return this.lazyCin
          ? (this.lazyA & m) >>> 0 <= (this.lazyB & m) >>> 0
            ? 1
            : 0
          : (this.lazyA & m) >>> 0 < (this.lazyB & m) >>> 0
            ? 1
            : 0;
      case LazyOp.shl:
        return this.lazyB > bits ? 0 : ((this.lazyA & m) >>> (bits - this.lazyB)) & 1;
      case LazyOp.shr:
        return this.lazyB > bits ? 0 : ((this.lazyA & m) >>> (this.lazyB - 1)) & 1;
      case LazyOp.sar: {
        const sh = 32 - bits;
        return (((this.lazyA << sh) >> sh) >> Math.min(this.lazyB - 1, 31)) & 1;
      }
      default:
        return 0;
    }
  }

  getZF(): number {
    if (this.lazyOp === LazyOp.none) return this.flags & Eflags.zf;
    const bits = this.lazyBits;
    const m = bits === 32 ? -1 : (1 << bits) - 1;
    return (this.lazyRes & m) === 0 ? Eflags.zf : 0;
  }

  getSF(): number {
    if (this.lazyOp === LazyOp.none) return this.flags & Eflags.sf;
    return (this.lazyRes >>> (this.lazyBits - 1)) & 1 ? Eflags.sf : 0;
  }

  getPF(): number {
    if (this.lazyOp === LazyOp.none) return this.flags & Eflags.pf;
    return PARITY[this.lazyRes & 0xff] ?? 0;
  }

  getAF(): number {
    if (this.lazyOp === LazyOp.none) return this.flags & Eflags.af;
    if (this.lazyOp === LazyOp.logic || this.lazyOp >= LazyOp.shl) return 0;
    return (this.lazyA ^ this.lazyB ^ this.lazyRes) & Eflags.af;
  }

  getOF(): number {
    const sh = this.lazyBits - 1;
    switch (this.lazyOp) {
      case LazyOp.none:
        return this.flags & Eflags.of;
      case LazyOp.add:
      case LazyOp.adc:
      case LazyOp.inc:
        // Both inputs have the same sign and the result's sign differs.
        return (((this.lazyA ^ this.lazyRes) & (this.lazyB ^ this.lazyRes)) >>> sh) & 1 ? Eflags.of : 0;
      case LazyOp.sub:
      case LazyOp.sbb:
      case LazyOp.dec:
        return (((this.lazyA ^ this.lazyRes) & (this.lazyA ^ this.lazyB)) >>> sh) & 1 ? Eflags.of : 0;
      case LazyOp.shl:
        // The result's top bit XOR CF (defined for a count of 1; this model keeps it for all).
        return ((this.lazyRes >>> sh) & 1) !== this.getCF() ? Eflags.of : 0;
      case LazyOp.shr:
        // The operand's top bit.
        return (this.lazyA >>> sh) & 1 ? Eflags.of : 0;
      default:
        return 0;
    }
  }

  /** The full EFLAGS value (materializes lazy status flags without discarding them). */
  getFlags(): number {
    if (this.lazyOp === LazyOp.none) return this.flags;
    return (
      ((this.flags & ~STATUS_FLAGS) |
        this.getCF() |
        this.getPF() |
        this.getAF() |
        this.getZF() |
        this.getSF() |
        this.getOF()) >>>
      0
    );
  }

  /** Replaces EFLAGS (only the bits that exist; bit 1 forced to 1). */
  setFlags(value: number): void {
    this.flags = ((value & EFLAGS_VALID) | Eflags.fixed1) >>> 0;
    this.lazyOp = LazyOp.none;
  }

  /** Makes the status flags concrete in `flags` (before code that edits single flags). */
  materializeFlags(): void {
    if (this.lazyOp !== LazyOp.none) {
      this.flags = this.getFlags();
      this.lazyOp = LazyOp.none;
    }
  }

  /** Evaluates condition code `cc` (0–15, the low nibble of Jcc/SETcc/CMOVcc; SDM vol. 1 B.1). */
  condition(cc: number): boolean {
    let r: boolean;
    switch (cc >> 1) {
      case 0:
        r = this.getOF() !== 0;
        break;
      case 1:
        r = this.getCF() !== 0;
        break;
      case 2:
        r = this.getZF() !== 0;
        break;
      case 3:
        r = this.getCF() !== 0 || this.getZF() !== 0;
        break;
      case 4:
        r = this.getSF() !== 0;
        break;
      case 5:
        r = this.getPF() !== 0;
        break;
      case 6:
        r = (this.getSF() !== 0) !== (this.getOF() !== 0);
        break;
      default:
        r = this.getZF() !== 0 || (this.getSF() !== 0) !== (this.getOF() !== 0);
        break;
    }
    return (cc & 1) === 0 ? r : !r;
  }
}

// ---- Snapshots ------------------------------------------------------------------------------

/** A plain-data copy of `CpuState`, safe to serialize as JSON. */
export interface CpuSnapshot {
  readonly version: 1;
  readonly regs: readonly number[];
  readonly eip: number;
  readonly eflags: number;
  readonly segments: readonly SegmentCache[];
  readonly cr: readonly [number, number, number, number, number];
  readonly dr: readonly number[];
  readonly cpl: number;
  readonly gdtr: readonly [number, number];
  readonly idtr: readonly [number, number];
  readonly ldtr: SegmentCache;
  readonly tr: SegmentCache;
  readonly efer: number;
  readonly sysenter: readonly [number, number, number];
  readonly apicBase: number;
  readonly tsc: string;
  readonly pat: string;
  readonly msrs: readonly (readonly [number, string])[];
  readonly fpu: {
    /** st(0)–st(7) physical registers as IEEE double bit patterns (16 hex digits), JSON-safe for NaN and ±∞. */
    readonly st: readonly string[];
    readonly top: number;
    readonly control: number;
    readonly status: number;
    readonly tag: number;
    readonly opcode: number;
    readonly ip: number;
    readonly cs: number;
    readonly dp: number;
    readonly ds: number;
  };
  readonly mmx: readonly number[];
  readonly xmm: readonly number[];
  readonly mxcsr: number;
  readonly halted: boolean;
}

const BITS = new DataView(new ArrayBuffer(8));

function doubleToHex(v: number): string {
  BITS.setFloat64(0, v);
  return BITS.getBigUint64(0).toString(16).padStart(16, '0');
}

function hexToDouble(h: string): number {
  BITS.setBigUint64(0, BigInt(`0x${h}`));
  return BITS.getFloat64(0);
}

function cache(c: SegmentCache): SegmentCache {
  return { selector: c.selector, base: c.base >>> 0, limit: c.limit >>> 0, access: c.access };
}

/** Copies the state into a plain object (allocates; not for hot paths). */
export function exportSnapshot(s: CpuState): CpuSnapshot {
  const segments: SegmentCache[] = [];
  for (let i = 0; i < 6; i++) {
    segments.push({
      selector: s.segSel[i] ?? 0,
      base: (s.segBase[i] ?? 0) >>> 0,
      limit: s.segLimit[i] ?? 0,
      access: s.segAccess[i] ?? 0,
    });
  }
  return {
    version: 1,
    regs: Array.from(s.regs, (v) => v >>> 0),
    eip: s.eip >>> 0,
    eflags: s.getFlags(),
    segments,
    cr: [s.cr0 >>> 0, 0, s.cr2 >>> 0, s.cr3 >>> 0, s.cr4 >>> 0],
    dr: Array.from(s.dr, (v) => v >>> 0),
    cpl: s.cpl,
    gdtr: [s.gdtrBase >>> 0, s.gdtrLimit],
    idtr: [s.idtrBase >>> 0, s.idtrLimit],
    ldtr: cache(s.ldtr),
    tr: cache(s.tr),
    efer: s.efer >>> 0,
    sysenter: [s.sysenterCs >>> 0, s.sysenterEsp >>> 0, s.sysenterEip >>> 0],
    apicBase: s.apicBase >>> 0,
    tsc: s.tsc.toString(),
    pat: s.pat.toString(),
    msrs: Array.from(s.msrs, ([k, v]) => [k, v.toString()] as const),
    fpu: {
      st: Array.from(s.fpr, doubleToHex),
      top: s.fpuTop,
      control: s.fpuControl,
      status: s.fpuStatus,
      tag: s.fpuTag,
      opcode: s.fpuOpcode,
      ip: s.fpuIp >>> 0,
      cs: s.fpuCs,
      dp: s.fpuDp >>> 0,
      ds: s.fpuDs,
    },
    mmx: Array.from(s.mmx, (v) => v >>> 0),
    xmm: Array.from(s.xmm, (v) => v >>> 0),
    mxcsr: s.mxcsr >>> 0,
    halted: s.halted,
  };
}

function fail(field: string, value: unknown): never {
  throw new TranslatorError('bad-snapshot', `snapshot field ${field} is invalid`, value);
}

function u32(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) fail(field, v);
  return v;
}

function uRange(v: unknown, field: string, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) fail(field, v);
  return v;
}

function arr(v: unknown, field: string, len: number): readonly unknown[] {
  if (!Array.isArray(v) || v.length !== len) fail(field, v);
  return v;
}

function obj(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(field, v);
  return v as Record<string, unknown>;
}

function big(v: unknown, field: string): bigint {
  if (typeof v !== 'string' || !/^[0-9]{1,20}$/.test(v)) fail(field, v);
  const b = BigInt(v);
  if (b > 0xffffffffffffffffn) fail(field, v);
  return b;
}

function segCache(v: unknown, field: string): SegmentCache {
  const o = obj(v, field);
  return {
    selector: uRange(o.selector, `${field}.selector`, 0xffff),
    base: u32(o.base, `${field}.base`),
    limit: u32(o.limit, `${field}.limit`),
    access: uRange(o.access, `${field}.access`, 0xffff),
  };
}

/**
 * Replaces the state with a snapshot after validating every field; on any invalid field it
 * throws `TranslatorError('bad-snapshot')` and leaves the state untouched.
 */
export function importSnapshot(s: CpuState, input: unknown): void {
  const o = obj(input, 'snapshot');
  if (o.version !== 1) fail('version', o.version);
  const regs = arr(o.regs, 'regs', 8).map((v, i) => u32(v, `regs[${i}]`));
  const eip = u32(o.eip, 'eip');
  const eflags = u32(o.eflags, 'eflags');
  const segs = arr(o.segments, 'segments', 6).map((v, i) => segCache(v, `segments[${i}]`));
  const cr = arr(o.cr, 'cr', 5).map((v, i) => u32(v, `cr[${i}]`));
  const dr = arr(o.dr, 'dr', 8).map((v, i) => u32(v, `dr[${i}]`));
  const cpl = uRange(o.cpl, 'cpl', 3);
  const gdtr = arr(o.gdtr, 'gdtr', 2);
  const idtr = arr(o.idtr, 'idtr', 2);
  const gdtrBase = u32(gdtr[0], 'gdtr[0]');
  const gdtrLimit = uRange(gdtr[1], 'gdtr[1]', 0xffff);
  const idtrBase = u32(idtr[0], 'idtr[0]');
  const idtrLimit = uRange(idtr[1], 'idtr[1]', 0xffff);
  const ldtr = segCache(o.ldtr, 'ldtr');
  const tr = segCache(o.tr, 'tr');
  const efer = u32(o.efer, 'efer');
  const sysenter = arr(o.sysenter, 'sysenter', 3).map((v, i) => u32(v, `sysenter[${i}]`));
  const apicBase = u32(o.apicBase, 'apicBase');
  const tsc = big(o.tsc, 'tsc');
  const pat = big(o.pat, 'pat');
  if (!Array.isArray(o.msrs) || o.msrs.length > 4096) fail('msrs', o.msrs);
  const msrs = (o.msrs as unknown[]).map((e, i) => {
    const pair = arr(e, `msrs[${i}]`, 2);
    return [u32(pair[0], `msrs[${i}][0]`), big(pair[1], `msrs[${i}][1]`)] as const;
  });
  const f = obj(o.fpu, 'fpu');
  const st = arr(f.st, 'fpu.st', 8).map((v, i) => {
    if (typeof v !== 'string' || !/^[0-9a-f]{16}$/.test(v)) fail(`fpu.st[${i}]`, v);
    return hexToDouble(v);
  });
  const fpu = {
    top: uRange(f.top, 'fpu.top', 7),
    control: uRange(f.control, 'fpu.control', 0xffff),
    status: uRange(f.status, 'fpu.status', 0xffff),
    tag: uRange(f.tag, 'fpu.tag', 0xffff),
    opcode: uRange(f.opcode, 'fpu.opcode', 0x7ff),
    ip: u32(f.ip, 'fpu.ip'),
    cs: uRange(f.cs, 'fpu.cs', 0xffff),
    dp: u32(f.dp, 'fpu.dp'),
    ds: uRange(f.ds, 'fpu.ds', 0xffff),
  };
  const mmx = arr(o.mmx, 'mmx', 16).map((v, i) => u32(v, `mmx[${i}]`));
  const xmm = arr(o.xmm, 'xmm', 32).map((v, i) => u32(v, `xmm[${i}]`));
  const mxcsr = uRange(o.mxcsr, 'mxcsr', 0xffff);
  if (typeof o.halted !== 'boolean') fail('halted', o.halted);

  // Everything validated: now apply.
  for (let i = 0; i < 8; i++) s.regs[i] = regs[i] ?? 0;
  s.eip = eip;
  s.setFlags(eflags);
  for (let i = 0; i < 6; i++) {
    const c = segs[i] as SegmentCache;
    s.segSel[i] = c.selector;
    s.segBase[i] = c.base;
    s.segLimit[i] = c.limit;
    s.segAccess[i] = c.access;
  }
  s.cr0 = cr[0] ?? 0;
  s.cr2 = cr[2] ?? 0;
  s.cr3 = cr[3] ?? 0;
  s.cr4 = cr[4] ?? 0;
  for (let i = 0; i < 8; i++) s.dr[i] = dr[i] ?? 0;
  s.cpl = cpl;
  s.gdtrBase = gdtrBase;
  s.gdtrLimit = gdtrLimit;
  s.idtrBase = idtrBase;
  s.idtrLimit = idtrLimit;
  Object.assign(s.ldtr, ldtr);
  Object.assign(s.tr, tr);
  s.efer = efer;
  s.sysenterCs = sysenter[0] ?? 0;
  s.sysenterEsp = sysenter[1] ?? 0;
  s.sysenterEip = sysenter[2] ?? 0;
  s.apicBase = apicBase;
  s.tsc = tsc;
  s.pat = pat;
  s.msrs.clear();
  for (const [k, v] of msrs) s.msrs.set(k, v);
  for (let i = 0; i < 8; i++) s.fpr[i] = st[i] ?? 0;
  s.fpuTop = fpu.top;
  s.fpuControl = fpu.control;
  s.fpuStatus = fpu.status & ~0x3800;
  s.fpuTag = fpu.tag;
  s.fpuOpcode = fpu.opcode;
  s.fpuIp = fpu.ip;
  s.fpuCs = fpu.cs;
  s.fpuDp = fpu.dp;
  s.fpuDs = fpu.ds;
  for (let i = 0; i < 16; i++) s.mmx[i] = mmx[i] ?? 0;
  for (let i = 0; i < 32; i++) s.xmm[i] = xmm[i] ?? 0;
  s.mxcsr = mxcsr;
  s.halted = o.halted;
}
