import { describe, expect, it } from 'vitest';
import { Eflags, Reg, Seg } from '../cpu-state';
import { Vector } from '../fault';
import { HARNESS_IDT, setGate } from '../harness';
import { StopReason } from '../tier0';
import { a16, addDescriptor, CODE16, DATA16, protected16, reg, run } from './snippet';

// Real-address mode (SDM vol. 3 §20.1) and 16-bit protected mode (a code segment with D = 0,
// SDM vol. 3 §3.4.5): 16-bit operands and addresses by default, 66/67 for 32-bit ones.

describe('real mode', () => {
  it('INT n pushes FLAGS, CS and IP, clears IF and TF, and IRET returns to the next instruction', () => {
    const p = a16`
      sti
      mov sp, 0x8000
      int 0x21
    back:
      pushf
      pop cx
      hlt
    handler:
      pushf
      pop ax
      mov bp, sp
      mov bx, [bp]
      mov dx, [bp + 4]
      iret`;
    const { s, reason } = run(p, {
      mode: 'real',
      deliver: true,
      prepare: (_c, m) => {
        m.write16(0x21 * 4, p.at('handler'));
        m.write16(0x21 * 4 + 2, 0);
      },
    });
    expect(reason).toBe(StopReason.halt);
    expect(reg(s, Reg.eax) & Eflags.if).toBe(0); // IF clear inside the handler
    expect(reg(s, Reg.ebx) & 0xffff).toBe(p.at('back')); // pushed IP
    expect(reg(s, Reg.edx) & Eflags.if).toBe(Eflags.if); // pushed FLAGS had IF set
    expect(reg(s, Reg.ecx) & Eflags.if).toBe(Eflags.if); // IRET restored it
    expect(reg(s, Reg.esp) & 0xffff).toBe(0x8000);
  });

  it('a handler in another segment runs with CS = the IVT selector and returns with IRET', () => {
    // IVT entry 0x30 → 0200:0010 (linear 0x2010), where the handler increments AX.
    const p = a16`
      int 0x30
      int 0x30
      hlt`;
    const { s } = run(p, {
      mode: 'real',
      deliver: true,
      prepare: (_c, m) => {
        m.write16(0x30 * 4, 0x0010);
        m.write16(0x30 * 4 + 2, 0x0200);
        m.ram.set([0x40, 0xcf], 0x2010); // inc ax / iret
      },
    });
    expect(reg(s, Reg.eax) & 0xffff).toBe(2);
    expect(s.segSel[Seg.cs]).toBe(0);
  });

  it('a word access at offset 0xFFFF raises #GP(0) (outside the 64 KiB limit); on the stack, #SS(0)', () => {
    const p = a16`
      mov bx, 0xffff
    data:
      mov ax, [bx]
      hlt`;
    const r1 = run(p, { mode: 'real' });
    expect(r1.cpu.lastVector).toBe(Vector.gp);
    expect(r1.s.eip).toBe(p.at('data'));
    const q = a16`
      mov bp, 0xffff
      mov ax, [bp]
      hlt`;
    expect(run(q, { mode: 'real' }).cpu.lastVector).toBe(Vector.ss);
  });

  it('16-bit addressing wraps: [bx + si] with BX = 0xFFFF, SI = 2 is offset 1', () => {
    const p = a16`
      mov ax, 0x300
      mov ds, ax
      mov bx, 0xffff
      mov si, 2
      mov al, [bx + si]
      hlt`;
    const { s } = run(p, { mode: 'real', prepare: (_c, m) => m.write8(0x3001, 0x77) });
    expect(reg(s, Reg.eax) & 0xff).toBe(0x77);
  });

  it('PUSH with SP = 0 wraps to 0xFFFE', () => {
    const p = a16`
      xor sp, sp
      push 0x1234
      hlt`;
    const { s, memory } = run(p, { mode: 'real' });
    expect(reg(s, Reg.esp) & 0xffff).toBe(0xfffe);
    expect(memory.read16(0xfffe)).toBe(0x1234);
  });

  it('switches to protected mode: LGDT, CR0.PE, a far JMP to a 32-bit code segment, data segment loads', () => {
    const p = a16`
      cli
      lgdt [gdtr]
      mov eax, cr0
      or al, 1
      mov cr0, eax
      jmp dword 0x08:pm
    bits 32
    pm:
      mov ax, 0x10
      mov ds, ax
      mov ss, ax
      mov esp, 0x9000
      mov dword [0x5000], 0xc0ffee
      hlt
    align 8
    gdt:
      dq 0
      dq 0x00cf9b000000ffff
      dq 0x00cf93000000ffff
    gdtr:
      dw 23
      dd gdt`;
    const { s, memory, reason } = run(p, { mode: 'real' });
    expect(reason).toBe(StopReason.halt);
    expect(s.protectedMode).toBe(true);
    expect(s.codeBits).toBe(32);
    expect(s.stackBits).toBe(32);
    expect(s.segSel[Seg.cs]).toBe(0x08);
    expect(s.segLimit[Seg.ds]).toBe(0xffffffff);
    expect(memory.read32(0x5000)).toBe(0xc0ffee);
  });
});

describe('16-bit protected mode', () => {
  it('operands and addresses are 16-bit by default; 66 and 67 select 32-bit ones', () => {
    const p = a16`
      mov eax, 0x12345678
      mov bx, 0x1234
      mov ecx, 0x3000
      mov [ecx], eax
      mov dx, [0x3002]
      hlt`;
    const { s, reason } = run(p, { prepare: protected16 });
    expect(reason).toBe(StopReason.halt);
    expect(s.codeBits).toBe(16);
    expect(reg(s, Reg.edx) & 0xffff).toBe(0x1234);
  });

  it('a data segment with limit 0x0FFF faults at offset 0x1000 with #GP(0), and at 0x0FFF for a word', () => {
    const p = a16`
      mov al, [0x0fff]
    word:
      mov ax, [0x0fff]
      hlt`;
    const { cpu, s } = run(p, {
      prepare: (c, m, st) => {
        protected16(c, m, st);
        addDescriptor(m, st, 0x40, { limit: 0x0fff, access: 0x93 });
        c.readDescriptor(0x40, Vector.gp);
        c.installSegment(Seg.ds, 0x40);
      },
    });
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(s.eip).toBe(p.at('word'));
  });

  it('a near JMP beyond the 16-bit code segment limit raises #GP(0) at the JMP', () => {
    const p = a16`
    jump:
      jmp 0x8000
      hlt`;
    const { cpu, s } = run(p, {
      prepare: (c, m, st) => {
        addDescriptor(m, st, 0x48, { limit: 0x7fff, access: 0x9b });
        protected16(c, m, st);
        c.readDescriptor(0x48, Vector.gp);
        c.installSegment(Seg.cs, 0x48);
      },
    });
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(s.eip).toBe(p.at('jump'));
  });

  it('an interrupt through a 16-bit interrupt gate pushes a 16-bit frame and IRET returns', () => {
    const p = a16`
      int 0x40
    back:
      hlt
    handler:
      mov bp, sp
      mov bx, [bp]
      mov cx, [bp + 2]
      iret`;
    const { s, reason } = run(p, {
      deliver: true,
      prepare: (c, m, st) => {
        protected16(c, m, st, 0x9000);
        // 286 interrupt gate (type 6) to CODE16:handler.
        m.write32(HARNESS_IDT + 0x40 * 8, (CODE16 << 16) | p.at('handler'));
        m.write32(HARNESS_IDT + 0x40 * 8 + 4, 0x8600);
      },
    });
    expect(reason).toBe(StopReason.halt);
    expect(reg(s, Reg.ebx) & 0xffff).toBe(p.at('back'));
    expect(reg(s, Reg.ecx) & 0xffff).toBe(CODE16);
    expect(reg(s, Reg.esp) & 0xffff).toBe(0x9000);
    expect(s.codeBits).toBe(16);
  });

  it('a 32-bit interrupt gate from 16-bit code pushes a 32-bit frame, and IRETD returns to 16-bit code', () => {
    const p = a16`
      int 0x41
    back:
      hlt
    bits 32
    handler32:
      mov ebx, [esp]
      mov ecx, [esp + 4]
      iretd`;
    const { s, reason } = run(p, {
      deliver: true,
      prepare: (c, m, st) => {
        protected16(c, m, st, 0x9000);
        setGate(m, 0x41, p.at('handler32')); // ring-0 32-bit code selector 0x08
      },
    });
    expect(reason).toBe(StopReason.halt);
    expect(reg(s, Reg.ebx)).toBe(p.at('back'));
    expect(reg(s, Reg.ecx)).toBe(CODE16);
    expect(s.codeBits).toBe(16);
    expect(s.segSel[Seg.cs]).toBe(CODE16);
    expect(reg(s, Reg.esp) & 0xffff).toBe(0x9000);
  });

  it('a stack segment with B = 0 uses SP: PUSH at SP = 2 writes at 0 and POP reads it back', () => {
    const p = a16`
      mov sp, 2
      push word 0xbeef
      pop ax
      hlt`;
    const { s, memory } = run(p, {
      prepare: (c, m, st) => {
        protected16(c, m, st);
        st.segBase[Seg.ss] = 0x20000;
        st.regs[Reg.esp] = 0x55550000;
      },
    });
    expect(memory.read16(0x20000)).toBe(0xbeef);
    expect(reg(s, Reg.eax) & 0xffff).toBe(0xbeef);
    expect(s.segSel[Seg.ss]).toBe(DATA16);
    expect(reg(s, Reg.esp)).toBe(0x55550002);
  });
});
