import {
  type Descriptor,
  type DescriptorTables,
  type Gate,
  isNullSelector,
  readDescriptor,
  readIdtGate,
  SystemType,
  selectorRpl,
} from './descriptors';
import { type Fault, gp, idtErrorCode, np, selectorErrorCode, ss, ts } from './exceptions';
import { isTss, type TaskTarget, taskEntryFromIdt, taskEntryFromSelector } from './task-switch';

/**
 * The privilege checks the CPU makes when code loads a segment register or moves between
 * privilege levels, as pure functions: the result is the descriptor to load (and what else must
 * happen) or the architectural fault, never a host exception.
 */

/** A check's outcome: `{ ok: true, ... }` or `{ ok: false, fault }`. */
export type Checked<T> = ({ ok: true } & T) | { ok: false; fault: Fault };

function fail(fault: Fault): { ok: false; fault: Fault } {
  return { ok: false, fault };
}

/**
 * MOV/POP/LDS/LES/LFS/LGS to DS, ES, FS or GS in protected mode (SDM Vol. 3A §5.7; Vol. 2B MOV):
 * a null selector loads a null segment; otherwise the descriptor must exist, be data or readable
 * code, and for data and non-conforming code both RPL and CPL must be ≤ DPL; not present is #NP.
 */
export function loadDataSegment(
  t: DescriptorTables,
  cpl: number,
  selector: number,
): Checked<{ descriptor: Descriptor | null }> {
  if (isNullSelector(selector)) return { ok: true, descriptor: null };
  const ec = selectorErrorCode(selector);
  const d = readDescriptor(t, selector);
  if (d === undefined) return fail(gp(ec));
  if (!(d.isData || (d.isCode && d.readable))) return fail(gp(ec));
  if (d.isData || !d.conforming) {
    const rpl = selectorRpl(selector);
    if (rpl > d.dpl || cpl > d.dpl) return fail(gp(ec));
  }
  if (!d.present) return fail(np(ec));
  return { ok: true, descriptor: d };
}

/**
 * MOV/POP/LSS to SS (SDM Vol. 3A §5.7.1; Vol. 2B MOV): null is #GP(0); RPL and DPL must equal
 * CPL; the segment must be writable data; not present is #SS(selector).
 */
export function loadStackSegment(
  t: DescriptorTables,
  cpl: number,
  selector: number,
): Checked<{ descriptor: Descriptor }> {
  if (isNullSelector(selector)) return fail(gp(0));
  const ec = selectorErrorCode(selector);
  const d = readDescriptor(t, selector);
  if (d === undefined) return fail(gp(ec));
  if (selectorRpl(selector) !== cpl || !d.writable || d.dpl !== cpl) return fail(gp(ec));
  if (!d.present) return fail(ss(ec));
  return { ok: true, descriptor: d };
}

/** Checks a direct far transfer's target code segment (same privilege level; SDM §5.8.1). */
function checkCodeTarget(
  d: Descriptor,
  cpl: number,
  rpl: number,
  ec: number,
  offset: number,
): Fault | undefined {
  if (!d.isCode) return gp(ec);
  if (d.conforming) {
    if (d.dpl > cpl) return gp(ec);
  } else if (rpl > cpl || d.dpl !== cpl) return gp(ec);
  if (!d.present) return np(ec);
  if (offset > d.limit) return gp(0);
  return undefined;
}

/** A far JMP or CALL: where it goes and whether the privilege level changes. */
export interface FarTransfer {
  readonly kind: 'segment';
  /** The code segment descriptor loaded into CS. */
  readonly code: Descriptor;
  /** New CS selector (RPL set to the new CPL). */
  readonly selector: number;
  readonly offset: number;
  readonly newCpl: number;
  /** A call gate to an inner level: the CPU switches to the stack in the TSS for `newCpl`. */
  readonly stackSwitch: boolean;
  /** Call gates: parameters to copy to the new stack. */
  readonly paramCount: number;
  readonly gate: Gate | null;
}

/**
 * Far JMP or CALL in protected mode, direct or through a call gate (SDM Vol. 3A §5.8.1–5.8.5;
 * Vol. 2A CALL, JMP). Task gates and TSS targets are reported as #GP(selector) here, for engines
 * that do not switch tasks; `farTransferOrTask` gives the complete rule.
 */
export function farTransfer(
  t: DescriptorTables,
  cpl: number,
  selector: number,
  offset: number,
  kind: 'jmp' | 'call',
): Checked<FarTransfer> {
  if (isNullSelector(selector)) return fail(gp(0));
  const ec = selectorErrorCode(selector);
  const d = readDescriptor(t, selector);
  if (d === undefined) return fail(gp(ec));
  const rpl = selectorRpl(selector);
  if (d.codeOrData) {
    const f = checkCodeTarget(d, cpl, rpl, ec, offset);
    if (f) return fail(f);
    return {
      ok: true,
      kind: 'segment',
      code: d,
      selector: (selector & 0xfffc) | cpl,
      offset,
      newCpl: cpl,
      stackSwitch: false,
      paramCount: 0,
      gate: null,
    };
  }
  if (d.type !== SystemType.callGate16 && d.type !== SystemType.callGate32) return fail(gp(ec));
  // Call gate: gate DPL ≥ CPL and ≥ RPL; present; then the target code segment.
  if (d.dpl < cpl || d.dpl < rpl) return fail(gp(ec));
  if (!d.present) return fail(np(ec));
  const gate: Gate = {
    type: d.type,
    selector: d.lo >>> 16,
    offset: d.type === SystemType.callGate32 ? ((d.hi & 0xffff0000) | (d.lo & 0xffff)) >>> 0 : d.lo & 0xffff,
    dpl: d.dpl,
    present: d.present,
    paramCount: d.hi & 0x1f,
    is32: d.type === SystemType.callGate32,
    codeOrData: false,
  };
  if (isNullSelector(gate.selector)) return fail(gp(0));
  const tec = selectorErrorCode(gate.selector);
  const target = readDescriptor(t, gate.selector);
  if (target === undefined || !target.isCode || target.dpl > cpl) return fail(gp(tec));
  if (kind === 'jmp' && !target.conforming && target.dpl !== cpl) return fail(gp(tec));
  if (!target.present) return fail(np(tec));
  if (gate.offset > target.limit) return fail(gp(0));
  const inner = kind === 'call' && !target.conforming && target.dpl < cpl;
  const newCpl = inner ? target.dpl : cpl;
  return {
    ok: true,
    kind: 'segment',
    code: target,
    selector: (gate.selector & 0xfffc) | newCpl,
    offset: gate.offset,
    newCpl,
    stackSwitch: inner,
    paramCount: inner ? gate.paramCount : 0,
    gate,
  };
}

/**
 * Far JMP or CALL with every target the SDM allows (Vol. 2A JMP, CALL; Vol. 3A §7.3): code
 * segments and call gates as `farTransfer`, and a TSS descriptor or task gate, which starts a
 * task switch (`kind: 'task'`; pass the result to `taskSwitch`). Protected mode only: IA-32e
 * mode, where task switches do not exist and call gates are 16 bytes, is `farTransfer64`.
 */
export function farTransferOrTask(
  t: DescriptorTables,
  cpl: number,
  selector: number,
  offset: number,
  kind: 'jmp' | 'call',
): Checked<FarTransfer | TaskTarget> {
  if (isNullSelector(selector)) return fail(gp(0));
  const d = readDescriptor(t, selector);
  if (d === undefined) return fail(gp(selectorErrorCode(selector)));
  if (!d.codeOrData && (isTss(d) || d.type === SystemType.taskGate))
    return taskEntryFromSelector(t, cpl, selector, d);
  return farTransfer(t, cpl, selector, offset, kind);
}

/**
 * Far RET (and IRET's CS checks) in protected mode (SDM Vol. 2B RET "protected mode"): the
 * return CS's RPL is the new CPL and must be ≥ CPL; conforming code needs DPL ≤ RPL, non-
 * conforming DPL = RPL. A return to an outer level pops SS:ESP too and then nulls data segment
 * registers whose DPL is below the new CPL (`nullIfBelow`).
 */
export function farReturn(
  t: DescriptorTables,
  cpl: number,
  csSelector: number,
  offset: number,
): Checked<{ code: Descriptor; newCpl: number; outer: boolean }> {
  if (isNullSelector(csSelector)) return fail(gp(0));
  const ec = selectorErrorCode(csSelector);
  const d = readDescriptor(t, csSelector);
  if (d === undefined) return fail(gp(ec));
  const rpl = selectorRpl(csSelector);
  if (!d.isCode || rpl < cpl) return fail(gp(ec));
  if (d.conforming ? d.dpl > rpl : d.dpl !== rpl) return fail(gp(ec));
  if (!d.present) return fail(np(ec));
  if (offset > d.limit) return fail(gp(0));
  return { ok: true, code: d, newCpl: rpl, outer: rpl > cpl };
}

/**
 * The data-segment rule of a return to an outer level (SDM Vol. 2B RET): ES, DS, FS and GS are
 * loaded with null when they hold a data or non-conforming code segment whose DPL is less than
 * the new CPL. Returns whether the register must be nulled.
 */
export function nullOnOuterReturn(d: Descriptor | null, newCpl: number): boolean {
  if (d === null) return false;
  if (d.isCode && d.conforming) return false;
  return d.dpl < newCpl;
}

/** Where an interrupt or exception goes (SDM Vol. 3A §6.12.1). */
export interface InterruptTarget {
  readonly kind: 'gate';
  readonly gate: Gate;
  readonly code: Descriptor;
  readonly newCpl: number;
  /** Switch to the TSS stack for `newCpl` (an inner level). */
  readonly stackSwitch: boolean;
  /** Interrupt gates clear IF; trap gates leave it. */
  readonly clearsIf: boolean;
}

/** The IDT-entry checks common to every gate type (SDM Vol. 3A §6.12.1.1, §6.13). */
function idtGate(
  t: DescriptorTables,
  cpl: number,
  vector: number,
  opts: { software: boolean; external: boolean },
): Checked<{ gate: Gate }> {
  const idtEc = idtErrorCode(vector, opts.external);
  const gate = readIdtGate(t, vector);
  if (gate === undefined) return fail(gp(idtEc));
  const okType =
    gate.type === SystemType.interruptGate16 ||
    gate.type === SystemType.interruptGate32 ||
    gate.type === SystemType.trapGate16 ||
    gate.type === SystemType.trapGate32 ||
    gate.type === SystemType.taskGate;
  // A code or data descriptor (S = 1) in the IDT is not a gate, whatever its type bits say.
  if (gate.codeOrData || !okType) return fail(gp(idtEc));
  if (opts.software && gate.dpl < cpl) return fail(gp(idtEc));
  if (!gate.present) return fail(np(idtEc));
  return { ok: true, gate };
}

/** The handler's code segment behind an interrupt or trap gate. */
function gateTarget(
  t: DescriptorTables,
  cpl: number,
  gate: Gate,
  external: boolean,
): Checked<InterruptTarget> {
  const sec = selectorErrorCode(gate.selector, external);
  if (isNullSelector(gate.selector)) return fail(gp(external ? 1 : 0));
  const d = readDescriptor(t, gate.selector);
  if (d === undefined || !d.isCode || d.dpl > cpl) return fail(gp(sec));
  if (!d.present) return fail(np(sec));
  const inner = !d.conforming && d.dpl < cpl;
  return {
    ok: true,
    kind: 'gate',
    gate,
    code: d,
    newCpl: inner ? d.dpl : cpl,
    stackSwitch: inner,
    clearsIf: gate.type === SystemType.interruptGate16 || gate.type === SystemType.interruptGate32,
  };
}

/**
 * Delivery of interrupt `vector` through the IDT in protected mode: IDT limit, gate type,
 * software-interrupt DPL check (INT n, INT3, INTO only), present bit, target code segment and
 * the privilege level of the handler. `external` sets EXT in error codes (hardware interrupts
 * and exceptions not caused by an INT instruction). A task gate is reported as #TS(TSS selector)
 * here, for engines that do not switch tasks; `interruptTargetOrTask` gives the complete rule.
 */
export function interruptTarget(
  t: DescriptorTables,
  cpl: number,
  vector: number,
  opts: { software: boolean; external: boolean },
): Checked<InterruptTarget> {
  const g = idtGate(t, cpl, vector, opts);
  if (!g.ok) return g;
  if (g.gate.type === SystemType.taskGate) return fail(ts(selectorErrorCode(g.gate.selector, opts.external)));
  return gateTarget(t, cpl, g.gate, opts.external);
}

/**
 * Interrupt and exception delivery in protected mode with every gate type (SDM Vol. 3A §6.11,
 * §6.12.2; Vol. 2A INT n): interrupt and trap gates as `interruptTarget`, and a task gate, whose
 * TSS is checked by `taskEntryFromIdt` (`kind: 'task'`; pass the result to `taskSwitch` with
 * source `'int'` and the exception's error code).
 */
export function interruptTargetOrTask(
  t: DescriptorTables,
  cpl: number,
  vector: number,
  opts: { software: boolean; external: boolean },
): Checked<InterruptTarget | TaskTarget> {
  const g = idtGate(t, cpl, vector, opts);
  if (!g.ok) return g;
  if (g.gate.type === SystemType.taskGate) return taskEntryFromIdt(t, g.gate, opts.external);
  return gateTarget(t, cpl, g.gate, opts.external);
}

/**
 * I/O permission (SDM Vol. 1 §19.5): allowed when CPL ≤ IOPL (and not virtual-8086 mode);
 * otherwise every bit for ports `port .. port + size - 1` in the TSS I/O bitmap must be clear.
 * The bitmap starts at the 16-bit offset stored at TSS+0x66; bytes beyond the TSS limit count as
 * set (denied). `readTssByte` reads a byte at an offset into the TSS.
 */
export function ioAllowed(
  cpl: number,
  iopl: number,
  vm86: boolean,
  port: number,
  size: 1 | 2 | 4,
  tss: { limit: number; readByte(offset: number): number; is32: boolean } | null,
): boolean {
  if (!vm86 && cpl <= iopl) return true;
  if (tss === null || !tss.is32 || tss.limit < 0x67) return false;
  const base = tss.readByte(0x66) | (tss.readByte(0x67) << 8);
  for (let p = port; p < port + size; p++) {
    const off = base + (p >>> 3);
    if (off > tss.limit) return false;
    if ((tss.readByte(off) >> (p & 7)) & 1) return false;
  }
  return true;
}

/** The TSS fields a privilege-raising transfer reads (SDM Vol. 3A figures 7-2 and 7-10). */
export interface Tss32 {
  /** TSS limit from the TR descriptor cache. */
  limit: number;
  /** False for a 16-bit TSS (TR type 1 or 3): SP/SS words at 2 + 4 × CPL. Default true. */
  is32?: boolean;
  /** Reads a doubleword at an offset into the TSS. */
  read32(offset: number): number;
}

/**
 * The stack for an inner privilege level (SDM Vol. 3A §6.12.1, §5.8.5): SS:ESP for `newCpl` from
 * the TSS (32-bit TSS: offsets 4 + 8 × CPL and 8 + 8 × CPL; 16-bit TSS: SP and SS words at
 * 2 + 4 × CPL and 4 + 4 × CPL), with the checks on the new SS — beyond the TSS limit is #TS(TSS
 * selector), a null, wrong-RPL, wrong-DPL or non-writable SS is #TS(SS), and a not-present SS
 * is #SS(SS).
 */
export function innerStack(
  t: DescriptorTables,
  tss: Tss32,
  tssSelector: number,
  newCpl: number,
  external = false,
): Checked<{ ss: number; esp: number; descriptor: Descriptor }> {
  const is32 = tss.is32 !== false;
  const off = is32 ? 4 + newCpl * 8 : 2 + newCpl * 4;
  if (off + (is32 ? 5 : 3) > tss.limit) return fail(ts(selectorErrorCode(tssSelector, external)));
  const esp = is32 ? tss.read32(off) >>> 0 : tss.read32(off) & 0xffff;
  const ssSel = tss.read32(off + (is32 ? 4 : 2)) & 0xffff;
  if (isNullSelector(ssSel)) return fail(ts(external ? 1 : 0));
  const ec = selectorErrorCode(ssSel, external);
  const d = readDescriptor(t, ssSel);
  if (d === undefined) return fail(ts(ec));
  if (selectorRpl(ssSel) !== newCpl || d.dpl !== newCpl || !d.writable) return fail(ts(ec));
  if (!d.present) return fail(ss(ec));
  return { ok: true, ss: ssSel, esp, descriptor: d };
}

/** EFLAGS bits by mask (SDM Vol. 1 §3.4.3). */
const IF = 0x200;
const IOPL = 0x3000;
const VIF = 0x80000;
const VIP = 0x100000;
const VM = 0x20000;
const RF = 0x10000;
const AC = 0x40000;
const ID = 0x200000;
const NT = 0x4000;

/**
 * The EFLAGS value POPF (or IRET) leaves in protected mode (SDM Vol. 2B POPF, Vol. 2A IRET): IF
 * changes only when CPL ≤ IOPL, IOPL only at CPL 0; VM, VIF, VIP and RF are never changed by
 * POPF. No fault — the silent behaviour that makes x86 not classically virtualizable.
 * `operandSize` 16 writes the low word only.
 */
export function popfResult(old: number, popped: number, cpl: number, operandSize: 16 | 32 | 64): number {
  const iopl = (old & IOPL) >>> 12;
  let writable = 0x4dd5 | AC | ID | NT; // CF PF AF ZF SF TF DF OF, NT, AC, ID
  if (cpl <= iopl) writable |= IF;
  if (cpl === 0) writable |= IOPL;
  writable &= ~(VM | VIF | VIP | RF);
  if (operandSize === 16) writable &= 0xffff;
  return ((old & ~writable) | (popped & writable) | 0x2) >>> 0;
}

/**
 * The EFLAGS value IRET restores when returning in protected mode without a task switch and not
 * to virtual-8086 mode (SDM Vol. 2A IRET, "RETURN-TO-SAME-PRIVILEGE-LEVEL" and
 * "RETURN-TO-OUTER-PRIVILEGE-LEVEL"): like POPF with the CPL before the return, except that RF
 * is restored; VM, VIF and VIP change only at CPL 0.
 */
export function iretFlags(old: number, popped: number, cpl: number, operandSize: 16 | 32 | 64): number {
  const iopl = (old & IOPL) >>> 12;
  let writable = 0x4dd5 | AC | ID | NT | RF;
  if (cpl <= iopl) writable |= IF;
  if (cpl === 0) writable |= IOPL | VIF | VIP;
  if (operandSize === 16) writable &= 0xffff;
  return ((old & ~writable) | (popped & writable) | 0x2) >>> 0;
}
