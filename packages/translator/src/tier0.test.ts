import { assemble } from '@ringzero/assembler';
import { describe, expect, it } from 'vitest';
import { Eflags, Reg, Seg } from './cpu-state';
import { Vector } from './fault';
import { createHarness, type FlatMemory, type HarnessOptions, runSnippet, setGate } from './harness';
import { a16, a32, type Program } from './instructions/snippet';
import { Action } from './policy';
import { StopReason, type Tier0 } from './tier0';

// Snippets are assembled with @ringzero/assembler at 0x1000 (`a32`/`a16`, see
// instructions/snippet.ts). The per-instruction suites in instructions/ go further; this file
// keeps the first tests written for tier 0.

const takeExceptions = { callouts: { exception: () => true } } as const;

/**
 * Identity-maps the first 4 MiB with 4 KiB pages except linear page `missing` (not present), and
 * turns paging on; returns the page table's address.
 */
function identityPagingExcept(cpu: Tier0, memory: FlatMemory, missing: number): number {
  const pd = 0x40000;
  const pt = 0x41000;
  memory.write32(pd, pt | 3);
  for (let i = 0; i < 1024; i++) memory.write32(pt + i * 4, i === missing ? 0 : (i << 12) | 3);
  cpu.state.cr3 = pd;
  cpu.state.cr0 |= 0x80000000;
  return pt;
}

function run(code: Program, options: HarnessOptions & { limit?: number } = {}) {
  return runSnippet(code.bytes, { ...takeExceptions, ...options });
}

describe('tier 0: integer basics', () => {
  it('runs a loop: mov ecx,5; xor eax,eax; add eax,ecx; loop; hlt (SDM vol. 2 "LOOP")', () => {
    const { cpu, reason } = run(a32`
      mov ecx, 5
      xor eax, eax
    body:
      add eax, ecx
      loop body
      hlt`);
    expect(reason).toBe(StopReason.halt);
    expect(cpu.state.regs[Reg.eax]).toBe(15);
    expect(cpu.state.regs[Reg.ecx]).toBe(0);
  });

  it('JECXZ branches on ECX = 0 without changing flags (SDM vol. 2 "Jcc")', () => {
    const { cpu } = run(a32`
      xor ecx, ecx
      jecxz taken
      hlt
    taken:
      inc eax
      hlt`);
    expect(cpu.state.regs[Reg.eax]).toBe(1);
  });

  it('DAA after 0x79 + 0x35 gives 0x14 with CF and AF set (SDM vol. 2 "DAA" example)', () => {
    const { cpu } = run(a32`
      mov al, 0x79
      add al, 0x35
      daa
      hlt`);
    expect(cpu.state.regs[Reg.eax]! & 0xff).toBe(0x14);
    expect(cpu.state.getCF()).toBe(1);
    expect(cpu.state.getAF()).not.toBe(0);
  });

  it('DAS after 0x35 - 0x47 gives 0x88 with CF set (SDM vol. 2 "DAS" example)', () => {
    const { cpu } = run(a32`
      mov al, 0x35
      sub al, 0x47
      das
      hlt`);
    expect(cpu.state.regs[Reg.eax]! & 0xff).toBe(0x88);
    expect(cpu.state.getCF()).toBe(1);
  });

  it('AAA adjusts AL = 9 + 8 to AX = 0x0107 with CF and AF (SDM vol. 2 "AAA")', () => {
    const { cpu } = run(a32`
      mov ax, 9
      add al, 8
      aaa
      hlt`);
    expect(cpu.state.regs[Reg.eax]! & 0xffff).toBe(0x0107);
    expect(cpu.state.getCF()).toBe(1);
  });

  it('AAS adjusts AX = 0x0203 - 5 to 0x0108 (SDM vol. 2 "AAS")', () => {
    // AL = 0xfe → AL-6 = 0xf8 & 0x0f = 8, AH = 1
    const { cpu } = run(a32`
      mov ax, 0x0203
      sub al, 5
      aas
      hlt`);
    expect(cpu.state.regs[Reg.eax]! & 0xffff).toBe(0x0108);
    expect(cpu.state.getCF()).toBe(1);
  });

  it('AAM splits AL = 63 into AH = 6, AL = 3 and AAD joins them back (SDM vol. 2 "AAM", "AAD")', () => {
    const { cpu } = run(a32`
      mov al, 63
      aam
      mov ebx, eax
      aad
      hlt`);
    expect(cpu.state.regs[Reg.ebx]! & 0xffff).toBe(0x0603);
    expect(cpu.state.regs[Reg.eax]! & 0xffff).toBe(63);
  });

  it('AAM 0 raises #DE at the instruction (SDM vol. 2 "AAM")', () => {
    const p = a32`
      mov al, 1
    divide:
      aam 0
      hlt`;
    const { cpu, reason } = run(p);
    expect(reason).toBe(StopReason.exception);
    expect(cpu.lastVector).toBe(Vector.de);
    expect(cpu.state.eip).toBe(p.at('divide'));
  });

  it('PUSHAD stores EAX..EDI with the original ESP and POPAD skips ESP (SDM vol. 2 "PUSHA")', () => {
    const { cpu, memory } = run(a32`
      mov eax, 1
      mov ebx, 4
      pushad
      mov eax, 0
      popad
      hlt`);
    const s = cpu.state;
    const sp0 = (1 << 20) - 0x1000;
    expect(s.regs[Reg.eax]).toBe(1);
    expect(s.regs[Reg.esp]).toBe(sp0);
    expect(memory.read32(sp0 - 4)).toBe(1); // EAX first
    expect(memory.read32(sp0 - 20)).toBe(sp0); // then ECX, EDX, EBX, original ESP
    expect(memory.read32(sp0 - 16)).toBe(4);
  });

  it('ENTER 8,2 copies one outer frame pointer and pushes the new one (SDM vol. 2 "ENTER")', () => {
    const { cpu, memory } = run(a32`
      mov ebp, 0x5000
      enter 8, 2
      hlt`);
    memory.write32(0x5000 - 4, 0xabcd);
    const s = cpu.state;
    const sp0 = (1 << 20) - 0x1000;
    expect(s.regs[Reg.ebp]).toBe(sp0 - 4);
    expect(memory.read32(sp0 - 4)).toBe(0x5000);
    expect(memory.read32(sp0 - 12)).toBe(sp0 - 4);
    expect(s.regs[Reg.esp]).toBe(sp0 - 12 - 8);
  });

  it('LEAVE after ENTER restores ESP and EBP (SDM vol. 2 "LEAVE")', () => {
    const { cpu } = run(a32`
      mov ebp, 0x5000
      enter 0x10, 0
      leave
      hlt`);
    expect(cpu.state.regs[Reg.ebp]).toBe(0x5000);
    expect(cpu.state.regs[Reg.esp]).toBe((1 << 20) - 0x1000);
  });

  it('address-size override truncates the effective address to 16 bits', () => {
    const { memory } = run(a32`
      mov ebx, 0x12345
      mov al, 0x5a
      mov [bx], al
      hlt`);
    expect(memory.read8(0x2345)).toBe(0x5a);
    expect(memory.read8(0x12345)).toBe(0);
  });

  it('REP STOSD fills ECX dwords and leaves ECX = 0, EDI advanced (SDM vol. 2 "REP")', () => {
    const { cpu, memory } = run(a32`
      mov edi, 0x3000
      mov ecx, 3
      mov eax, 0x11223344
      rep stosd
      hlt`);
    expect(memory.read32(0x3008)).toBe(0x11223344);
    expect(cpu.state.regs[Reg.ecx]).toBe(0);
    expect(cpu.state.regs[Reg.edi]).toBe(0x300c);
  });

  it('REPE CMPSB stops at the first difference (SDM vol. 2 "REP/REPE")', () => {
    const p = a32`
      mov esi, 0x3000
      mov edi, 0x3100
      mov ecx, 8
      repe cmpsb
      hlt`;
    const { cpu, memory } = createHarness(p.bytes, takeExceptions);
    memory.ram.set([1, 2, 3, 4], 0x3000);
    memory.ram.set([1, 2, 9, 4], 0x3100);
    cpu.run(100);
    expect(cpu.state.regs[Reg.ecx]).toBe(5);
    expect(cpu.state.regs[Reg.esi]).toBe(0x3003);
    expect(cpu.state.getZF()).toBe(0);
  });

  it('CMPXCHG8B stores ECX:EBX when EDX:EAX matches and loads the memory value otherwise (SDM vol. 2 "CMPXCHG8B")', () => {
    const p = a32`
      mov eax, 1
      xor edx, edx
      mov ebx, 5
      mov ecx, 6
      cmpxchg8b [0x3000]
      cmpxchg8b [0x3000]
      hlt`;
    const { cpu, memory } = createHarness(p.bytes);
    memory.write32(0x3000, 1);
    cpu.run(20);
    expect(memory.read32(0x3000)).toBe(5);
    expect(memory.read32(0x3004)).toBe(6);
    // The second compare fails: EDX:EAX now holds the memory value and ZF is clear.
    expect(cpu.state.regs[Reg.eax]).toBe(5);
    expect(cpu.state.regs[Reg.edx]).toBe(6);
    expect(cpu.state.getZF()).toBe(0);
  });

  it('BTS with a register bit offset addresses memory beyond the operand, negative offsets too (SDM vol. 2 "BTS")', () => {
    const { memory } = run(a32`
      mov eax, 100
      bts [0x3000], eax
      mov eax, -1
      bts [0x3010], eax
      hlt`);
    expect(memory.read32(0x300c)).toBe((0x80000000 | (1 << 4)) >>> 0); // bit 100 = dword 3, bit 4; bit -1 = bit 31 of 0x300c
  });

  it('REP MOVSB with DF = 1 copies backwards (SDM vol. 2 "MOVS")', () => {
    const p = a32`
      std
      mov esi, 0x3003
      mov edi, 0x3103
      mov ecx, 4
      rep movsb
      hlt`;
    const { cpu, memory } = createHarness(p.bytes);
    memory.ram.set([1, 2, 3, 4], 0x3000);
    cpu.run(20);
    expect([...memory.ram.subarray(0x3100, 0x3104)]).toEqual([1, 2, 3, 4]);
    expect(cpu.state.regs[Reg.esi]).toBe(0x2fff);
  });

  it('FNINIT leaves control word 0x037F and status word 0 (SDM vol. 2 "FINIT")', () => {
    const { cpu, memory } = run(a32`
      fninit
      fnstcw [0x3000]
      fnstsw ax
      hlt`);
    expect(memory.read16(0x3000)).toBe(0x37f);
    expect(cpu.state.regs[Reg.eax]! & 0xffff).toBe(0);
  });

  it('self-modifying code: a store over the next instruction takes effect', () => {
    // The store writes INC EAX (0x40) over the NOP at `patched`.
    const p = a32`
      mov byte [patched], 0x40
      times 5 nop
    patched:
      nop
      hlt`;
    const { cpu } = createHarness(p.bytes, takeExceptions);
    // Pre-run once so the nop at `patched` is cached, then rerun from the start.
    cpu.state.eip = p.at('patched');
    cpu.step();
    cpu.state.eip = 0x1000;
    cpu.run(100);
    expect(cpu.state.regs[Reg.eax]).toBe(1);
  });
});

describe('tier 0: precise exceptions', () => {
  it('DIV by zero raises #DE with EIP at the DIV and registers unchanged (SDM vol. 2 "DIV")', () => {
    const p = a32`
      mov eax, 7
      xor edx, edx
      xor ecx, ecx
    divide:
      div ecx
      hlt`;
    const { cpu, reason } = run(p);
    expect(reason).toBe(StopReason.exception);
    expect(cpu.lastVector).toBe(Vector.de);
    expect(cpu.state.eip).toBe(p.at('divide'));
    expect(cpu.state.regs[Reg.eax]).toBe(7);
  });

  it('IDIV overflow (0x80000000 / -1) raises #DE (SDM vol. 2 "IDIV")', () => {
    const { cpu } = run(a32`
      mov eax, 0x80000000
      cdq
      mov ecx, -1
      idiv ecx
      hlt`);
    expect(cpu.lastVector).toBe(Vector.de);
  });

  it('LOCK on a register destination raises #UD (SDM vol. 2 "LOCK")', () => {
    // The assembler refuses LOCK on a register destination: the prefix is written as a byte.
    const { cpu, reason } = run(a32`
      db 0xf0
      add eax, eax
      hlt`);
    expect(reason).toBe(StopReason.exception);
    expect(cpu.lastVector).toBe(Vector.ud);
    expect(cpu.state.eip).toBe(0x1000);
  });

  it('CLI at CPL 3 with IOPL 0 raises #GP(0) (SDM vol. 2 "CLI")', () => {
    const { cpu } = run(a32`cli\nhlt`, { mode: 'flat32-user' });
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(cpu.lastErrorCode).toBe(0);
    expect(cpu.state.eip).toBe(0x1000);
  });

  it('HLT at CPL 3 raises #GP(0): privileged forms are checked from the table row', () => {
    const { cpu } = run(a32`hlt`, { mode: 'flat32-user' });
    expect(cpu.lastVector).toBe(Vector.gp);
  });

  it('PUSH beyond the SS limit raises #SS(0) and leaves ESP unchanged (SDM vol. 3 §6.15 "#SS")', () => {
    const { cpu } = createHarness(a32`push eax\nhlt`.bytes, takeExceptions);
    cpu.state.segLimit[Seg.ss] = 0xfff;
    cpu.state.segAccess[Seg.ss] = 0x4093; // byte granular, expand-up
    cpu.state.regs[Reg.esp] = 0x2000;
    cpu.run(10);
    expect(cpu.lastVector).toBe(Vector.ss);
    expect(cpu.state.regs[Reg.esp]).toBe(0x2000);
  });

  it('a write to a read-only data segment raises #GP(0) (SDM vol. 3 §5.4)', () => {
    const { cpu } = createHarness(a32`mov [0x3000], eax`.bytes, takeExceptions);
    cpu.state.segAccess[Seg.ds] = 0xc091;
    cpu.run(10);
    expect(cpu.lastVector).toBe(Vector.gp);
  });

  it('#PF in the middle of REP MOVSB leaves ECX/ESI/EDI at the faulting iteration (SDM vol. 3 §4.7)', () => {
    const p = a32`
      mov esi, 0x2fff0
      mov edi, 0x20000
      mov ecx, 0x20
    copy:
      rep movsb
      hlt`;
    const { cpu, memory } = createHarness(p.bytes, takeExceptions);
    const pt = identityPagingExcept(cpu, memory, 0x30);
    const s = cpu.state;
    cpu.run(100);
    expect(cpu.lastVector).toBe(Vector.pf);
    expect(cpu.lastErrorCode).toBe(0); // supervisor read of a not-present page
    expect(s.cr2).toBe(0x30000);
    expect(s.regs[Reg.ecx]).toBe(0x10);
    expect(s.regs[Reg.esi]).toBe(0x30000);
    expect(s.regs[Reg.edi]).toBe(0x20010);
    expect(s.eip).toBe(p.at('copy'));
    // The accessed bit of the used PTE is set by the walk (SDM vol. 3 §4.8).
    expect(memory.read32(pt + 0x2f * 4) & 0x20).toBe(0x20);
  });

  it('REP STOSD across pages faults at the first dword of a not-present page, the dwords before it stored', () => {
    const p = a32`
      mov edi, 0x30ff8
      mov ecx, 0x1000
      mov eax, 0x5a5aa5a5
    fill:
      rep stosd
      hlt`;
    const { cpu, memory } = createHarness(p.bytes, takeExceptions);
    const pt = identityPagingExcept(cpu, memory, 0x32);
    const s = cpu.state;
    cpu.run(10_000);
    expect(cpu.lastVector).toBe(Vector.pf);
    expect(cpu.lastErrorCode).toBe(2); // supervisor write to a not-present page
    expect(s.cr2).toBe(0x32000);
    expect(s.regs[Reg.edi]).toBe(0x32000);
    expect(s.regs[Reg.ecx]).toBe(0x1000 - (0x32000 - 0x30ff8) / 4);
    expect(s.eip).toBe(p.at('fill'));
    expect(memory.read32(0x30ff8)).toBe(0x5a5aa5a5);
    expect(memory.read32(0x31ffc)).toBe(0x5a5aa5a5);
    expect(memory.read32(0x30ff4)).toBe(0);
    // Every stored dword retired as one instruction, the faulting one too (3 MOVs before).
    expect(cpu.instructions).toBe(3 + (0x32000 - 0x30ff8) / 4 + 1);
    // Both written pages are dirty (SDM vol. 3 §4.8).
    expect(memory.read32(pt + 0x30 * 4) & 0x40).toBe(0x40);
    expect(memory.read32(pt + 0x31 * 4) & 0x40).toBe(0x40);
  });

  it('code fetched after its page is remapped: INVLPG makes the next fetch use the new frame, without it the old one stays', () => {
    for (const flush of [true, false]) {
      // Page 2: `tail` (EAX = 1 in frame 2, 2 in its copy in frame 5), then `entry`, which maps
      // page 2 to frame 5 and jumps back to `tail` on the same page. The first call runs `tail`
      // from frame 2, so its decoded instruction is cached under that frame.
      const page2 = (value: number) =>
        assemble(
          `bits 32\norg 0x2000\ntail:\nmov eax, ${value}\nret\nentry:\nmov dword [0x41008], 0x5003\n${flush ? 'invlpg [0x2000]' : 'times 7 nop'}\njmp tail`,
        ).bytes;
      const { cpu, memory } = createHarness(a32`call 0x2000\ncall 0x2006\nhlt`.bytes, takeExceptions);
      identityPagingExcept(cpu, memory, -1);
      memory.ram.set(page2(1), 0x2000);
      memory.ram.set(page2(2), 0x5000);
      cpu.run(100);
      // Without INVLPG the processor may keep the old translation (SDM vol. 3 §4.10.4.2); this
      // model's TLB does, and so must the fetch.
      expect(cpu.state.regs[Reg.eax]).toBe(flush ? 2 : 1);
    }
  });

  it('REP MOVSB with the destination just above the source repeats bytes, as element-wise copying does', () => {
    const p = a32`
      mov esi, 0x3000
      mov edi, 0x3001
      mov ecx, 40
      rep movsb
      hlt`;
    const { cpu, memory } = createHarness(p.bytes, takeExceptions);
    memory.ram.set([7, 1, 2, 3], 0x3000);
    cpu.run(1000);
    expect([...memory.ram.subarray(0x3000, 0x3000 + 41)]).toEqual(new Array(41).fill(7));
    expect(cpu.state.regs[Reg.ecx]).toBe(0);
    expect(cpu.instructions).toBe(3 + 40 + 1);
  });

  it('REP STOSB over code that already ran invalidates it: the new bytes execute', () => {
    const p = a32`
      mov ebx, 2
    again:
      cmp ebx, 1
      jne patched
      mov edi, patched
      mov ecx, 2
      mov al, 0x40
      rep stosb             ; writes INC EAX over the two NOPs the first pass ran
    patched:
      nop
      nop
      dec ebx
      jnz again
      hlt`;
    const { cpu } = createHarness(p.bytes, takeExceptions);
    cpu.run(1000);
    expect(cpu.state.regs[Reg.eax]).toBe(0x42);
  });

  it('a user-mode write to a supervisor page raises #PF with error code U/S|W|P (SDM vol. 3 §4.7)', () => {
    const { cpu, memory } = createHarness(a32`mov [0x50000], eax`.bytes, {
      ...takeExceptions,
      mode: 'flat32-user',
    });
    const pd = 0x40000;
    const pt = 0x41000;
    memory.write32(pd, pt | 7);
    for (let i = 0; i < 1024; i++) memory.write32(pt + i * 4, (i << 12) | (i === 0x50 ? 3 : 7));
    cpu.state.cr3 = pd;
    cpu.state.cr0 |= 0x80000000;
    cpu.run(10);
    expect(cpu.lastVector).toBe(Vector.pf);
    expect(cpu.lastErrorCode).toBe(7);
  });
});

describe('tier 0: interrupt delivery', () => {
  it('real mode: INT n pushes FLAGS, CS, IP and vectors through the IVT (SDM vol. 3 §20.1.4)', () => {
    // The handler at 0000:2000 is a HLT.
    const { cpu, memory } = createHarness(a16`int 0x21\nhlt`.bytes, { mode: 'real' });
    memory.write16(0x21 * 4, 0x2000);
    memory.write16(0x21 * 4 + 2, 0);
    memory.write8(0x2000, 0xf4);
    cpu.state.flags |= Eflags.if;
    cpu.run(10);
    const s = cpu.state;
    expect(s.eip).toBe(0x2001);
    expect(s.regs[Reg.esp]).toBe(0xfffe - 6);
    expect(memory.read16(0xfffe - 6)).toBe(0x1002); // return IP
    expect(s.flags & Eflags.if).toBe(0);
  });

  it('INT 0x80 from CPL 3 switches to the TSS ring-0 stack and pushes SS, ESP, EFLAGS, CS, EIP (SDM vol. 3 §6.12.1)', () => {
    const { cpu, memory } = createHarness(a32`int 0x80\nhlt`.bytes, { mode: 'flat32-user' });
    setGate(memory, 0x80, 0x3000, 3);
    memory.write8(0x3000, 0xf4);
    cpu.run(10);
    const s = cpu.state;
    const esp0 = (1 << 20) - 16;
    expect(s.cpl).toBe(0);
    expect(s.segSel[Seg.ss]).toBe(0x10);
    expect(s.regs[Reg.esp]).toBe(esp0 - 20);
    expect(memory.read32(esp0 - 20)).toBe(0x1002);
    expect(memory.read32(esp0 - 16)).toBe(0x1b);
    expect(memory.read32(esp0 - 4)).toBe(0x23);
  });

  it('INT n through a gate with DPL < CPL raises #GP(vector·8+2) (SDM vol. 3 §6.12.1.1)', () => {
    const { cpu, memory } = createHarness(a32`int 0x80\nhlt`.bytes, {
      ...takeExceptions,
      mode: 'flat32-user',
    });
    setGate(memory, 0x80, 0x3000, 0);
    cpu.run(10);
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(cpu.lastErrorCode).toBe(0x80 * 8 + 2);
    expect(cpu.state.eip).toBe(0x1000);
  });

  it('IRETD returns from the ring-0 handler to CPL 3 and restores the user stack (SDM vol. 2 "IRET")', () => {
    const { cpu, memory } = createHarness(a32`int 0x80\ninc eax\nhlt`.bytes, { mode: 'flat32-user' });
    setGate(memory, 0x80, 0x3000, 3);
    memory.write8(0x3000, 0xcf); // iretd
    cpu.run(3);
    const s = cpu.state;
    expect(s.cpl).toBe(3);
    expect(s.eip).toBe(0x1003);
    expect(s.regs[Reg.eax]).toBe(1);
    expect(s.regs[Reg.esp]).toBe((1 << 20) - 0x1000);
  });

  it('TF single-steps: #DB is delivered after one instruction with DR6.BS set (SDM vol. 3 §17.3.1.4)', () => {
    const p = a32`
      pushfd
      or dword [esp], 0x100
      popfd
      inc eax
      inc eax
      hlt`;
    const { cpu, memory } = createHarness(p.bytes);
    setGate(memory, 1, 0x3000);
    memory.write8(0x3000, 0xf4);
    cpu.run(20);
    const s = cpu.state;
    expect(s.eip).toBe(0x3001);
    expect(s.regs[Reg.eax]).toBe(1);
    expect(s.dr[6]! & 0x4000).toBe(0x4000);
  });

  it('a DR0 instruction breakpoint raises #DB before the instruction runs (SDM vol. 3 §17.3.1.1)', () => {
    const { cpu } = run(a32`inc eax\ninc eax\ninc eax\nhlt`);
    cpu.state.eip = 0x1000;
    cpu.state.regs[Reg.eax] = 0;
    cpu.state.dr[0] = 0x1001;
    cpu.state.dr[7] = 0x401;
    cpu.state.halted = false;
    cpu.run(10);
    expect(cpu.lastVector).toBe(Vector.db);
    expect(cpu.state.eip).toBe(0x1001);
    expect(cpu.state.regs[Reg.eax]).toBe(1);
    expect(cpu.state.dr[6]! & 1).toBe(1);
  });

  it('an injected external interrupt wakes HLT and is delivered only with IF set (SDM vol. 3 §6.8.1)', () => {
    // The handler at 0x3000 is an IRETD.
    const { cpu, memory } = createHarness(a32`sti\nhlt\ninc eax\nhlt`.bytes);
    setGate(memory, 0x20, 0x3000);
    memory.write8(0x3000, 0xcf);
    expect(cpu.run(10)).toBe(StopReason.halt);
    expect(cpu.state.eip).toBe(0x1002);
    cpu.state.flags &= ~Eflags.if;
    expect(cpu.injectInterrupt(0x20)).toBe(false);
    cpu.state.flags |= Eflags.if;
    expect(cpu.injectInterrupt(0x20)).toBe(true);
    expect(cpu.state.halted).toBe(false);
    expect(cpu.state.eip).toBe(0x3000);
    cpu.run(10);
    expect(cpu.state.regs[Reg.eax]).toBe(1);
  });

  it('real mode: #DE is delivered through IVT entry 0 with IP at the DIV (SDM vol. 3 §20.1.4)', () => {
    // The handler at 0000:2000 is a HLT.
    const { cpu, memory } = createHarness(a16`xor cx, cx\ndiv cx\nhlt`.bytes, { mode: 'real' });
    memory.write16(0, 0x2000);
    memory.write8(0x2000, 0xf4);
    cpu.run(10);
    expect(cpu.state.eip).toBe(0x2001);
    expect(memory.read16(0xfffe - 6)).toBe(0x1002);
  });

  it('a fault while delivering a fault escalates to a triple fault when the IDT is empty (SDM vol. 3 §6.15)', () => {
    const { reason } = runSnippet(a32`ud2`.bytes);
    expect(reason).toBe(StopReason.tripleFault);
  });
});

describe('tier 0: callouts and policy', () => {
  it('OUT and IN go to the port callouts', () => {
    const writes: number[] = [];
    const p = a32`
      mov dx, 0x3f8
      mov al, 0x41
      out dx, al
      in al, dx
      hlt`;
    const { cpu } = run(p, {
      callouts: { ioWrite: (p, _s, v) => writes.push(p, v), ioRead: () => 0x99 },
    });
    expect(writes).toEqual([0x3f8, 0x41]);
    expect(cpu.state.regs[Reg.eax]! & 0xff).toBe(0x99);
  });

  it('CPUID asks the cpuid callout', () => {
    const { cpu } = run(a32`xor eax, eax\ncpuid\nhlt`, {
      callouts: {
        cpuid: (_l, _s, out) => {
          out[0] = 7;
          out[1] = 8;
        },
      },
    });
    expect(cpu.state.regs[Reg.eax]).toBe(7);
    expect(cpu.state.regs[Reg.ebx]).toBe(8);
  });

  it('a policy that exits on CPUID stops before it with the state untouched', () => {
    const { cpu, reason } = run(a32`inc eax\ncpuid\nhlt`, {
      policy: { decide: (code) => (code === 0 ? Action.inline : Action.exit) },
    });
    expect(reason).toBe(StopReason.exit);
    expect(cpu.state.eip).toBe(0x1001);
    expect(cpu.state.regs[Reg.eax]).toBe(1);
  });

  it('a policy callout hands the form to the hypervisor emulate callout', () => {
    const seen: number[] = [];
    // Two instructions: the emulated HLT does not halt, and the zeros after it are not the test's.
    const { cpu } = run(a32`cli\nhlt`, {
      limit: 2,
      policy: { decide: () => Action.callout },
      callouts: {
        emulate: (code) => {
          seen.push(code);
          return true;
        },
      },
    });
    expect(seen.length).toBe(2); // CLI, then HLT (both privileged or IOPL-checked)
    expect(cpu.state.flags & Eflags.if).toBe(0);
  });

  it('the policy is asked before the privilege check: a callout for CLI at CPL 3 does not fault', () => {
    const seen: number[] = [];
    const { cpu } = run(a32`cli\ninc eax\njmp $`, {
      mode: 'flat32-user',
      limit: 3,
      policy: { decide: (_code, cls) => (cls === 2 ? Action.callout : Action.inline) },
      callouts: {
        emulate: (code) => {
          seen.push(code);
          return true;
        },
      },
    });
    expect(seen.length).toBe(1);
    expect(cpu.lastVector).toBe(-1);
    expect(cpu.state.regs[Reg.eax]).toBe(1);
  });

  it('WRMSR/RDMSR of SYSENTER_EIP round-trips through the MSR callouts (SDM vol. 4 table 2-2)', () => {
    const { cpu } = run(a32`
      mov ecx, 0x176
      mov eax, 0xc0001000
      xor edx, edx
      wrmsr
      xor eax, eax
      rdmsr
      hlt`);
    expect(cpu.state.regs[Reg.eax]! >>> 0).toBe(0xc0001000);
    expect(cpu.state.sysenterEip >>> 0).toBe(0xc0001000);
  });

  it('RDTSC reads a time-stamp counter that advances by one per retired instruction (deterministic time)', () => {
    // nop / nop / rdtsc / hlt
    const { cpu } = run(a32`nop\nnop\nrdtsc\nhlt`);
    expect(cpu.state.regs[Reg.eax]).toBe(3); // two NOPs and the RDTSC itself have retired
    expect(cpu.state.tsc).toBe(4n);
  });

  it('RDTSC splits a callout counter given as a number or as a bigint into EDX:EAX', () => {
    for (const t of [0x1_2345_89ab_cdef, 0x1_2345_89ab_cdefn, 0xffff_ffff_ffff_fffen]) {
      const { cpu } = run(a32`rdtsc\nhlt`, { callouts: { exception: () => true, rdtsc: () => t } });
      const want = BigInt(t);
      expect(cpu.state.regs[Reg.eax]! >>> 0).toBe(Number(want & 0xffff_ffffn));
      expect(cpu.state.regs[Reg.edx]! >>> 0).toBe(Number(want >> 32n));
    }
  });

  it('RDMSR of an unknown MSR raises #GP(0)', () => {
    const { cpu } = run(a32`
      mov ecx, 0x12345
      rdmsr
      hlt`);
    expect(cpu.lastVector).toBe(Vector.gp);
  });
});

describe('tier 0: trace hooks', () => {
  it('reports each executed instruction, first decodes and delivered exceptions in order', () => {
    const p = a32`
      mov ecx, 2
    l:
      dec ecx
      jnz l
      ud2`;
    const { cpu } = createHarness(p.bytes, {
      callouts: { exception: () => true },
    });
    const events: string[] = [];
    cpu.trace = {
      exec: (_cs, eip, _lin, ins) => events.push(`exec ${eip.toString(16)} ${ins.length}`),
      decode: (_cs, eip) => events.push(`decode ${eip.toString(16)}`),
      interrupt: (v, _e, kind, eip) => events.push(`int ${v} ${kind} ${eip.toString(16)}`),
    };
    expect(cpu.run(100)).toBe(StopReason.exception);
    expect(events).toEqual([
      'decode 1000',
      'exec 1000 5',
      'decode 1005',
      'exec 1005 1',
      'decode 1006',
      'exec 1006 2',
      'exec 1005 1',
      'exec 1006 2',
      'decode 1008',
      'exec 1008 2',
    ]);
    cpu.trace = null;
  });

  it('names external interrupts and software interrupts apart', () => {
    // Real-mode IVT entries point at an IRET.
    const { cpu, memory } = createHarness(a16`sti\nnop\nint 0x21\nhlt`.bytes, { mode: 'real' });
    memory.write8(0x3000, 0xcf);
    for (const v of [0x08, 0x21]) {
      memory.write16(v * 4, 0x3000);
      memory.write16(v * 4 + 2, 0);
    }
    const kinds: string[] = [];
    cpu.trace = { interrupt: (v, _e, kind) => kinds.push(`${v}:${kind}`) };
    cpu.run(2);
    expect(cpu.injectInterrupt(0x08)).toBe(true);
    cpu.run(10);
    expect(kinds).toEqual(['8:external', '33:software']);
  });
});
