import { describe, expect, it } from 'vitest';
import { asm } from './asm-tag';
import { assemble } from './assemble';
import { AssemblerError } from './errors';
import { hex } from './test-nasm';

function bytes(src: string, bits: 16 | 32 | 64 = 32): string {
  return hex(assemble(src, { bits }).bytes);
}

function error(src: string, bits: 16 | 32 | 64 = 32): AssemblerError {
  try {
    assemble(src, { bits, fileName: 'kernel.asm' });
  } catch (e) {
    if (e instanceof AssemblerError) return e;
    throw e;
  }
  throw new Error('expected an AssemblerError');
}

describe('assemble', () => {
  it('starts in 16-bit mode like NASM bin, and bits switches the mode mid-file', () => {
    expect(bytes('mov eax, 1', 16)).toBe('66 b8 01 00 00 00');
    expect(hex(assemble('mov ax, 1\nbits 32\nmov ax, 1\n[bits 64]\npush rax').bytes)).toBe(
      'b8 01 00 66 b8 01 00 50',
    );
  });

  it('org sets the address of the first byte, for labels, $ and $$', () => {
    const r = assemble('org 0x7c00\nstart: jmp start\nhere: dw $, $$', { bits: 16 });
    expect(r.symbols.get('start')).toBe(0x7c00);
    expect(r.symbols.get('here')).toBe(0x7c02);
    expect(hex(r.bytes)).toBe('eb fe 02 7c 00 7c');
    expect(assemble('BASE equ 0x7c00\norg BASE + 0x10\nx:', { bits: 16 }).symbols.get('x')).toBe(0x7c10);
  });

  it('local labels belong to the last global label', () => {
    const r = assemble('a:\n.loop: jmp .loop\nb:\n.loop: jmp .loop\njmp a.loop');
    expect(r.symbols.get('a.loop')).toBe(0);
    expect(r.symbols.get('b.loop')).toBe(2);
    expect(hex(r.bytes)).toBe('eb fe eb fe eb fa');
  });

  it('equ defines constants, including differences of labels and forward references', () => {
    const r = assemble('mov eax, len\nmsg: db "hello"\nlen equ $ - msg\nK equ 3 * (2 + 1)\nmov ebx, K', {
      bits: 32,
    });
    expect(r.symbols.get('len')).toBe(5);
    expect(hex(r.bytes)).toBe('b8 05 00 00 00 68 65 6c 6c 6f bb 09 00 00 00');
  });

  it('evaluates NASM expressions: precedence, shifts, bitwise, unsigned and signed division, chars', () => {
    expect(
      bytes('dd 1 + 2 * 3, (1 + 2) * 3, 1 << 4 | 1, ~0 & 0xff, 7 / 2, -7 // 2, -7 %% 2, 0x10 >> 2'),
    ).toBe('07 00 00 00 09 00 00 00 11 00 00 00 ff 00 00 00 03 00 00 00 fd ff ff ff ff ff ff ff 04 00 00 00');
    expect(bytes("dw 'ab'\ndd 'abcd'\nmov eax, 'ABCD'")).toBe('61 62 61 62 63 64 b8 41 42 43 44');
    expect(bytes('db 0x1f, 1fh, $1f, 0b101, 101b, 17o, 0q17, 0d99, 1_000 & 0xff')).toBe(
      '1f 1f 1f 05 05 0f 0f 63 e8',
    );
  });

  it('writes strings, padded to the unit, and backquoted escapes', () => {
    expect(bytes("db 'hi', 0\ndw 'abc'\ndb `a\\tb\\n\\x41\\0`")).toBe(
      '68 69 00 61 62 63 00 61 09 62 0a 41 00',
    );
  });

  it('writes floating-point data in IEEE formats', () => {
    expect(bytes('dd 1.0\ndq -2.5\ndw 1.5')).toBe('00 00 80 3f 00 00 00 00 00 00 04 c0 00 3e');
    expect(bytes('dt 1.0')).toBe('00 00 00 00 00 00 00 80 ff 3f');
  });

  it('times repeats instructions and data, with $ taken per repetition', () => {
    expect(bytes('times 3 nop')).toBe('90 90 90');
    expect(bytes('times 3 db $')).toBe('00 01 02');
    expect(
      assemble('org 0x7c00\ndb 1\ntimes 510 - ($ - $$) db 0\ndw 0xaa55', { bits: 16 }).bytes.length,
    ).toBe(512);
  });

  it('align pads with nop (or the given data), alignb and resb with zeros', () => {
    expect(bytes('db 1\nalign 4\ndb 2')).toBe('01 90 90 90 02');
    expect(bytes('db 1\nalign 4, db 0xcc\ndb 2')).toBe('01 cc cc cc 02');
    expect(bytes('db 1\nalignb 4\nresw 1\ndb 2')).toBe('01 00 00 00 00 00 02');
  });

  it('lays out sections as NASM bin does: .text, then progbits aligned to 4, then .bss', () => {
    const src = [
      'org 0x1000',
      'section .text',
      'start: mov eax, msg',
      'mov ebx, buf',
      'section .data',
      'msg: db "hi"',
      'section .bss',
      'buf: resb 16',
      'section .text',
      'dd end',
      'section .data',
      'db 1',
      'end:',
    ].join('\n');
    const r = assemble(src, { bits: 32 });
    expect(r.symbols.get('msg')).toBe(0x1010);
    expect(r.symbols.get('buf')).toBe(0x1014);
    expect(r.symbols.get('end')).toBe(0x1013);
    expect(hex(r.bytes)).toBe('b8 10 10 00 00 bb 14 10 00 00 13 10 00 00 00 00 68 69 01');
  });

  it('lists every source line with its address and bytes', () => {
    const r = assemble('org 0x100\nstart:\n  mov ax, 1 ; comment\n\n  ret', { bits: 16 });
    expect(r.listing.map((l) => [l.line, l.address, hex(l.bytes)])).toEqual([
      [1, 0x100, ''],
      [2, 0x100, ''],
      [3, 0x100, 'b8 01 00'],
      [4, 0x103, ''],
      [5, 0x103, 'c3'],
    ]);
    expect(r.listing[2]?.source).toBe('  mov ax, 1 ; comment');
  });

  it('accepts mnemonics, registers and keywords in any case, labels case-sensitively', () => {
    expect(bytes('MOV EAX, DWORD [EBX]\nLbl: JMP Lbl')).toBe('8b 03 eb fe');
    expect(error('lbl: jmp LBL').code).toBe('undefined-symbol');
  });

  it('accepts label without colon before data and equ', () => {
    expect(assemble('msg db 1\nn equ 2\ndb n').symbols.get('msg')).toBe(0);
  });
});

describe('errors', () => {
  it('report file, line and column, and what was expected', () => {
    const e = error('nop\n  mov eax, [ebx');
    expect(e).toBeInstanceOf(AssemblerError);
    expect(e.code).toBe('syntax');
    expect([e.file, e.line, e.column]).toEqual(['kernel.asm', 2, 16]);
    expect(e.message).toBe("kernel.asm:2:16: expected ']' to close the memory operand");
  });

  it('an unknown mnemonic is an error that names it', () => {
    const e = error('  movx eax, 1');
    expect([e.code, e.column, e.value]).toEqual(['unknown-mnemonic', 3, 'movx']);
    expect(error('loop_start').detail).toMatch(/label needs a colon/);
  });

  it('undefined and redefined symbols', () => {
    expect(error('jmp nowhere').code).toBe('undefined-symbol');
    expect(error('jmp nowhere').column).toBe(5);
    const e = error('a:\nnop\na:');
    expect([e.code, e.line]).toEqual(['redefined-symbol', 3]);
    expect(e.detail).toMatch(/already defined on line 1/);
  });

  it('bad expressions and directives', () => {
    expect(error('dd 1/0').code).toBe('bad-expression');
    expect(error('mov eax, ebx + 1').code).toBe('bad-expression');
    expect(error('bits 8').code).toBe('bad-directive');
    expect(error('org 0x100\norg 0x200').code).toBe('bad-directive');
    expect(error('%define X 1').detail).toMatch(/preprocessor/);
    expect(error('extern foo').code).toBe('bad-directive');
    expect(error('db 256').code).toBe('out-of-range');
  });

  it('bad addresses', () => {
    expect(error('mov eax, [ebx*3+ecx]').code).toBe('bad-address');
    expect(error('mov ax, [bx+bp]', 16).code).toBe('bad-address');
    expect(error('mov eax, [esp*2]').code).toBe('bad-address');
    expect(error('mov eax, [eax+bx]').code).toBe('bad-address');
  });
});

describe('asm tag', () => {
  it('assembles 32-bit code by default and interpolates values', () => {
    const n = 0x1234;
    expect(hex(asm`mov eax, ${n}`)).toBe('b8 34 12 00 00');
    expect(hex(asm`push ${-1}\n${'ret'}`)).toBe('6a ff c3');
    expect(hex(asm`mov ax, ${0x12n}`)).toBe('66 b8 12 00');
  });

  it('with() gives a tag for another mode or origin', () => {
    expect(hex(asm.with({ bits: 16 })`mov ax, 1`)).toBe('b8 01 00');
    expect(hex(asm.with({ bits: 64 })`mov rax, ${0x123456789abcdefn}`)).toBe('48 b8 ef cd ab 89 67 45 23 01');
    expect(hex(asm.with({ bits: 16, org: 0x7c00 })`dw $`)).toBe('00 7c');
  });

  it('throws AssemblerError naming <asm>', () => {
    expect(() => asm`mov eax,`).toThrow(/<asm>:1:9: expected an operand/);
  });
});
