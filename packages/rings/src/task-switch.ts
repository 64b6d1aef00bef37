import {
  type Descriptor,
  type DescriptorTables,
  encodeDescriptor,
  type Gate,
  isNullSelector,
  parseDescriptor,
  parseGate,
  readDescriptor,
  SystemType,
  selectorRpl,
  selectorTi,
} from './descriptors';
import { type Fault, gp, np, selectorErrorCode, ss, ts } from './exceptions';

/**
 * Hardware task switches (SDM Vol. 3A §7.3 Task Switching, §7.4 Task Linking, §7.2.5 Task-Gate
 * Descriptor) as a pure plan: the entry checks of JMP/CALL to a TSS or task gate, INT n and
 * exceptions through a task gate, and IRET with NT = 1; then the switch itself as the list of
 * memory writes to make (old task's state, busy bits, back-link) and the new task's state, with
 * the fault (if any) that the new task takes while its segments are loaded.
 */

/** 32-bit TSS field offsets (SDM Vol. 3A §7.2.1, figure 7-2). */
export const TSS32 = {
  link: 0x00,
  esp0: 0x04,
  ss0: 0x08,
  esp1: 0x0c,
  ss1: 0x10,
  esp2: 0x14,
  ss2: 0x18,
  cr3: 0x1c,
  eip: 0x20,
  eflags: 0x24,
  /** EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI: 4 bytes each from here. */
  gpr: 0x28,
  /** ES, CS, SS, DS, FS, GS selectors: 4-byte slots (low word used) from here. */
  seg: 0x48,
  ldt: 0x60,
  /** Bit 0: the debug trap flag T. */
  trap: 0x64,
  ioMapBase: 0x66,
  /** The smallest valid limit (§7.2.2: at least 67H). */
  minLimit: 0x67,
} as const;

/** 16-bit TSS field offsets (SDM Vol. 3A §7.6, figure 7-10). */
export const TSS16 = {
  link: 0x00,
  sp0: 0x02,
  ss0: 0x04,
  sp1: 0x06,
  ss1: 0x08,
  sp2: 0x0a,
  ss2: 0x0c,
  ip: 0x0e,
  flags: 0x10,
  /** AX, CX, DX, BX, SP, BP, SI, DI: 2 bytes each from here. */
  gpr: 0x12,
  /** ES, CS, SS, DS selectors: 2 bytes each from here (no FS, GS). */
  seg: 0x22,
  ldt: 0x2a,
  /** The smallest valid limit (table 6-6: at least 2BH, a 44-byte TSS). */
  minLimit: 0x2b,
} as const;

/** How the task switch was started (SDM Vol. 3A §7.3, table 7-2 for NT and busy rules). */
export type TaskSwitchSource = 'jmp' | 'call' | 'int' | 'iret';

/** A task switch's destination, as validated by the entry checks. */
export interface TaskTarget {
  readonly kind: 'task';
  /** Selector of the new TSS (from the instruction, the task gate, or the back-link). */
  readonly selector: number;
  /** The new TSS descriptor as read from the GDT. */
  readonly descriptor: Descriptor;
  /** The task gate it went through, if any. */
  readonly gate: Gate | null;
}

/** The running task, as the engine holds it. */
export interface CurrentTask {
  /** TR: selector and the cached base and limit of the current TSS; `is32` for types 9/11. */
  readonly tr: {
    readonly selector: number;
    readonly base: number;
    readonly limit: number;
    readonly is32: boolean;
  };
  /** The EIP saved in the old TSS (next instruction; the faulting one for a fault). */
  readonly eip: number;
  readonly eflags: number;
  /** EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI (the TSS order). */
  readonly gpr: readonly number[];
  /** ES, CS, SS, DS, FS, GS selectors (the TSS order). */
  readonly seg: readonly number[];
}

/** One store the engine makes, in order (supervisor writes at linear addresses). */
export interface MemoryWrite {
  readonly linear: number;
  readonly size: 1 | 2 | 4;
  readonly value: number;
  /** What is written, for traces and tests: `old-tss.eax`, `new-tss.link`, `gdt.old-busy`, ... */
  readonly field: string;
}

/**
 * The result of a task switch past its point of no return (§7.3 step 11): everything the engine
 * loads, and `fault`, the exception (if any) raised in the context of the new task while its LDT
 * and segments are qualified (§7.3 step 12: "errors ... occur in the context of the new task").
 */
export interface TaskSwitch {
  /** Stores to make, in order: old-task state, busy bits, the new TSS's back-link. */
  readonly writes: readonly MemoryWrite[];
  /** The new TR: selector and the descriptor with its busy bit set. */
  readonly tr: {
    readonly selector: number;
    readonly base: number;
    readonly limit: number;
    readonly is32: boolean;
    readonly descriptor: Descriptor;
  };
  /** CR3 from a 32-bit TSS; null for a 16-bit TSS (paging structures unchanged, §7.6). */
  readonly cr3: number | null;
  /** LDTR selector and descriptor (null for a null LDT selector; undefined if it faulted). */
  readonly ldt: { readonly selector: number; readonly descriptor: Descriptor | null | undefined };
  readonly eip: number;
  /** EFLAGS as loaded, with NT set for a nested (CALL, INT, exception) switch. */
  readonly eflags: number;
  readonly gpr: readonly number[];
  /** ES, CS, SS, DS, FS, GS selectors as loaded (FS, GS null from a 16-bit TSS). */
  readonly seg: readonly number[];
  /**
   * Descriptors for ES..GS, in the same order: null for a null selector, undefined when not
   * qualified because `fault` came first (the engine marks those registers unusable).
   */
  readonly segments: readonly (Descriptor | null | undefined)[];
  readonly cpl: number;
  /** The new task runs in virtual-8086 mode (EFLAGS.VM from a 32-bit TSS). */
  readonly vm86: boolean;
  /** The T bit of a 32-bit TSS: #DB is raised after the switch (§7.2.1). */
  readonly debugTrap: boolean;
  /** CR0.TS is set by every task switch (§2.5). */
  readonly setsTs: true;
  /** An exception's error code to push on the new task's stack (INT source only). */
  readonly errorCode: { readonly value: number; readonly size: 2 | 4 } | null;
  /** The fault raised in the new task, or null. */
  readonly fault: Fault | null;
}

type Checked<T> = ({ ok: true } & T) | { ok: false; fault: Fault };

function fail(fault: Fault): { ok: false; fault: Fault } {
  return { ok: false, fault };
}

const GPR_FIELDS = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'].map((n) => `old-tss.${n}`);
const SEG_FIELDS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'].map((n) => `old-tss.${n}`);
const NT = 0x4000;
/** The EFLAGS bits that exist (SDM Vol. 1 §3.4.3): reserved bits load as 0, bit 1 as 1. */
const EFLAGS_DEFINED = 0x003f7fd5;
const VM = 0x20000;
const BUSY = 0x200; // type bit 1 in the descriptor's high doubleword

/** Whether a descriptor is a 16- or 32-bit TSS descriptor, available or busy (SDM Vol. 3A §7.2.2). */
export function isTss(d: Descriptor): boolean {
  if (d.codeOrData) return false;
  return (
    d.type === SystemType.tss16Available ||
    d.type === SystemType.tss16Busy ||
    d.type === SystemType.tss32Available ||
    d.type === SystemType.tss32Busy
  );
}
function isBusy(d: Descriptor): boolean {
  return (d.type & 2) !== 0;
}

/** Reads a GDT entry for a TSS selector: undefined when TI = 1 or beyond the GDT limit. */
function readGdt(t: DescriptorTables, selector: number): Descriptor | undefined {
  if (selectorTi(selector) === 1) return undefined;
  return readDescriptor(t, selector);
}

/**
 * Checks a JMP or CALL whose selector names a TSS descriptor or a task gate (SDM Vol. 2A JMP and
 * CALL, "TASK-GATE" and "TASK-STATE-SEGMENT"; Vol. 3A §7.3 step 2): the TSS or gate DPL must be
 * ≥ CPL and ≥ RPL, else #GP(selector); a busy TSS is #GP(TSS selector); a not-present TSS or
 * gate is #NP. Through a gate, a TSS selector in the LDT, beyond the GDT or not naming a TSS is
 * #GP(TSS selector). `d` is the descriptor the selector names.
 */
export function taskEntryFromSelector(
  t: DescriptorTables,
  cpl: number,
  selector: number,
  d: Descriptor,
): Checked<TaskTarget> {
  const ec = selectorErrorCode(selector);
  const rpl = selectorRpl(selector);
  if (d.dpl < cpl || d.dpl < rpl) return fail(gp(ec));
  if (isTss(d)) {
    if (isBusy(d)) return fail(gp(ec));
    if (!d.present) return fail(np(ec));
    return { ok: true, kind: 'task', selector, descriptor: d, gate: null };
  }
  if (d.codeOrData || d.type !== SystemType.taskGate) return fail(gp(ec));
  if (!d.present) return fail(np(ec));
  const gate = parseGate(d.lo, d.hi);
  return tssThroughGate(t, gate, false);
}

/** The TSS a task gate names (JMP/CALL through a gate, INT n / exceptions through the IDT). */
function tssThroughGate(t: DescriptorTables, gate: Gate, external: boolean): Checked<TaskTarget> {
  const tss = gate.selector;
  const ec = selectorErrorCode(tss, external);
  const d = readGdt(t, tss);
  if (d === undefined || isNullSelector(tss) || !isTss(d) || isBusy(d)) return fail(gp(ec));
  if (!d.present) return fail(np(ec));
  return { ok: true, kind: 'task', selector: tss, descriptor: d, gate };
}

/**
 * The TSS named by a task gate in the IDT (SDM Vol. 2A INT n, "TASK-GATE"): the gate's own checks
 * (IDT limit, DPL for software interrupts, present) are the caller's; the TSS selector must be
 * in the GDT and name an available TSS, else #GP(TSS selector + EXT); not present is #NP.
 */
export function taskEntryFromIdt(t: DescriptorTables, gate: Gate, external: boolean): Checked<TaskTarget> {
  return tssThroughGate(t, gate, external);
}

/**
 * IRET with EFLAGS.NT = 1 (SDM Vol. 2A IRET, "TASK-RETURN"; Vol. 3A §7.4): the back-link at
 * offset 0 of the current TSS names the task to return to. TI = 1, beyond the GDT, null, not a
 * TSS or a TSS not marked busy is #TS(back-link); not present is #NP(back-link). In IA-32e mode
 * IRET with NT = 1 is #GP(0) (§7.7).
 */
export function taskReturnTarget(
  t: DescriptorTables,
  tr: { readonly base: number },
  longMode = false,
): Checked<TaskTarget> {
  if (longMode) return fail(gp(0));
  const link = read16(t, tr.base);
  const ec = selectorErrorCode(link);
  const d = readGdt(t, link);
  if (d === undefined || isNullSelector(link) || !isTss(d) || !isBusy(d)) return fail(ts(ec));
  if (!d.present) return fail(np(ec));
  return { ok: true, kind: 'task', selector: link, descriptor: d, gate: null };
}

/** A 16-bit read made of naturally aligned doubleword reads (never crosses a page). */
function read16(t: DescriptorTables, linear: number): number {
  return byteOf(t, linear) | (byteOf(t, linear + 1) << 8);
}
function byteOf(t: DescriptorTables, linear: number): number {
  const a = linear >>> 0;
  return (t.read32((a & ~3) >>> 0) >>> ((a & 3) * 8)) & 0xff;
}

/**
 * Memory as the task switch sees it: the engine's reads with the switch's own earlier writes laid
 * over them, so a new TSS that overlaps the old one (IRET to a back-link naming the current task)
 * reads what was just saved, as the processor's ordered stores and loads would.
 */
class Overlay {
  readonly writes: MemoryWrite[] = [];
  private readonly t: DescriptorTables;
  /** The last aligned doubleword read from the engine (reads of one field share it). */
  private dwordAt = -1;
  private dword = 0;
  constructor(t: DescriptorTables) {
    this.t = t;
  }
  write(linear: number, size: 1 | 2 | 4, value: number, field: string): void {
    const v = size === 4 ? value >>> 0 : value & (size === 2 ? 0xffff : 0xff);
    this.writes.push({ linear: linear >>> 0, size, value: v, field });
  }
  byte(linear: number): number {
    const a = linear >>> 0;
    for (let i = this.writes.length - 1; i >= 0; i--) {
      const w = this.writes[i]!;
      const d = (a - w.linear) >>> 0;
      if (d < w.size) return (w.value >>> (8 * d)) & 0xff;
    }
    const aligned = (a & ~3) >>> 0;
    if (aligned !== this.dwordAt) {
      this.dword = this.t.read32(aligned) >>> 0;
      this.dwordAt = aligned;
    }
    return (this.dword >>> ((a & 3) * 8)) & 0xff;
  }
  read16(linear: number): number {
    return this.byte(linear) | (this.byte(linear + 1) << 8);
  }
  read32(linear: number): number {
    const a = linear >>> 0;
    if ((a & 3) === 0 && !this.overlaps(a, 4)) return this.t.read32(a) >>> 0;
    return (this.read16(a) | (this.read16(a + 2) << 16)) >>> 0;
  }
  private overlaps(a: number, n: number): boolean {
    for (const w of this.writes) if ((w.linear - a) >>> 0 < n || (a - w.linear) >>> 0 < w.size) return true;
    return false;
  }
  /** Descriptor tables read through the overlay, with the LDT given. */
  tables(ldtBase: number, ldtLimit: number): DescriptorTables {
    const t = this.t;
    return {
      gdtBase: t.gdtBase,
      gdtLimit: t.gdtLimit,
      ldtBase,
      ldtLimit,
      idtBase: t.idtBase,
      idtLimit: t.idtLimit,
      read32: (a) => this.read32(a),
    };
  }
}

/** The descriptor a virtual-8086 task's segment register gets (SDM Vol. 3A §20.1.1). */
function vm86Segment(selector: number): Descriptor {
  const [lo, hi] = encodeDescriptor({
    base: (selector & 0xffff) << 4,
    limit: 0xffff,
    type: 3,
    codeOrData: true,
    dpl: 3,
    present: true,
  });
  return parseDescriptor(lo, hi);
}

/**
 * Performs a task switch to `target` (SDM Vol. 3A §7.3, steps 3–13), after the source-specific
 * entry checks (`taskEntryFromSelector`, `taskEntryFromIdt`, `taskReturnTarget`).
 *
 * Before the point of no return (faults in the old task): a TSS selector with TI = 1 or a new
 * TSS limit below 67H (32-bit) or 2BH (16-bit) is #TS(new TSS selector); an old TSS too short
 * for the state saved into it (through GS at 5DH, or DS at 29H for a 16-bit TSS), or, for a
 * JMP or IRET, an old TSS descriptor beyond the GDT limit, is #TS(old TSS selector).
 *
 * Then (table 7-2): JMP and IRET clear the old TSS's busy bit; IRET clears NT in the saved
 * EFLAGS; the old task's EIP, EFLAGS, general registers and segment selectors are saved;
 * CALL and INT write the back-link and set NT in the new EFLAGS; JMP, CALL and INT set the new
 * TSS's busy bit. The new task's LDT, CS, SS, ES, DS, FS and GS are qualified in that order
 * (table 7-1), each failure being the fault `fault` of the new task: LDT invalid or not present
 * #TS(LDT); CS null, beyond its table, not code, with DPL ≠ RPL (non-conforming) or DPL > RPL
 * (conforming) #TS(CS), not present #NP(CS); SS null, beyond, RPL or DPL ≠ CPL, not writable
 * data #TS(SS), not present #SS(SS); a data register beyond, not data or readable code, or with
 * RPL or CPL > DPL (data, non-conforming code) #TS(selector), not present #NP(selector);
 * finally EIP beyond the CS limit is #GP(0). `external` sets EXT in these error codes.
 *
 * Loading a 16-bit TSS gives zero-extended EIP, EFLAGS and general registers (the upper halves
 * are left undefined by §7.6), and null FS and GS.
 */
export function taskSwitch(
  t: DescriptorTables,
  source: TaskSwitchSource,
  current: CurrentTask,
  target: TaskTarget,
  opts: { external?: boolean; errorCode?: number } = {},
): Checked<TaskSwitch> {
  const ext = opts.external === true;
  const sel = target.selector & 0xffff;
  const nd = target.descriptor;
  if (!isTss(nd) || selectorTi(sel) === 1 || isNullSelector(sel))
    return fail(ts(selectorErrorCode(sel, ext)));
  const is32 = (nd.type & 8) !== 0;
  if (nd.limit < (is32 ? TSS32.minLimit : TSS16.minLimit)) return fail(ts(selectorErrorCode(sel, ext)));

  const mem = new Overlay(t);
  const oldSel = current.tr.selector & 0xffff;
  // Stores to the old TSS beyond its limit are a fault condition (table 6-6): #TS(old TSS).
  if (current.tr.limit < (current.tr.is32 ? TSS32.seg + 4 * 5 + 1 : TSS16.seg + 2 * 3 + 1))
    return fail(ts(selectorErrorCode(oldSel, ext)));
  if (source === 'jmp' || source === 'iret') {
    const od = readGdt(t, oldSel);
    if (od === undefined) return fail(ts(selectorErrorCode(oldSel, ext)));
    mem.write(t.gdtBase + (oldSel & 0xfff8) + 4, 4, od.hi & ~BUSY, 'gdt.old-busy');
  }

  // Save the old task's dynamic fields (§7.2.1).
  const savedFlags = source === 'iret' ? current.eflags & ~NT : current.eflags;
  const ob = current.tr.base >>> 0;
  const names = GPR_FIELDS;
  const segNames = SEG_FIELDS;
  if (current.tr.is32) {
    mem.write(ob + TSS32.eip, 4, current.eip, 'old-tss.eip');
    mem.write(ob + TSS32.eflags, 4, savedFlags, 'old-tss.eflags');
    for (let i = 0; i < 8; i++) mem.write(ob + TSS32.gpr + 4 * i, 4, current.gpr[i] ?? 0, names[i] ?? '');
    for (let i = 0; i < 6; i++) mem.write(ob + TSS32.seg + 4 * i, 2, current.seg[i] ?? 0, segNames[i] ?? '');
  } else {
    mem.write(ob + TSS16.ip, 2, current.eip, 'old-tss.ip');
    mem.write(ob + TSS16.flags, 2, savedFlags, 'old-tss.flags');
    for (let i = 0; i < 8; i++) mem.write(ob + TSS16.gpr + 2 * i, 2, current.gpr[i] ?? 0, names[i] ?? '');
    for (let i = 0; i < 4; i++) mem.write(ob + TSS16.seg + 2 * i, 2, current.seg[i] ?? 0, segNames[i] ?? '');
  }

  const nb = nd.base >>> 0;
  const nested = source === 'call' || source === 'int';
  if (nested) mem.write(nb + TSS16.link, 2, oldSel, 'new-tss.link');
  let newHi = nd.hi;
  if (source !== 'iret') {
    newHi = (nd.hi | BUSY) >>> 0;
    mem.write(t.gdtBase + (sel & 0xfff8) + 4, 4, newHi, 'gdt.new-busy');
  }
  const trDescriptor = parseDescriptor(nd.lo, newHi);

  // Read the new task's state (after the stores above, §7.3 steps 8–12).
  const gpr: number[] = [];
  const seg: number[] = [];
  let eip: number;
  let eflags: number;
  let cr3: number | null = null;
  let ldtSel: number;
  let debugTrap = false;
  if (is32) {
    cr3 = mem.read32(nb + TSS32.cr3);
    eip = mem.read32(nb + TSS32.eip);
    eflags = mem.read32(nb + TSS32.eflags);
    for (let i = 0; i < 8; i++) gpr.push(mem.read32(nb + TSS32.gpr + 4 * i));
    for (let i = 0; i < 6; i++) seg.push(mem.read16(nb + TSS32.seg + 4 * i));
    ldtSel = mem.read16(nb + TSS32.ldt);
    debugTrap = (mem.byte(nb + TSS32.trap) & 1) === 1;
  } else {
    eip = mem.read16(nb + TSS16.ip);
    eflags = mem.read16(nb + TSS16.flags);
    for (let i = 0; i < 8; i++) gpr.push(mem.read16(nb + TSS16.gpr + 2 * i));
    for (let i = 0; i < 4; i++) seg.push(mem.read16(nb + TSS16.seg + 2 * i));
    seg.push(0, 0);
    ldtSel = mem.read16(nb + TSS16.ldt);
  }
  if (nested) eflags |= NT;
  eflags = ((eflags & EFLAGS_DEFINED) | 2) >>> 0;
  const vm86 = is32 && (eflags & VM) !== 0;

  const segments: (Descriptor | null | undefined)[] = [
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
  ];
  const base = {
    writes: mem.writes,
    tr: { selector: sel, base: nb, limit: nd.limit, is32, descriptor: trDescriptor },
    cr3,
    eip,
    eflags,
    gpr,
    seg,
    segments,
    setsTs: true as const,
    debugTrap,
  };
  const after = (
    cpl: number,
    ldt: Descriptor | null | undefined,
    fault: Fault | null,
  ): { ok: true } & TaskSwitch => ({
    ok: true,
    ...base,
    ldt: { selector: ldtSel, descriptor: ldt },
    cpl,
    vm86,
    errorCode:
      fault === null && source === 'int' && opts.errorCode !== undefined
        ? { value: opts.errorCode & (is32 ? 0xffffffff : 0xffff), size: is32 ? 4 : 2 }
        : null,
    fault,
  });

  // The LDT (table 7-1: valid and present, else #TS(LDT selector)).
  let ldt: Descriptor | null = null;
  let nt = mem.tables(0, -1);
  if (!isNullSelector(ldtSel)) {
    const d = readGdt(nt, ldtSel);
    if (d === undefined || d.codeOrData || d.type !== SystemType.ldt || !d.present)
      return after(vm86 ? 3 : selectorRpl(seg[1] ?? 0), undefined, ts(selectorErrorCode(ldtSel, ext)));
    ldt = d;
    nt = mem.tables(d.base, d.limit);
  }

  if (vm86) {
    for (let i = 0; i < 6; i++) segments[i] = vm86Segment(seg[i] ?? 0);
    const f = (eip & 0xffff) !== eip ? gp(ext ? 1 : 0) : null;
    return after(3, ldt, f);
  }

  const cs = seg[1] ?? 0;
  const cpl = selectorRpl(cs);
  // CS (table 6-6 "code segment selector index" rows).
  {
    const ec = selectorErrorCode(cs, ext);
    if (isNullSelector(cs)) return after(cpl, ldt, ts(ec));
    const d = readDescriptor(nt, cs);
    if (d === undefined || !d.isCode) return after(cpl, ldt, ts(ec));
    if (d.conforming ? d.dpl > cpl : d.dpl !== cpl) return after(cpl, ldt, ts(ec));
    if (!d.present) return after(cpl, ldt, np(ec));
    segments[1] = d;
  }
  // SS.
  {
    const s = seg[2] ?? 0;
    const ec = selectorErrorCode(s, ext);
    if (isNullSelector(s)) return after(cpl, ldt, ts(ec));
    const d = readDescriptor(nt, s);
    if (d === undefined || selectorRpl(s) !== cpl || !d.writable || d.dpl !== cpl)
      return after(cpl, ldt, ts(ec));
    if (!d.present) return after(cpl, ldt, ss(ec));
    segments[2] = d;
  }
  // ES, DS, FS, GS.
  for (const i of [0, 3, 4, 5]) {
    const s = seg[i] ?? 0;
    if (isNullSelector(s)) {
      segments[i] = null;
      continue;
    }
    const ec = selectorErrorCode(s, ext);
    const d = readDescriptor(nt, s);
    if (d === undefined || !(d.isData || (d.isCode && d.readable))) return after(cpl, ldt, ts(ec));
    if ((d.isData || !d.conforming) && (selectorRpl(s) > d.dpl || cpl > d.dpl))
      return after(cpl, ldt, ts(ec));
    if (!d.present) return after(cpl, ldt, np(ec));
    segments[i] = d;
  }
  const code = segments[1];
  if (code && eip > code.limit) return after(cpl, ldt, gp(ext ? 1 : 0));
  return after(cpl, ldt, null);
}
