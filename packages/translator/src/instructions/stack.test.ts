import { describe, expect, it } from 'vitest';
import { Reg, Seg } from '../cpu-state';
import { Vector } from '../fault';
import { StopReason } from '../tier0';
import { a16, a32, identityMap, ORIGIN, protected16, reg, run, STACK_TOP } from './snippet';

// Stack instructions (SDM vol. 2 "PUSH", "POP", "PUSHA/PUSHAD", "POPA/POPAD", "ENTER", "LEAVE")
// and the stack-segment checks behind them (SDM vol. 3 §5.3, §6.15 "#SS").

const words = (m: { read32(a: number): number }, at: number, n: number) =>
  Array.from({ length: n }, (_, i) => m.read32(at + 4 * i) >>> 0);
const halves = (m: { read16(a: number): number }, at: number, n: number) =>
  Array.from({ length: n }, (_, i) => m.read16(at + 2 * i));

describe('PUSHA / POPA', () => {
  it('PUSHAD stores EDI, ESI, EBP, the original ESP, EBX, EDX, ECX, EAX from the lowest address', () => {
    const p = a32`
      mov eax, 0xa0
      mov ecx, 0xc0
      mov edx, 0xd0
      mov ebx, 0xb0
      mov ebp, 0xbf
      mov esi, 0x51
      mov edi, 0xd1
      pushad
      hlt`;
    const { s, memory } = run(p);
    expect(reg(s, Reg.esp)).toBe(STACK_TOP - 32);
    expect(words(memory, STACK_TOP - 32, 8)).toEqual([0xd1, 0x51, 0xbf, STACK_TOP, 0xb0, 0xd0, 0xc0, 0xa0]);
  });

  it('POPAD restores every register but ESP, whose image is skipped', () => {
    const p = a32`
      push 1
      push 2
      push 3
      push 4
      push 0xdead
      push 6
      push 7
      push 8
      popad
      hlt`;
    const { s } = run(p);
    expect([Reg.edi, Reg.esi, Reg.ebp, Reg.ebx, Reg.edx, Reg.ecx, Reg.eax].map((r) => reg(s, r))).toEqual([
      8, 7, 6, 4, 3, 2, 1,
    ]);
    expect(reg(s, Reg.esp)).toBe(STACK_TOP);
  });

  it('PUSHAW in 32-bit code pushes the eight 16-bit registers and POPAW leaves the upper halves alone', () => {
    const p = a32`
      mov eax, 0x1111aaaa
      mov ebx, 0x2222bbbb
      pushaw
      mov eax, 0x33330000
      mov ebx, 0x44440000
      popaw
      hlt`;
    const { s, memory } = run(p);
    expect(reg(s, Reg.esp)).toBe(STACK_TOP);
    expect(halves(memory, STACK_TOP - 16, 8)[7]).toBe(0xaaaa);
    expect(halves(memory, STACK_TOP - 16, 8)[3]).toBe(STACK_TOP & 0xffff); // SP image
    expect(reg(s, Reg.eax)).toBe(0x3333aaaa);
    expect(reg(s, Reg.ebx)).toBe(0x4444bbbb);
  });

  it('PUSHAD whose lowest address is beyond the SS limit raises #SS(0) with ESP unchanged', () => {
    // Expand-down SS with limit 0xFFF: valid offsets start at 0x1000, so ESP = 0x1010 leaves
    // room for four dwords, not eight.
    const p = a32`
      mov esp, 0x1010
      pushad
      hlt`;
    const { cpu, s } = run(p, {
      prepare: (_c, _m, st) => {
        st.segAccess[Seg.ss] = 0x4097; // expand-down, B = 1
        st.segLimit[Seg.ss] = 0xfff;
        st.segBase[Seg.ss] = 0x10000;
      },
    });
    expect(cpu.lastVector).toBe(Vector.ss);
    expect(cpu.lastErrorCode).toBe(0);
    expect(reg(s, Reg.esp)).toBe(0x1010);
  });

  it('POPAD that would read past the SS limit raises #SS(0) with every register unchanged', () => {
    const p = a32`
      mov eax, 0x77
      mov esp, 0xfff0
      popad
      hlt`;
    const { cpu, s } = run(p, {
      prepare: (_c, _m, st) => {
        st.segLimit[Seg.ss] = 0xffff;
        st.segAccess[Seg.ss] = 0x4093;
      },
    });
    expect(cpu.lastVector).toBe(Vector.ss);
    expect(reg(s, Reg.eax)).toBe(0x77);
    expect(reg(s, Reg.esp)).toBe(0xfff0);
  });

  it('real mode: PUSHA / POPA use SP and 16-bit slots', () => {
    const p = a16`
      mov sp, 0x8000
      mov ax, 0x1234
      mov di, 0x5678
      pusha
      xor ax, ax
      xor di, di
      popa
      hlt`;
    const { s, memory } = run(p, { mode: 'real' });
    // DX holds the processor signature 0x600 from RESET (SDM vol. 3 §9.1.4).
    expect(halves(memory, 0x8000 - 16, 8)).toEqual([0x5678, 0, 0, 0x8000, 0, 0x600, 0, 0x1234]);
    expect(reg(s, Reg.eax) & 0xffff).toBe(0x1234);
    expect(reg(s, Reg.edi) & 0xffff).toBe(0x5678);
    expect(reg(s, Reg.esp) & 0xffff).toBe(0x8000);
  });
});

describe('ENTER / LEAVE', () => {
  it('ENTER n, 0 pushes EBP, points EBP at it and reserves n bytes', () => {
    const p = a32`
      mov ebp, 0x7777
      enter 0x20, 0
      hlt`;
    const { s, memory } = run(p);
    expect(memory.read32(STACK_TOP - 4)).toBe(0x7777);
    expect(reg(s, Reg.ebp)).toBe(STACK_TOP - 4);
    expect(reg(s, Reg.esp)).toBe(STACK_TOP - 4 - 0x20);
  });

  it('ENTER 0, 1 pushes EBP and then the new frame pointer', () => {
    const p = a32`
      mov ebp, 0x7777
      enter 0, 1
      hlt`;
    const { s, memory } = run(p);
    expect(words(memory, STACK_TOP - 8, 2)).toEqual([STACK_TOP - 4, 0x7777]);
    expect(reg(s, Reg.ebp)).toBe(STACK_TOP - 4);
    expect(reg(s, Reg.esp)).toBe(STACK_TOP - 8);
  });

  it('ENTER 8, 3 copies level − 1 display entries from the outer frame, then the new frame pointer', () => {
    // The outer frame at 0x5000 holds its display below it: 0x5000-4 and 0x5000-8.
    const p = a32`
      mov ebp, 0x5000
      enter 8, 3
      hlt`;
    const { s, memory } = run(p, {
      prepare: (_c, m) => {
        m.write32(0x5000 - 4, 0xd1);
        m.write32(0x5000 - 8, 0xd2);
        m.write32(0x5000 - 12, 0xd3); // not copied: only level − 1 = 2 entries
      },
    });
    const frame = STACK_TOP - 4;
    // From the top: old EBP, the two copied entries, the new frame pointer, then 8 bytes.
    expect(words(memory, STACK_TOP - 16, 4)).toEqual([frame, 0xd2, 0xd1, 0x5000]);
    expect(reg(s, Reg.ebp)).toBe(frame);
    expect(reg(s, Reg.esp)).toBe(STACK_TOP - 16 - 8);
  });

  it('ENTER takes the nesting level modulo 32: level 33 behaves as level 1', () => {
    const p = a32`
      mov ebp, 0x5000
      enter 4, 33
      hlt`;
    const { s } = run(p);
    expect(reg(s, Reg.esp)).toBe(STACK_TOP - 8 - 4);
  });

  it('LEAVE after a nested ENTER restores ESP and EBP of the caller', () => {
    const p = a32`
      mov ebp, 0x5000
      enter 0x40, 4
      leave
      hlt`;
    const { s } = run(p);
    expect(reg(s, Reg.ebp)).toBe(0x5000);
    expect(reg(s, Reg.esp)).toBe(STACK_TOP);
  });

  it('ENTER whose final ESP leaves the stack segment raises #SS(0) with ESP and EBP unchanged', () => {
    const p = a32`
      mov esp, 0x100
      mov ebp, 0x1234
      enter 0x200, 2
      hlt`;
    const { cpu, s } = run(p, {
      prepare: (_c, _m, st) => {
        st.segLimit[Seg.ss] = 0xffff;
        st.segAccess[Seg.ss] = 0x4093;
      },
    });
    expect(cpu.lastVector).toBe(Vector.ss);
    expect(reg(s, Reg.esp)).toBe(0x100);
    expect(reg(s, Reg.ebp)).toBe(0x1234);
  });

  it('a #PF while ENTER copies the display leaves ESP and EBP unchanged (EIP at the ENTER)', () => {
    // The outer frame pointer is on a missing page: reading its display faults.
    const p = a32`
      mov ebp, 0x30008
    enter_it:
      enter 0, 3
      hlt`;
    const { cpu, s } = run(p, { prepare: (_c, m, st) => identityMap(m, st, { missing: [0x30000] }) });
    expect(cpu.lastVector).toBe(Vector.pf);
    expect(s.cr2).toBe(0x30004);
    expect(s.eip).toBe(p.at('enter_it'));
    expect(reg(s, Reg.esp)).toBe(STACK_TOP);
    expect(reg(s, Reg.ebp)).toBe(0x30008);
  });

  it('real mode: ENTER 4, 2 and LEAVE work on BP and SP', () => {
    const p = a16`
      mov sp, 0x8000
      mov bp, 0x6000
      enter 4, 2
      mov bx, sp
      mov cx, bp
      leave
      hlt`;
    const { s, memory } = run(p, { mode: 'real', prepare: (_c, m) => m.write16(0x6000 - 2, 0xd1) });
    expect(halves(memory, 0x8000 - 6, 3)).toEqual([0x8000 - 2, 0xd1, 0x6000]);
    expect(reg(s, Reg.ebx) & 0xffff).toBe(0x8000 - 6 - 4);
    expect(reg(s, Reg.ecx) & 0xffff).toBe(0x8000 - 2);
    expect(reg(s, Reg.ebp) & 0xffff).toBe(0x6000);
    expect(reg(s, Reg.esp) & 0xffff).toBe(0x8000);
  });
});

describe('PUSH / POP special cases', () => {
  it('PUSH ESP pushes the value ESP had before the push', () => {
    const p = a32`
      push esp
      pop eax
      hlt`;
    const { s } = run(p);
    expect(reg(s, Reg.eax)).toBe(STACK_TOP);
  });

  it('POP into [ESP] computes the address with ESP after the pop', () => {
    const p = a32`
      push 0x11
      push 0x22
      pop dword [esp]
      hlt`;
    const { s, memory } = run(p);
    expect(reg(s, Reg.esp)).toBe(STACK_TOP - 4);
    expect(memory.read32(STACK_TOP - 4)).toBe(0x22);
  });

  it('POP ESP loads ESP with the popped value', () => {
    const p = a32`
      push 0x5000
      pop esp
      hlt`;
    const { s } = run(p);
    expect(reg(s, Reg.esp)).toBe(0x5000);
  });

  it('PUSH of a segment register with 32-bit operands moves ESP by 4 and stores the selector', () => {
    const p = a32`
      push fs
      pop eax
      hlt`;
    const { s } = run(p);
    expect(reg(s, Reg.esp)).toBe(STACK_TOP);
    expect(reg(s, Reg.eax) & 0xffff).toBe(0x10);
  });

  it('POP SS inhibits interrupts until after the next instruction (SDM vol. 3 §6.8.3)', () => {
    const p = a32`
      sti
      push ss
      pop ss
      mov esp, ${STACK_TOP}
      hlt`;
    const { cpu } = run(p, { limit: 3 });
    expect(cpu.injectInterrupt(0x20)).toBe(false);
    cpu.run(1);
    expect(cpu.state.interruptShadow).toBe(false);
  });

  it('a 16-bit stack segment (SS.B = 0) wraps SP and keeps the upper half of ESP', () => {
    const p = a32`
      mov esp, 0x12340000
      push eax
      push bx
      hlt`;
    const { s, memory } = run(p, {
      prepare: (_c, _m, st) => {
        st.segAccess[Seg.ss] = 0x0093;
        st.segLimit[Seg.ss] = 0xffff;
        st.regs[Reg.eax] = 0xaabbccdd;
        st.regs[Reg.ebx] = 0x5566;
      },
    });
    expect(reg(s, Reg.esp)).toBe(0x1234fffa);
    expect(memory.read32(0xfffc) >>> 0).toBe(0xaabbccdd);
    expect(memory.read16(0xfffa)).toBe(0x5566);
  });

  it('PUSH below an expand-down stack segment limit raises #SS(0) with ESP unchanged', () => {
    // Expand-down, B = 1, limit 0xFFF: valid offsets are 0x1000–0xFFFFFFFF.
    const p = a32`
      mov esp, 0x1008
      push eax
      push eax
      push eax
      hlt`;
    const { cpu, s } = run(p, {
      prepare: (_c, _m, st) => {
        st.segAccess[Seg.ss] = 0x4097;
        st.segLimit[Seg.ss] = 0xfff;
        st.segBase[Seg.ss] = 0x10000; // keeps the stack away from the code at 0x1000
      },
    });
    expect(cpu.lastVector).toBe(Vector.ss);
    expect(reg(s, Reg.esp)).toBe(0x1000);
    expect(s.eip).toBe(ORIGIN + 5 + 2);
  });

  it('CALL with a full stack raises #SS(0) before EIP changes (SDM vol. 2 "CALL")', () => {
    const p = a32`
      mov esp, 0x1002
    call_it:
      call target
      hlt
    target:
      hlt`;
    const { cpu, s } = run(p, {
      prepare: (_c, _m, st) => {
        st.segAccess[Seg.ss] = 0x4097;
        st.segLimit[Seg.ss] = 0xfff;
        st.segBase[Seg.ss] = 0x10000; // keeps the stack away from the code at 0x1000
      },
    });
    expect(cpu.lastVector).toBe(Vector.ss);
    expect(s.eip).toBe(p.at('call_it'));
    expect(reg(s, Reg.esp)).toBe(0x1002);
  });
});

describe('operand-size overrides on the stack', () => {
  it('PUSH imm16 (66 6A) in 32-bit code moves ESP by 2', () => {
    const p = a32`
      push word -2
      hlt`;
    const { s, memory } = run(p);
    expect(reg(s, Reg.esp)).toBe(STACK_TOP - 2);
    expect(memory.read16(STACK_TOP - 2)).toBe(0xfffe);
  });

  it('o16 CALL pushes a 16-bit return address and o16 RET pops one', () => {
    const p = a32`
      db 0x66, 0xe8
      dw sub - back
    back:
      hlt
    sub:
      mov bx, [esp]
      o16 ret`;
    const { s, reason } = run(p);
    expect(reason).toBe(StopReason.halt);
    expect(reg(s, Reg.ebx) & 0xffff).toBe(p.at('back'));
    expect(reg(s, Reg.esp)).toBe(STACK_TOP);
    expect(s.eip).toBe(p.at('back') + 1);
  });

  it('RET imm16 releases the return address and imm16 bytes of parameters', () => {
    const p = a32`
      push 1
      push 2
      call sub
      hlt
    sub:
      ret 8`;
    const { s } = run(p);
    expect(reg(s, Reg.esp)).toBe(STACK_TOP);
  });

  it('real mode: IRETD (66 CF) pops a 32-bit EIP, CS and EFLAGS', () => {
    const p = a16`
      mov sp, 0x8000
      push dword 0x0202
      push dword 0
      push dword target
      iretd
      hlt
    target:
      hlt`;
    const { s } = run(p, { mode: 'real' });
    expect(s.eip).toBe(p.at('target') + 1);
    expect(reg(s, Reg.esp) & 0xffff).toBe(0x8000);
    expect(s.flags & 0x200).toBe(0x200);
  });
});

describe('16-bit protected mode', () => {
  it('a 16-bit code and stack segment runs PUSHA, ENTER, CALL and RET with 16-bit slots', () => {
    const p = a16`
      mov ax, 0x4321
      pusha
      call sub
    back:
      popa
      hlt
    sub:
      enter 2, 0
      mov bx, [bp + 2]
      mov [0x2000], bx
      leave
      ret`;
    const { reason, s, memory } = run(p, { prepare: (c, m, st) => protected16(c, m, st, 0x9000) });
    expect(reason).toBe(StopReason.halt);
    expect(s.codeBits).toBe(16);
    expect(memory.read16(0x9000 - 2)).toBe(0x4321);
    expect(memory.read16(0x2000)).toBe(p.at('back')); // the 16-bit return address above BP
    expect(reg(s, Reg.esp) & 0xffff).toBe(0x9000);
  });
});
