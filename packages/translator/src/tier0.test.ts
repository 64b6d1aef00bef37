import { describe, expect, it } from 'vitest';
import { Eflags, Reg, Seg } from './cpu-state';
import { Vector } from './fault';
import { createHarness, type HarnessOptions, runSnippet, setGate } from './harness';
import { Action } from './policy';
import { StopReason } from './tier0';

// Tests use hand-encoded machine code (the assembler package is not available yet); each
// byte sequence is commented with its Intel-syntax meaning.

const takeExceptions = { callouts: { exception: () => true } } as const;

function run(code: number[], options: HarnessOptions & { limit?: number } = {}) {
  return runSnippet(new Uint8Array(code), { ...takeExceptions, ...options });
}

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

describe('tier 0: integer basics', () => {
  it('runs a loop: mov ecx,5; xor eax,eax; add eax,ecx; loop; hlt (SDM vol. 2 "LOOP")', () => {
    // mov ecx,5 / xor eax,eax / add eax,ecx / loop -4 / hlt
    const { cpu, reason } = run([0xb9, ...le32(5), 0x31, 0xc0, 0x01, 0xc8, 0xe2, 0xfc, 0xf4]);
    expect(reason).toBe(StopReason.halt);
    expect(cpu.state.regs[Reg.eax]).toBe(15);
    expect(cpu.state.regs[Reg.ecx]).toBe(0);
  });

  it('JECXZ branches on ECX = 0 without changing flags (SDM vol. 2 "Jcc")', () => {
    // xor ecx,ecx / jecxz +1 / hlt / inc eax / hlt
    const { cpu } = run([0x31, 0xc9, 0xe3, 0x01, 0xf4, 0x40, 0xf4]);
    expect(cpu.state.regs[Reg.eax]).toBe(1);
  });

  it('DAA after 0x79 + 0x35 gives 0x14 with CF and AF set (SDM vol. 2 "DAA" example)', () => {
    // mov al,0x79 / add al,0x35 / daa / hlt
    const { cpu } = run([0xb0, 0x79, 0x04, 0x35, 0x27, 0xf4]);
    expect(cpu.state.regs[Reg.eax]! & 0xff).toBe(0x14);
    expect(cpu.state.getCF()).toBe(1);
    expect(cpu.state.getAF()).not.toBe(0);
  });

  it('DAS after 0x35 - 0x47 gives 0x88 with CF set (SDM vol. 2 "DAS" example)', () => {
    // mov al,0x35 / sub al,0x47 / das / hlt
    const { cpu } = run([0xb0, 0x35, 0x2c, 0x47, 0x2f, 0xf4]);
    expect(cpu.state.regs[Reg.eax]! & 0xff).toBe(0x88);
    expect(cpu.state.getCF()).toBe(1);
  });

  it('AAA adjusts AL = 9 + 8 to AX = 0x0107 with CF and AF (SDM vol. 2 "AAA")', () => {
    // mov ax,9 / add al,8 / aaa / hlt
    const { cpu } = run([0x66, 0xb8, 0x09, 0x00, 0x04, 0x08, 0x37, 0xf4]);
    expect(cpu.state.regs[Reg.eax]! & 0xffff).toBe(0x0107);
    expect(cpu.state.getCF()).toBe(1);
  });

  it('AAS adjusts AX = 0x0203 - 5 to 0x0108 (SDM vol. 2 "AAS")', () => {
    // mov ax,0x0203 / sub al,5 / aas / hlt  → AL = 0xfe → AL-6 = 0xf8 & 0x0f = 8, AH = 1
    const { cpu } = run([0x66, 0xb8, 0x03, 0x02, 0x2c, 0x05, 0x3f, 0xf4]);
    expect(cpu.state.regs[Reg.eax]! & 0xffff).toBe(0x0108);
    expect(cpu.state.getCF()).toBe(1);
  });

  it('AAM splits AL = 63 into AH = 6, AL = 3 and AAD joins them back (SDM vol. 2 "AAM", "AAD")', () => {
    // mov al,63 / aam / mov ebx,eax / aad / hlt
    const { cpu } = run([0xb0, 63, 0xd4, 0x0a, 0x89, 0xc3, 0xd5, 0x0a, 0xf4]);
    expect(cpu.state.regs[Reg.ebx]! & 0xffff).toBe(0x0603);
    expect(cpu.state.regs[Reg.eax]! & 0xffff).toBe(63);
  });

  it('AAM 0 raises #DE at the instruction (SDM vol. 2 "AAM")', () => {
    const { cpu, reason } = run([0xb0, 1, 0xd4, 0x00, 0xf4]);
    expect(reason).toBe(StopReason.exception);
    expect(cpu.lastVector).toBe(Vector.de);
    expect(cpu.state.eip).toBe(0x1002);
  });

  it('PUSHAD stores EAX..EDI with the original ESP and POPAD skips ESP (SDM vol. 2 "PUSHA")', () => {
    // mov eax,1 / mov ebx,4 / pushad / mov eax,0 / popad / hlt
    const { cpu, memory } = run([0xb8, ...le32(1), 0xbb, ...le32(4), 0x60, 0xb8, ...le32(0), 0x61, 0xf4]);
    const s = cpu.state;
    const sp0 = (1 << 20) - 0x1000;
    expect(s.regs[Reg.eax]).toBe(1);
    expect(s.regs[Reg.esp]).toBe(sp0);
    expect(memory.read32(sp0 - 4)).toBe(1); // EAX first
    expect(memory.read32(sp0 - 20)).toBe(sp0); // then ECX, EDX, EBX, original ESP
    expect(memory.read32(sp0 - 16)).toBe(4);
  });

  it('ENTER 8,2 copies one outer frame pointer and pushes the new one (SDM vol. 2 "ENTER")', () => {
    // mov ebp,0x5000 / enter 8,2 / hlt
    const { cpu, memory } = run([0xbd, ...le32(0x5000), 0xc8, 0x08, 0x00, 0x02, 0xf4]);
    memory.write32(0x5000 - 4, 0xabcd);
    const s = cpu.state;
    const sp0 = (1 << 20) - 0x1000;
    expect(s.regs[Reg.ebp]).toBe(sp0 - 4);
    expect(memory.read32(sp0 - 4)).toBe(0x5000);
    expect(memory.read32(sp0 - 12)).toBe(sp0 - 4);
    expect(s.regs[Reg.esp]).toBe(sp0 - 12 - 8);
  });

  it('LEAVE after ENTER restores ESP and EBP (SDM vol. 2 "LEAVE")', () => {
    const { cpu } = run([0xbd, ...le32(0x5000), 0xc8, 0x10, 0x00, 0x00, 0xc9, 0xf4]);
    expect(cpu.state.regs[Reg.ebp]).toBe(0x5000);
    expect(cpu.state.regs[Reg.esp]).toBe((1 << 20) - 0x1000);
  });

  it('address-size override truncates the effective address to 16 bits', () => {
    // mov ebx,0x12345 / mov byte [0x2345] via 67 88 07 (mov [bx],al) with al=0x5a / hlt
    const { memory } = run([0xbb, ...le32(0x12345), 0xb0, 0x5a, 0x67, 0x88, 0x07, 0xf4]);
    expect(memory.read8(0x2345)).toBe(0x5a);
    expect(memory.read8(0x12345)).toBe(0);
  });

  it('REP STOSD fills ECX dwords and leaves ECX = 0, EDI advanced (SDM vol. 2 "REP")', () => {
    // mov edi,0x3000 / mov ecx,3 / mov eax,0x11223344 / rep stosd / hlt
    const { cpu, memory } = run([
      0xbf,
      ...le32(0x3000),
      0xb9,
      ...le32(3),
      0xb8,
      ...le32(0x11223344),
      0xf3,
      0xab,
      0xf4,
    ]);
    expect(memory.read32(0x3008)).toBe(0x11223344);
    expect(cpu.state.regs[Reg.ecx]).toBe(0);
    expect(cpu.state.regs[Reg.edi]).toBe(0x300c);
  });

  it('REPE CMPSB stops at the first difference (SDM vol. 2 "REP/REPE")', () => {
    const code = [0xbe, ...le32(0x3000), 0xbf, ...le32(0x3100), 0xb9, ...le32(8), 0xf3, 0xa6, 0xf4];
    const { cpu, memory } = createHarness(new Uint8Array(code), takeExceptions);
    memory.ram.set([1, 2, 3, 4], 0x3000);
    memory.ram.set([1, 2, 9, 4], 0x3100);
    cpu.run(100);
    expect(cpu.state.regs[Reg.ecx]).toBe(5);
    expect(cpu.state.regs[Reg.esi]).toBe(0x3003);
    expect(cpu.state.getZF()).toBe(0);
  });

  it('CMPXCHG8B stores ECX:EBX when EDX:EAX matches and loads the memory value otherwise (SDM vol. 2 "CMPXCHG8B")', () => {
    // mov eax,1 / xor edx,edx / mov ebx,5 / mov ecx,6 / cmpxchg8b [0x3000] / cmpxchg8b [0x3000] / hlt
    const code = [
      0xb8,
      ...le32(1),
      0x31,
      0xd2,
      0xbb,
      ...le32(5),
      0xb9,
      ...le32(6),
      0x0f,
      0xc7,
      0x0d,
      ...le32(0x3000),
      0x0f,
      0xc7,
      0x0d,
      ...le32(0x3000),
      0xf4,
    ];
    const { cpu, memory } = createHarness(new Uint8Array(code));
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
    // mov eax,100 / bts [0x3000],eax / mov eax,-1 / bts [0x3010],eax / hlt
    const code = [
      0xb8,
      ...le32(100),
      0x0f,
      0xab,
      0x05,
      ...le32(0x3000),
      0xb8,
      ...le32(-1),
      0x0f,
      0xab,
      0x05,
      ...le32(0x3010),
      0xf4,
    ];
    const { memory } = run(code);
    expect(memory.read32(0x300c)).toBe((0x80000000 | (1 << 4)) >>> 0); // bit 100 = dword 3, bit 4; bit -1 = bit 31 of 0x300c
  });

  it('REP MOVSB with DF = 1 copies backwards (SDM vol. 2 "MOVS")', () => {
    // std / mov esi,0x3003 / mov edi,0x3103 / mov ecx,4 / rep movsb / hlt
    const code = [0xfd, 0xbe, ...le32(0x3003), 0xbf, ...le32(0x3103), 0xb9, ...le32(4), 0xf3, 0xa4, 0xf4];
    const { cpu, memory } = createHarness(new Uint8Array(code));
    memory.ram.set([1, 2, 3, 4], 0x3000);
    cpu.run(20);
    expect([...memory.ram.subarray(0x3100, 0x3104)]).toEqual([1, 2, 3, 4]);
    expect(cpu.state.regs[Reg.esi]).toBe(0x2fff);
  });

  it('FNINIT leaves control word 0x037F and status word 0 (SDM vol. 2 "FINIT")', () => {
    // fninit / fnstcw [0x3000] / fnstsw ax / hlt
    const { cpu, memory } = run([0xdb, 0xe3, 0xd9, 0x3d, ...le32(0x3000), 0xdf, 0xe0, 0xf4]);
    expect(memory.read16(0x3000)).toBe(0x37f);
    expect(cpu.state.regs[Reg.eax]! & 0xffff).toBe(0);
  });

  it('self-modifying code: a store over the next instruction takes effect', () => {
    // mov byte [0x100c],0x40 (inc eax replaces nop) / nop / nop ... / hlt
    const code = [0xc6, 0x05, ...le32(0x100c), 0x40, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0xf4];
    const { cpu } = createHarness(new Uint8Array(code), takeExceptions);
    // Pre-run once so the nop at 0x100c is cached, then rerun from the start.
    cpu.state.eip = 0x100c;
    cpu.step();
    cpu.state.eip = 0x1000;
    cpu.run(100);
    expect(cpu.state.regs[Reg.eax]).toBe(1);
  });
});

describe('tier 0: precise exceptions', () => {
  it('DIV by zero raises #DE with EIP at the DIV and registers unchanged (SDM vol. 2 "DIV")', () => {
    // mov eax,7 / xor edx,edx / xor ecx,ecx / div ecx
    const { cpu, reason } = run([0xb8, ...le32(7), 0x31, 0xd2, 0x31, 0xc9, 0xf7, 0xf1, 0xf4]);
    expect(reason).toBe(StopReason.exception);
    expect(cpu.lastVector).toBe(Vector.de);
    expect(cpu.state.eip).toBe(0x1009);
    expect(cpu.state.regs[Reg.eax]).toBe(7);
  });

  it('IDIV overflow (0x80000000 / -1) raises #DE (SDM vol. 2 "IDIV")', () => {
    // mov eax,0x80000000 / cdq / mov ecx,-1 / idiv ecx
    const { cpu } = run([0xb8, ...le32(0x80000000), 0x99, 0xb9, ...le32(0xffffffff), 0xf7, 0xf9, 0xf4]);
    expect(cpu.lastVector).toBe(Vector.de);
  });

  it('LOCK on a register destination raises #UD (SDM vol. 2 "LOCK")', () => {
    // lock add eax,eax
    const { cpu, reason } = run([0xf0, 0x01, 0xc0, 0xf4]);
    expect(reason).toBe(StopReason.exception);
    expect(cpu.lastVector).toBe(Vector.ud);
    expect(cpu.state.eip).toBe(0x1000);
  });

  it('CLI at CPL 3 with IOPL 0 raises #GP(0) (SDM vol. 2 "CLI")', () => {
    const { cpu } = run([0xfa, 0xf4], { mode: 'flat32-user' });
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(cpu.lastErrorCode).toBe(0);
    expect(cpu.state.eip).toBe(0x1000);
  });

  it('HLT at CPL 3 raises #GP(0): privileged forms are checked from the table row', () => {
    const { cpu } = run([0xf4], { mode: 'flat32-user' });
    expect(cpu.lastVector).toBe(Vector.gp);
  });

  it('PUSH beyond the SS limit raises #SS(0) and leaves ESP unchanged (SDM vol. 3 §6.15 "#SS")', () => {
    const { cpu } = createHarness(new Uint8Array([0x50, 0xf4]), takeExceptions);
    cpu.state.segLimit[Seg.ss] = 0xfff;
    cpu.state.segAccess[Seg.ss] = 0x4093; // byte granular, expand-up
    cpu.state.regs[Reg.esp] = 0x2000;
    cpu.run(10);
    expect(cpu.lastVector).toBe(Vector.ss);
    expect(cpu.state.regs[Reg.esp]).toBe(0x2000);
  });

  it('a write to a read-only data segment raises #GP(0) (SDM vol. 3 §5.4)', () => {
    // mov [0x3000],eax with DS read-only
    const { cpu } = createHarness(new Uint8Array([0xa3, ...le32(0x3000), 0xf4]), takeExceptions);
    cpu.state.segAccess[Seg.ds] = 0xc091;
    cpu.run(10);
    expect(cpu.lastVector).toBe(Vector.gp);
  });

  it('#PF in the middle of REP MOVSB leaves ECX/ESI/EDI at the faulting iteration (SDM vol. 3 §4.7)', () => {
    // mov esi,0x2fff0 / mov edi,0x20000 / mov ecx,0x20 / rep movsb / hlt
    const code = [0xbe, ...le32(0x2fff0), 0xbf, ...le32(0x20000), 0xb9, ...le32(0x20), 0xf3, 0xa4, 0xf4];
    const { cpu, memory } = createHarness(new Uint8Array(code), takeExceptions);
    // Identity-map 4 MiB with 4 KiB pages, except linear page 0x30.
    const pd = 0x40000;
    const pt = 0x41000;
    memory.write32(pd, pt | 3);
    for (let i = 0; i < 1024; i++) memory.write32(pt + i * 4, i === 0x30 ? 0 : (i << 12) | 3);
    const s = cpu.state;
    s.cr3 = pd;
    s.cr0 |= 0x80000000;
    cpu.run(100);
    expect(cpu.lastVector).toBe(Vector.pf);
    expect(cpu.lastErrorCode).toBe(0); // supervisor read of a not-present page
    expect(s.cr2).toBe(0x30000);
    expect(s.regs[Reg.ecx]).toBe(0x10);
    expect(s.regs[Reg.esi]).toBe(0x30000);
    expect(s.regs[Reg.edi]).toBe(0x20010);
    expect(s.eip).toBe(0x100f);
    // The accessed bit of the used PTE is set by the walk (SDM vol. 3 §4.8).
    expect(memory.read32(pt + 0x2f * 4) & 0x20).toBe(0x20);
  });

  it('a user-mode write to a supervisor page raises #PF with error code U/S|W|P (SDM vol. 3 §4.7)', () => {
    // mov [0x50000],eax at CPL 3
    const { cpu, memory } = createHarness(new Uint8Array([0xa3, ...le32(0x50000), 0xf4]), {
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
    // int 0x21 ; handler at 0000:2000 = hlt
    const { cpu, memory } = createHarness(new Uint8Array([0xcd, 0x21, 0xf4]), { mode: 'real' });
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
    const { cpu, memory } = createHarness(new Uint8Array([0xcd, 0x80, 0xf4]), { mode: 'flat32-user' });
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
    const { cpu, memory } = createHarness(new Uint8Array([0xcd, 0x80, 0xf4]), {
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
    const { cpu, memory } = createHarness(new Uint8Array([0xcd, 0x80, 0x40, 0xf4]), { mode: 'flat32-user' });
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
    // pushfd / or dword [esp],0x100 / popfd / inc eax / inc eax
    const code = [0x9c, 0x81, 0x0c, 0x24, ...le32(0x100), 0x9d, 0x40, 0x40, 0xf4];
    const { cpu, memory } = createHarness(new Uint8Array(code));
    setGate(memory, 1, 0x3000);
    memory.write8(0x3000, 0xf4);
    cpu.run(20);
    const s = cpu.state;
    expect(s.eip).toBe(0x3001);
    expect(s.regs[Reg.eax]).toBe(1);
    expect(s.dr[6]! & 0x4000).toBe(0x4000);
  });

  it('a DR0 instruction breakpoint raises #DB before the instruction runs (SDM vol. 3 §17.3.1.1)', () => {
    const { cpu } = run([0x40, 0x40, 0x40, 0xf4]);
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
    // sti / hlt / inc eax / hlt ; handler at 0x3000: iretd
    const { cpu, memory } = createHarness(new Uint8Array([0xfb, 0xf4, 0x40, 0xf4]));
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
    // xor cx,cx / div cx ; handler at 0000:2000 = hlt
    const { cpu, memory } = createHarness(new Uint8Array([0x31, 0xc9, 0xf7, 0xf1, 0xf4]), { mode: 'real' });
    memory.write16(0, 0x2000);
    memory.write8(0x2000, 0xf4);
    cpu.run(10);
    expect(cpu.state.eip).toBe(0x2001);
    expect(memory.read16(0xfffe - 6)).toBe(0x1002);
  });

  it('a fault while delivering a fault escalates to a triple fault when the IDT is empty (SDM vol. 3 §6.15)', () => {
    const { reason } = runSnippet(new Uint8Array([0x0f, 0x0b]));
    expect(reason).toBe(StopReason.tripleFault);
  });
});

describe('tier 0: callouts and policy', () => {
  it('OUT and IN go to the port callouts', () => {
    const writes: number[] = [];
    // mov dx,0x3f8 / mov al,0x41 / out dx,al / in al,dx / hlt
    const { cpu } = run([0x66, 0xba, 0xf8, 0x03, 0xb0, 0x41, 0xee, 0xec, 0xf4], {
      callouts: { ioWrite: (p, _s, v) => writes.push(p, v), ioRead: () => 0x99 },
    });
    expect(writes).toEqual([0x3f8, 0x41]);
    expect(cpu.state.regs[Reg.eax]! & 0xff).toBe(0x99);
  });

  it('CPUID asks the cpuid callout', () => {
    const { cpu } = run([0x31, 0xc0, 0x0f, 0xa2, 0xf4], {
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
    const { cpu, reason } = run([0x40, 0x0f, 0xa2, 0xf4], {
      policy: { decide: (code) => (code === 0 ? Action.inline : Action.exit) },
    });
    expect(reason).toBe(StopReason.exit);
    expect(cpu.state.eip).toBe(0x1001);
    expect(cpu.state.regs[Reg.eax]).toBe(1);
  });

  it('a policy callout hands the form to the hypervisor emulate callout', () => {
    const seen: number[] = [];
    const { cpu } = run([0xfa, 0xf4], {
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
    const { cpu } = run([0xfa, 0x40, 0xeb, 0xfe], {
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
    // mov ecx,0x176 / mov eax,0xc0001000 / xor edx,edx / wrmsr / xor eax,eax / rdmsr / hlt
    const { cpu } = run([
      0xb9,
      ...le32(0x176),
      0xb8,
      ...le32(0xc0001000),
      0x31,
      0xd2,
      0x0f,
      0x30,
      0x31,
      0xc0,
      0x0f,
      0x32,
      0xf4,
    ]);
    expect(cpu.state.regs[Reg.eax]! >>> 0).toBe(0xc0001000);
    expect(cpu.state.sysenterEip >>> 0).toBe(0xc0001000);
  });

  it('RDTSC reads a time-stamp counter that advances by one per retired instruction (deterministic time)', () => {
    // nop / nop / rdtsc / hlt
    const { cpu } = run([0x90, 0x90, 0x0f, 0x31, 0xf4]);
    expect(cpu.state.regs[Reg.eax]).toBe(3); // two NOPs and the RDTSC itself have retired
    expect(cpu.state.tsc).toBe(4n);
  });

  it('RDMSR of an unknown MSR raises #GP(0)', () => {
    const { cpu } = run([0xb9, ...le32(0x12345), 0x0f, 0x32, 0xf4]);
    expect(cpu.lastVector).toBe(Vector.gp);
  });
});

describe('tier 0: trace hooks', () => {
  it('reports each executed instruction, first decodes and delivered exceptions in order', () => {
    // mov ecx,2 / l: dec ecx / jnz l / ud2
    const { cpu } = createHarness(new Uint8Array([0xb9, ...le32(2), 0x49, 0x75, 0xfd, 0x0f, 0x0b]), {
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
    // sti / nop / int 0x21 / hlt, with real-mode IVT entries pointing at an IRET
    const { cpu, memory } = createHarness(new Uint8Array([0xfb, 0x90, 0xcd, 0x21, 0xf4]), { mode: 'real' });
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
