import {
  type CurrentTask,
  type Descriptor,
  type TaskSwitchSource,
  type TaskTarget,
  taskSwitch,
} from '@ringzero/rings';
import { Seg } from './cpu-state';
import { FAULT, raise } from './fault';
import type { Tier0 } from './tier0';

/** DR6.BT: the #DB was raised by a switch to a task whose TSS has T = 1 (SDM Vol. 3A §17.2.3). */
const DR6_BT = 0x8000;
/** CR0.TS: set by every task switch (SDM Vol. 3A §2.5), so the next x87/MMX instruction raises #NM. */
const CR0_TS = 0x8;
/** The accessed bit of a code or data descriptor's type field, in its high doubleword. */
const ACCESSED = 0x100;

/** Options of an `'int'` switch (an exception or interrupt through a task gate). */
export interface TaskSwitchOptions {
  /** The event is external to the program (an exception or a hardware interrupt): EXT in error codes. */
  readonly external?: boolean;
  /** The exception's error code, pushed on the new task's stack once the switch is done. */
  readonly errorCode?: number;
}

/** A segment register cache's `access` (descriptor bytes 5–6) from a descriptor's high doubleword. */
function accessOf(hi: number): number {
  return ((hi >>> 8) & 0xff) | ((hi >>> 8) & 0xf000);
}

/** Loads a segment register of the new task from its qualified descriptor (null: an unusable register). */
function loadQualified(c: Tier0, seg: number, selector: number, d: Descriptor | null | undefined): void {
  const s = c.state;
  if (d === null || d === undefined) {
    // A null selector, or one not qualified because an earlier check faulted in the new task.
    s.segSel[seg] = selector;
    s.segBase[seg] = 0;
    s.segLimit[seg] = 0;
    s.segAccess[seg] = 0;
    return;
  }
  c.desc[0] = d.lo | 0;
  c.desc[1] = d.hi | 0;
  c.installSegment(seg, selector);
}

/** Sets the accessed bit of every descriptor the switch loaded into a segment register (§3.4.5.1). */
function markAccessed(
  c: Tier0,
  seg: readonly number[],
  segments: readonly (Descriptor | null | undefined)[],
) {
  const s = c.state;
  for (let i = 0; i < 6; i++) {
    const d = segments[i];
    if (d === null || d === undefined || (d.hi & ACCESSED) !== 0) continue;
    const sel = seg[i] ?? 0;
    const table = sel & 4 ? s.ldtr.base : s.gdtrBase;
    c.mmu.write32((table + (sel & 0xfff8) + 4) | 0, d.hi | ACCESSED, false);
  }
}

/**
 * Performs a hardware task switch (SDM Vol. 3A §7.3) on tier 0's state, following the plan of
 * `@ringzero/rings`' `taskSwitch`. `target` comes from the source's entry check
 * (`farTransferOrTask`, `interruptTargetOrTask` or `taskReturnTarget`); `eip` is the EIP saved
 * in the old task (the next instruction for JMP, CALL, IRET and INT n; the faulting one for a
 * fault).
 *
 * Faults before the commit point are raised as ordinary faults, in the old task: the plan's own
 * (#TS for the new or old TSS), a #PF while the plan reads the GDT or either TSS, and a #PF on
 * any of its stores, which are all probed before the first is made (§7.2.1 asks for the first
 * 104 bytes of a TSS to be present and contiguous). Past the commit point the stores are made
 * and the new task's TR, CR0.TS, CR3 (with a TLB flush), LDTR, EFLAGS, EIP, general registers
 * and segment registers are loaded; a fault from then on — the plan's new-task fault (table
 * 7-1), a #PF setting an accessed bit or pushing the error code — belongs to the new task: it is
 * raised with `Tier0.faultInNewTask` set, so it is delivered with the new task's EIP. A TSS with
 * T = 1 leaves a #DB pending (`Tier0.deliverTaskTrap`).
 */
export function switchTask(
  c: Tier0,
  source: TaskSwitchSource,
  target: TaskTarget,
  eip: number,
  opts: TaskSwitchOptions = {},
): void {
  const s = c.state;
  const current: CurrentTask = {
    tr: {
      selector: s.tr.selector,
      base: s.tr.base >>> 0,
      limit: s.tr.limit >>> 0,
      is32: (s.tr.access & 0x08) !== 0,
    },
    eip: eip >>> 0,
    eflags: s.getFlags(),
    gpr: Array.from(s.regs, (v) => v >>> 0),
    seg: Array.from(s.segSel),
  };
  const plan = taskSwitch(c.tables, source, current, target, opts);
  if (!plan.ok) raise(plan.fault.vector, plan.fault.errorCode);
  const mmu = c.mmu;
  for (const w of plan.writes) mmu.probeWrite(w.linear | 0, w.size, false);

  // The commit point: nothing below may fault in the old task.
  for (const w of plan.writes) {
    if (w.size === 4) mmu.write32(w.linear | 0, w.value | 0, false);
    else if (w.size === 2) mmu.write16(w.linear | 0, w.value, false);
    else mmu.write8(w.linear | 0, w.value, false);
  }
  const tr = plan.tr;
  s.tr.selector = tr.selector;
  s.tr.base = tr.base >>> 0;
  s.tr.limit = tr.limit >>> 0;
  s.tr.access = accessOf(tr.descriptor.hi);
  s.cr0 |= CR0_TS;
  if (plan.cr3 !== null) {
    s.cr3 = plan.cr3 | 0;
    mmu.flush();
  }
  const ldt = plan.ldt.descriptor;
  s.ldtr.selector = plan.ldt.selector;
  if (ldt === null || ldt === undefined) {
    s.ldtr.base = 0;
    s.ldtr.limit = 0;
    s.ldtr.access = 0;
  } else {
    s.ldtr.base = ldt.base >>> 0;
    s.ldtr.limit = ldt.limit >>> 0;
    s.ldtr.access = accessOf(ldt.hi);
  }
  s.setFlags(plan.eflags);
  s.eip = plan.eip | 0;
  for (let i = 0; i < 8; i++) s.regs[i] = plan.gpr[i] ?? 0;
  s.cpl = plan.cpl;
  s.interruptShadow = false;
  if (plan.vm86) {
    // Virtual-8086 segments: base = selector × 16, 64 KiB limit (SDM Vol. 3A §20.1.1).
    for (let i = 0; i < 6; i++) {
      const sel = plan.seg[i] ?? 0;
      s.segSel[i] = sel;
      s.segBase[i] = sel << 4;
      s.segLimit[i] = 0xffff;
      s.segAccess[i] = i === Seg.cs ? 0xfb : 0xf3;
    }
  } else {
    for (let i = 0; i < 6; i++) loadQualified(c, i, plan.seg[i] ?? 0, plan.segments[i]);
  }

  try {
    if (!plan.vm86) markAccessed(c, plan.seg, plan.segments);
    if (plan.fault !== null) raise(plan.fault.vector, plan.fault.errorCode);
    if (plan.errorCode !== null) c.push(plan.errorCode.value, plan.errorCode.size * 8);
  } catch (e) {
    if (e === FAULT) c.faultInNewTask = true;
    throw e;
  }
  if (plan.debugTrap) {
    s.dr[6] = (s.dr[6] ?? 0) | DR6_BT;
    c.pendingTaskTrap = true;
  }
}
