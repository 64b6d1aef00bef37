import { describe, expect, it } from 'vitest';
import { assemble } from './assemble';
import { AssemblerError } from './errors';
import { hex, readVectors } from './test-nasm';

function bytesOf(bits: 16 | 32 | 64, source: string): string {
  return hex(assemble(source, { bits }).bytes);
}

describe('encodings NASM chooses (testdata/vectors.txt)', () => {
  const vectors = readVectors();
  it('has vectors for all three modes', () => {
    expect(new Set(vectors.map((v) => v.bits))).toEqual(new Set([16, 32, 64]));
  });
  for (const v of vectors) {
    it(`${v.bits}-bit: ${v.source} → ${v.bytes}`, () => {
      expect(bytesOf(v.bits, v.source)).toBe(v.bytes);
    });
  }
});

describe('form selection', () => {
  it('reg, reg uses the r/m, reg direction (mov eax, ebx = 89 d8)', () => {
    expect(bytesOf(32, 'mov eax, ebx')).toBe('89 d8');
  });

  it('a label immediate is never shortened to imm8, a constant one is', () => {
    expect(bytesOf(32, 'push lbl\nlbl:')).toBe('68 05 00 00 00');
    expect(bytesOf(32, 'push k\nk equ 5')).toBe('6a 05');
  });

  it('a label displacement keeps 32 bits, a constant one shrinks to 8', () => {
    expect(bytesOf(32, 'mov eax, [ebx+lbl]\nlbl:')).toBe('8b 83 06 00 00 00');
    expect(bytesOf(32, 'mov eax, [ebx+lbl-lbl2]\nlbl:\nlbl2:')).toBe('8b 03');
  });

  it('a branch relaxes to rel8 when the target is near and to rel32 when not', () => {
    expect(bytesOf(32, 'top: jmp top')).toBe('eb fe');
    const far = assemble('jmp far_away\ntimes 200 nop\nfar_away:', { bits: 32 }).bytes;
    expect(hex(far.subarray(0, 5))).toBe('e9 c8 00 00 00');
    expect(bytesOf(16, 'jne x\ntimes 130 nop\nx:').slice(0, 11)).toBe('0f 85 82 00');
  });

  it('relaxation reaches a fixpoint when shortening one branch brings another in range', () => {
    const src = ['a: jmp b', 'times 124 nop', 'jmp a', 'b: nop'].join('\n');
    const out = assemble(src, { bits: 32 }).bytes;
    expect(out[0]).toBe(0xeb);
    expect(out.length).toBe(2 + 124 + 2 + 1);
  });

  it('jmp short out of range is an error, not a silent rel32', () => {
    expect(() => assemble('jmp short x\ntimes 200 nop\nx:', { bits: 32 })).toThrow(/short jump out of range/);
  });

  it('RIP-relative addressing with rel and default rel', () => {
    expect(bytesOf(64, 'lea rax, [rel x]\nx:')).toBe('48 8d 05 00 00 00 00');
    expect(bytesOf(64, 'default rel\nmov eax, [x]\nx:')).toBe('8b 05 00 00 00 00');
    expect(bytesOf(64, 'mov eax, [x]\nx:')).toBe('8b 04 25 07 00 00 00');
  });

  it('every mode accepts its own registers and rejects the others', () => {
    expect(() => assemble('mov r8d, eax', { bits: 32 })).toThrow(/only in 64-bit mode/);
    expect(() => assemble('mov ah, sil', { bits: 64 })).toThrow(/REX/);
    expect(() => assemble('pusha', { bits: 64 })).toThrow(/not valid in 64-bit mode/);
    expect(() => assemble('mov ax, [si]', { bits: 64 })).toThrow(AssemblerError);
  });

  it('an impossible operand combination is an error naming the expected forms', () => {
    try {
      assemble('mov cr0, ax', { bits: 32 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(AssemblerError);
      expect((e as AssemblerError).code).toBe('invalid-operands');
      expect((e as AssemblerError).detail).toMatch(/expected .*mov cr, r32/);
    }
  });

  it('an unsized memory operand with several possible sizes is an error', () => {
    expect(() => assemble('inc [eax]', { bits: 32 })).toThrow(/operation size not specified/);
    expect(() => assemble('fld [eax]', { bits: 32 })).toThrow(/operation size not specified/);
    expect(bytesOf(32, 'inc dword [eax]')).toBe('ff 00');
  });

  it('lock needs a lockable instruction with a memory destination', () => {
    expect(() => assemble('lock add eax, ebx', { bits: 32 })).toThrow(/lock is not allowed/);
    expect(() => assemble('lock mov [eax], ebx', { bits: 32 })).toThrow(/lock is not allowed/);
  });

  it('a rep prefix that would turn an instruction into another is an error', () => {
    expect(() => assemble('rep bsf eax, ebx', { bits: 32 })).toThrow(AssemblerError);
    expect(bytesOf(32, 'rep ret')).toBe('f3 c3');
  });

  it('values that do not fit are errors', () => {
    expect(() => assemble('mov al, 0x100', { bits: 32 })).toThrow(/does not fit/);
    expect(() => assemble('add rax, 0xffffffff', { bits: 64 })).toThrow(/sign-extended 32-bit/);
    expect(() => assemble('int 256', { bits: 32 })).toThrow(/does not fit/);
  });

  it('16-bit far jumps and calls take selector:offset, sized by a keyword', () => {
    expect(bytesOf(16, 'jmp 0x08:0x1234')).toBe('ea 34 12 08 00');
    expect(bytesOf(16, 'jmp dword 0x08:0x1234')).toBe('66 ea 34 12 00 00 08 00');
    expect(bytesOf(32, 'jmp 0x08:start\nstart:')).toBe('ea 07 00 00 00 08 00');
  });
});
