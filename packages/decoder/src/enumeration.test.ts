import {
  DecoderOptions,
  Code as IcedCode,
  Decoder as IcedDecoder,
  Instruction as IcedInstruction,
} from 'iced-x86';
import { describe, expect, it } from 'vitest';
import type { Bitness } from './decoder';
import { Decoder } from './decoder';
import { CODE_NAMES } from './generated/tables';
import { Instruction } from './instruction';

/**
 * Differential test against iced-x86 over a systematic enumeration of the opcode maps: every
 * opcode of the one-byte, 0F, 0F 38 and 0F 3A maps under each mandatory/legacy prefix set, and
 * of the VEX maps under each VEX.pp, L, W and a used/unused VEX.vvvv, each with a set of ModRM
 * bytes covering every reg field, every mod, SIB and disp32 addressing. iced is a peer, not an
 * oracle: a disagreement is looked up in the SDM (and listed in the README if iced is right to
 * differ from hardware documentation, or fixed here if we are wrong).
 */
const ICED_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(IcedCode)) {
  if (typeof value === 'number') ICED_NAMES.set(value, name.toLowerCase());
}
const OURS = new Set(CODE_NAMES);

/** ModRM bytes: each reg field with mod = 11b, mod = 00b r/m = 000b, and a rotation of SIB/disp forms. */
const MODRMS: number[] = [];
for (let reg = 0; reg < 8; reg++) {
  MODRMS.push(0xc0 | (reg << 3) | (reg ^ 5), (reg << 3) | 0, [0x04, 0x05, 0x44, 0x84][reg & 3]! | (reg << 3));
}
/** What follows the ModRM: a SIB byte (base ESP, so no disp32 rule) and distinct displacement/immediate bytes. */
const TAIL = [0x24, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99];

function* legacyCases(bitness: Bitness): Generator<number[]> {
  const prefixSets: number[][] = [[], [0x66], [0xf3], [0xf2], [0x67], [0xf0], [0x66, 0xf2]];
  if (bitness === 64) prefixSets.push([0x48], [0x66, 0x48], [0x41], [0x4c]);
  for (const map of [[], [0x0f], [0x0f, 0x38], [0x0f, 0x3a]]) {
    for (const prefixes of prefixSets) {
      for (let op = 0; op < 256; op++) {
        for (const modrm of MODRMS) yield [...prefixes, ...map, op, modrm, ...TAIL];
      }
    }
  }
}

function* vexCases(bitness: Bitness): Generator<number[]> {
  for (let map = 1; map <= 3; map++) {
    for (let pp = 0; pp < 4; pp++) {
      for (const l of [0, 1]) {
        for (const w of [0, 1]) {
          // vvvv = 1111b (unused, stored inverted) and a register (xmm6 / k6 / esi).
          for (const vvvv of [0xf, 0x9]) {
            // R, X, B stored inverted: all 1 (no extension); in 64-bit mode also R = X = B = 0.
            for (const rxb of bitness === 64 ? [0xe0, 0x00] : [0xe0]) {
              const b1 = rxb | map;
              const b2 = (w << 7) | (vvvv << 3) | (l << 2) | pp;
              for (let op = 0; op < 256; op++) {
                for (const modrm of MODRMS) yield [0xc4, b1, b2, op, modrm, ...TAIL];
              }
            }
          }
        }
      }
    }
  }
}

interface Tally {
  total: number;
  agree: number;
  notCovered: number;
  disagreements: string[];
}

const STRIDE = 24;

function run(bitness: Bitness, cases: readonly number[][]): Tally {
  const buf = new Uint8Array(cases.length * STRIDE).fill(0x90);
  cases.forEach((c, i) => {
    buf.set(c, i * STRIDE);
  });
  const d = new Decoder(bitness);
  const ours = new Instruction();
  const iced = new IcedDecoder(bitness, buf, DecoderOptions.None);
  const ii = new IcedInstruction();
  const t: Tally = { total: 0, agree: 0, notCovered: 0, disagreements: [] };
  for (let i = 0; i < cases.length; i++) {
    const off = i * STRIDE;
    iced.position = off;
    iced.ip = BigInt(off);
    iced.decodeOut(ii);
    d.decodeOut(buf, off, off, ours);
    t.total++;
    const icedName = ii.code === IcedCode.INVALID ? 'invalid' : (ICED_NAMES.get(ii.code) ?? '?');
    const hex = () =>
      Array.from(buf.subarray(off, off + Math.max(ii.length, ours.length, 4)), (x) =>
        x.toString(16).padStart(2, '0'),
      ).join(' ');
    if (icedName !== 'invalid' && !OURS.has(icedName)) {
      // A form we have no row for: it must not decode as something else.
      if (ours.invalid) t.notCovered++;
      else t.disagreements.push(`${hex()}: ours ${ours.codeName}, iced ${icedName}`);
      continue;
    }
    const same =
      icedName === 'invalid' ? ours.invalid : ours.codeName === icedName && ours.length === ii.length;
    if (same) t.agree++;
    else
      t.disagreements.push(`${hex()}: ours ${ours.codeName}/${ours.length}, iced ${icedName}/${ii.length}`);
  }
  iced.free();
  ii.free();
  return t;
}

describe('differential against iced-x86 on an enumeration of the opcode maps', () => {
  for (const bitness of [16, 32, 64] as Bitness[]) {
    it(`legacy and VEX maps in ${bitness}-bit mode: every covered encoding agrees on form, length and validity`, () => {
      const t = run(bitness, [...legacyCases(bitness), ...vexCases(bitness)]);
      console.log(
        `enumeration ${bitness}-bit: ${t.total} encodings, ${t.agree} agree, ${t.notCovered} not covered, ${t.disagreements.length} disagree`,
      );
      if (process.env.RINGZERO_ENUM_DUMP) for (const x of t.disagreements) console.log(`DIS ${x}`);
      expect(t.disagreements.slice(0, 30)).toEqual([]);
    });
  }
});
