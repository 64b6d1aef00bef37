import { describe, expect, it } from 'vitest';
import type { Bitness } from './decoder';
import { Decoder } from './decoder';
import { formatAtt, formatIntel } from './format';
import { Instruction } from './instruction';
import { xorshift } from './test-prng';

const COUNT = Number(process.env.RINGZERO_FUZZ_COUNT ?? 30000);

describe('decoder fuzz invariants', () => {
  for (const bitness of [16, 32, 64] as Bitness[]) {
    it(`random bytes in ${bitness}-bit mode: never throws, length 1–15, same result twice`, () => {
      const rnd = xorshift(0x5eed + bitness);
      const buf = new Uint8Array(COUNT + 16);
      for (let i = 0; i < buf.length; i++) buf[i] = rnd() & 0xff;
      const d = new Decoder(bitness);
      const a = new Instruction();
      const c = new Instruction();
      let bad = 0;
      for (let off = 0; off < COUNT; off++) {
        d.decodeOut(buf, off, off, a);
        d.decodeOut(buf, off, off, c);
        if (a.length < 1 || a.length > 15) bad++;
        if (a.code !== c.code || a.length !== c.length || a.invalidReason !== c.invalidReason) bad++;
        formatIntel(a);
        formatAtt(a);
      }
      expect(bad).toBe(0);
    });
  }

  it('decoding at every offset near the end of a buffer never reads past it', () => {
    const d = new Decoder(32);
    const ins = new Instruction();
    const buf = new Uint8Array([0x8b, 0x84, 0x8d, 0x10, 0x20, 0x30]);
    for (let end = 0; end <= buf.length; end++) {
      const view = buf.subarray(0, end);
      d.decodeOut(view, 0, 0, ins);
      expect(ins.length).toBeLessThanOrEqual(Math.max(end, 1));
    }
  });
});
