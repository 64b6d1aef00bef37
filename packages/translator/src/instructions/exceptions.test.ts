import { describe, expect, it } from 'vitest';
import { Eflags, exportSnapshot, Reg, Seg } from '../cpu-state';
import { Vector } from '../fault';
import { HARNESS_IDT, type HarnessMode, setGate } from '../harness';
import { StopReason } from '../tier0';
import { a32, identityMap, reg, run, STACK_TOP } from './snippet';

// Precise exceptions (SDM vol. 3 §6.5, §6.6): a fault reports the address of the faulting
// instruction and leaves the architectural state as it was before it; a trap (INT n, INT3,
// INTO, INT1, single-step) reports the address of the next instruction. Debug exceptions:
// SDM vol. 3 §17.2–17.3.

/** Pages the fault table uses: 0x30000 missing, 0x31000 read-only, 0x32000 supervisor-only. */
const MISSING = 0x30000;
const READ_ONLY = 0x31000;
const SUPERVISOR = 0x32000;

interface FaultCase {
  what: string;
  setup?: string;
  op: string;
  vector: number;
  error?: number;
  /** CR2 after a #PF, when the case pins it down (split accesses, state images). */
  cr2?: number;
  mode?: HarnessMode;
  /** Segment changes before the run (access = descriptor bytes 5–6 as the cache holds them). */
  segment?: { seg: number; access?: number; limit?: number };
}

const FAULTS: FaultCase[] = [
  { what: 'a load from a missing page', op: `mov eax, [${MISSING}]`, vector: Vector.pf, error: 0 },
  { what: 'a store to a missing page', op: `mov [${MISSING} + 8], eax`, vector: Vector.pf, error: 2 },
  { what: 'ADD to a read-only page (CR0.WP)', op: `add [${READ_ONLY}], eax`, vector: Vector.pf, error: 3 },
  { what: 'XCHG with a read-only page', op: `xchg [${READ_ONLY}], ebx`, vector: Vector.pf, error: 3 },
  // A read-modify-write on a not-present page reports a write (W = 1): checked on this host by
  // running ADD, SHL, XCHG and CMPXCHG8B on a PROT_NONE page and reading the error code.
  { what: 'SHL of memory on a missing page', op: `shl dword [${MISSING}], cl`, vector: Vector.pf, error: 2 },
  { what: 'IMUL with a missing memory source', op: `imul eax, [${MISSING}], 3`, vector: Vector.pf, error: 0 },
  // CMOVcc reads its source whatever the condition (SDM "CMOVcc": temp ← SRC first); this host
  // faults on a PROT_NONE source with the condition false too.
  {
    what: 'CMOVZ with ZF = 0 and a missing memory source',
    setup: 'or eax, eax',
    op: `cmovz eax, [${MISSING}]`,
    vector: Vector.pf,
    error: 0,
  },
  {
    what: 'a ring-3 load from a supervisor page',
    op: `mov eax, [${SUPERVISOR}]`,
    vector: Vector.pf,
    error: 5,
    mode: 'flat32-user',
  },
  {
    what: 'PUSH onto a missing page',
    setup: `mov esp, ${MISSING + 4}`,
    op: 'push eax',
    vector: Vector.pf,
    error: 2,
  },
  {
    what: 'POP into a missing page',
    setup: 'push 7',
    op: `pop dword [${MISSING}]`,
    vector: Vector.pf,
    error: 2,
  },
  { what: 'an indirect CALL through a missing page', op: `call [${MISSING}]`, vector: Vector.pf, error: 0 },
  {
    what: 'a CALL whose return address would go to a missing page',
    setup: `mov esp, ${MISSING + 2}`,
    op: 'call $ + 5',
    vector: Vector.pf,
    error: 2,
  },
  { what: 'RET from a missing page', setup: `mov esp, ${MISSING}`, op: 'ret', vector: Vector.pf, error: 0 },
  {
    what: 'MOVSD from a missing page',
    setup: `mov esi, ${MISSING}\nmov edi, 0x3000`,
    op: 'movsd',
    vector: Vector.pf,
    error: 0,
  },
  {
    what: 'FLD from a missing page (x87 TOP unchanged)',
    setup: 'fld1',
    op: `fld dword [${MISSING}]`,
    vector: Vector.pf,
    error: 0,
  },
  // The x87 state images that straddle into the missing page: nothing is loaded or saved (and
  // FNSAVE does not reinitialise the FPU) when any byte of the image faults. CR2 is the image's
  // last byte, as on this host (FSAVE/FRSTOR images are 108 bytes, FSTENV/FLDENV 28, FXSAVE 512).
  ...(
    [
      ['FRSTOR', `frstor [${MISSING - 50}]`, 0, MISSING + 57],
      ['FLDENV', `fldenv [${MISSING - 14}]`, 0, MISSING + 13],
      ['FXRSTOR', `fxrstor [${MISSING - 256}]`, 0, MISSING + 255],
      ['FNSAVE', `fnsave [${MISSING - 50}]`, 2, MISSING + 57],
      ['FNSTENV', `fnstenv [${MISSING - 14}]`, 2, MISSING + 13],
      ['FXSAVE', `fxsave [${MISSING - 256}]`, 2, MISSING + 255],
    ] as const
  ).map(([name, op, error, cr2]) => ({
    what: `${name} of an image that straddles into a missing page`,
    setup: 'fld1\nfldpi',
    op,
    vector: Vector.pf,
    error,
    cr2,
  })),
  // Ordinary accesses that straddle into the missing page report its first byte (this host).
  ...(
    [
      ['a dword load', `mov eax, [${MISSING - 2}]`, 0],
      ['a dword store', `mov [${MISSING - 2}], eax`, 2],
      ['an ADD to memory', `add [${MISSING - 1}], eax`, 2],
      ['CMPXCHG8B', `cmpxchg8b [${MISSING - 4}]`, 2],
      ['FLD m80', `fld tword [${MISSING - 4}]`, 0],
      ['FSTP m80', `fstp tword [${MISSING - 4}]`, 2],
      ['FST m64', `fst qword [${MISSING - 4}]`, 2],
    ] as const
  ).map(([name, op, error]) => ({
    what: `${name} that straddles into a missing page`,
    setup: 'fld1',
    op,
    vector: Vector.pf,
    error,
    cr2: MISSING,
  })),
  {
    what: 'a store through CS (code segments are not writable)',
    op: 'mov [cs:0x3000], eax',
    vector: Vector.gp,
    error: 0,
  },
  {
    what: 'a load through a null FS',
    setup: 'xor eax, eax\nmov fs, ax',
    op: 'mov eax, [fs:0x3000]',
    vector: Vector.gp,
    error: 0,
  },
  {
    what: 'MOV DS beyond the GDT limit',
    setup: 'mov ax, 0x43',
    op: 'mov ds, ax',
    vector: Vector.gp,
    error: 0x40,
  },
  {
    what: 'a far JMP to a ring-3 code segment from ring 0',
    op: 'jmp 0x1b:0x2000',
    vector: Vector.gp,
    error: 0x18,
  },
  { what: 'LGDT at CPL 3', op: 'lgdt [0x3000]', vector: Vector.gp, error: 0, mode: 'flat32-user' },
  { what: 'MOV CR3 at CPL 3', op: 'mov cr3, eax', vector: Vector.gp, error: 0, mode: 'flat32-user' },
  { what: 'OUT at CPL 3 with IOPL 0', op: 'out 0x80, al', vector: Vector.gp, error: 0, mode: 'flat32-user' },
  {
    what: 'INT n through a DPL-0 gate from CPL 3',
    op: 'int 0x80',
    vector: Vector.gp,
    error: 0x80 * 8 + 2,
    mode: 'flat32-user',
  },
  {
    what: 'BOUND with an index above the upper bound',
    setup: 'mov dword [0x3000], 0\nmov dword [0x3004], 5\nmov eax, 6',
    op: 'bound eax, [0x3000]',
    vector: Vector.br,
  },
  { what: 'UD2', op: 'ud2', vector: Vector.ud },
  {
    what: 'a store to a read-only data segment',
    op: 'mov [0x3000], eax',
    vector: Vector.gp,
    error: 0,
    segment: { seg: Seg.ds, access: 0xc091 },
  },
  {
    what: 'a load through CS from an execute-only code segment',
    op: 'mov eax, [cs:0x3000]',
    vector: Vector.gp,
    error: 0,
    segment: { seg: Seg.cs, access: 0xc099 },
  },
  {
    what: 'a dword load that straddles the DS limit',
    op: 'mov eax, [0x2ffe]',
    vector: Vector.gp,
    error: 0,
    segment: { seg: Seg.ds, limit: 0x2fff },
  },
  {
    what: 'a word store past the 0xFFFF upper bound of a 16-bit expand-down segment',
    op: 'mov [es:0xffff], ax',
    vector: Vector.gp,
    error: 0,
    segment: { seg: Seg.es, access: 0x0097, limit: 0x0fff },
  },
  {
    what: 'a load below the limit of an expand-down stack segment',
    op: 'mov eax, [ss:0x0ffc]',
    vector: Vector.ss,
    error: 0,
    segment: { seg: Seg.ss, access: 0x4097, limit: 0x0fff },
  },
  { what: 'DIV by zero', setup: 'xor ecx, ecx', op: 'div ecx', vector: Vector.de },
];

describe('faults are precise', () => {
  for (const c of FAULTS) {
    it(`${c.what} raises vector ${c.vector} at the instruction with the state as before it`, () => {
      const setup = c.setup ?? '';
      const p = a32`
        mov eax, 0x11111111
        mov ebx, 0x22222222
        mov ecx, 3
        ${setup}
        stc
      fault:
        ${c.op}
        hlt`;
      const prepare = (
        _c: unknown,
        m: Parameters<typeof identityMap>[0],
        st: Parameters<typeof identityMap>[1],
      ) => {
        identityMap(m, st, { missing: [MISSING], readOnly: [READ_ONLY], supervisor: [SUPERVISOR] });
        st.cr0 |= 0x10000; // WP: supervisor writes honour read-only pages
        if (c.segment?.access !== undefined) st.segAccess[c.segment.seg] = c.segment.access;
        if (c.segment?.limit !== undefined) st.segLimit[c.segment.seg] = c.segment.limit;
      };
      const count = 4 + (setup === '' ? 0 : setup.split('\n').length);
      const before = run(p, { mode: c.mode, prepare, limit: count });
      expect(before.s.eip).toBe(p.at('fault'));
      const { cpu, s } = run(p, { mode: c.mode, prepare });
      expect(cpu.lastVector).toBe(c.vector);
      expect(cpu.lastErrorCode).toBe(c.error ?? -1);
      expect(s.eip).toBe(p.at('fault'));
      const a = exportSnapshot(s);
      const b = exportSnapshot(before.s);
      // Only CR2 (the faulting address, for #PF) and the time-stamp counter may differ.
      const cr = [...a.cr];
      cr[2] = b.cr[2] ?? 0;
      expect({ ...a, tsc: b.tsc, cr }).toEqual(b);
      if (c.vector === Vector.pf) expect([MISSING, READ_ONLY, SUPERVISOR]).toContain(s.cr2 & ~0xfff);
      if (c.cr2 !== undefined) expect(s.cr2 >>> 0).toBe(c.cr2);
    });
  }
});

describe('traps report the next instruction', () => {
  /** A handler for `vector` that stores the pushed EIP in EBX and the vector in EDX, then halts. */
  function trapProgram(body: string) {
    return a32`
      xor edx, edx
      ${body}
    after:
      hlt
    handler:
      mov ebx, [esp]
      mov edx, 1
      hlt`;
  }

  for (const { what, body, vector } of [
    { what: 'INT 0x40', body: 'int 0x40', vector: 0x40 },
    { what: 'INT3 (CC)', body: 'int3', vector: Vector.bp },
    { what: 'INT 3 (CD 03)', body: 'int 3', vector: Vector.bp },
    { what: 'INTO with OF = 1', body: 'mov al, 0x7f\nadd al, 1\ninto', vector: Vector.of },
    { what: 'INT1 (F1)', body: 'int1', vector: Vector.db },
  ]) {
    it(`${what} delivers vector ${vector} with the address after the instruction`, () => {
      const p = trapProgram(body);
      const { s } = run(p, { deliver: true, prepare: (_c, m) => setGate(m, vector, p.at('handler'), 3) });
      expect(reg(s, Reg.edx)).toBe(1);
      expect(reg(s, Reg.ebx)).toBe(p.at('after'));
      expect(reg(s, Reg.esp)).toBe(STACK_TOP - 12); // EIP, CS, EFLAGS: no error code
    });
  }

  it('INTO with OF = 0 does nothing', () => {
    const p = trapProgram('xor eax, eax\ninto');
    const { s } = run(p, { deliver: true, prepare: (_c, m) => setGate(m, Vector.of, p.at('handler'), 3) });
    expect(reg(s, Reg.edx)).toBe(0);
    expect(s.eip).toBe(p.at('after') + 1);
  });

  it('BOUND and UD2 are faults: the handler sees the address of the instruction itself', () => {
    for (const [vector, body] of [
      [Vector.br, 'mov dword [0x3000], 1\nmov dword [0x3004], 2\nxor eax, eax\nat_it: bound eax, [0x3000]'],
      [Vector.ud, 'at_it: ud2'],
    ] as const) {
      const p = trapProgram(body);
      const { s } = run(p, { deliver: true, prepare: (_c, m) => setGate(m, vector, p.at('handler')) });
      expect(reg(s, Reg.ebx)).toBe(p.at('at_it'));
    }
  });

  it('a fault delivered through the IDT pushes its error code after EIP, CS and EFLAGS', () => {
    const p = a32`
    fault:
      mov eax, [${MISSING}]
      hlt
    handler:
      pop edx
      mov ebx, [esp]
      mov ecx, cr2
      hlt`;
    const { s } = run(p, {
      deliver: true,
      prepare: (_c, m, st) => {
        identityMap(m, st, { missing: [MISSING] });
        setGate(m, Vector.pf, p.at('handler'));
      },
    });
    expect(reg(s, Reg.edx)).toBe(0);
    expect(reg(s, Reg.ebx)).toBe(p.at('fault'));
    expect(reg(s, Reg.ecx)).toBe(MISSING);
  });

  it('a #PF whose gate is not present becomes #DF with error code 0 (SDM vol. 3 table 6-5)', () => {
    const p = a32`
      mov eax, [${MISSING}]
      hlt
    df_handler:
      pop edx
      mov ebx, 0xdf
      hlt`;
    const { s } = run(p, {
      deliver: true,
      prepare: (_c, m, st) => {
        identityMap(m, st, { missing: [MISSING] });
        setGate(m, Vector.pf, p.at('df_handler'));
        m.write8(HARNESS_IDT + Vector.pf * 8 + 5, 0x0e); // clear the gate's P bit
        setGate(m, Vector.df, p.at('df_handler'));
        st.regs[Reg.edx] = 0x55;
      },
    });
    expect(reg(s, Reg.ebx)).toBe(0xdf);
    expect(reg(s, Reg.edx)).toBe(0);
  });

  it('and with the #DF gate missing too, the processor shuts down (triple fault)', () => {
    const p = a32`
      mov eax, [${MISSING}]
      hlt`;
    const { reason } = run(p, {
      deliver: true,
      prepare: (_c, m, st) => identityMap(m, st, { missing: [MISSING] }),
    });
    expect(reason).toBe(StopReason.tripleFault);
  });
});

describe('single-step (EFLAGS.TF)', () => {
  // The #DB handler appends the pushed EIP to a log at 0x5000 (count at 0x4ffc) and returns with
  // TF still set in the pushed EFLAGS, so stepping continues until the program clears TF.
  const DB_HANDLER = `
    db_handler:
      push eax
      push ecx
      mov ecx, [0x4ffc]
      mov eax, [esp + 8]
      mov [0x5000 + ecx * 4], eax
      inc dword [0x4ffc]
      mov eax, dr6
      mov [0x4ff8], eax
      pop ecx
      pop eax
      iretd`;

  const log = (m: { read32(a: number): number }) =>
    Array.from({ length: m.read32(0x4ffc) }, (_, i) => m.read32(0x5000 + 4 * i) >>> 0);

  it('traps after every instruction that starts with TF = 1, beginning after the one following POPFD', () => {
    const p = a32`
      pushfd
      or dword [esp], 0x100
      popfd
    i1:
      inc eax
    i2:
      inc eax
    i3:
      nop
    i4:
      pushfd
    i5:
      and dword [esp], ~0x100
    i6:
      popfd
    i7:
      inc eax
      hlt
    ${DB_HANDLER}`;
    const { s, memory, reason } = run(p, {
      deliver: true,
      prepare: (_c, m) => setGate(m, Vector.db, p.at('db_handler')),
    });
    expect(reason).toBe(StopReason.halt);
    // No trap after the POPFD that set TF (it started with TF = 0); one after the POPFD that
    // cleared it (it started with TF = 1).
    expect(log(memory)).toEqual(['i2', 'i3', 'i4', 'i5', 'i6', 'i7'].map((l) => p.at(l)));
    expect(memory.read32(0x4ff8) & 0x4000).toBe(0x4000); // DR6.BS
    expect(reg(s, Reg.eax)).toBe(3);
    expect(s.flags & Eflags.tf).toBe(0);
  });

  it('MOV SS holds the single-step trap back until after the next instruction (SDM vol. 3 §6.8.3)', () => {
    const p = a32`
      pushfd
      or dword [esp], 0x100
      popfd
    i1:
      mov ax, ss
    i2:
      mov ss, ax
    i3:
      mov esp, esp
    i4:
      pushfd
    i5:
      and dword [esp], ~0x100
    i6:
      popfd
    i7:
      hlt
    ${DB_HANDLER}`;
    const { memory } = run(p, {
      deliver: true,
      prepare: (_c, m) => setGate(m, Vector.db, p.at('db_handler')),
    });
    // No trap at i3 (after MOV SS): one trap after the instruction that follows it.
    expect(log(memory)).toEqual(['i2', 'i4', 'i5', 'i6', 'i7'].map((l) => p.at(l)));
  });

  it('POP SS holds the single-step trap back the same way', () => {
    const p = a32`
      push ss
      pushfd
      or dword [esp], 0x100
      popfd
    i1:
      pop ss
    i2:
      nop
    i3:
      pushfd
      and dword [esp], ~0x100
      popfd
      hlt
    ${DB_HANDLER}`;
    const { memory } = run(p, {
      deliver: true,
      prepare: (_c, m) => setGate(m, Vector.db, p.at('db_handler')),
    });
    expect(log(memory).slice(0, 1)).toEqual([p.at('i3')]);
  });

  it('a faulting instruction under TF delivers its fault, not a single-step trap', () => {
    const p = a32`
      xor ecx, ecx
      pushfd
      or dword [esp], 0x100
      popfd
      nop
    divide:
      div ecx
      hlt
    ${DB_HANDLER}
    de_handler:
      mov ebx, [esp]
      hlt`;
    const { s, memory } = run(p, {
      deliver: true,
      prepare: (_c, m) => {
        setGate(m, Vector.db, p.at('db_handler'));
        setGate(m, Vector.de, p.at('de_handler'));
      },
    });
    expect(reg(s, Reg.ebx)).toBe(p.at('divide'));
    expect(log(memory)).toEqual([p.at('divide')]); // only the trap after the NOP
  });
});

describe('debug registers: instruction breakpoints', () => {
  // The handler counts hits at 0x4ff0, saves DR6 at 0x4ff4 (then clears it, as handlers must),
  // and sets RF in the pushed EFLAGS so the instruction runs when IRETD returns to it.
  const BP_HANDLER = `
    bp_handler:
      push eax
      inc dword [0x4ff0]
      mov eax, dr6
      mov [0x4ff4], eax
      xor eax, eax
      mov dr6, eax
      mov eax, [esp + 4]
      mov [0x4fec], eax
      or dword [esp + 12], 0x10000
      pop eax
      iretd`;

  for (const i of [0, 1, 2, 3]) {
    const dr = `dr${i}`;
    it(`DR${i} with L${i} set faults before the instruction at its address, with DR6.B${i} (SDM vol. 3 §17.3.1.1)`, () => {
      const p = a32`
        mov eax, target
        mov ${dr}, eax
        mov eax, ${1 << (2 * i)}
        mov dr7, eax
        xor ebx, ebx
        mov ecx, 3
      again:
      target:
        inc ebx
        loop again
        hlt
      ${BP_HANDLER}`;
      const { s, memory } = run(p, {
        deliver: true,
        prepare: (_c, m) => setGate(m, Vector.db, p.at('bp_handler')),
      });
      // Each pass hits once; RF lets the instruction run after the IRETD, then it clears.
      expect(memory.read32(0x4ff0)).toBe(3);
      expect(memory.read32(0x4ff4) & 0xf).toBe(1 << i);
      expect(memory.read32(0x4fec) >>> 0).toBe(p.at('target'));
      expect(reg(s, Reg.ebx)).toBe(3);
      expect(s.flags & Eflags.rf).toBe(0);
    });
  }

  it('a global enable (G0) works like L0; a breakpoint with neither enabled never fires', () => {
    for (const [dr7, hits] of [
      [0x2, 1],
      [0x0, 0],
    ] as const) {
      const p = a32`
        mov eax, target
        mov dr0, eax
        mov eax, ${dr7}
        mov dr7, eax
      target:
        nop
        hlt
      ${BP_HANDLER}`;
      const { memory } = run(p, {
        deliver: true,
        prepare: (_c, m) => setGate(m, Vector.db, p.at('bp_handler')),
      });
      expect(memory.read32(0x4ff0)).toBe(hits);
    }
  });

  it('a DR0 breakpoint with R/W0 = 01 (data write) is not an instruction breakpoint', () => {
    const p = a32`
      mov eax, target
      mov dr0, eax
      mov eax, 0x000f0001
      mov dr7, eax
    target:
      nop
      hlt
    ${BP_HANDLER}`;
    const { memory } = run(p, {
      deliver: true,
      prepare: (_c, m) => setGate(m, Vector.db, p.at('bp_handler')),
    });
    expect(memory.read32(0x4ff0)).toBe(0);
  });

  it('a breakpoint on ring-3 code is taken by the ring-0 handler on the TSS stack', () => {
    const p = a32`
    target:
      inc ebx
      jmp $
    ${BP_HANDLER}`;
    const { cpu, memory } = run(p, {
      mode: 'flat32-user',
      deliver: true,
      limit: 20,
      prepare: (_c, m, st) => {
        setGate(m, Vector.db, p.at('bp_handler'));
        st.dr[0] = p.at('target');
        st.dr[7] = 0x401;
      },
    });
    expect(memory.read32(0x4ff0)).toBe(1);
    expect(memory.read32(0x4fec) >>> 0).toBe(p.at('target'));
    expect(cpu.state.regs[Reg.ebx]).toBe(1);
    expect(cpu.state.cpl).toBe(3); // back in ring 3 after the IRETD
    expect(cpu.state.segSel[Seg.cs]).toBe(0x1b);
  });
});

describe('instruction fetch faults', () => {
  it('a jump to a missing page faults at the target: CR2 and EIP are the target, error code 0', () => {
    const p = a32`
      jmp ${MISSING + 0x10}`;
    const { cpu, s } = run(p, { prepare: (_c, m, st) => identityMap(m, st, { missing: [MISSING] }) });
    expect(cpu.lastVector).toBe(Vector.pf);
    expect(cpu.lastErrorCode).toBe(0);
    expect(s.cr2 >>> 0).toBe(MISSING + 0x10);
    expect(s.eip).toBe(MISSING + 0x10);
  });

  it('an instruction that runs into a missing page faults with CR2 at the page and EIP at the instruction', () => {
    // MOV EAX, imm32 (5 bytes) at MISSING − 3: its immediate crosses into the missing page.
    const at = MISSING - 3;
    const { cpu, s } = run(a32`jmp ${at}`, {
      prepare: (_c, m, st) => {
        identityMap(m, st, { missing: [MISSING] });
        m.ram.set([0xb8, 0x11, 0x22], at);
      },
    });
    expect(cpu.lastVector).toBe(Vector.pf);
    expect(s.cr2 >>> 0).toBe(MISSING);
    expect(s.eip).toBe(at);
  });

  it('ring-3 code on a supervisor page faults on fetch with error code U = 1, P = 1', () => {
    const { cpu, s } = run(a32`jmp ${SUPERVISOR}`, {
      mode: 'flat32-user',
      prepare: (_c, m, st) => identityMap(m, st, { supervisor: [SUPERVISOR] }),
    });
    expect(cpu.lastVector).toBe(Vector.pf);
    expect(cpu.lastErrorCode).toBe(5);
    expect(s.eip).toBe(SUPERVISOR);
  });

  it('an instruction that straddles the CS limit raises #GP(0) at the instruction (SDM vol. 3 §5.3)', () => {
    // CS limit 0x1008: the MOV at 0x1002–0x1006 fits; the next one (0x1007–0x100B) does not.
    const p = a32`
      nop
      nop
      mov eax, 1
    last:
      mov ebx, 2`;
    const { cpu, s } = run(p, {
      prepare: (_c, _m, st) => {
        st.segLimit[Seg.cs] = 0x1008;
      },
    });
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(s.eip).toBe(p.at('last'));
    expect(reg(s, Reg.eax)).toBe(1);
  });
});

describe('EFLAGS.RF in the pushed image (SDM vol. 3 §17.3.1.1)', () => {
  // Each handler stores the pushed EFLAGS (above EIP and CS, and the error code if any).
  it('is 1 for a fault, so an instruction breakpoint on the faulting instruction does not fire again', () => {
    const pte = 0x41000 + (MISSING >>> 12) * 4;
    const p = a32`
      mov eax, target
      mov dr0, eax
      mov eax, 1
      mov dr7, eax
    target:
      mov ebx, [${MISSING}]
      hlt
    db_handler:
      inc dword [0x4ff0]
      mov eax, [esp + 8]
      mov [0x4fe0], eax
      or dword [esp + 8], 0x10000
      iretd
    pf_handler:
      mov eax, [esp + 12]
      mov [0x4fe4], eax
      mov dword [${pte}], ${MISSING | 7}
      add esp, 4
      iretd`;
    const { memory, reason } = run(p, {
      deliver: true,
      prepare: (_c, m, st) => {
        identityMap(m, st, { missing: [MISSING] });
        setGate(m, Vector.db, p.at('db_handler'));
        setGate(m, Vector.pf, p.at('pf_handler'));
      },
    });
    expect(reason).toBe(StopReason.halt);
    expect(memory.read32(0x4ff0)).toBe(1); // one #DB: the retry after #PF ran with RF = 1
    expect(memory.read32(0x4fe0) & Eflags.rf).toBe(0); // instruction breakpoint: RF as it was (0)
    expect(memory.read32(0x4fe4) & Eflags.rf).toBe(Eflags.rf); // #PF: RF = 1
  });

  it('is 1 for #GP and #UD, and 0 for INT n and a single-step trap', () => {
    const p = a32`
      mov ax, 0x4b
      mov ds, ax
    gp_back:
      ud2
    ud_back:
      int 0x40
      pushfd
      or dword [esp], 0x100
      popfd
      nop
      hlt
    gp_handler:
      mov eax, [esp + 12]
      mov [0x4fe0], eax
      add esp, 4
      mov dword [esp], gp_back
      iretd
    ud_handler:
      mov eax, [esp + 8]
      mov [0x4fe4], eax
      mov dword [esp], ud_back
      iretd
    int_handler:
      mov eax, [esp + 8]
      mov [0x4fe8], eax
      iretd
    db_handler:
      mov eax, [esp + 8]
      mov [0x4fec], eax
      and dword [esp + 8], ~0x100
      iretd`;
    const { memory, reason } = run(p, {
      deliver: true,
      prepare: (_c, m) => {
        setGate(m, Vector.gp, p.at('gp_handler'));
        setGate(m, Vector.ud, p.at('ud_handler'));
        setGate(m, 0x40, p.at('int_handler'));
        setGate(m, Vector.db, p.at('db_handler'));
      },
    });
    expect(reason).toBe(StopReason.halt);
    expect(memory.read32(0x4fe0) & Eflags.rf).toBe(Eflags.rf);
    expect(memory.read32(0x4fe4) & Eflags.rf).toBe(Eflags.rf);
    expect(memory.read32(0x4fe8) & Eflags.rf).toBe(0);
    expect(memory.read32(0x4fec) & (Eflags.rf | Eflags.tf)).toBe(Eflags.tf);
  });
});
