import { describe, expect, it } from 'vitest';
import { Reg } from '../cpu-state';
import { Vector } from '../fault';
import { setGate } from '../harness';
import { StopReason } from '../tier0';
import { a32, reg, run, statusFlags } from './snippet';

// x87 instructions written in assembly (SDM vol. 1 ch. 8, vol. 2 "FCOMI/FUCOMI", "FCMOVcc",
// "FSTENV", "FLDENV", "FXSAVE"). Arithmetic results are checked against host vectors in
// ../x87.test.ts; these tests are about flags, exceptions and state.

const SW = 0x3000;
const data = (values: number[]) => (_c: unknown, m: { ram: Uint8Array }) => {
  const v = new DataView(m.ram.buffer, m.ram.byteOffset);
  for (const [i, x] of values.entries()) v.setFloat64(0x3100 + i * 8, x, true);
};

describe('FCOMI / FUCOMI', () => {
  const cases: [string, number, number, string][] = [
    ['greater', 2, 1, ''],
    ['less', 1, 2, 'C'],
    ['equal', 1.5, 1.5, 'Z'],
    ['unordered (NaN)', Number.NaN, 1, 'CPZ'],
  ];
  for (const [what, a, b, flags] of cases) {
    for (const op of ['fcomi', 'fucomi']) {
      it(`${op.toUpperCase()} ${what} sets ZF PF CF to "${flags}" and clears OF SF AF`, () => {
        // ST(0) = a, ST(1) = b. AF, SF and OF are set beforehand to see them cleared.
        const p = a32`
          mov al, 0x7f
          add al, 0x11
          fninit
          fld qword [0x3108]
          fld qword [0x3100]
          ${op} st0, st1
          fnstsw [${SW}]
          hlt`;
        const { s, memory, reason } = run(p, { prepare: data([a, b]) });
        expect(reason).toBe(StopReason.halt);
        expect(statusFlags(s)).toBe(flags);
        // A QNaN is an invalid operand for FCOMI, not for FUCOMI (IE, bit 0 of the status word).
        const ie = memory.read16(SW) & 1;
        expect(ie).toBe(op === 'fcomi' && Number.isNaN(a) ? 1 : 0);
      });
    }
  }

  it('FCOMIP pops ST(0) after comparing', () => {
    const p = a32`
      fninit
      fld qword [0x3108]
      fld qword [0x3100]
      fcomip st0, st1
      fnstsw ax
      hlt`;
    const { s } = run(p, { prepare: data([3, 4]) });
    expect((reg(s, Reg.eax) >> 11) & 7).toBe(7); // TOP back to 7: one value left
    expect(s.getCF()).toBe(1);
  });
});

describe('FCMOVcc', () => {
  const conds: [string, string, boolean][] = [
    ['fcmovb', 'stc', true],
    ['fcmovnb', 'stc', false],
    ['fcmove', 'cmp eax, eax', true],
    ['fcmovne', 'cmp eax, eax', false],
    ['fcmovbe', 'clc', false],
    ['fcmovnbe', 'clc', true],
    ['fcmovu', 'xor eax, eax', true], // PF = 1 for a zero result
    ['fcmovnu', 'xor eax, eax', false],
  ];
  for (const [op, setup, moves] of conds) {
    it(`${op.toUpperCase()} after ${setup} ${moves ? 'copies' : 'does not copy'} ST(1) to ST(0)`, () => {
      const p = a32`
        fninit
        fld qword [0x3108]
        fld qword [0x3100]
        mov ebx, 1
        test ebx, ebx
        ${setup}
        ${op} st0, st1
        fstp qword [0x3200]
        hlt`;
      const { memory } = run(p, { prepare: data([10, 20]) });
      const v = new DataView(memory.ram.buffer, memory.ram.byteOffset).getFloat64(0x3200, true);
      expect(v).toBe(moves ? 20 : 10);
    });
  }
});

describe('exceptions and the control word', () => {
  /** CR0.NE: unmasked x87 exceptions are reported as #MF (SDM vol. 3 §2.5), not on FERR#. */
  const ne = (_c: unknown, _m: unknown, st: { cr0: number }) => {
    st.cr0 |= 0x20;
  };

  it('with ZE unmasked, FDIV by zero sets ZE and ES; the next waiting instruction raises #MF (CR0.NE)', () => {
    const p = a32`
      fninit
      fldcw [cw]
      fld1
      fldz
      fdivp st1, st0
      fnstsw ax
    next:
      fld1
      hlt
    cw: dw 0x037b`;
    const { cpu, s } = run(p, { prepare: ne });
    expect(cpu.lastVector).toBe(Vector.mf);
    expect(s.eip).toBe(p.at('next'));
    expect(reg(s, Reg.eax) & 0x84).toBe(0x84); // ES and ZE
  });

  it('FWAIT raises the pending #MF; FNINIT, a non-waiting form, clears it without a fault', () => {
    const p = a32`
      fninit
      fldcw [cw]
      fld1
      fldz
      fdivp st1, st0
      fninit
      fwait
      fld1
      hlt
    cw: dw 0x037b`;
    const { cpu, reason } = run(p, { prepare: ne });
    expect(reason).toBe(StopReason.halt);
    expect(cpu.lastVector).toBe(-1);
  });

  it('masked, FDIV by zero gives an infinity and no fault', () => {
    const p = a32`
      fninit
      fld1
      fldz
      fdivp st1, st0
      fstp qword [0x3200]
      fnstsw ax
      hlt`;
    const { s, memory } = run(p);
    expect(new DataView(memory.ram.buffer, memory.ram.byteOffset).getFloat64(0x3200, true)).toBe(
      Number.POSITIVE_INFINITY,
    );
    expect(reg(s, Reg.eax) & 0x84).toBe(0x04); // ZE, no ES
  });

  it('a ninth push overflows the stack: IE, SF and C1 are set and ST(0) is the indefinite NaN', () => {
    const p = a32`
      fninit
      times 9 fld1
      fnstsw ax
      fstp qword [0x3200]
      hlt`;
    const { s, memory } = run(p);
    const sw = reg(s, Reg.eax);
    expect(sw & 0x41).toBe(0x41); // SF and IE
    expect(sw & 0x200).toBe(0x200); // C1 = 1: overflow, not underflow
    expect(memory.read32(0x3204) >>> 0).toBe(0xfff80000); // the default NaN, negative
  });

  it('an unmasked #MF is delivered through vector 16 with EIP at the waiting instruction', () => {
    const p = a32`
      fninit
      fldcw [cw]
      fldz
      fldz
      fdivp st1, st0
    next:
      fld1
      hlt
    mf_handler:
      mov ebx, [esp]
      fnclex
      iretd
    cw: dw 0x037e`;
    const { s, reason } = run(p, {
      deliver: true,
      prepare: (c, m, st) => {
        ne(c, m, st);
        setGate(m, Vector.mf, p.at('mf_handler'));
      },
    });
    expect(reason).toBe(StopReason.halt);
    expect(reg(s, Reg.ebx)).toBe(p.at('next'));
  });
});

describe('environment and state images', () => {
  it('FNSTENV stores the control, status and tag words and masks all exceptions; FLDENV restores them', () => {
    const p = a32`
      fninit
      fldcw [cw]
      fld1
      fnstenv [0x3300]
      fnstcw [0x3400]
      fldenv [0x3300]
      fnstcw [0x3402]
      hlt
    cw: dw 0x0360`;
    const { memory } = run(p);
    expect(memory.read16(0x3300)).toBe(0x0360);
    expect((memory.read16(0x3304) >> 11) & 7).toBe(7); // TOP after one push
    expect(memory.read16(0x3308)).toBe(0x3fff); // tag: physical register 7 valid, the rest empty
    expect(memory.read16(0x3400)).toBe(0x037f); // FSTENV masked everything
    expect(memory.read16(0x3402)).toBe(0x0360);
  });

  it('FXSAVE stores the abridged tag (one bit per register), FCW/FSW and MXCSR', () => {
    const p = a32`
      fninit
      fld1
      fldpi
      fxsave [0x4000]
      hlt`;
    const { memory } = run(p);
    expect(memory.read16(0x4000)).toBe(0x037f);
    expect((memory.read16(0x4002) >> 11) & 7).toBe(6);
    expect(memory.read8(0x4004)).toBe(0xc0); // physical registers 6 and 7 valid
    expect(memory.read32(0x4018)).toBe(0x1f80);
  });

  it('FXRSTOR of a misaligned image raises #GP(0); one with reserved MXCSR bits too', () => {
    const p = a32`
      fxrstor [0x4008]
      hlt`;
    expect(run(p).cpu.lastVector).toBe(Vector.gp);
    const q = a32`
      fxrstor [0x4000]
      hlt`;
    const r = run(q, { prepare: (_c, m) => m.write32(0x4018, 0x10000) });
    expect(r.cpu.lastVector).toBe(Vector.gp);
  });
});
