import { describe, expect, it } from 'vitest';
import { Reg, Seg } from './cpu-state';
import { Vector } from './fault';
import { createHarness, HARNESS_GDT } from './harness';
import { a16, a32 } from './instructions/snippet';
import { StopReason } from './tier0';

const takeExceptions = { callouts: { exception: () => true } } as const;

function identityPaging(
  memory: { write32(a: number, v: number): void },
  pd: number,
  pt: number,
  flags = 7,
): void {
  memory.write32(pd, pt | flags);
  for (let i = 0; i < 1024; i++) memory.write32(pt + i * 4, (i << 12) | flags);
}

describe('real mode', () => {
  it('far CALL and RETF move CS:IP and the 16-bit stack (SDM vol. 2 "CALL", "RET")', () => {
    // At 0x2010 (0200:0010): RETF.
    const { cpu, memory } = createHarness(a16`call 0x0200:0x0010\nhlt`.bytes, { mode: 'real' });
    memory.write8(0x2010, 0xcb);
    cpu.run(10);
    const s = cpu.state;
    expect(s.segSel[Seg.cs]).toBe(0);
    expect(s.eip).toBe(0x1006);
    expect(s.regs[Reg.esp]).toBe(0xfffe);
    expect(memory.read16(0xfffe - 2)).toBe(0); // pushed CS
    expect(memory.read16(0xfffe - 4)).toBe(0x1005); // pushed IP
  });

  it('segment loads compute base = selector × 16 (SDM vol. 3 §20.1.1)', () => {
    const p = a16`
      mov ax, 0x1234
      mov ds, ax
      mov byte [0x10], 0x77
      hlt`;
    const { cpu, memory } = createHarness(p.bytes, { mode: 'real' });
    cpu.run(10);
    expect(cpu.state.segBase[Seg.ds]).toBe(0x12340);
    expect(memory.read8(0x12350)).toBe(0x77);
  });
});

describe('protected mode segmentation', () => {
  it('far JMP to a 16-bit code segment switches the decoder to 16-bit operands (SDM vol. 3 §3.4.5)', () => {
    // At 0x2000 (16-bit code): mov ax, 0x1234 / hlt.
    const { cpu, memory } = createHarness(a32`jmp 0x30:0x2000`.bytes);
    memory.write32(HARNESS_GDT + 0x30, 0x0000ffff);
    memory.write32(HARNESS_GDT + 0x34, 0x00009b00); // 16-bit ring-0 code, base 0, limit 0xffff
    cpu.state.gdtrLimit = 0x37;
    memory.ram.set(a16`mov ax, 0x1234\nhlt`.bytes, 0x2000);
    const reason = cpu.run(10);
    expect(reason).toBe(StopReason.halt);
    expect(cpu.state.codeBits).toBe(16);
    expect(cpu.state.regs[Reg.eax]! & 0xffff).toBe(0x1234);
    expect(cpu.state.segSel[Seg.cs]).toBe(0x30);
  });

  it('MOV DS with a selector beyond the GDT limit raises #GP(selector) (SDM vol. 2 "MOV")', () => {
    const { cpu } = createHarness(a32`mov ax, 0x40\nmov ds, ax\nhlt`.bytes, takeExceptions);
    cpu.run(10);
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(cpu.lastErrorCode).toBe(0x40);
    expect(cpu.state.segSel[Seg.ds]).toBe(0x10);
  });

  it('MOV SS with RPL ≠ CPL raises #GP(selector) (SDM vol. 2 "MOV")', () => {
    const { cpu } = createHarness(a32`mov ax, 0x23\nmov ss, ax\nhlt`.bytes, takeExceptions);
    cpu.run(10);
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(cpu.lastErrorCode).toBe(0x20);
  });

  it('far JMP from ring 0 to a ring-3 code segment raises #GP(selector) (SDM vol. 2 "JMP")', () => {
    const { cpu } = createHarness(a32`jmp 0x1b:0x2000`.bytes, takeExceptions);
    cpu.run(10);
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(cpu.lastErrorCode).toBe(0x18);
  });

  it('CALL through a 32-bit call gate from CPL 3 switches to the ring-0 stack and copies parameters (SDM vol. 3 §5.8.5)', () => {
    // 0x3b is a call gate (one parameter) to the ring-0 code at 0x3000: a HLT.
    const p = a32`
      push dword 0x1234
      call 0x3b:0
    back:`;
    const { cpu, memory } = createHarness(p.bytes, { mode: 'flat32-user' });
    memory.write32(HARNESS_GDT + 0x38, (0x08 << 16) | 0x3000);
    memory.write32(HARNESS_GDT + 0x3c, 0x8000 | (3 << 13) | (0x0c << 8) | 1);
    cpu.state.gdtrLimit = 0x3f;
    memory.write8(0x3000, 0xf4);
    cpu.run(10);
    const s = cpu.state;
    const esp0 = (1 << 20) - 16;
    const userEsp = (1 << 20) - 0x1000 - 4;
    expect(s.cpl).toBe(0);
    expect(s.eip).toBe(0x3001);
    expect(s.regs[Reg.esp]).toBe(esp0 - 20);
    expect([0, 4, 8, 12, 16].map((o) => memory.read32(esp0 - 20 + o))).toEqual([
      p.at('back'),
      0x1b,
      0x1234,
      userEsp,
      0x23,
    ]);
  });

  it('a segment override prefix selects the source segment of MOVSB (SDM vol. 2 "MOVS")', () => {
    const p = a32`
      mov esi, 0x10
      mov edi, 0x3000
      fs movsb
      hlt`;
    const { cpu, memory } = createHarness(p.bytes);
    cpu.state.segBase[Seg.fs] = 0x8000;
    memory.write8(0x8010, 0x5c);
    cpu.run(10);
    expect(memory.read8(0x3000)).toBe(0x5c);
  });

  it('SYSENTER enters ring 0 at SYSENTER_EIP and SYSEXIT returns to ring 3 at EDX/ECX (SDM vol. 2 "SYSENTER")', () => {
    // User code: SYSENTER. Kernel at 0x3000: mov edx, 0x1010 / mov ecx, 0x7000 / sysexit (four
    // instructions in all).
    const { cpu, memory } = createHarness(a32`sysenter`.bytes, {
      ...takeExceptions,
      mode: 'flat32-user',
    });
    const s = cpu.state;
    s.sysenterCs = 0x08;
    s.sysenterEip = 0x3000;
    s.sysenterEsp = 0x9000;
    memory.ram.set(a32`mov edx, 0x1010\nmov ecx, 0x7000\nsysexit`.bytes, 0x3000);
    memory.write8(0x1010, 0x90);
    cpu.run(4);
    expect(s.cpl).toBe(3);
    expect(s.segSel[Seg.cs]).toBe(0x1b);
    expect(s.segSel[Seg.ss]).toBe(0x23);
    expect(s.regs[Reg.esp]).toBe(0x7000);
    expect(s.eip).toBe(0x1010);
  });
});

describe('paging', () => {
  it('a 4 MiB page (CR4.PSE) aliases physical memory, and cached code branches relative to its linear EIP (SDM vol. 3 §4.3)', () => {
    const { cpu, memory } = createHarness(a32`inc eax\njmp short next\nnext: hlt`.bytes);
    const pd = 0x40000;
    memory.write32(pd, 0x83); // 0–4 MiB → phys 0, 4 MiB page
    memory.write32(pd + 4, 0x83); // 4–8 MiB → phys 0 as well
    const s = cpu.state;
    s.cr3 = pd;
    s.cr4 |= 0x10;
    s.cr0 |= 0x80000000;
    cpu.run(10);
    expect(s.eip).toBe(0x1004);
    s.halted = false;
    s.eip = 0x401000;
    cpu.run(10);
    expect(s.eip).toBe(0x401004);
    expect(s.regs[Reg.eax]).toBe(2);
    expect(memory.read32(pd) & 0x20).toBe(0x20); // accessed
  });

  it('INVLPG drops a stale translation after the guest edits its page table (SDM vol. 2 "INVLPG")', () => {
    const pt = 0x41000;
    const pte = pt + 0x50 * 4;
    const p = a32`
      mov eax, [0x50000]
      mov dword [${pte}], 0x60007
      mov ebx, [0x50000]
      invlpg [0x50000]
      mov ecx, [0x50000]
      hlt`;
    const { cpu, memory } = createHarness(p.bytes);
    identityPaging(memory, 0x40000, pt);
    memory.write32(0x50000, 0xaaaa);
    memory.write32(0x60000, 0xbbbb);
    cpu.state.cr3 = 0x40000;
    cpu.state.cr0 |= 0x80000000;
    cpu.run(20);
    const r = cpu.state.regs;
    expect(r[Reg.eax]).toBe(0xaaaa);
    expect(r[Reg.ebx]).toBe(0xaaaa); // the TLB still holds the old translation
    expect(r[Reg.ecx]).toBe(0xbbbb);
  });

  it('PAE paging with a 2 MiB page translates and sets the accessed and dirty bits (SDM vol. 3 §4.4)', () => {
    // CR4.PAE is set directly.
    const { cpu, memory } = createHarness(a32`mov eax, 0x1234\nmov [0x90000], eax\nhlt`.bytes);
    const pdpt = 0x40000;
    const pd = 0x41000;
    memory.write32(pdpt, pd | 1);
    memory.write32(pd, 0x83); // 0–2 MiB → phys 0, 2 MiB page, writable
    const s = cpu.state;
    s.cr3 = pdpt;
    s.cr4 |= 0x20;
    s.cr0 |= 0x80000000;
    expect(cpu.run(10)).toBe(StopReason.halt);
    expect(memory.read32(0x90000)).toBe(0x1234);
    expect(memory.read32(pd) & 0x60).toBe(0x60);
  });

  it('CR0.WP makes supervisor writes to read-only pages fault (SDM vol. 3 §4.6.1)', () => {
    const { cpu, memory } = createHarness(a32`mov [0x50000], eax\nhlt`.bytes, takeExceptions);
    identityPaging(memory, 0x40000, 0x41000);
    memory.write32(0x41000 + 0x50 * 4, 0x50005); // present, user, read-only
    cpu.state.cr3 = 0x40000;
    cpu.state.cr0 |= 0x80010000;
    cpu.run(10);
    expect(cpu.lastVector).toBe(Vector.pf);
    expect(cpu.lastErrorCode).toBe(3);
  });
});
