import { describe, expect, it } from 'vitest';
import { Reg, Seg } from '../cpu-state';
import { Vector } from '../fault';
import { StopReason } from '../tier0';
import { a16, a32, program, protected16, reg, run, statusFlags } from './snippet';

// LOOP / LOOPE / LOOPNE / JCXZ / JECXZ (SDM vol. 2 "LOOP/LOOPcc", "Jcc"): the address size picks
// CX or ECX as the count, the operand size truncates the target to 16 bits, and none of them
// changes a flag.

describe('LOOP', () => {
  it('runs the body ECX times, ends with ECX = 0 and leaves the flags of the body', () => {
    const p = a32`
      mov ecx, 5
      xor eax, eax
    body:
      add eax, 3
      cmp eax, 0
      loop body
      hlt`;
    const { s } = run(p);
    expect(reg(s, Reg.eax)).toBe(15);
    expect(reg(s, Reg.ecx)).toBe(0);
    expect(statusFlags(s)).toBe('P'); // from CMP 15, 0; LOOP reaching 0 does not set ZF
  });

  it('a16 LOOP counts with CX and keeps the upper half of ECX', () => {
    const p = a32`
      mov ecx, 0x00070003
      xor eax, eax
    body:
      inc eax
      a16 loop body
      hlt`;
    const { s } = run(p);
    expect(reg(s, Reg.eax)).toBe(3);
    expect(reg(s, Reg.ecx)).toBe(0x00070000);
  });

  it('a16 LOOP with CX = 0 wraps to 0xFFFF and runs 65,536 times', () => {
    const p = a32`
      mov ecx, 0x00120000
      xor eax, eax
    body:
      inc eax
      a16 loop body
      hlt`;
    const { s, reason } = run(p, { limit: 200_000 });
    expect(reason).toBe(StopReason.halt);
    expect(reg(s, Reg.eax)).toBe(0x10000);
    expect(reg(s, Reg.ecx)).toBe(0x00120000);
  });

  it('LOOPE continues while ZF = 1 and stops at the first ZF = 0', () => {
    const p = a32`
      mov esi, 0x3000
      mov ecx, 10
    scan:
      lodsb
      cmp al, 7
      loope scan
      hlt`;
    const { s } = run(p, { prepare: (_c, m) => m.ram.set([7, 7, 7, 1, 7], 0x3000) });
    expect(reg(s, Reg.ecx)).toBe(6);
    expect(reg(s, Reg.esi)).toBe(0x3004);
    expect(s.getZF()).toBe(0);
  });

  it('LOOPNE continues while ZF = 0 and stops at the first ZF = 1', () => {
    const p = a32`
      mov esi, 0x3000
      mov ecx, 10
    scan:
      lodsb
      cmp al, 7
      loopne scan
      hlt`;
    const { s } = run(p, { prepare: (_c, m) => m.ram.set([1, 2, 7, 4], 0x3000) });
    expect(reg(s, Reg.ecx)).toBe(7);
    expect(s.getZF()).not.toBe(0);
  });

  it('LOOPE also stops when the count reaches 0 with ZF still set', () => {
    const p = a32`
      mov ecx, 3
      xor eax, eax
    again:
      cmp eax, eax
      loope again
      hlt`;
    const { s, cpu } = run(p);
    expect(reg(s, Reg.ecx)).toBe(0);
    expect(cpu.instructions).toBe(2 + 3 * 2 + 1);
  });

  it('o16 LOOP truncates the target to 16 bits (SDM: IF OperandSize = 16 THEN EIP ← EIP AND FFFFH)', () => {
    // At 0x10000 the target 0x10000 becomes 0x0000, where a HLT waits. The assembler refuses a
    // 16-bit branch to 0x10000, so the LOOP is written as bytes: 66 E2 F8 (o16 loop top).
    const origin = 0x10000;
    const p = program(32, 'top:\nmov ecx, 2\ndb 0x66, 0xe2, 0xf8\nhlt', origin);
    const { s } = run(p, { origin, prepare: (_c, m) => m.write8(0, 0xf4) });
    expect(s.eip).toBe(1);
    expect(reg(s, Reg.ecx)).toBe(1);
  });

  it('a LOOP whose target is beyond the CS limit raises #GP(0) with ECX unchanged, EIP at the LOOP', () => {
    // CS limit 0x100F: the target (0x1010, the HLT) is just past it.
    const p = a32`
      mov ecx, 4
    here:
      loop there
      times 9 nop
    there:
      hlt`;
    const { cpu, s } = run(p, {
      prepare: (_c, _m, st) => {
        st.segLimit[Seg.cs] = 0x100f;
      },
    });
    expect(cpu.lastVector).toBe(Vector.gp);
    expect(cpu.lastErrorCode).toBe(0);
    expect(s.eip).toBe(p.at('here'));
    expect(reg(s, Reg.ecx)).toBe(4);
  });
});

describe('JCXZ / JECXZ', () => {
  it('JECXZ branches on ECX = 0 and leaves ECX and the flags alone', () => {
    const p = a32`
      xor ecx, ecx
      stc
      jecxz zero
      mov eax, 1
      hlt
    zero:
      mov eax, 2
      hlt`;
    const { s } = run(p);
    expect(reg(s, Reg.eax)).toBe(2);
    expect(statusFlags(s)).toBe('CPZ');
  });

  it('JCXZ (a16 in 32-bit code) tests CX only: ECX = 0x10000 branches', () => {
    const p = a32`
      mov ecx, 0x10000
      jcxz zero
      mov eax, 1
      hlt
    zero:
      mov eax, 2
      hlt`;
    const { s } = run(p);
    expect(reg(s, Reg.eax)).toBe(2);
  });

  it('JECXZ with ECX = 0x10000 does not branch', () => {
    const p = a32`
      mov ecx, 0x10000
      jecxz zero
      mov eax, 1
      hlt
    zero:
      mov eax, 2
      hlt`;
    const { s } = run(p);
    expect(reg(s, Reg.eax)).toBe(1);
  });
});

describe('16-bit code', () => {
  it('real mode: LOOP counts with CX; a32 LOOP counts with ECX', () => {
    const p = a16`
      mov ecx, 0x10002
      xor ax, ax
    one:
      inc ax
      loop one
      mov ecx, 0x10002
      xor ebx, ebx
    two:
      inc ebx
      a32 loop two
      hlt`;
    const { s } = run(p, { mode: 'real', limit: 1_000_000 });
    expect(reg(s, Reg.eax) & 0xffff).toBe(2);
    expect(reg(s, Reg.ebx)).toBe(0x10002);
    expect(reg(s, Reg.ecx)).toBe(0);
  });

  it('real mode: JCXZ tests CX and JECXZ (a32) tests ECX', () => {
    const p = a16`
      mov ecx, 0x10000
      jcxz cx_zero
      hlt
    cx_zero:
      a32 jecxz ecx_zero
      mov al, 1
      hlt
    ecx_zero:
      mov al, 2
      hlt`;
    const { s } = run(p, { mode: 'real' });
    expect(reg(s, Reg.eax) & 0xff).toBe(1);
  });

  it('16-bit protected mode: LOOPNE counts with CX and keeps the upper half of ECX', () => {
    const p = a16`
      mov ecx, 0xabcd0004
      xor ax, ax
    again:
      inc ax
      cmp ax, 9
      loopne again
      hlt`;
    const { s } = run(p, { prepare: protected16 });
    expect(reg(s, Reg.eax) & 0xffff).toBe(4);
    expect(reg(s, Reg.ecx)).toBe(0xabcd0000);
  });
});
