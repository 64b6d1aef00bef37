import { describe, expect, it } from 'vitest';
import { decode } from './decoder';
import { formatAtt, formatIntel } from './format';

const b = (...x: number[]) => new Uint8Array(x);

describe('number formatting', () => {
  it('writes immediates at every byte-width boundary in lower-case hex without leading zeros', () => {
    const mov = (v: number) =>
      formatIntel(decode(b(0xb8, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24), 0, 32));
    expect(mov(0)).toBe('mov eax, 0x0');
    expect(mov(0xff)).toBe('mov eax, 0xff');
    expect(mov(0x100)).toBe('mov eax, 0x100');
    expect(mov(0xffff)).toBe('mov eax, 0xffff');
    expect(mov(0x10000)).toBe('mov eax, 0x10000');
    expect(mov(0x1000000)).toBe('mov eax, 0x1000000');
    expect(mov(0x7fffffff)).toBe('mov eax, 0x7fffffff');
    expect(mov(0x80000000)).toBe('mov eax, 0x80000000');
    expect(mov(0xc10a0b0c)).toBe('mov eax, 0xc10a0b0c');
    expect(mov(0xffffffff)).toBe('mov eax, 0xffffffff');
  });

  it('writes branch targets above 2^31 (kernel addresses) and 64-bit ones', () => {
    const call = decode(b(0xe8, 0x0b, 0x00, 0x00, 0x00), 0, 32, 0xc1000000);
    expect([formatIntel(call), formatAtt(call)]).toEqual(['call 0xc1000010', 'call 0xc1000010']);
    const far = decode(b(0xe8, 0x00, 0x00, 0x00, 0x00), 0, 64, 0x7fff_0000_0000);
    expect(formatIntel(far)).toBe('call 0x7fff00000005');
    const imm64 = decode(b(0x48, 0xb8, 1, 0, 0, 0, 0x10, 0, 0, 0), 0, 64);
    expect(formatIntel(imm64)).toBe('mov rax, 0x1000000001');
  });
});
