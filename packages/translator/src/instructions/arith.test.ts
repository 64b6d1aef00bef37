import { describe, expect, it } from 'vitest';
import { Reg } from '../cpu-state';
import { Vector } from '../fault';
import { setGate } from '../harness';
import { StopReason } from '../tier0';
import { a16, a32, identityMap, reg, run, STACK_TOP, statusFlags } from './snippet';

// DIV / IDIV (SDM vol. 2 "DIV", "IDIV"): #DE when the divisor is 0 or the quotient does not fit
// the destination, raised before any register or flag changes. CMPXCHG / CMPXCHG8B / XADD
// (SDM vol. 2 "CMPXCHG", "CMPXCHG8B", "XADD") and BSF / BSR (SDM vol. 2 "BSF", "BSR").

describe('DIV / IDIV and #DE', () => {
  const deCases = [
    { name: 'DIV r/m8 by zero', setup: 'mov ax, 0x1234\nxor bl, bl', op: 'div bl' },
    { name: 'DIV r/m16 by zero', setup: 'mov dx, 1\nmov ax, 2\nxor bx, bx', op: 'div bx' },
    { name: 'DIV r/m32 by zero', setup: 'mov edx, 1\nmov eax, 2\nxor ebx, ebx', op: 'div ebx' },
    { name: 'DIV r/m8 with a quotient of 0x100', setup: 'mov ax, 0x1000\nmov bl, 0x10', op: 'div bl' },
    { name: 'DIV r/m16 with a quotient of 0x10000', setup: 'mov dx, 1\nxor ax, ax\nmov bx, 1', op: 'div bx' },
    { name: 'DIV r/m32 with EDX = divisor', setup: 'mov edx, 7\nxor eax, eax\nmov ebx, 7', op: 'div ebx' },
    { name: 'IDIV r/m8 of −128 by −1', setup: 'mov ax, -128\nmov bl, -1', op: 'idiv bl' },
    { name: 'IDIV r/m16 of −32768 by −1', setup: 'mov ax, 0x8000\ncwd\nmov bx, -1', op: 'idiv bx' },
    { name: 'IDIV r/m32 of −2^31 by −1', setup: 'mov eax, 0x80000000\ncdq\nmov ebx, -1', op: 'idiv ebx' },
    { name: 'IDIV r/m8 with a quotient of +128', setup: 'mov ax, 128\nmov bl, 1', op: 'idiv bl' },
    { name: 'IDIV r/m32 of a memory divisor 0', setup: 'mov eax, 5\ncdq', op: 'idiv dword [0x3000]' },
  ];

  for (const c of deCases) {
    it(`${c.name} raises #DE at the instruction with EAX, EDX and the flags unchanged`, () => {
      const p = a32`
        ${c.setup}
        stc
      fault:
        ${c.op}
        hlt`;
      // Run to the faulting instruction first, to compare the state with the one after the fault.
      const before = run(p, { limit: c.setup.split('\n').length + 1 });
      const { cpu, s } = run(p);
      expect(cpu.lastVector).toBe(Vector.de);
      expect(s.eip).toBe(p.at('fault'));
      expect(reg(s, Reg.eax)).toBe(reg(before.s, Reg.eax));
      expect(reg(s, Reg.edx)).toBe(reg(before.s, Reg.edx));
      expect(s.getFlags()).toBe(before.s.getFlags());
      expect(s.getCF()).toBe(1);
    });
  }

  const okCases = [
    { name: 'IDIV r/m8: −256 / 2 = −128 fits', setup: 'mov ax, -256\nmov bl, 2', op: 'idiv bl', eax: 0x0080 },
    {
      name: 'IDIV r/m32: −2^32 / 2 = −2^31 fits',
      setup: 'xor eax, eax\nmov edx, -1\nmov ebx, 2',
      op: 'idiv ebx',
      eax: 0x80000000,
      edx: 0,
    },
    {
      name: 'IDIV r/m32: the remainder takes the sign of the dividend (−7 / 2 = −3 rem −1)',
      setup: 'mov eax, -7\ncdq\nmov ebx, 2',
      op: 'idiv ebx',
      eax: 0xfffffffd,
      edx: 0xffffffff,
    },
    {
      name: 'DIV r/m16: DX:AX = 0x0001_0005 / 0x10 = 0x1000 rem 5',
      setup: 'mov dx, 1\nmov ax, 5\nmov bx, 0x10',
      op: 'div bx',
      eax: 0x1000,
      edx: 5,
    },
    {
      name: 'DIV r/m32: the largest quotient, 0xFFFFFFFE_FFFFFFFF / 0xFFFFFFFF = 0xFFFFFFFF rem 0xFFFFFFFE',
      setup: 'mov edx, 0xfffffffe\nmov eax, 0xffffffff\nmov ebx, 0xffffffff',
      op: 'div ebx',
      eax: 0xffffffff,
      edx: 0xfffffffe,
    },
  ];

  for (const c of okCases) {
    it(c.name, () => {
      const p = a32`
        ${c.setup}
        ${c.op}
        hlt`;
      const { s, reason } = run(p);
      expect(reason).toBe(StopReason.halt);
      if (c.op.endsWith(' bl')) expect(reg(s, Reg.eax) & 0xffff).toBe(c.eax);
      else if (c.op.endsWith(' bx')) {
        expect(reg(s, Reg.eax) & 0xffff).toBe(c.eax);
        expect(reg(s, Reg.edx) & 0xffff).toBe(c.edx);
      } else {
        expect(reg(s, Reg.eax)).toBe(c.eax);
        expect(reg(s, Reg.edx)).toBe(c.edx);
      }
    });
  }

  it('#DE delivered through the IDT pushes the address of the DIV (a fault, not a trap)', () => {
    const p = a32`
      xor ecx, ecx
    divide:
      div ecx
      hlt
    de_handler:
      mov ebx, [esp]
      hlt`;
    const { s } = run(p, { deliver: true, prepare: (_c, m) => setGate(m, Vector.de, p.at('de_handler')) });
    expect(reg(s, Reg.ebx)).toBe(p.at('divide'));
    expect(reg(s, Reg.esp)).toBe(STACK_TOP - 12);
  });

  it('real mode: #DE goes through IVT entry 0 with IP at the DIV', () => {
    const p = a16`
      xor cx, cx
    divide:
      div cx
      hlt
    handler:
      mov bp, sp
      mov bx, [bp]
      hlt`;
    const { s } = run(p, {
      mode: 'real',
      deliver: true,
      prepare: (_c, m) => {
        m.write16(0, p.at('handler'));
        m.write16(2, 0);
      },
    });
    expect(reg(s, Reg.ebx) & 0xffff).toBe(p.at('divide'));
  });
});

describe('CMPXCHG8B', () => {
  it('stores ECX:EBX and sets ZF when EDX:EAX equals the memory operand', () => {
    const p = a32`
      mov eax, 0x11111111
      mov edx, 0x22222222
      mov ebx, 0x33333333
      mov ecx, 0x44444444
      stc
      cmpxchg8b [0x3000]
      hlt`;
    const { s, memory } = run(p, {
      prepare: (_c, m) => {
        m.write32(0x3000, 0x11111111);
        m.write32(0x3004, 0x22222222);
      },
    });
    expect(memory.read64(0x3000)).toBe(0x4444444433333333n);
    expect(s.getZF()).not.toBe(0);
    expect(s.getCF()).toBe(1); // the other flags are unaffected
    expect(reg(s, Reg.eax)).toBe(0x11111111);
  });

  it('loads the memory operand into EDX:EAX and clears ZF when they differ, other flags unchanged', () => {
    const p = a32`
      xor eax, eax
      xor edx, edx
      stc
      cmpxchg8b [0x3000]
      hlt`;
    const { s, memory } = run(p, { prepare: (_c, m) => m.write64(0x3000, 0x0123456789abcdefn) });
    expect(reg(s, Reg.eax)).toBe(0x89abcdef);
    expect(reg(s, Reg.edx)).toBe(0x01234567);
    expect(memory.read64(0x3000)).toBe(0x0123456789abcdefn);
    expect(statusFlags(s)).toBe('CP'); // XOR's PF, STC's CF; ZF cleared
  });

  it('LOCK CMPXCHG8B is allowed and behaves the same', () => {
    const p = a32`
      mov ebx, 5
      xor ecx, ecx
      xor eax, eax
      xor edx, edx
      lock cmpxchg8b [0x3000]
      hlt`;
    const { memory, reason } = run(p);
    expect(reason).toBe(StopReason.halt);
    expect(memory.read32(0x3000)).toBe(5);
  });

  it('a register operand (0F C7 /1 with mod = 11) raises #UD', () => {
    const p = a32`
      nop
    bad:
      db 0x0f, 0xc7, 0xc8
      hlt`;
    const { cpu, s } = run(p);
    expect(cpu.lastVector).toBe(Vector.ud);
    expect(s.eip).toBe(p.at('bad'));
  });

  it('on a read-only page it raises #PF(W) even when the compare fails: the operand is always written', () => {
    const p = a32`
      mov eax, 1
      xor edx, edx
      cmpxchg8b [0x30000]
      hlt`;
    const { cpu, s } = run(p, {
      prepare: (_c, m, st) => {
        m.write64(0x30000, 0x99n);
        identityMap(m, st, { readOnly: [0x30000] });
        st.cr0 |= 0x10000; // CR0.WP
      },
    });
    expect(cpu.lastVector).toBe(Vector.pf);
    expect(cpu.lastErrorCode).toBe(3);
    expect(reg(s, Reg.eax)).toBe(1); // EDX:EAX not loaded
  });
});

describe('CMPXCHG / XADD', () => {
  it('CMPXCHG r/m32 stores the source when EAX matches, else loads EAX; flags as CMP EAX, dest', () => {
    const p = a32`
      mov eax, 5
      mov ecx, 9
      cmpxchg [0x3000], ecx
      mov ebx, eax
      mov eax, 1
      cmpxchg [0x3000], ecx
      hlt`;
    const { s, memory } = run(p, { prepare: (_c, m) => m.write32(0x3000, 5) });
    expect(memory.read32(0x3000)).toBe(9);
    expect(reg(s, Reg.ebx)).toBe(5);
    expect(reg(s, Reg.eax)).toBe(9);
    expect(statusFlags(s)).toBe('CAS'); // 1 − 9
  });

  it('CMPXCHG r/m8 compares AL only', () => {
    const p = a32`
      mov eax, 0xffffff07
      mov cl, 0x42
      cmpxchg [0x3000], cl
      hlt`;
    const { s, memory } = run(p, { prepare: (_c, m) => m.write8(0x3000, 7) });
    expect(memory.read8(0x3000)).toBe(0x42);
    expect(s.getZF()).not.toBe(0);
  });

  it('XADD exchanges and adds: the destination gets the sum, the source the old destination', () => {
    const p = a32`
      mov ecx, 0xffffffff
      lock xadd [0x3000], ecx
      hlt`;
    const { s, memory } = run(p, { prepare: (_c, m) => m.write32(0x3000, 1) });
    expect(memory.read32(0x3000)).toBe(0);
    expect(reg(s, Reg.ecx)).toBe(1);
    expect(statusFlags(s)).toBe('CPAZ');
  });

  it('XADD with the same register as both operands leaves the sum (the destination is written last)', () => {
    const p = a32`
      mov eax, 3
      xadd eax, eax
      hlt`;
    const { s } = run(p);
    expect(reg(s, Reg.eax)).toBe(6);
  });
});

describe('BSF / BSR', () => {
  it('BSF and BSR find the lowest and highest set bit and clear ZF', () => {
    const p = a32`
      mov ecx, 0x00810040
      bsf eax, ecx
      bsr ebx, ecx
      hlt`;
    const { s } = run(p);
    expect(reg(s, Reg.eax)).toBe(6);
    expect(reg(s, Reg.ebx)).toBe(23);
    expect(s.getZF()).toBe(0);
  });

  for (const op of ['bsf', 'bsr']) {
    it(`${op.toUpperCase()} of zero sets ZF and leaves the destination as it was (as this host does; the SDM says undefined)`, () => {
      const p = a32`
        mov eax, 0x12345678
        mov ebx, 0x9abc
        xor ecx, ecx
        ${op} eax, ecx
        ${op} bx, [0x3000]
        hlt`;
      const { s } = run(p);
      expect(s.getZF()).not.toBe(0);
      expect(reg(s, Reg.eax)).toBe(0x12345678);
      expect(reg(s, Reg.ebx)).toBe(0x9abc);
    });
  }

  it('16-bit BSF looks at the low 16 bits only: a zero word with upper bits set is zero', () => {
    const p = a32`
      mov ecx, 0xffff0000
      mov eax, 0x7777
      bsf ax, cx
      hlt`;
    const { s } = run(p);
    expect(s.getZF()).not.toBe(0);
    expect(reg(s, Reg.eax)).toBe(0x7777);
  });

  it('BSWAP reverses the bytes of a 32-bit register', () => {
    const p = a32`
      mov edx, 0x11223344
      bswap edx
      hlt`;
    const { s } = run(p);
    expect(reg(s, Reg.edx)).toBe(0x44332211);
  });
});
