import { Decoder } from '@ringzero/decoder';
import { describe, expect, it } from 'vitest';
import { Decoded } from './decoded';

/** Decodes `bytes` at `ip` into a prepared `Decoded`. */
function prepared(bits: 16 | 32, bytes: number[], ip: number): Decoded {
  const ins = new Decoded();
  new Decoder(bits).decodeOut(Uint8Array.from(bytes), 0, ip, ins);
  ins.prepare();
  return ins;
}

describe('Decoded.prepare', () => {
  it('keeps a 32-bit displacement and immediate as int32 (equal modulo 2^32 to the decoder’s)', () => {
    // mov dword [eax + 0xc0001000], 0x80000001
    const ins = prepared(32, [0xc7, 0x80, 0x00, 0x10, 0x00, 0xc0, 0x01, 0x00, 0x00, 0x80], 0);
    expect(ins.memDisplacement).toBe(0xc0001000);
    expect(ins.mDisp).toBe(0xc0001000 | 0);
    expect(ins.immediate).toBe(0x80000001);
    expect(ins.immValue).toBe(0x80000001 | 0);
    expect(ins.branchRel).toBe(0);
  });

  it('records a relative branch as its target minus the next address, for every relative form', () => {
    const ip = 0xc1000000;
    const forms: [string, number[], number][] = [
      ['jmp rel8 back', [0xeb, 0xfe], -2],
      ['jcc rel32', [0x0f, 0x84, 0x00, 0x01, 0x00, 0x00], 0x100],
      ['call rel32 back', [0xe8, 0x00, 0xff, 0xff, 0xff], -0x100],
      ['loop rel8', [0xe2, 0x10], 0x10],
      ['jecxz rel8', [0xe3, 0xf0], -0x10],
    ];
    for (const [what, bytes, rel] of forms) {
      const ins = prepared(32, bytes, ip);
      expect(ins.branchRel, what).toBe(rel);
      expect((ip + ins.length + ins.branchRel) >>> 0 === ins.nearBranchTarget, what).toBe(true);
    }
  });

  it('gives a 16-bit branch that wraps past 0xffff the same target modulo 2^16', () => {
    // jmp rel16 +0x20 at 0xfff0 lands on 0x0013 (wrapped by the decoder).
    const ins = prepared(16, [0xe9, 0x20, 0x00], 0xfff0);
    expect(ins.nearBranchTarget).toBe(0x0013);
    expect((0xfff0 + ins.length + ins.branchRel) & 0xffff).toBe(0x0013);
  });
});
