import { describe, expect, it } from 'vitest';
import { farTransferOrTask, interruptTargetOrTask } from './checks';
import {
  type DescriptorTables,
  encodeDescriptor,
  encodeGate,
  makeSelector,
  parseDescriptor,
  SystemType,
} from './descriptors';
import { farTransfer64 } from './long-mode';
import {
  type CurrentTask,
  type MemoryWrite,
  type TaskTarget,
  TSS16,
  TSS32,
  taskReturnTarget,
  taskSwitch,
} from './task-switch';

/** A little-endian byte memory read through the `DescriptorTables` interface. */
class Memory {
  readonly bytes = new Uint8Array(0x10000);
  read32(a: number): number {
    const b = this.bytes;
    const i = a & 0xffff;
    return ((b[i] ?? 0) | ((b[i + 1] ?? 0) << 8) | ((b[i + 2] ?? 0) << 16) | ((b[i + 3] ?? 0) << 24)) >>> 0;
  }
  write(a: number, size: number, v: number): void {
    for (let i = 0; i < size; i++) this.bytes[(a + i) & 0xffff] = (v >>> (8 * i)) & 0xff;
  }
  apply(writes: readonly MemoryWrite[]): void {
    for (const w of writes) this.write(w.linear, w.size, w.value);
  }
  put(base: number, index: number, [lo, hi]: [number, number]): void {
    this.write(base + index * 8, 4, lo);
    this.write(base + index * 8 + 4, 4, hi);
  }
}

const GDT = 0x1000;
const IDT = 0x2000;
const TSS_A = 0x3000; // current task (32-bit, busy)
const TSS_B = 0x3100; // 32-bit, available
const TSS_C = 0x3200; // 16-bit, available
const LDT = 0x4000;
const sel = (i: number, rpl = 0) => makeSelector(i, 0, rpl);

function seg(type: number, dpl: number, opts: { present?: boolean; limit?: number; base?: number } = {}) {
  return encodeDescriptor({
    base: opts.base ?? 0,
    limit: opts.limit ?? 0xfffff,
    type,
    codeOrData: true,
    dpl,
    present: opts.present ?? true,
    big: true,
    granularity: opts.limit === undefined,
  });
}
function sys(type: number, base: number, limit: number, dpl = 0, present = true) {
  return encodeDescriptor({ base, limit, type, codeOrData: false, dpl, present });
}

function machine() {
  const m = new Memory();
  m.put(GDT, 1, seg(0xb, 0)); // 0x08 ring-0 code
  m.put(GDT, 2, seg(0x3, 0)); // 0x10 ring-0 data
  m.put(GDT, 3, seg(0xb, 3)); // 0x18 ring-3 code
  m.put(GDT, 4, seg(0x3, 3)); // 0x20 ring-3 data
  m.put(GDT, 5, sys(SystemType.tss32Busy, TSS_A, 0x67)); // 0x28 current task
  m.put(GDT, 6, sys(SystemType.tss32Available, TSS_B, 0x67, 3)); // 0x30
  m.put(GDT, 7, encodeGate({ type: SystemType.taskGate, selector: 0x30, offset: 0, dpl: 3, present: true })); // 0x38
  m.put(GDT, 8, sys(SystemType.tss16Available, TSS_C, 0x2b)); // 0x40
  m.put(GDT, 9, sys(SystemType.ldt, LDT, 0x0f)); // 0x48
  m.put(GDT, 10, sys(SystemType.tss32Available, 0x3300, 0x50)); // 0x50: limit below 67H
  m.put(GDT, 11, sys(SystemType.tss32Available, 0x3400, 0x67, 0, false)); // 0x58 not present
  m.put(GDT, 12, encodeGate({ type: SystemType.taskGate, selector: 0x30, offset: 0, dpl: 0, present: true })); // 0x60
  m.put(GDT, 13, seg(0xb, 0, { present: false })); // 0x68 not-present code
  m.put(GDT, 14, seg(0x3, 0, { present: false })); // 0x70 not-present data
  m.put(GDT, 15, seg(0xb, 0, { limit: 0xfff })); // 0x78 small code segment
  m.put(GDT, 16, encodeGate({ type: SystemType.taskGate, selector: 0x4c, offset: 0, dpl: 3, present: true })); // 0x80: TSS selector in the LDT
  m.put(LDT, 1, seg(0x3, 0)); // LDT 0x0c: ring-0 data
  // IDT: #DF and INT 40h through task gates to TSS B, 41h to the busy current TSS.
  m.put(IDT, 8, encodeGate({ type: SystemType.taskGate, selector: 0x30, offset: 0, dpl: 0, present: true }));
  m.put(
    IDT,
    0x40,
    encodeGate({ type: SystemType.taskGate, selector: 0x30, offset: 0, dpl: 3, present: true }),
  );
  m.put(
    IDT,
    0x41,
    encodeGate({ type: SystemType.taskGate, selector: 0x28, offset: 0, dpl: 3, present: true }),
  );
  m.put(
    IDT,
    0x42,
    encodeGate({ type: SystemType.taskGate, selector: 0x30, offset: 0, dpl: 3, present: false }),
  );
  // TSS B: a ring-0 task with its own page directory and the LDT.
  m.write(TSS_B + TSS32.cr3, 4, 0x9000);
  m.write(TSS_B + TSS32.eip, 4, 0xc0001000);
  m.write(TSS_B + TSS32.eflags, 4, 0x00000002);
  for (let i = 0; i < 8; i++) m.write(TSS_B + TSS32.gpr + 4 * i, 4, 0x1000 + i);
  const segsB = [0x10, 0x08, 0x10, 0x0c, 0, 0x10];
  for (let i = 0; i < 6; i++) m.write(TSS_B + TSS32.seg + 4 * i, 2, segsB[i] ?? 0);
  m.write(TSS_B + TSS32.ldt, 2, 0x48);
  // TSS C: a 16-bit ring-0 task.
  m.write(TSS_C + TSS16.ip, 2, 0x1234);
  m.write(TSS_C + TSS16.flags, 2, 0x0046);
  for (let i = 0; i < 8; i++) m.write(TSS_C + TSS16.gpr + 2 * i, 2, 0x20 + i);
  const segsC = [0x10, 0x08, 0x10, 0x10];
  for (let i = 0; i < 4; i++) m.write(TSS_C + TSS16.seg + 2 * i, 2, segsC[i] ?? 0);
  const t: DescriptorTables = {
    gdtBase: GDT,
    gdtLimit: 17 * 8 - 1,
    ldtBase: 0,
    ldtLimit: -1,
    idtBase: IDT,
    idtLimit: 0x100 * 8 - 1,
    read32: (a) => m.read32(a),
  };
  return { m, t };
}

/** The current task: ring 3 in task A. */
const current: CurrentTask = {
  tr: { selector: 0x28, base: TSS_A, limit: 0x67, is32: true },
  eip: 0x08048010,
  eflags: 0x00000202,
  gpr: [1, 2, 3, 4, 0xbffff000, 6, 7, 8],
  seg: [0x23, 0x1b, 0x23, 0x23, 0x23, 0x23],
};

const typeOf = (m: Memory, index: number) =>
  parseDescriptor(m.read32(GDT + index * 8), m.read32(GDT + index * 8 + 4)).type;

function target(t: DescriptorTables, cpl: number, selector: number, kind: 'jmp' | 'call'): TaskTarget {
  const r = farTransferOrTask(t, cpl, selector, 0, kind);
  if (!r.ok || r.kind !== 'task') throw new Error(`expected a task target: ${JSON.stringify(r)}`);
  return r;
}

describe('JMP and CALL to a TSS or task gate (SDM Vol. 3A §7.3, Vol. 2A JMP/CALL)', () => {
  it('JMP to an available TSS saves the old task, moves the busy bit and loads the new task', () => {
    const { m, t } = machine();
    const r = taskSwitch(t, 'jmp', current, target(t, 0, 0x30, 'jmp'));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.writes.map((w) => w.field)).toEqual([
      'gdt.old-busy',
      'old-tss.eip',
      'old-tss.eflags',
      'old-tss.eax',
      'old-tss.ecx',
      'old-tss.edx',
      'old-tss.ebx',
      'old-tss.esp',
      'old-tss.ebp',
      'old-tss.esi',
      'old-tss.edi',
      'old-tss.es',
      'old-tss.cs',
      'old-tss.ss',
      'old-tss.ds',
      'old-tss.fs',
      'old-tss.gs',
      'gdt.new-busy',
    ]);
    m.apply(r.writes);
    expect(typeOf(m, 5)).toBe(SystemType.tss32Available);
    expect(typeOf(m, 6)).toBe(SystemType.tss32Busy);
    expect(m.read32(TSS_A + TSS32.eip)).toBe(0x08048010);
    expect(m.read32(TSS_A + TSS32.gpr + 16)).toBe(0xbffff000);
    expect(m.read32(TSS_A + TSS32.seg + 4) & 0xffff).toBe(0x1b);
    expect(r).toMatchObject({
      cr3: 0x9000,
      eip: 0xc0001000,
      eflags: 0x2,
      cpl: 0,
      gpr: [0x1000, 0x1001, 0x1002, 0x1003, 0x1004, 0x1005, 0x1006, 0x1007],
      seg: [0x10, 0x08, 0x10, 0x0c, 0, 0x10],
      tr: { selector: 0x30, base: TSS_B, limit: 0x67, is32: true },
      ldt: { selector: 0x48 },
      setsTs: true,
      fault: null,
      errorCode: null,
    });
    expect(r.tr.descriptor.type).toBe(SystemType.tss32Busy);
    expect(r.ldt.descriptor?.base).toBe(LDT);
    // DS = 0x0c is read from the new task's LDT; FS is null.
    expect(r.segments[3]?.dpl).toBe(0);
    expect(r.segments[4]).toBeNull();
  });

  it('CALL through a task gate nests: back-link written, NT set, the old TSS stays busy', () => {
    const { m, t } = machine();
    const tt = target(t, 3, sel(7, 3), 'call');
    expect(tt.gate?.type).toBe(SystemType.taskGate);
    const r = taskSwitch(t, 'call', current, tt);
    if (!r.ok) throw new Error('switch failed');
    expect(r.writes.some((w) => w.field === 'gdt.old-busy')).toBe(false);
    expect(r.writes.find((w) => w.field === 'new-tss.link')).toMatchObject({
      linear: TSS_B,
      size: 2,
      value: 0x28,
    });
    expect(r.eflags & 0x4000).toBe(0x4000);
    m.apply(r.writes);
    expect(typeOf(m, 5)).toBe(SystemType.tss32Busy);
    expect(typeOf(m, 6)).toBe(SystemType.tss32Busy);
  });

  it('the gate or TSS DPL must be ≥ CPL and RPL: #GP(selector)', () => {
    const { t } = machine();
    expect(farTransferOrTask(t, 3, sel(12, 3), 0, 'call')).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0x60 },
    });
    expect(farTransferOrTask(t, 3, sel(8, 3), 0, 'jmp')).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0x40 },
    });
    expect(farTransferOrTask(t, 0, sel(8, 3), 0, 'jmp')).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0x40 },
    });
  });

  it('a busy TSS is #GP(TSS selector), directly or through a gate; not present is #NP(selector)', () => {
    const { t } = machine();
    expect(farTransferOrTask(t, 0, 0x28, 0, 'jmp')).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0x28 },
    });
    expect(farTransferOrTask(t, 0, 0x58, 0, 'call')).toEqual({
      ok: false,
      fault: { vector: 11, errorCode: 0x58 },
    });
  });

  it('a task gate whose TSS selector points into the LDT is #GP(TSS selector)', () => {
    const { t } = machine();
    expect(farTransferOrTask(t, 3, sel(16, 3), 0, 'jmp')).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0x4c },
    });
  });

  it('a TSS limit below 67H is #TS(new TSS selector) before anything is written', () => {
    const { t } = machine();
    expect(taskSwitch(t, 'jmp', current, target(t, 0, 0x50, 'jmp'))).toEqual({
      ok: false,
      fault: { vector: 10, errorCode: 0x50 },
    });
  });

  it('an old TSS too short to hold the saved state is #TS(old TSS selector) before anything is written', () => {
    const { t } = machine();
    const short: CurrentTask = { ...current, tr: { ...current.tr, limit: 0x5c } };
    expect(taskSwitch(t, 'jmp', short, target(t, 0, 0x30, 'jmp'))).toEqual({
      ok: false,
      fault: { vector: 10, errorCode: 0x28 },
    });
  });

  it('reserved EFLAGS bits in the new TSS load as their fixed values', () => {
    const { m, t } = machine();
    m.write(TSS_B + TSS32.eflags, 4, 0xffc08028);
    expect(taskSwitch(t, 'jmp', current, target(t, 0, 0x30, 'jmp'))).toMatchObject({ eflags: 0x2 });
  });

  it('code segments and call gates still resolve as segment transfers', () => {
    const { t } = machine();
    expect(farTransferOrTask(t, 0, 0x08, 0x100, 'jmp')).toMatchObject({
      ok: true,
      kind: 'segment',
      newCpl: 0,
    });
  });

  it('in IA-32e mode a TSS or task-gate target is #GP(selector) (§7.7)', () => {
    const { t } = machine();
    const tss = { selector: 0x28, limit: 0x67, read32: () => 0 };
    expect(farTransfer64(t, 0, 0x30, 0n, 'jmp', tss)).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0x30 },
    });
    expect(farTransfer64(t, 3, sel(7, 3), 0n, 'call', tss)).toMatchObject({
      fault: { vector: 13, errorCode: 0x38 },
    });
  });
});

describe('interrupts and exceptions through a task gate (SDM Vol. 3A §6.12.2, Vol. 2A INT n)', () => {
  it('a double fault through a task gate nests and pushes its error code on the new stack', () => {
    const { t } = machine();
    const r = interruptTargetOrTask(t, 3, 8, { software: false, external: true });
    if (!r.ok || r.kind !== 'task') throw new Error('expected a task gate');
    const s = taskSwitch(t, 'int', current, r, { external: true, errorCode: 0 });
    expect(s).toMatchObject({ ok: true, errorCode: { value: 0, size: 4 }, fault: null, cpl: 0 });
    if (s.ok) expect(s.eflags & 0x4000).toBe(0x4000);
  });

  it('INT n through a DPL-3 task gate works from ring 3; the DPL-0 #DF gate is #GP(vector*8+2)', () => {
    const { t } = machine();
    expect(interruptTargetOrTask(t, 3, 0x40, { software: true, external: false })).toMatchObject({
      ok: true,
      kind: 'task',
      selector: 0x30,
    });
    expect(interruptTargetOrTask(t, 3, 8, { software: true, external: false })).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 8 * 8 + 2 },
    });
  });

  it('a task gate naming a busy TSS is #GP(TSS selector + EXT); a not-present gate is #NP(IDT entry)', () => {
    const { t } = machine();
    expect(interruptTargetOrTask(t, 0, 0x41, { software: false, external: true })).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0x29 },
    });
    expect(interruptTargetOrTask(t, 0, 0x42, { software: false, external: true })).toEqual({
      ok: false,
      fault: { vector: 11, errorCode: 0x42 * 8 + 3 },
    });
  });

  it('interrupt and trap gates still resolve as gates', () => {
    const { m, t } = machine();
    m.put(
      IDT,
      0x30,
      encodeGate({ type: SystemType.trapGate32, selector: 0x08, offset: 0x10, dpl: 3, present: true }),
    );
    expect(interruptTargetOrTask(t, 3, 0x30, { software: true, external: false })).toMatchObject({
      ok: true,
      kind: 'gate',
      stackSwitch: true,
    });
  });
});

describe('IRET with NT = 1 (SDM Vol. 2A IRET "TASK-RETURN", Vol. 3A §7.4)', () => {
  it('returns to the back-linked task: the returning task is marked not busy and its NT cleared', () => {
    const { m, t } = machine();
    const call = taskSwitch(t, 'call', current, target(t, 3, sel(7, 3), 'call'));
    if (!call.ok) throw new Error('call failed');
    m.apply(call.writes);
    // Now task B runs; it returns with IRET.
    const inB: CurrentTask = {
      tr: { selector: 0x30, base: TSS_B, limit: 0x67, is32: true },
      eip: 0xc0001100,
      eflags: call.eflags,
      gpr: call.gpr,
      seg: call.seg,
    };
    const back = taskReturnTarget(t, inB.tr);
    expect(back).toMatchObject({ ok: true, selector: 0x28 });
    if (!back.ok) return;
    const r = taskSwitch(t, 'iret', inB, back);
    if (!r.ok) throw new Error('iret failed');
    expect(r.writes.some((w) => w.field === 'gdt.new-busy' || w.field === 'new-tss.link')).toBe(false);
    m.apply(r.writes);
    expect(typeOf(m, 6)).toBe(SystemType.tss32Available);
    expect(typeOf(m, 5)).toBe(SystemType.tss32Busy);
    expect(m.read32(TSS_B + TSS32.eflags) & 0x4000).toBe(0);
    expect(r).toMatchObject({
      eip: 0x08048010,
      eflags: 0x202,
      cpl: 3,
      seg: current.seg,
      gpr: current.gpr,
      fault: null,
    });
  });

  it('a back-link naming an available TSS or a null selector is #TS(back-link); not present is #NP', () => {
    const { m, t } = machine();
    m.write(TSS_A + TSS32.link, 2, 0x30);
    expect(taskReturnTarget(t, { base: TSS_A })).toEqual({
      ok: false,
      fault: { vector: 10, errorCode: 0x30 },
    });
    m.write(TSS_A + TSS32.link, 2, 0);
    expect(taskReturnTarget(t, { base: TSS_A })).toEqual({ ok: false, fault: { vector: 10, errorCode: 0 } });
    m.write(TSS_A + TSS32.link, 2, 0x4c);
    expect(taskReturnTarget(t, { base: TSS_A })).toEqual({
      ok: false,
      fault: { vector: 10, errorCode: 0x4c },
    });
    m.put(GDT, 11, sys(SystemType.tss32Busy, 0x3400, 0x67, 0, false));
    m.write(TSS_A + TSS32.link, 2, 0x58);
    expect(taskReturnTarget(t, { base: TSS_A })).toEqual({
      ok: false,
      fault: { vector: 11, errorCode: 0x58 },
    });
  });

  it('in IA-32e mode IRET with NT = 1 is #GP(0) (§7.7)', () => {
    const { t } = machine();
    expect(taskReturnTarget(t, { base: TSS_A }, true)).toEqual({
      ok: false,
      fault: { vector: 13, errorCode: 0 },
    });
  });

  it('an IRET whose back-link names the current task reloads the state it has just saved', () => {
    const { m, t } = machine();
    m.write(TSS_A + TSS32.link, 2, 0x28);
    const back = taskReturnTarget(t, current.tr);
    if (!back.ok) throw new Error('expected the current task');
    const r = taskSwitch(t, 'iret', { ...current, eflags: 0x4202 }, back);
    expect(r).toMatchObject({
      ok: true,
      eip: current.eip,
      eflags: 0x202,
      gpr: current.gpr,
      seg: current.seg,
    });
  });
});

describe('faults in the new task (SDM Vol. 3A §7.3 step 12, table 7-1, table 6-6)', () => {
  /** Task B with one TSS field changed. */
  function switchWith(field: number, size: number, value: number, external = false) {
    const { m, t } = machine();
    m.write(TSS_B + field, size, value);
    return taskSwitch(t, 'jmp', current, target(t, 0, 0x30, 'jmp'), { external });
  }
  it('an invalid LDT selector is #TS(LDT selector) after the switch (the writes still happen)', () => {
    const r = switchWith(TSS32.ldt, 2, 0x10);
    expect(r).toMatchObject({ ok: true, fault: { vector: 10, errorCode: 0x10 }, ldt: { selector: 0x10 } });
    if (r.ok) expect(r.writes.length).toBe(18);
  });
  it('CS whose DPL is not its RPL is #TS(CS); a not-present CS is #NP(CS)', () => {
    expect(switchWith(TSS32.seg + 4, 2, 0x0b)).toMatchObject({ fault: { vector: 10, errorCode: 0x08 } });
    expect(switchWith(TSS32.seg + 4, 2, 0x68)).toMatchObject({ fault: { vector: 11, errorCode: 0x68 } });
    expect(switchWith(TSS32.seg + 4, 2, 0)).toMatchObject({ fault: { vector: 10, errorCode: 0 } });
    expect(switchWith(TSS32.seg + 4, 2, 0x10)).toMatchObject({ fault: { vector: 10, errorCode: 0x10 } });
  });
  it('SS with DPL ≠ CPL is #TS(SS); a not-present SS is #SS(SS); EXT is set for external events', () => {
    expect(switchWith(TSS32.seg + 8, 2, 0x23)).toMatchObject({ fault: { vector: 10, errorCode: 0x20 } });
    expect(switchWith(TSS32.seg + 8, 2, 0x70)).toMatchObject({ fault: { vector: 12, errorCode: 0x70 } });
    expect(switchWith(TSS32.seg + 8, 2, 0x70, true)).toMatchObject({
      fault: { vector: 12, errorCode: 0x71 },
    });
  });
  it('a data segment that is execute-only code is #TS; not present is #NP; the segments before it are loaded', () => {
    const r = switchWith(TSS32.seg + 20, 2, 0x70);
    expect(r).toMatchObject({ fault: { vector: 11, errorCode: 0x70 } });
    if (r.ok) {
      expect(r.segments[1]?.isCode).toBe(true);
      expect(r.segments[4]).toBeNull();
      expect(r.segments[5]).toBeUndefined();
    }
    expect(switchWith(TSS32.seg + 20, 2, 0x48)).toMatchObject({ fault: { vector: 10, errorCode: 0x48 } });
  });
  it('a ring-3 task may not load a ring-0 data segment: #TS(selector)', () => {
    const { m, t } = machine();
    m.write(TSS_B + TSS32.seg + 4, 2, 0x1b);
    m.write(TSS_B + TSS32.seg + 8, 2, 0x23);
    m.write(TSS_B + TSS32.seg, 2, 0x23);
    const r = taskSwitch(t, 'jmp', current, target(t, 0, 0x30, 'jmp'));
    expect(r).toMatchObject({ cpl: 3, fault: { vector: 10, errorCode: 0x0c } });
  });
  it('EIP beyond the new CS limit is #GP(0)', () => {
    const { m, t } = machine();
    m.write(TSS_B + TSS32.seg + 4, 2, 0x78);
    expect(taskSwitch(t, 'jmp', current, target(t, 0, 0x30, 'jmp'))).toMatchObject({
      fault: { vector: 13, errorCode: 0 },
    });
  });
  it('the T bit asks for a debug trap after the switch', () => {
    expect(switchWith(TSS32.trap, 1, 1)).toMatchObject({ debugTrap: true, fault: null });
  });
  it('EFLAGS.VM in a 32-bit TSS starts a virtual-8086 task with real-mode segment bases at CPL 3', () => {
    const { m, t } = machine();
    m.write(TSS_B + TSS32.eflags, 4, 0x20202);
    m.write(TSS_B + TSS32.eip, 4, 0x100);
    m.write(TSS_B + TSS32.seg + 4, 2, 0x1234);
    const r = taskSwitch(t, 'jmp', current, target(t, 0, 0x30, 'jmp'));
    expect(r).toMatchObject({ ok: true, vm86: true, cpl: 3, fault: null });
    if (r.ok) expect(r.segments[1]).toMatchObject({ base: 0x12340, limit: 0xffff, dpl: 3 });
  });
});

describe('16-bit TSS (SDM Vol. 3A §7.6, figure 7-10)', () => {
  it('loads 16-bit IP, FLAGS and registers, null FS/GS, keeps CR3; a 44-byte limit is enough', () => {
    const { t } = machine();
    const r = taskSwitch(t, 'jmp', current, target(t, 0, 0x40, 'jmp'));
    expect(r).toMatchObject({
      ok: true,
      cr3: null,
      eip: 0x1234,
      eflags: 0x46,
      gpr: [0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27],
      seg: [0x10, 0x08, 0x10, 0x10, 0, 0],
      tr: { is32: false },
      fault: null,
    });
  });
  it('saving into a 16-bit TSS writes words: IP, FLAGS, 8 registers, ES, CS, SS, DS', () => {
    const { t } = machine();
    const from16: CurrentTask = { ...current, tr: { selector: 0x40, base: TSS_C, limit: 0x2b, is32: false } };
    const r = taskSwitch(t, 'call', from16, target(t, 0, 0x30, 'call'));
    if (!r.ok) throw new Error('switch failed');
    const saved = r.writes.filter((w) => w.field.startsWith('old-tss.'));
    expect(saved.length).toBe(14);
    expect(saved.every((w) => w.size === 2 && w.linear >= TSS_C && w.linear + 2 <= TSS_C + 0x2c)).toBe(true);
    expect(saved.find((w) => w.field === 'old-tss.esp')).toMatchObject({
      linear: TSS_C + 0x1a,
      value: 0xf000,
    });
  });
  it('an exception through a task gate to a 16-bit TSS pushes a 2-byte error code', () => {
    const { m, t } = machine();
    m.put(
      IDT,
      13,
      encodeGate({ type: SystemType.taskGate, selector: 0x40, offset: 0, dpl: 0, present: true }),
    );
    const r = interruptTargetOrTask(t, 3, 13, { software: false, external: false });
    if (!r.ok || r.kind !== 'task') throw new Error('expected a task gate');
    expect(taskSwitch(t, 'int', current, r, { errorCode: 0x12345 })).toMatchObject({
      errorCode: { value: 0x2345, size: 2 },
    });
  });
});

describe('malformed descriptors and TSS contents never throw', () => {
  it('seeded mutations of the GDT, IDT and TSSs give architectural faults and writes only to the GDT and the TSSs', () => {
    let s = 0x2545f491;
    const rnd = () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return s >>> 0;
    };
    // Regions to corrupt: the GDT, the IDT task-gate entries, the LDT and the TSSs.
    const regions: [number, number][] = [
      [GDT, 17 * 8],
      [IDT + 8 * 8, 8],
      [IDT + 0x40 * 8, 24],
      [LDT, 16],
      [TSS_A, 0x68],
      [TSS_B, 0x68],
      [TSS_C, 0x2c],
    ];
    const selectors = [0x28, 0x30, 0x38, 0x40, 0x50, 0x58, 0x60, 0x80, 0x4c];
    const seen = { switched: 0, lateFaults: 0, clean: 0 };
    for (let round = 0; round < 1500; round++) {
      const { m, t } = machine();
      const n = 1 + (rnd() & 7);
      for (let k = 0; k < n; k++) {
        const [base, len] = regions[rnd() % regions.length] ?? [GDT, 8];
        m.bytes[base + (rnd() % len)] = rnd() & 0xff;
      }
      m.write(TSS_B + TSS32.link, 2, selectors[rnd() % selectors.length] ?? 0);
      const cpl = rnd() & 3;
      const cur: CurrentTask = {
        ...current,
        tr: rnd() & 1 ? current.tr : { ...current.tr, selector: 0x30, base: TSS_B },
      };
      const selector = rnd() & 3 ? (selectors[rnd() % selectors.length] ?? 0) | cpl : rnd() & 0xffff;
      const entries = [
        farTransferOrTask(t, cpl, selector, rnd(), rnd() & 1 ? 'jmp' : 'call'),
        interruptTargetOrTask(t, cpl, [8, 0x40, 0x41, 0x42][rnd() & 3] ?? 8, {
          software: (rnd() & 1) === 1,
          external: (rnd() & 1) === 1,
        }),
        taskReturnTarget(t, cur.tr),
      ];
      const sources = [rnd() & 1 ? 'jmp' : 'call', 'int', 'iret'] as const;
      entries.forEach((e, i) => {
        if (!e.ok) {
          expect([10, 11, 12, 13]).toContain(e.fault.vector);
          return;
        }
        if (e.kind !== 'task') return;
        const r = taskSwitch(t, sources[i] ?? 'jmp', cur, e, { external: i === 1, errorCode: 0 });
        if (!r.ok) {
          expect(r.fault.vector).toBe(10);
          return;
        }
        seen.switched++;
        if (r.fault) {
          seen.lateFaults++;
          expect([10, 11, 12, 13]).toContain(r.fault.vector);
        } else seen.clean++;
        const inside = (w: MemoryWrite, base: number, len: number) =>
          w.linear >= base && w.linear + w.size <= base + len;
        for (const w of r.writes)
          expect(
            inside(w, t.gdtBase, t.gdtLimit + 1) ||
              inside(w, cur.tr.base, 0x68) ||
              inside(w, e.descriptor.base, 2),
          ).toBe(true);
      });
    }
    expect(seen.switched).toBeGreaterThan(500);
    expect(seen.lateFaults).toBeGreaterThan(50);
    expect(seen.clean).toBeGreaterThan(50);
  });
});
