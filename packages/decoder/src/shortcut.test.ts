import { describe, expect, it } from 'vitest';
import { loadRealCode } from '../scripts/real-code';
import type { Bitness } from './decoder';
import { Decoder } from './decoder';
import { Instruction } from './instruction';
import { xorshift } from './test-prng';

/**
 * `decodeOut` answers the common case from its own tables and leaves the rest to the general
 * path (`decodeGeneral`), its reference: both must give the same instruction, field by field.
 */
/** Every public field of an instruction, read through its getters (one monomorphic read each). */
function fields(i: Instruction, out: number[]): void {
  out[0] = i.length;
  out[1] = i.code;
  out[2] = i.invalidReason;
  out[3] = i.bitness;
  out[4] = i.operandSize;
  out[5] = i.addressSize;
  out[6] = i.prefixes;
  out[7] = i.rex;
  out[8] = i.segmentPrefix;
  out[9] = i.opCount;
  out[10] = i.op0Kind;
  out[11] = i.op1Kind;
  out[12] = i.op2Kind;
  out[13] = i.op3Kind;
  out[14] = i.op0Register;
  out[15] = i.op1Register;
  out[16] = i.op2Register;
  out[17] = i.op3Register;
  out[18] = i.memBase;
  out[19] = i.memIndex;
  out[20] = i.memScale;
  out[21] = i.memDisplacement;
  out[22] = i.memDisplacementHigh;
  out[23] = i.memDisplacementSize;
  out[24] = i.memSegment;
  out[25] = i.memSize;
  out[26] = i.immediate;
  out[27] = i.immediateHigh;
  out[28] = i.immediate2;
  out[29] = i.nearBranchTarget;
  out[30] = i.farSelector;
  out[31] = i.farOffset;
}
const NAMES =
  'length code invalidReason bitness operandSize addressSize prefixes rex segmentPrefix opCount op0Kind op1Kind op2Kind op3Kind op0Register op1Register op2Register op3Register memBase memIndex memScale memDisplacement memDisplacementHigh memDisplacementSize memSegment memSize immediate immediateHigh immediate2 nearBranchTarget farSelector farOffset'.split(
    ' ',
  );
const fa: number[] = [];
const fb: number[] = [];

function differs(a: Instruction, b: Instruction): string | undefined {
  fields(a, fa);
  fields(b, fb);
  for (let k = 0; k < fa.length; k++) if (fa[k] !== fb[k]) return `${NAMES[k]}: ${fa[k]} vs ${fb[k]}`;
  return undefined;
}

function hex(bytes: Uint8Array, off: number): string {
  return Array.from(bytes.subarray(off, off + 15), (x) => x.toString(16).padStart(2, '0')).join(' ');
}

/** Decodes at each offset both ways, into Instructions left dirty by other forms; lists differences. */
function compare(bitness: Bitness, bytes: Uint8Array, offsets: Iterable<number>, ip = 0): string[] {
  const d = new Decoder(bitness);
  const fast = new Instruction();
  const ref = new Instruction();
  const out: string[] = [];
  for (const off of offsets) {
    d.decodeOut(bytes, off, ip + off, fast);
    d.decodeGeneral(bytes, off, ip + off, ref);
    const why = differs(fast, ref);
    if (why !== undefined && out.length < 20) out.push(`${bitness}-bit ${hex(bytes, off)}: ${why}`);
  }
  return out;
}

/** SIB bytes: every base (101b with each mod), index 100b (none) and REX.X-extended indices. */
const SIBS = [0x24, 0x25, 0x65, 0xa5, 0x1c, 0xe3, 0x8d, 0x4d];

describe('the shortcut of decodeOut against the general decoder', () => {
  for (const bitness of [16, 32, 64] as Bitness[]) {
    it(`${bitness}-bit: every one-byte and 0F opcode with every ModRM byte, under 66, segment and REX prefixes`, () => {
      const rexes = bitness === 64 ? [-1, 0x40, 0x41, 0x42, 0x44, 0x48, 0x4f] : [-1];
      const prefixSets = [[], [0x66], [0x2e], [0x64, 0x66], [0x66, 0x3e, 0x65], [0x26, 0x36, 0x66, 0x2e]];
      const cases: number[] = [];
      const bytes = new Uint8Array(6 * 7 * 2 * 256 * 256 * 24 + 64);
      let at = 0;
      for (const prefixes of prefixSets)
        for (const rex of prefixes.length > 0 && bitness === 64 ? [-1, 0x45, 0x48] : rexes)
          for (const map of [[], [0x0f]])
            for (let op = 0; op < 256; op++)
              for (let modrm = 0; modrm < 256; modrm++) {
                // Without prefixes every ModRM byte; with them every reg field and mod, two r/m each.
                if (prefixes.length > 0 && ((modrm & 7) + op) % 4 !== 0) continue;
                cases.push(at);
                const head = [
                  ...prefixes,
                  ...(rex < 0 ? [] : [rex]),
                  ...map,
                  op,
                  modrm,
                  SIBS[(op + modrm) & 7]!,
                ];
                bytes.set(head, at);
                bytes.set([0x81, 0xf2, 0x83, 0x94, 0xa5, 0xb6, 0xc7, 0xd8, 0xe9], at + head.length);
                at += 24;
              }
      expect(compare(bitness, bytes.subarray(0, at + 40), cases, 0x7ffffff0)).toEqual([]);
    }, 60_000);
  }

  it('random bytes in every mode, at every offset', () => {
    const rnd = xorshift(0x5c0de);
    const bytes = new Uint8Array(200_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = rnd() & 0xff;
    for (const bitness of [16, 32, 64] as Bitness[]) {
      const offsets = Array.from({ length: bytes.length }, (_, i) => i);
      expect(compare(bitness, bytes, offsets, 0xfffff000)).toEqual([]);
    }
  });

  const samples = loadRealCode();
  it.skipIf(samples.length === 0)('every instruction of the real-code samples', () => {
    for (const s of samples) {
      const bytes = s.bytes.subarray(0, 1 << 20);
      const d = new Decoder(s.bitness);
      const ins = new Instruction();
      const offsets: number[] = [];
      for (let off = 0; off < bytes.length; off += ins.length) {
        offsets.push(off);
        d.decodeOut(bytes, off, s.address + off, ins);
      }
      expect(compare(s.bitness, bytes, offsets, s.address), s.name).toEqual([]);
    }
  });
});
