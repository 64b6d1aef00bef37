import { asm, assemble } from '@ringzero/assembler';
import { encodeDescriptor, encodeGate, SystemType, TSS16, TSS32 } from '@ringzero/rings';
import { describe, expect, it } from 'vitest';
import { Eflags, Reg, Seg } from './cpu-state';
import { Vector } from './fault';
import { createHarness, type FlatMemory, HARNESS_GDT, HARNESS_TSS, setGate } from './harness';
import { StopReason, type Tier0 } from './tier0';

/*
 * Hardware task switches on tier 0 (and through tier 1, which must pick up the new task's mode):
 * JMP/CALL to a TSS or a task gate, exceptions and interrupts through task gates, IRET with
 * NT = 1, and the faults of SDM Vol. 3A §7.3, table 7-2 and §6.12.2. Layout: the harness's GDT
 * at 0x500 (its TSS, task A, is selector 0x28 at 0x600) with these entries added, its IDT at
 * 0x800, code at 0x1000, task B's TSS at 0x3000, results stored from 0x7000.
 */

const ORIGIN = 0x1000;
const SEL_A = 0x28;
const SEL_B = 0x30;
const SEL_C = 0x38;
const SEL_GATE_B = 0x40;
const SEL_SMALL_STACK = 0x48;
const SEL_LDT = 0x50;
const TSS_A = HARNESS_TSS;
const TSS_B = 0x3000;
const TSS_C = 0x3100;
const OUT = 0x7000;
const STACK_B = 0x9000;
/** Loads TR from the harness's TSS descriptor, which marks it busy as the processor would. */
const PROLOGUE = 'mov ax, 0x28\nltr ax\n';

interface TaskFields {
  eip: number;
  esp?: number;
  eflags?: number;
  cr3?: number;
  /** ES, CS, SS, DS, FS, GS (FS and GS ignored for a 16-bit TSS). */
  seg?: readonly number[];
  gpr?: readonly number[];
  ldt?: number;
  link?: number;
  trap?: boolean;
}

const FLAT_SEGMENTS = [0x10, 0x08, 0x10, 0x10, 0x10, 0x10] as const;

function writeTss32(m: FlatMemory, base: number, f: TaskFields): void {
  for (let i = 0; i < 0x68; i += 4) m.write32(base + i, 0);
  m.write16(base + TSS32.link, f.link ?? 0);
  m.write32(base + TSS32.cr3, f.cr3 ?? 0);
  m.write32(base + TSS32.eip, f.eip);
  m.write32(base + TSS32.eflags, f.eflags ?? 2);
  for (let i = 0; i < 8; i++)
    m.write32(base + TSS32.gpr + 4 * i, i === Reg.esp ? (f.esp ?? STACK_B) : (f.gpr?.[i] ?? 0));
  const seg = f.seg ?? FLAT_SEGMENTS;
  for (let i = 0; i < 6; i++) m.write16(base + TSS32.seg + 4 * i, seg[i] ?? 0);
  m.write16(base + TSS32.ldt, f.ldt ?? 0);
  m.write16(base + TSS32.trap, f.trap ? 1 : 0);
  m.write16(base + TSS32.ioMapBase, 0x68);
}

function writeTss16(m: FlatMemory, base: number, f: TaskFields): void {
  for (let i = 0; i < 0x2c; i += 2) m.write16(base + i, 0);
  m.write16(base + TSS16.link, f.link ?? 0);
  m.write16(base + TSS16.ip, f.eip);
  m.write16(base + TSS16.flags, f.eflags ?? 2);
  for (let i = 0; i < 8; i++)
    m.write16(base + TSS16.gpr + 2 * i, i === Reg.esp ? (f.esp ?? STACK_B) : (f.gpr?.[i] ?? 0));
  const seg = f.seg ?? FLAT_SEGMENTS;
  for (let i = 0; i < 4; i++) m.write16(base + TSS16.seg + 2 * i, seg[i] ?? 0);
  m.write16(base + TSS16.ldt, f.ldt ?? 0);
}

/** A TSS descriptor: type 9 (32-bit) or 1 (16-bit), available unless `busy`. */
function tssDescriptor(
  base: number,
  o: { limit?: number; is16?: boolean; busy?: boolean; present?: boolean; dpl?: number } = {},
): [number, number] {
  const type = (o.is16 ? SystemType.tss16Available : SystemType.tss32Available) | (o.busy ? 2 : 0);
  return encodeDescriptor({
    base,
    limit: o.limit ?? (o.is16 ? TSS16.minLimit : TSS32.minLimit),
    type,
    codeOrData: false,
    dpl: o.dpl ?? 0,
    present: o.present ?? true,
  });
}

function taskGate(tss: number, dpl = 0): [number, number] {
  return encodeGate({ type: SystemType.taskGate, selector: tss, offset: 0, dpl, present: true });
}

/** The type field (bits 8–11 of the high doubleword) of a GDT entry. */
function gdtType(m: FlatMemory, sel: number): number {
  return (m.read32(HARNESS_GDT + (sel & 0xfff8) + 4) >>> 8) & 0xf;
}

interface World {
  cpu: Tier0;
  memory: FlatMemory;
  sym(name: string): number;
  gdt(sel: number, d: [number, number]): void;
  idtTaskGate(vector: number, tss: number, dpl?: number): void;
}

const TIERS = [
  { name: 'tier 0', jit: false },
  { name: 'tier 1', jit: true },
] as const;

function world(
  source: string,
  jit: boolean,
  opts: { takeExceptions?: boolean; memorySize?: number } = {},
): World {
  const r = assemble(`bits 32\norg ${ORIGIN}\n${source}`);
  const { cpu, memory } = createHarness(r.bytes, {
    jit,
    jitThreshold: jit ? 1 : undefined,
    memorySize: opts.memorySize,
    callouts: opts.takeExceptions ? { exception: () => true } : undefined,
  });
  return {
    cpu,
    memory,
    sym(name) {
      const v = r.symbols.get(name);
      if (v === undefined) throw new Error(`no label ${name}`);
      return v;
    },
    gdt(sel, [lo, hi]) {
      const at = sel & 0xfff8;
      memory.write32(HARNESS_GDT + at, lo);
      memory.write32(HARNESS_GDT + at + 4, hi);
      cpu.state.gdtrLimit = Math.max(cpu.state.gdtrLimit, at + 7);
    },
    idtTaskGate(vector, tss, dpl = 0) {
      const [lo, hi] = taskGate(tss, dpl);
      memory.write32(0x800 + vector * 8, lo);
      memory.write32(0x800 + vector * 8 + 4, hi);
    },
  };
}

describe.each(TIERS)('task switches ($name)', ({ jit }) => {
  it('JMP to a TSS ping-pongs between two tasks: old busy bit cleared, new set, no back-link, NT clear (SDM Vol. 3A §7.3, table 7-2)', () => {
    const w = world(
      `${PROLOGUE}
a_loop: inc esi
        cmp esi, 5
        je a_done
        jmp 0x30:0
        jmp a_loop
a_done: mov eax, cr0
        hlt
task_b: mov eax, cr3
        mov [${OUT}], eax
b_loop: inc edi
        jmp 0x28:0
        jmp b_loop`,
      jit,
    );
    writeTss32(w.memory, TSS_B, { eip: w.sym('task_b'), cr3: 0x5000, link: 0x1238 });
    w.gdt(SEL_B, tssDescriptor(TSS_B));
    const reason = w.cpu.run(1000);
    const s = w.cpu.state;
    expect(reason).toBe(StopReason.halt);
    expect(s.regs[Reg.esi]).toBe(5);
    expect(s.regs[Reg.edi]).toBe(0); // task A's EDI: task B counted in its own
    expect(w.memory.read32(TSS_B + TSS32.gpr + 4 * Reg.edi)).toBe(4);
    // B saved its EIP after its JMP; B's CR3 was loaded while it ran, A's (0) again after.
    expect(w.memory.read32(TSS_B + TSS32.eip)).toBe(w.sym('b_loop') + 1 + 7);
    expect(w.memory.read32(OUT)).toBe(0x5000);
    expect(s.cr3).toBe(0);
    expect(s.tr.selector).toBe(SEL_A);
    expect(gdtType(w.memory, SEL_A)).toBe(SystemType.tss32Busy);
    expect(gdtType(w.memory, SEL_B)).toBe(SystemType.tss32Available);
    expect(w.memory.read16(TSS_B + TSS32.link)).toBe(0x1238); // JMP does not link
    expect(s.getFlags() & Eflags.nt).toBe(0);
    expect(s.regs[Reg.eax]! & 8).toBe(8); // CR0.TS set by the switches
  });

  it('CALL through a task gate nests the task (back-link, NT, both busy) and IRET returns to it (SDM Vol. 3A §7.4, table 7-2)', () => {
    const w = world(
      `${PROLOGUE}
        mov ebx, 0x11
        call 0x40:0
        call 0x40:0
        pushfd
        pop edx
        hlt
task_b: pushfd
        pop eax
        mov [${OUT}], eax
        str word [${OUT + 4}]
        mov ax, [${TSS_B}]
        mov [${OUT + 8}], ax
        mov eax, [${HARNESS_GDT + SEL_A + 4}]
        mov [${OUT + 12}], eax
        mov eax, [${HARNESS_GDT + SEL_B + 4}]
        mov [${OUT + 16}], eax
        inc dword [${OUT + 20}]
        iret
after_iret:
        jmp task_b`,
      jit,
    );
    writeTss32(w.memory, TSS_B, { eip: w.sym('task_b') });
    w.gdt(SEL_B, tssDescriptor(TSS_B));
    w.gdt(SEL_GATE_B, taskGate(SEL_B));
    expect(w.cpu.run(1000)).toBe(StopReason.halt);
    const s = w.cpu.state;
    const m = w.memory;
    expect(m.read32(OUT + 20)).toBe(2); // entered twice: the second CALL resumed after its IRET
    expect(m.read32(OUT) & Eflags.nt).toBe(Eflags.nt);
    expect(m.read16(OUT + 4)).toBe(SEL_B);
    expect(m.read16(OUT + 8)).toBe(SEL_A); // the back-link
    expect((m.read32(OUT + 12) >>> 8) & 0xf).toBe(SystemType.tss32Busy);
    expect((m.read32(OUT + 16) >>> 8) & 0xf).toBe(SystemType.tss32Busy);
    // Back in A: its registers and EFLAGS (NT clear) from its TSS; B is available again and its
    // saved EFLAGS has NT cleared by the IRET.
    expect(s.tr.selector).toBe(SEL_A);
    expect(s.regs[Reg.ebx]).toBe(0x11);
    expect(s.regs[Reg.edx]! & Eflags.nt).toBe(0);
    expect(gdtType(m, SEL_B)).toBe(SystemType.tss32Available);
    expect(gdtType(m, SEL_A)).toBe(SystemType.tss32Busy);
    expect(m.read32(TSS_B + TSS32.eflags) & Eflags.nt).toBe(0);
    expect(m.read32(TSS_B + TSS32.eip)).toBe(w.sym('after_iret'));
  });

  it('CALL to a TSS descriptor directly works as through a gate (SDM Vol. 2A CALL, "TASK-STATE-SEGMENT")', () => {
    const w = world(
      `${PROLOGUE}
        call 0x30:0
        hlt
task_b: mov dword [${OUT}], 0xb
        iret`,
      jit,
    );
    writeTss32(w.memory, TSS_B, { eip: w.sym('task_b') });
    w.gdt(SEL_B, tssDescriptor(TSS_B));
    expect(w.cpu.run(100)).toBe(StopReason.halt);
    expect(w.memory.read32(OUT)).toBe(0xb);
    expect(w.cpu.state.tr.selector).toBe(SEL_A);
  });

  it('#GP through a task gate pushes its error code on the new task stack; the handler task resumes the faulting one by IRET (SDM Vol. 3A §6.12.2)', () => {
    const w = world(
      `${PROLOGUE}
        mov ax, 0x1238
fault1: mov ds, ax
fault2: mov es, ax
        mov eax, 0x600d
        hlt
handler:
        mov [${OUT + 4}], esp
        pop eax
        mov [${OUT}], eax
        add dword [${TSS_A + TSS32.eip}], 2   ; skip the 2-byte MOV Sreg
        inc dword [${OUT + 8}]
        iret
        jmp handler`,
      jit,
    );
    writeTss32(w.memory, TSS_B, { eip: w.sym('handler') });
    w.gdt(SEL_B, tssDescriptor(TSS_B));
    w.idtTaskGate(Vector.gp, SEL_B);
    expect(w.cpu.run(1000)).toBe(StopReason.halt);
    const m = w.memory;
    expect(m.read32(OUT)).toBe(0x1238); // #GP(selector)
    expect(m.read32(OUT + 4)).toBe(STACK_B - 4); // a 32-bit TSS: 4-byte error code
    expect(m.read32(OUT + 8)).toBe(2);
    expect(w.cpu.state.regs[Reg.eax]).toBe(0x600d);
    expect(w.cpu.state.tr.selector).toBe(SEL_A);
  });

  it('#DF through a task gate: a kernel stack overflow runs the double-fault task on a fresh stack (SDM Vol. 3A §6.15 interrupt 8, §7.3)', () => {
    const w = world(
      `${PROLOGUE}
        mov ax, 0x48
        mov ss, ax
        mov esp, 2
        xor ecx, ecx
fault:  div ecx
        hlt
df_task:
        mov [${OUT + 4}], esp
        pop eax
        mov [${OUT}], eax
        hlt`,
      jit,
    );
    // A ring-0 stack segment of 4 KiB: the #DE frame at ESP = 2 wraps below 0 (#SS), so #DF.
    w.gdt(
      SEL_SMALL_STACK,
      encodeDescriptor({
        base: 0,
        limit: 0xfff,
        type: 3,
        codeOrData: true,
        dpl: 0,
        present: true,
        big: true,
      }),
    );
    setGate(w.memory, Vector.de, w.sym('fault')); // present, but its frame cannot be pushed
    writeTss32(w.memory, TSS_B, { eip: w.sym('df_task') });
    w.gdt(SEL_B, tssDescriptor(TSS_B));
    w.idtTaskGate(Vector.df, SEL_B);
    expect(w.cpu.run(1000)).toBe(StopReason.halt);
    const s = w.cpu.state;
    const m = w.memory;
    expect(s.tr.selector).toBe(SEL_B);
    expect(m.read32(OUT)).toBe(0); // #DF's error code
    expect(m.read32(OUT + 4)).toBe(STACK_B - 4);
    expect(s.getFlags() & Eflags.nt).toBe(Eflags.nt);
    expect(m.read16(TSS_B + TSS32.link)).toBe(SEL_A);
    // The old task's state points at the faulting DIV, with its overflowed stack.
    expect(m.read32(TSS_A + TSS32.eip)).toBe(w.sym('fault'));
    expect(m.read32(TSS_A + TSS32.gpr + 4 * Reg.esp)).toBe(2);
    expect(m.read16(TSS_A + TSS32.seg + 4 * Seg.ss)).toBe(SEL_SMALL_STACK);
    expect(gdtType(m, SEL_A)).toBe(SystemType.tss32Busy);
    expect(gdtType(m, SEL_B)).toBe(SystemType.tss32Busy);
  });

  it('INT n and an external interrupt through a task gate push no error code (SDM Vol. 3A §6.12.2)', () => {
    const w = world(
      `${PROLOGUE}
        sti
        int 0x21
        nop
spin:   jmp spin
handler:
        mov [${OUT}], esp
        inc dword [${OUT + 4}]
        iret
        jmp handler`,
      jit,
    );
    writeTss32(w.memory, TSS_B, { eip: w.sym('handler') });
    w.gdt(SEL_B, tssDescriptor(TSS_B));
    w.idtTaskGate(0x21, SEL_B);
    w.idtTaskGate(0x20, SEL_B);
    w.cpu.run(50);
    expect(w.memory.read32(OUT + 4)).toBe(1);
    expect(w.memory.read32(OUT)).toBe(STACK_B);
    expect(w.cpu.injectInterrupt(0x20)).toBe(true);
    w.cpu.run(50);
    expect(w.memory.read32(OUT + 4)).toBe(2);
    expect(w.memory.read32(OUT)).toBe(STACK_B);
    // The interrupted task was saved at its next instruction and resumed there.
    expect(w.cpu.state.tr.selector).toBe(SEL_A);
    expect(w.cpu.state.eip).toBe(w.sym('spin'));
  });

  it('a TSS limit below 67H is #TS(TSS selector) in the old task, before anything is saved (SDM Vol. 3A §7.3 step 4, table 6-6)', () => {
    const w = world(`${PROLOGUE}\nswitch: jmp 0x30:0\nhlt`, jit, { takeExceptions: true });
    w.gdt(SEL_B, tssDescriptor(TSS_B, { limit: 0x50 }));
    w.memory.write32(TSS_A + TSS32.eip, 0xdead);
    expect(w.cpu.run(100)).toBe(StopReason.exception);
    expect(w.cpu.lastVector).toBe(Vector.ts);
    expect(w.cpu.lastErrorCode).toBe(SEL_B);
    expect(w.cpu.state.eip).toBe(w.sym('switch'));
    expect(w.cpu.state.tr.selector).toBe(SEL_A);
    expect(w.memory.read32(TSS_A + TSS32.eip)).toBe(0xdead);
    expect(gdtType(w.memory, SEL_B)).toBe(SystemType.tss32Available);
    expect(gdtType(w.memory, SEL_A)).toBe(SystemType.tss32Busy);
  });

  it('JMP to a busy TSS is #GP(TSS selector) (SDM Vol. 2A JMP, Vol. 3A §7.3 step 2)', () => {
    const w = world(`${PROLOGUE}\nswitch: jmp 0x28:0\nhlt`, jit, { takeExceptions: true });
    expect(w.cpu.run(100)).toBe(StopReason.exception);
    expect(w.cpu.lastVector).toBe(Vector.gp);
    expect(w.cpu.lastErrorCode).toBe(SEL_A);
    expect(w.cpu.state.eip).toBe(w.sym('switch'));
  });

  it('CALL through a task gate to a busy TSS is #GP(TSS selector) (SDM Vol. 2A CALL, "TASK-GATE")', () => {
    const w = world(`${PROLOGUE}\nswitch: call 0x40:0\nhlt`, jit, { takeExceptions: true });
    w.gdt(SEL_GATE_B, taskGate(SEL_A));
    expect(w.cpu.run(100)).toBe(StopReason.exception);
    expect(w.cpu.lastVector).toBe(Vector.gp);
    expect(w.cpu.lastErrorCode).toBe(SEL_A);
    expect(w.cpu.state.eip).toBe(w.sym('switch'));
    expect(w.cpu.state.regs[Reg.esp]).toBe((1 << 20) - 0x1000); // nothing pushed
  });

  it('a task gate or TSS with DPL < CPL is #GP(selector) from ring 3 (SDM Vol. 3A §7.3 step 2)', () => {
    const w = world(
      `${PROLOGUE}
        push 0x23
        push 0x8000
        push 0x1b
        push ring3
        retf
ring3:  call 0x40:0
        hlt`,
      jit,
      { takeExceptions: true },
    );
    writeTss32(w.memory, TSS_B, { eip: 0 });
    w.gdt(SEL_B, tssDescriptor(TSS_B, { dpl: 3 }));
    w.gdt(SEL_GATE_B, taskGate(SEL_B, 0));
    expect(w.cpu.run(100)).toBe(StopReason.exception);
    expect(w.cpu.lastVector).toBe(Vector.gp);
    expect(w.cpu.lastErrorCode).toBe(SEL_GATE_B);
    expect(w.cpu.state.cpl).toBe(3);
  });

  it('a not-present TSS is #NP(TSS selector) (SDM Vol. 2A JMP, "TASK-STATE-SEGMENT")', () => {
    const w = world(`${PROLOGUE}\nswitch: jmp 0x30:0\nhlt`, jit, { takeExceptions: true });
    w.gdt(SEL_B, tssDescriptor(TSS_B, { present: false }));
    expect(w.cpu.run(100)).toBe(StopReason.exception);
    expect(w.cpu.lastVector).toBe(Vector.np);
    expect(w.cpu.lastErrorCode).toBe(SEL_B);
    expect(w.cpu.state.eip).toBe(w.sym('switch'));
  });

  it('IRET with NT = 1 whose back-link names a TSS that is not busy is #TS(back-link) (SDM Vol. 2A IRET "TASK-RETURN")', () => {
    const w = world(
      `${PROLOGUE}
        pushfd
        or dword [esp], 0x4000
        popfd
ret1:   iret
        hlt`,
      jit,
      { takeExceptions: true },
    );
    writeTss32(w.memory, TSS_B, { eip: 0 });
    w.gdt(SEL_B, tssDescriptor(TSS_B));
    w.memory.write16(TSS_A + TSS32.link, SEL_B);
    const esp = w.cpu.state.regs[Reg.esp];
    expect(w.cpu.run(100)).toBe(StopReason.exception);
    expect(w.cpu.lastVector).toBe(Vector.ts);
    expect(w.cpu.lastErrorCode).toBe(SEL_B);
    expect(w.cpu.state.eip).toBe(w.sym('ret1'));
    expect(w.cpu.state.regs[Reg.esp]).toBe(esp); // a task return pops nothing
    expect(w.cpu.state.tr.selector).toBe(SEL_A);
  });

  it('a bad data selector in the new TSS faults in the new task, after the commit (SDM Vol. 3A §7.3 step 13, table 7-1)', () => {
    const w = world(`${PROLOGUE}\nswitch: jmp 0x30:0\nhlt\ntask_b: hlt`, jit, { takeExceptions: true });
    writeTss32(w.memory, TSS_B, { eip: w.sym('task_b'), seg: [0x10, 0x08, 0x10, 0x1238, 0x10, 0x10] });
    w.gdt(SEL_B, tssDescriptor(TSS_B));
    expect(w.cpu.run(100)).toBe(StopReason.exception);
    const s = w.cpu.state;
    expect(w.cpu.lastVector).toBe(Vector.ts);
    expect(w.cpu.lastErrorCode).toBe(0x1238);
    // The switch is done: TR, EIP and CS are the new task's; the old one was saved past its JMP.
    expect(s.tr.selector).toBe(SEL_B);
    expect(s.eip).toBe(w.sym('task_b'));
    expect(s.segSel[Seg.cs]).toBe(0x08);
    expect(s.segSel[Seg.ds]).toBe(0x1238);
    expect(s.segAccess[Seg.ds]).toBe(0); // not loaded: unusable
    expect(w.memory.read32(TSS_A + TSS32.eip)).toBe(w.sym('switch') + 7);
    expect(gdtType(w.memory, SEL_A)).toBe(SystemType.tss32Available);
    expect(gdtType(w.memory, SEL_B)).toBe(SystemType.tss32Busy);
  });

  it('a new-task fault is delivered through the IDT with the new task EIP pushed (SDM Vol. 3A §7.3 step 13)', () => {
    const w = world(`${PROLOGUE}\njmp 0x30:0\nhlt\ntask_b: hlt\nts_handler: hlt`, jit);
    writeTss32(w.memory, TSS_B, { eip: w.sym('task_b'), seg: [0x1238, 0x08, 0x10, 0x10, 0x10, 0x10] });
    w.gdt(SEL_B, tssDescriptor(TSS_B));
    setGate(w.memory, Vector.ts, w.sym('ts_handler'));
    expect(w.cpu.run(100)).toBe(StopReason.halt);
    const s = w.cpu.state;
    const esp = s.regs[Reg.esp]! >>> 0;
    expect(esp).toBe(STACK_B - 16);
    expect(w.memory.read32(esp)).toBe(0x1238); // error code
    expect(w.memory.read32(esp + 4)).toBe(w.sym('task_b')); // the new task's first instruction
    expect(s.eip).toBe(w.sym('ts_handler') + 1);
  });

  it('a new-task fault of a switch made for an external interrupt has EXT set in its error code (SDM Vol. 3A §6.13, §7.3)', () => {
    const w = world(`${PROLOGUE}\nsti\nspin: jmp spin\ntask_b: hlt\nts_handler: hlt`, jit);
    writeTss32(w.memory, TSS_B, { eip: w.sym('task_b'), seg: [0x10, 0x08, 0x10, 0x1238, 0x10, 0x10] });
    w.gdt(SEL_B, tssDescriptor(TSS_B));
    w.idtTaskGate(0x20, SEL_B);
    setGate(w.memory, Vector.ts, w.sym('ts_handler'));
    w.cpu.run(20);
    expect(w.cpu.injectInterrupt(0x20)).toBe(true);
    const s = w.cpu.state;
    expect(s.tr.selector).toBe(SEL_B);
    expect(s.eip).toBe(w.sym('ts_handler'));
    const esp = s.regs[Reg.esp]! >>> 0;
    expect(w.memory.read32(esp)).toBe(0x1238 | 1); // EXT
    expect(w.memory.read32(esp + 4)).toBe(w.sym('task_b'));
    // The interrupted task was saved at the instruction it was about to run.
    expect(w.memory.read32(TSS_A + TSS32.eip)).toBe(w.sym('spin'));
  });

  it('a #PF on a planned store is taken in the old task before any store is made (SDM Vol. 3A §7.2.1, §7.3)', () => {
    const w = world(`${PROLOGUE}\nswitch: call 0x30:0\nhlt`, jit, { takeExceptions: true });
    const m = w.memory;
    // Identity-map the first MiB with CR0.WP set; the page holding task B's TSS is read-only, so
    // writing its back-link faults even at CPL 0.
    const pd = 0x20000;
    const pt = 0x21000;
    m.write32(pd, pt | 3);
    for (let i = 0; i < 256; i++) m.write32(pt + 4 * i, (i << 12) | (i === TSS_B >>> 12 ? 1 : 3));
    writeTss32(m, TSS_B, { eip: 0 });
    w.gdt(SEL_B, tssDescriptor(TSS_B));
    m.write32(TSS_A + TSS32.eip, 0xdead);
    const s = w.cpu.state;
    s.cr3 = pd;
    s.cr0 |= 0x80010000;
    expect(w.cpu.run(100)).toBe(StopReason.exception);
    expect(w.cpu.lastVector).toBe(Vector.pf);
    expect(w.cpu.lastErrorCode).toBe(3); // present, write, supervisor
    expect(s.cr2 >>> 0).toBe(TSS_B);
    expect(s.eip).toBe(w.sym('switch'));
    expect(s.tr.selector).toBe(SEL_A);
    expect(m.read32(TSS_A + TSS32.eip)).toBe(0xdead);
    expect(gdtType(m, SEL_B)).toBe(SystemType.tss32Available);
  });

  it('a TSS with EFLAGS.VM = 1 starts a virtual-8086 task: segments are selector × 16, CPL 3 (SDM Vol. 3A §20.2.5)', () => {
    const w = world(`${PROLOGUE}\njmp 0x30:0\nhlt`, jit, { takeExceptions: true });
    w.memory.ram.set(asm.with({ bits: 16 })`inc ax\nnop\nhlt`, 0x2000);
    writeTss32(w.memory, TSS_B, {
      eip: 0,
      eflags: 0x20002,
      esp: 0x100,
      seg: [0x300, 0x200, 0x800, 0x400, 0, 0],
      gpr: [0x41],
    });
    w.gdt(SEL_B, tssDescriptor(TSS_B));
    expect(w.cpu.run(100)).toBe(StopReason.exception);
    const s = w.cpu.state;
    // HLT at CPL 3 is #GP(0): the task runs in virtual-8086 mode.
    expect(w.cpu.lastVector).toBe(Vector.gp);
    expect(s.eip).toBe(2);
    expect(s.regs[Reg.eax]).toBe(0x42);
    expect(s.cpl).toBe(3);
    expect(s.getFlags() & Eflags.vm).toBe(Eflags.vm);
    expect(s.segBase[Seg.cs]).toBe(0x2000);
    expect(s.segBase[Seg.ss]).toBe(0x8000);
    expect(s.segBase[Seg.es]).toBe(0x3000);
  });

  it('a TSS with T = 1 raises #DB with DR6.BT before the new task runs (SDM Vol. 3A §7.2.1, §17.3.1.5)', () => {
    const w = world(
      `${PROLOGUE}
        jmp 0x30:0
        hlt
task_b: inc ebx
        hlt
db_handler:
        mov eax, [esp]
        mov [${OUT}], eax
        mov eax, dr6
        mov [${OUT + 4}], eax
        mov [${OUT + 8}], ebx
        iret`,
      jit,
    );
    writeTss32(w.memory, TSS_B, { eip: w.sym('task_b'), trap: true });
    w.gdt(SEL_B, tssDescriptor(TSS_B));
    setGate(w.memory, Vector.db, w.sym('db_handler'));
    expect(w.cpu.run(100)).toBe(StopReason.halt);
    expect(w.memory.read32(OUT)).toBe(w.sym('task_b'));
    expect(w.memory.read32(OUT + 4) & 0x8000).toBe(0x8000);
    expect(w.memory.read32(OUT + 8)).toBe(0); // before the new task's first instruction
    expect(w.cpu.state.regs[Reg.ebx]).toBe(1);
    expect(w.cpu.state.tr.selector).toBe(SEL_B);
  });

  it('every task switch sets CR0.TS: the new task first x87 instruction raises #NM until CLTS (SDM Vol. 3A §2.5)', () => {
    const source = (clts: string) => `${PROLOGUE}
        jmp 0x30:0
        hlt
task_b: mov eax, cr0
        mov [${OUT}], eax
        ${clts}
x87:    fld1
        hlt`;
    for (const clts of ['', 'clts']) {
      const w = world(source(clts), jit, { takeExceptions: true });
      writeTss32(w.memory, TSS_B, { eip: w.sym('task_b') });
      w.gdt(SEL_B, tssDescriptor(TSS_B));
      const reason = w.cpu.run(100);
      expect(w.memory.read32(OUT) & 8).toBe(8);
      if (clts === '') {
        expect(reason).toBe(StopReason.exception);
        expect(w.cpu.lastVector).toBe(Vector.nm);
        expect(w.cpu.state.eip).toBe(w.sym('x87'));
      } else {
        expect(reason).toBe(StopReason.halt);
        expect(w.cpu.state.cr0 & 8).toBe(0);
      }
    }
  });

  it('CR3 from the new TSS takes effect at once: the TLB is flushed (SDM Vol. 3A §7.3 step 12)', () => {
    const w = world(
      `${PROLOGUE}
        mov eax, [0x80000]
        jmp 0x30:0
        mov edx, [0x80000]
        hlt
task_b: mov ebx, [0x80000]
        mov [${OUT}], ebx
        jmp 0x28:0`,
      jit,
    );
    const m = w.memory;
    // Two page directories: identity maps of the first MiB, except linear 0x80000 → 0x90000 (A)
    // or 0xa0000 (B).
    const dirs = [
      { pd: 0x20000, pt: 0x21000, frame: 0x90000 },
      { pd: 0x22000, pt: 0x23000, frame: 0xa0000 },
    ];
    for (const { pd, pt, frame } of dirs) {
      m.write32(pd, pt | 3);
      for (let i = 0; i < 256; i++) m.write32(pt + 4 * i, i === 0x80 ? frame | 3 : (i << 12) | 3);
    }
    m.write32(0x90000, 0xaaaa);
    m.write32(0xa0000, 0xbbbb);
    m.write32(TSS_A + TSS32.cr3, 0x20000);
    writeTss32(m, TSS_B, { eip: w.sym('task_b'), cr3: 0x22000 });
    w.gdt(SEL_B, tssDescriptor(TSS_B));
    const s = w.cpu.state;
    s.cr3 = 0x20000;
    s.cr0 |= 0x80000000;
    expect(w.cpu.run(100)).toBe(StopReason.halt);
    expect(s.regs[Reg.eax]).toBe(0xaaaa);
    expect(m.read32(OUT)).toBe(0xbbbb);
    expect(s.regs[Reg.edx]).toBe(0xaaaa);
    expect(s.cr3).toBe(0x20000);
  });

  it('CALL to a 16-bit TSS saves into and links from 16-bit fields, and IRET comes back (SDM Vol. 3A §7.6)', () => {
    const w = world(
      `${PROLOGUE}
        mov ecx, 0x12385678
        call 0x38:0
        hlt
task_c: mov [${OUT}], ecx
        mov [${OUT + 4}], esp
        mov ax, [${TSS_C}]
        mov [${OUT + 8}], ax
        mov eax, [${HARNESS_GDT + SEL_C + 4}]
        mov [${OUT + 12}], eax
        iret
after_iret:
        hlt`,
      jit,
    );
    writeTss16(w.memory, TSS_C, {
      eip: w.sym('task_c'),
      esp: 0x8800,
      gpr: [0, 0xbeef],
      seg: [0x10, 0x08, 0x10, 0x10],
    });
    w.gdt(SEL_C, tssDescriptor(TSS_C, { is16: true }));
    expect(w.cpu.run(100)).toBe(StopReason.halt);
    const m = w.memory;
    const s = w.cpu.state;
    expect(m.read32(OUT)).toBe(0xbeef); // CX from the 16-bit TSS, zero-extended
    expect(m.read32(OUT + 4)).toBe(0x8800);
    expect(m.read16(OUT + 8)).toBe(SEL_A);
    expect((m.read32(OUT + 12) >>> 8) & 0xf).toBe(SystemType.tss16Busy);
    expect(s.tr.selector).toBe(SEL_A);
    expect(s.regs[Reg.ecx]).toBe(0x12385678);
    expect(gdtType(m, SEL_C)).toBe(SystemType.tss16Available);
    expect(m.read16(TSS_C + TSS16.ip)).toBe(w.sym('after_iret'));
  });

  it('an exception through a task gate to a 16-bit TSS pushes a 2-byte error code (SDM Vol. 3A §6.12.2, §7.6)', () => {
    const w = world(
      `${PROLOGUE}
        mov ax, 0x1238
        mov ds, ax
        hlt
handler:
        mov [${OUT + 4}], esp
        mov ax, [esp]
        mov [${OUT}], ax
        hlt`,
      jit,
    );
    writeTss16(w.memory, TSS_C, { eip: w.sym('handler'), esp: 0x8800, seg: [0x10, 0x08, 0x10, 0x10] });
    w.gdt(SEL_C, tssDescriptor(TSS_C, { is16: true }));
    w.idtTaskGate(Vector.gp, SEL_C);
    expect(w.cpu.run(100)).toBe(StopReason.halt);
    expect(w.memory.read32(OUT + 4)).toBe(0x8800 - 2);
    expect(w.memory.read16(OUT)).toBe(0x1238);
    expect(w.cpu.state.tr.selector).toBe(SEL_C);
  });

  it('the new task LDT is loaded, and its segments are found in it (SDM Vol. 3A §7.3 step 12)', () => {
    const w = world(
      `${PROLOGUE}
        jmp 0x30:0
        hlt
task_b: sldt [es:${OUT}]
        mov eax, [0x10]
        hlt`,
      jit,
    );
    const ldt = 0x3200;
    // LDT entry 1 (selector 0x0c): data segment based at 0x6000.
    const [lo, hi] = encodeDescriptor({
      base: 0x6000,
      limit: 0xfff,
      type: 2,
      codeOrData: true,
      dpl: 0,
      present: true,
      big: true,
    });
    w.memory.write32(ldt + 8, lo);
    w.memory.write32(ldt + 12, hi);
    w.memory.write32(0x6010, 0x1dd7);
    w.gdt(
      SEL_LDT,
      encodeDescriptor({
        base: ldt,
        limit: 0xf,
        type: SystemType.ldt,
        codeOrData: false,
        dpl: 0,
        present: true,
      }),
    );
    writeTss32(w.memory, TSS_B, {
      eip: w.sym('task_b'),
      ldt: SEL_LDT,
      seg: [0x10, 0x08, 0x10, 0x0c, 0x10, 0x10],
    });
    w.gdt(SEL_B, tssDescriptor(TSS_B));
    expect(w.cpu.run(100)).toBe(StopReason.halt);
    const s = w.cpu.state;
    expect(w.memory.read16(OUT)).toBe(SEL_LDT);
    expect(s.regs[Reg.eax]).toBe(0x1dd7);
    expect(s.ldtr.base).toBe(ldt);
    expect(s.segBase[Seg.ds]).toBe(0x6000);
    expect((w.memory.read32(ldt + 12) >>> 8) & 1).toBe(1); // accessed bit set by the load
  });
});

describe.each(TIERS)('LTR and STR ($name)', ({ jit }) => {
  it('LTR marks the TSS descriptor busy and loads TR; STR reads the selector back (SDM Vol. 2A LTR, STR)', () => {
    const w = world('mov ax, 0x30\nltr ax\nstr ebx\nhlt', jit);
    w.gdt(SEL_B, tssDescriptor(TSS_B));
    expect(w.cpu.run(100)).toBe(StopReason.halt);
    const s = w.cpu.state;
    expect(gdtType(w.memory, SEL_B)).toBe(SystemType.tss32Busy);
    expect(s.tr.selector).toBe(SEL_B);
    expect(s.tr.base).toBe(TSS_B);
    expect(s.tr.limit).toBe(0x67);
    expect(s.tr.access & 0x8f).toBe(0x8b);
    expect(s.regs[Reg.ebx]).toBe(SEL_B);
  });

  it('LTR of a 16-bit TSS marks it busy as type 3 (SDM Vol. 2A LTR)', () => {
    const w = world('mov ax, 0x38\nltr ax\nhlt', jit);
    w.gdt(SEL_C, tssDescriptor(TSS_C, { is16: true }));
    expect(w.cpu.run(100)).toBe(StopReason.halt);
    expect(gdtType(w.memory, SEL_C)).toBe(SystemType.tss16Busy);
    expect(w.cpu.state.tr.access & 0xf).toBe(SystemType.tss16Busy);
  });

  const faults = [
    {
      what: 'a busy TSS',
      sel: SEL_B,
      d: tssDescriptor(TSS_B, { busy: true }),
      vector: Vector.gp,
      code: SEL_B,
    },
    {
      what: 'a not-present TSS',
      sel: SEL_B,
      d: tssDescriptor(TSS_B, { present: false }),
      vector: Vector.np,
      code: SEL_B,
    },
    { what: 'a null selector', sel: 0, d: null, vector: Vector.gp, code: 0 },
    { what: 'an LDT selector (TI = 1)', sel: SEL_B | 4, d: null, vector: Vector.gp, code: SEL_B | 4 },
    { what: 'a selector beyond the GDT', sel: 0xf8, d: null, vector: Vector.gp, code: 0xf8 },
    { what: 'a task gate', sel: SEL_GATE_B, d: taskGate(SEL_B), vector: Vector.gp, code: SEL_GATE_B },
  ];
  for (const f of faults) {
    it(`LTR of ${f.what} is ${f.vector === Vector.np ? '#NP' : '#GP'}(${f.code.toString(16)}) and changes nothing (SDM Vol. 2A LTR)`, () => {
      const w = world(`mov ax, ${f.sel}\nload: ltr ax\nhlt`, jit, { takeExceptions: true });
      if (f.d !== null) w.gdt(f.sel, f.d);
      const before = f.d === null ? 0 : w.memory.read32(HARNESS_GDT + (f.sel & 0xfff8) + 4);
      expect(w.cpu.run(100)).toBe(StopReason.exception);
      expect(w.cpu.lastVector).toBe(f.vector);
      expect(w.cpu.lastErrorCode).toBe(f.code);
      expect(w.cpu.state.eip).toBe(w.sym('load'));
      expect(w.cpu.state.tr.selector).toBe(SEL_A);
      if (f.d !== null) expect(w.memory.read32(HARNESS_GDT + (f.sel & 0xfff8) + 4)).toBe(before);
    });
  }
});
