import {
  type Descriptor,
  type DescriptorTables,
  isNullSelector,
  parseDescriptor,
  readDescriptor,
  SystemType,
  selectorTi,
} from './descriptors';
import { type Fault, gp, idtErrorCode, np, selectorErrorCode, ss, ts, ud } from './exceptions';
import type { MemoryWrite } from './task-switch';

/**
 * IA-32e mode (64-bit and compatibility mode) privilege rules: the 64-bit TSS (RSP0–2, IST1–7),
 * 16-byte system descriptors and interrupt/trap gates, interrupt delivery with the interrupt
 * stack table (SDM Vol. 3A §6.14, §7.7), LTR, and the long-mode forms of SYSCALL/SYSRET and
 * SYSENTER/SYSEXIT (Vol. 2B). 64-bit quantities (addresses, RSP, RIP) are bigints.
 */

type Checked<T> = ({ ok: true } & T) | { ok: false; fault: Fault };

function fail(fault: Fault): { ok: false; fault: Fault } {
  return { ok: false, fault };
}

const MASK64 = (1n << 64n) - 1n;

/**
 * Whether a 64-bit linear address is canonical (SDM Vol. 1 §3.3.7.1): bits 63 down to
 * `linearBits - 1` all equal (48 with 4-level paging, 57 with 5-level paging).
 */
export function isCanonical(address: bigint, linearBits: 48 | 57 = 48): boolean {
  const a = address & MASK64;
  const top = a >> BigInt(linearBits - 1);
  return top === 0n || top === (1n << BigInt(65 - linearBits)) - 1n;
}

/** 64-bit TSS field offsets (SDM Vol. 3A §7.7, figure 7-11). */
export const TSS64 = {
  rsp0: 0x04,
  rsp1: 0x0c,
  rsp2: 0x14,
  /** IST1; ISTn is at `ist1 + 8 × (n − 1)`. */
  ist1: 0x24,
  ioMapBase: 0x66,
  /** The smallest valid limit (67H, as for a 32-bit TSS). */
  minLimit: 0x67,
} as const;

/** The current TSS as IA-32e interrupt delivery reads it: TR selector and limit, reads by offset. */
export interface Tss64 {
  readonly selector: number;
  readonly limit: number;
  /** Reads a doubleword at an offset into the TSS. */
  read32(offset: number): number;
}

function read64(tss: Tss64, offset: number): bigint {
  return BigInt(tss.read32(offset) >>> 0) | (BigInt(tss.read32(offset + 4) >>> 0) << 32n);
}

/** A 64-bit interrupt or trap gate (SDM Vol. 3A §6.14.1, figure 6-8). */
export interface Gate64 {
  readonly type: number;
  readonly selector: number;
  readonly offset: bigint;
  /** Interrupt-stack-table index 0–7 (0: no IST). */
  readonly ist: number;
  readonly dpl: number;
  readonly present: boolean;
  readonly codeOrData: boolean;
}

/** Parses a 16-byte IDT gate given as its four doublewords, lowest first. */
export function parseGate64(d0: number, d1: number, d2: number, _d3 = 0): Gate64 {
  d0 >>>= 0;
  d1 >>>= 0;
  return {
    type: (d1 >>> 8) & 15,
    selector: d0 >>> 16,
    offset: BigInt(((d1 & 0xffff0000) | (d0 & 0xffff)) >>> 0) | (BigInt(d2 >>> 0) << 32n),
    ist: d1 & 7,
    dpl: (d1 >>> 13) & 3,
    present: ((d1 >>> 15) & 1) === 1,
    codeOrData: ((d1 >>> 12) & 1) === 1,
  };
}

/** Encodes a 64-bit interrupt or trap gate; returns its four doublewords. */
export function encodeGate64(g: {
  type: number;
  selector: number;
  offset: bigint;
  dpl: number;
  present: boolean;
  ist?: number;
}): [number, number, number, number] {
  const off = g.offset & MASK64;
  const lo = Number(off & 0xffffffffn);
  const d0 = (((g.selector & 0xffff) << 16) | (lo & 0xffff)) >>> 0;
  const d1 =
    ((lo & 0xffff0000) |
      (g.present ? 0x8000 : 0) |
      ((g.dpl & 3) << 13) |
      ((g.type & 15) << 8) |
      ((g.ist ?? 0) & 7)) >>>
    0;
  return [d0, d1, Number(off >> 32n), 0];
}

/** Reads IDT entry `vector` in IA-32e mode (16-byte gates), or undefined beyond the IDT limit. */
export function readIdtGate64(t: DescriptorTables, vector: number): Gate64 | undefined {
  const off = (vector & 0xff) * 16;
  if (off + 15 > t.idtLimit) return undefined;
  const a = t.idtBase + off;
  return parseGate64(
    t.read32(a >>> 0),
    t.read32((a + 4) >>> 0),
    t.read32((a + 8) >>> 0),
    t.read32((a + 12) >>> 0),
  );
}

/** Where an interrupt or exception goes in IA-32e mode, and the stack it is delivered on. */
export interface InterruptTarget64 {
  readonly kind: 'gate';
  readonly gate: Gate64;
  readonly code: Descriptor;
  readonly newCpl: number;
  /** The privilege level changes (SS becomes the null selector with RPL = the new CPL). */
  readonly stackSwitch: boolean;
  /** Where RSP came from: the IST entry, RSPn of the TSS, or the interrupted RSP. */
  readonly stack: 'ist' | 'tss' | 'current';
  /** The RSP the frame is pushed below, aligned to 16 bytes. */
  readonly rsp: bigint;
  /** The SS selector after delivery. */
  readonly ss: number;
  readonly rip: bigint;
  /** Interrupt gates clear IF; trap gates leave it. TF, NT and RF are always cleared. */
  readonly clearsIf: boolean;
  /** The frame, pushed 8 bytes each: SS, RSP, RFLAGS, CS, RIP and (for some exceptions) the error code. */
  readonly frame: readonly ('ss' | 'rsp' | 'rflags' | 'cs' | 'rip')[];
}

/**
 * Interrupt and exception delivery in IA-32e mode (SDM Vol. 3A §6.14.1–6.14.5; Vol. 2A INT n,
 * "IA-32e-MODE"). Checks in order: the 16-byte gate within the IDT limit, a 64-bit interrupt
 * or trap gate (type 14/15, S = 0; task gates and 16-bit gates do not exist), the gate DPL for
 * software interrupts, present — all #GP/#NP(vector × 8 + 2 + EXT); the target code segment
 * (null #GP(EXT), not code or DPL > CPL #GP(selector + EXT), not present #NP, not 64-bit
 * (L = 0 or D = 1) #GP(selector + EXT)). The stack: an IST index selects ISTn always, else a
 * privilege change takes RSPn from the TSS, else the current RSP is kept (§6.14.5); a TSS entry
 * beyond the TSS limit is #TS(TSS selector + EXT), a non-canonical new RSP #SS(EXT), and RSP is
 * aligned down to 16 bytes (§6.14.2). A non-canonical handler RIP is #GP(EXT).
 */
export function interruptTarget64(
  t: DescriptorTables,
  cpl: number,
  vector: number,
  opts: { software: boolean; external: boolean },
  ctx: { tss: Tss64; rsp: bigint; ss: number; linearBits?: 48 | 57 },
): Checked<InterruptTarget64> {
  const ext = opts.external;
  const idtEc = idtErrorCode(vector, ext);
  const gate = readIdtGate64(t, vector);
  if (gate === undefined) return fail(gp(idtEc));
  if (gate.codeOrData || (gate.type !== SystemType.interruptGate32 && gate.type !== SystemType.trapGate32))
    return fail(gp(idtEc));
  if (opts.software && gate.dpl < cpl) return fail(gp(idtEc));
  if (!gate.present) return fail(np(idtEc));
  if (isNullSelector(gate.selector)) return fail(gp(ext ? 1 : 0));
  const sec = selectorErrorCode(gate.selector, ext);
  const d = readDescriptor(t, gate.selector);
  if (d === undefined || !d.isCode || d.dpl > cpl) return fail(gp(sec));
  if (!d.present) return fail(np(sec));
  if (!d.long || d.big) return fail(gp(sec));
  const inner = !d.conforming && d.dpl < cpl;
  const newCpl = inner ? d.dpl : cpl;
  let stack: 'ist' | 'tss' | 'current' = 'current';
  let rsp = ctx.rsp & MASK64;
  if (gate.ist !== 0 || inner) {
    stack = gate.ist !== 0 ? 'ist' : 'tss';
    const off = gate.ist !== 0 ? TSS64.ist1 + 8 * (gate.ist - 1) : TSS64.rsp0 + 8 * newCpl;
    if (off + 7 > ctx.tss.limit) return fail(ts(selectorErrorCode(ctx.tss.selector, ext)));
    rsp = read64(ctx.tss, off);
  }
  if (!isCanonical(rsp, ctx.linearBits)) return fail(ss(ext ? 1 : 0));
  if (!isCanonical(gate.offset, ctx.linearBits)) return fail(gp(ext ? 1 : 0));
  return {
    ok: true,
    kind: 'gate',
    gate,
    code: d,
    newCpl,
    stackSwitch: inner,
    stack,
    rsp: rsp & ~0xfn & MASK64,
    ss: inner ? newCpl : ctx.ss & 0xffff,
    rip: gate.offset,
    clearsIf: gate.type === SystemType.interruptGate32,
    frame: ['ss', 'rsp', 'rflags', 'cs', 'rip'],
  };
}

/** A TSS or LDT descriptor in IA-32e mode: 16 bytes, with base bits 63:32 in the third doubleword. */
export interface SystemDescriptor64 {
  readonly descriptor: Descriptor;
  readonly base: bigint;
}

/**
 * Reads the 16-byte system descriptor a selector names in the GDT (SDM Vol. 3A §7.2.3, figure
 * 7-4): undefined when TI = 1 or either half lies beyond the GDT limit. `upperTypeClear` is
 * whether bits 12:8 of the fourth doubleword are 0, as the processor requires.
 */
export function readSystemDescriptor64(
  t: DescriptorTables,
  selector: number,
): (SystemDescriptor64 & { upperTypeClear: boolean }) | undefined {
  if (selectorTi(selector) === 1) return undefined;
  const off = selector & 0xfff8;
  if (off + 15 > t.gdtLimit) return undefined;
  const a = t.gdtBase + off;
  const descriptor = parseDescriptor(t.read32(a >>> 0), t.read32((a + 4) >>> 0));
  const hiBase = t.read32((a + 8) >>> 0) >>> 0;
  const d3 = t.read32((a + 12) >>> 0) >>> 0;
  return {
    descriptor,
    base: BigInt(descriptor.base) | (BigInt(hiBase) << 32n),
    upperTypeClear: ((d3 >>> 8) & 0x1f) === 0,
  };
}

/**
 * LTR (SDM Vol. 2A LTR): a null selector is #GP(0); TI = 1, beyond the GDT, not an available
 * TSS (types 1 or 9; in IA-32e mode type 9 only, with a clear upper type field and a canonical
 * base) #GP(selector); not present #NP(selector). The TSS is then marked busy: `write` is the
 * GDT store to make.
 */
export function loadTaskRegister(
  t: DescriptorTables,
  selector: number,
  longMode = false,
): Checked<{ descriptor: Descriptor; base: bigint; write: MemoryWrite }> {
  if (isNullSelector(selector)) return fail(gp(0));
  const ec = selectorErrorCode(selector);
  let d: Descriptor | undefined;
  let base: bigint;
  if (longMode) {
    const s = readSystemDescriptor64(t, selector);
    if (s === undefined || !s.upperTypeClear || !isCanonical(s.base)) return fail(gp(ec));
    d = s.descriptor;
    base = s.base;
    if (d.codeOrData || d.type !== SystemType.tss32Available) return fail(gp(ec));
  } else {
    d = selectorTi(selector) === 1 ? undefined : readDescriptor(t, selector);
    if (d === undefined) return fail(gp(ec));
    if (d.codeOrData || (d.type !== SystemType.tss32Available && d.type !== SystemType.tss16Available))
      return fail(gp(ec));
    base = BigInt(d.base);
  }
  if (!d.present) return fail(np(ec));
  const hi = (d.hi | 0x200) >>> 0;
  return {
    ok: true,
    descriptor: parseDescriptor(d.lo, hi),
    base,
    write: { linear: (t.gdtBase + (selector & 0xfff8) + 4) >>> 0, size: 4, value: hi, field: 'gdt.tr-busy' },
  };
}

/** What a long-mode fast system call or return loads. CS and SS get fixed flat descriptors. */
export interface FastTransfer64 {
  readonly cs: number;
  readonly ss: number;
  readonly rip: bigint;
  readonly newCpl: number;
  /** CS.L: the target runs in 64-bit mode (else compatibility mode, CS.D = 1). */
  readonly csLong: boolean;
}

/** The processor mode bits the long-mode fast calls test. */
export interface LongModeBits {
  /** IA32_EFER.LMA. */
  readonly lma: boolean;
  /** CS.L of the current code segment (64-bit mode rather than compatibility mode). */
  readonly cs64: boolean;
  /** IA32_EFER.SCE. */
  readonly sce: boolean;
}

const RF = 0x10000;

/**
 * SYSCALL in IA-32e mode (SDM Vol. 2B SYSCALL): #UD unless EFER.SCE and EFER.LMA and, on Intel
 * processors, 64-bit mode (AMD processors also accept compatibility mode and enter at CSTAR).
 * RCX receives the next RIP, R11 RFLAGS; RFLAGS loses the bits set in IA32_FMASK and RF;
 * CS = STAR[47:32] with RPL 0, SS = STAR[47:32] + 8, RIP = IA32_LSTAR. `starHi` is STAR[63:32].
 */
export function syscall64(
  mode: LongModeBits,
  msr: { starHi: number; lstar: bigint; cstar: bigint; fmask: number },
  next: { rip: bigint; rflags: number },
  vendor: 'intel' | 'amd' = 'intel',
): Checked<FastTransfer64 & { rcx: bigint; r11: number; rflags: number }> {
  if (!mode.sce || !mode.lma) return fail(ud());
  if (!mode.cs64 && vendor === 'intel') return fail(ud());
  const sel = msr.starHi & 0xffff;
  return {
    ok: true,
    cs: sel & 0xfffc,
    ss: (sel + 8) & 0xffff,
    rip: (mode.cs64 ? msr.lstar : msr.cstar) & MASK64,
    newCpl: 0,
    csLong: true,
    rcx: next.rip & MASK64,
    r11: next.rflags >>> 0,
    rflags: ((next.rflags & ~msr.fmask & ~RF) | 2) >>> 0,
  };
}

/**
 * SYSRET (SDM Vol. 2B SYSRET): #UD unless EFER.SCE, EFER.LMA and 64-bit mode; #GP(0) unless
 * CPL 0. With REX.W (operand size 64) it returns to 64-bit mode at RCX, which must be
 * canonical, else #GP(0) — raised at CPL 0, before anything changes, on Intel processors; CS =
 * STAR[63:48] + 16. Without REX.W it returns to compatibility mode at ECX with CS =
 * STAR[63:48]. SS = STAR[63:48] + 8; both get RPL 3. RFLAGS = (R11 & 3C7FD7H) | 2.
 */
export function sysret64(
  mode: LongModeBits,
  cpl: number,
  starHi: number,
  rcx: bigint,
  r11: bigint,
  operandSize: 32 | 64,
  linearBits: 48 | 57 = 48,
): Checked<FastTransfer64 & { rflags: number }> {
  if (!mode.sce || !mode.lma || !mode.cs64) return fail(ud());
  if (cpl !== 0) return fail(gp(0));
  const to64 = operandSize === 64;
  if (to64 && !isCanonical(rcx, linearBits)) return fail(gp(0));
  const base = (starHi >>> 16) & 0xffff;
  return {
    ok: true,
    cs: (((to64 ? base + 16 : base) & 0xffff) | 3) >>> 0,
    ss: (((base + 8) & 0xffff) | 3) >>> 0,
    rip: to64 ? rcx & MASK64 : rcx & 0xffffffffn,
    newCpl: 3,
    csLong: to64,
    rflags: ((Number(r11 & 0xffffffffn) & 0x3c7fd7) | 2) >>> 0,
  };
}

/**
 * SYSENTER in IA-32e mode (SDM Vol. 2B SYSENTER): #GP(0) when IA32_SYSENTER_CS is null; enters
 * 64-bit mode at CPL 0 with CS = SYSENTER_CS (RPL 0), SS = CS + 8, RIP = IA32_SYSENTER_EIP and
 * RSP = IA32_SYSENTER_ESP (both 64-bit MSRs).
 */
export function sysenter64(msr: {
  cs: number;
  eip: bigint;
  esp: bigint;
}): Checked<FastTransfer64 & { rsp: bigint }> {
  if ((msr.cs & 0xfffc) === 0) return fail(gp(0));
  const cs = msr.cs & 0xfffc;
  return {
    ok: true,
    cs,
    ss: (cs + 8) & 0xffff,
    rip: msr.eip & MASK64,
    rsp: msr.esp & MASK64,
    newCpl: 0,
    csLong: true,
  };
}

/**
 * SYSEXIT with REX.W in IA-32e mode (SDM Vol. 2B SYSEXIT): #GP(0) unless CPL 0 with a non-null
 * IA32_SYSENTER_CS, or when RDX or RCX is not canonical; returns to 64-bit mode at CPL 3 with
 * CS = SYSENTER_CS + 32, SS = SYSENTER_CS + 40 (RPL 3), RIP = RDX, RSP = RCX.
 */
export function sysexit64(
  cpl: number,
  msrCs: number,
  rdx: bigint,
  rcx: bigint,
  linearBits: 48 | 57 = 48,
): Checked<FastTransfer64 & { rsp: bigint }> {
  if (cpl !== 0 || (msrCs & 0xfffc) === 0) return fail(gp(0));
  if (!isCanonical(rdx, linearBits) || !isCanonical(rcx, linearBits)) return fail(gp(0));
  const base = msrCs & 0xfffc;
  return {
    ok: true,
    cs: ((base + 32) | 3) & 0xffff,
    ss: ((base + 40) | 3) & 0xffff,
    rip: rdx & MASK64,
    rsp: rcx & MASK64,
    newCpl: 3,
    csLong: true,
  };
}

/** A far JMP or CALL in IA-32e mode: the code segment loaded, and the stack for a call gate to an inner level. */
export interface FarTransfer64 {
  readonly kind: 'segment';
  readonly code: Descriptor;
  /** New CS selector (RPL set to the new CPL). */
  readonly selector: number;
  readonly offset: bigint;
  readonly newCpl: number;
  /** The target runs in 64-bit mode (CS.L = 1); else compatibility mode. */
  readonly csLong: boolean;
  /** A 64-bit call gate to an inner level: RSP from the TSS, SS null with RPL = the new CPL. */
  readonly stackSwitch: boolean;
  readonly rsp: bigint | null;
  readonly ss: number | null;
  /** The 64-bit call gate it went through, if any. */
  readonly gate: { readonly selector: number; readonly offset: bigint; readonly dpl: number } | null;
}

/** A 64-bit code segment has L = 1 and D = 0; L = 1 with D = 1 is reserved (SDM Vol. 3A §5.2.1). */
function badLongCode(d: Descriptor): boolean {
  return d.long && d.big;
}

/**
 * Far JMP or CALL in IA-32e mode (SDM Vol. 2A JMP, CALL; Vol. 3A §5.8.3.1 IA-32e Mode Call
 * Gates, §7.7). A code segment as in protected mode, but one with L = D = 1 is #GP(selector);
 * the offset must be canonical (64-bit target) or within the limit (compatibility target), else
 * #GP(0). A TSS or task gate is #GP(selector): there are no task switches. Call gates are
 * 16 bytes: beyond the table, an upper half whose type bits are not 0, or a gate type other than
 * 12 (64-bit call gate) is #GP(gate selector); DPL < CPL or < RPL #GP(gate selector); not present
 * #NP(gate selector); the target must be a 64-bit code segment (#GP(target selector)) with
 * DPL ≤ CPL; a CALL to a non-conforming inner level switches to RSPn of the 64-bit TSS (beyond the
 * TSS limit #TS(TSS selector), non-canonical #SS(0)) with SS null; JMP must stay at CPL.
 */
export function farTransfer64(
  t: DescriptorTables,
  cpl: number,
  selector: number,
  offset: bigint,
  kind: 'jmp' | 'call',
  tss: Tss64,
  linearBits: 48 | 57 = 48,
): Checked<FarTransfer64> {
  if (isNullSelector(selector)) return fail(gp(0));
  const ec = selectorErrorCode(selector);
  const d = readDescriptor(t, selector);
  if (d === undefined) return fail(gp(ec));
  const rpl = selector & 3;
  if (d.codeOrData) {
    if (!d.isCode || badLongCode(d)) return fail(gp(ec));
    if (d.conforming ? d.dpl > cpl : rpl > cpl || d.dpl !== cpl) return fail(gp(ec));
    if (!d.present) return fail(np(ec));
    const off = d.long ? offset & MASK64 : offset & 0xffffffffn;
    if (d.long ? !isCanonical(off, linearBits) : off > BigInt(d.limit)) return fail(gp(0));
    return {
      ok: true,
      kind: 'segment',
      code: d,
      selector: (selector & 0xfffc) | cpl,
      offset: off,
      newCpl: cpl,
      csLong: d.long,
      stackSwitch: false,
      rsp: null,
      ss: null,
      gate: null,
    };
  }
  // System descriptors are 16 bytes in IA-32e mode.
  const off16 = selector & 0xfff8;
  const limit = selector & 4 ? t.ldtLimit : t.gdtLimit;
  const base = selector & 4 ? t.ldtBase : t.gdtBase;
  if (off16 + 15 > limit || d.type !== SystemType.callGate32) return fail(gp(ec));
  const d2 = t.read32((base + off16 + 8) >>> 0) >>> 0;
  const d3 = t.read32((base + off16 + 12) >>> 0) >>> 0;
  if (((d3 >>> 8) & 0x1f) !== 0) return fail(gp(ec));
  if (d.dpl < cpl || d.dpl < rpl) return fail(gp(ec));
  if (!d.present) return fail(np(ec));
  const gateSel = d.lo >>> 16;
  const gateOff = BigInt(((d.hi & 0xffff0000) | (d.lo & 0xffff)) >>> 0) | (BigInt(d2) << 32n);
  if (isNullSelector(gateSel)) return fail(gp(0));
  const tec = selectorErrorCode(gateSel);
  const target = readDescriptor(t, gateSel);
  if (target === undefined || !target.isCode || target.dpl > cpl) return fail(gp(tec));
  if (!target.long || target.big) return fail(gp(tec));
  if (kind === 'jmp' && !target.conforming && target.dpl !== cpl) return fail(gp(tec));
  if (!target.present) return fail(np(tec));
  const inner = kind === 'call' && !target.conforming && target.dpl < cpl;
  const newCpl = inner ? target.dpl : cpl;
  let rsp: bigint | null = null;
  if (inner) {
    const o = TSS64.rsp0 + 8 * newCpl;
    if (o + 7 > tss.limit) return fail(ts(selectorErrorCode(tss.selector)));
    rsp = read64(tss, o);
    if (!isCanonical(rsp, linearBits)) return fail(ss(0));
  }
  if (!isCanonical(gateOff, linearBits)) return fail(gp(0));
  return {
    ok: true,
    kind: 'segment',
    code: target,
    selector: (gateSel & 0xfffc) | newCpl,
    offset: gateOff,
    newCpl,
    csLong: true,
    stackSwitch: inner,
    rsp,
    ss: inner ? newCpl : null,
    gate: { selector, offset: gateOff, dpl: d.dpl },
  };
}

/** Where a far RET or IRET in IA-32e mode returns to. */
export interface FarReturn64 {
  readonly code: Descriptor;
  readonly newCpl: number;
  /** A return to an outer level (the engine then nulls data segments per `nullOnOuterReturn`). */
  readonly outer: boolean;
  /** The target runs in 64-bit mode; else compatibility mode. */
  readonly csLong: boolean;
  readonly rip: bigint;
  /** The SS loaded from the frame (descriptor null for a null SS), or null when SS:RSP stays. */
  readonly ss: { readonly selector: number; readonly descriptor: Descriptor | null } | null;
}

/**
 * Far RET and IRET in IA-32e mode (SDM Vol. 2A IRET "IA-32e-MODE", Vol. 2B RET). IRET with
 * NT = 1 is #GP(0). The return CS: null #GP(0); beyond its table, not code, L = D = 1, RPL <
 * CPL, conforming with DPL > RPL or non-conforming with DPL ≠ RPL #GP(selector); not present
 * #NP(selector). SS:RSP is loaded on a return to an outer level, and by IRET from 64-bit mode
 * always: a null SS is allowed only when returning to 64-bit mode at CPL < 3 (else #GP(0));
 * otherwise beyond its table, RPL ≠ the new CPL, not writable data, or DPL ≠ the new CPL is
 * #GP(SS selector), not present #SS(SS selector). Finally a non-canonical RIP (64-bit target)
 * or one beyond the CS limit (compatibility target) is #GP(0).
 */
export function farReturn64(
  t: DescriptorTables,
  cpl: number,
  frame: { readonly rip: bigint; readonly cs: number; readonly ss: number },
  opts: {
    readonly iret: boolean;
    readonly nt?: boolean;
    readonly from64?: boolean;
    readonly linearBits?: 48 | 57;
  },
): Checked<FarReturn64> {
  if (opts.iret && opts.nt === true) return fail(gp(0));
  const cs = frame.cs & 0xffff;
  if (isNullSelector(cs)) return fail(gp(0));
  const ec = selectorErrorCode(cs);
  const d = readDescriptor(t, cs);
  if (d === undefined || !d.isCode || badLongCode(d)) return fail(gp(ec));
  const rpl = cs & 3;
  if (rpl < cpl) return fail(gp(ec));
  if (d.conforming ? d.dpl > rpl : d.dpl !== rpl) return fail(gp(ec));
  if (!d.present) return fail(np(ec));
  const outer = rpl > cpl;
  let ssOut: FarReturn64['ss'] = null;
  if (outer || (opts.iret && opts.from64 !== false)) {
    const s = frame.ss & 0xffff;
    if (isNullSelector(s)) {
      if (!d.long || rpl === 3) return fail(gp(0));
      ssOut = { selector: s, descriptor: null };
    } else {
      const sec = selectorErrorCode(s);
      const sd = readDescriptor(t, s);
      if (sd === undefined || (s & 3) !== rpl || !sd.writable || sd.dpl !== rpl) return fail(gp(sec));
      if (!sd.present) return fail(ss(sec));
      ssOut = { selector: s, descriptor: sd };
    }
  }
  const rip = d.long ? frame.rip & MASK64 : frame.rip & 0xffffffffn;
  if (d.long ? !isCanonical(rip, opts.linearBits) : rip > BigInt(d.limit)) return fail(gp(0));
  return { ok: true, code: d, newCpl: rpl, outer, csLong: d.long, rip, ss: ssOut };
}
