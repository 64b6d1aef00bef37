import {
  DecoderOptions,
  Code as IcedCode,
  Decoder as IcedDecoder,
  Instruction as IcedInstruction,
} from 'iced-x86';
import { describe, expect, it } from 'vitest';
import { loadRealCode } from '../scripts/real-code';
import type { Bitness } from './decoder';
import { Decoder } from './decoder';
import { CODE_NAMES } from './generated/tables';
import { Instruction } from './instruction';
import { xorshift } from './test-prng';

/**
 * Differential tests against iced-x86 (npm). iced is a peer, not an oracle: a disagreement is
 * investigated against the SDM. Forms outside our tables so far (SSE, AVX, ...) are counted as
 * not covered and must decode as invalid here, never as some other instruction.
 */
const ICED_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(IcedCode)) {
  if (typeof value === 'number') ICED_NAMES.set(value, name.toLowerCase());
}
const OURS = new Set(CODE_NAMES);

interface Tally {
  agree: number;
  notCovered: number;
  disagreements: string[];
}

function compareAt(bytes: Uint8Array, bitness: Bitness, offsets: Iterable<number>): Tally {
  const iced = new IcedDecoder(bitness, bytes, DecoderOptions.None);
  const ii = new IcedInstruction();
  const d = new Decoder(bitness);
  const ours = new Instruction();
  const t: Tally = { agree: 0, notCovered: 0, disagreements: [] };
  for (const off of offsets) {
    iced.position = off;
    iced.ip = BigInt(off);
    iced.decodeOut(ii);
    d.decodeOut(bytes, off, off, ours);
    const icedName = ii.code === IcedCode.INVALID ? 'invalid' : (ICED_NAMES.get(ii.code) ?? '?');
    if (icedName !== 'invalid' && !OURS.has(icedName)) {
      if (ours.invalid) t.notCovered++;
      else t.disagreements.push(`${hexAt(bytes, off, ii.length)}: ours ${ours.codeName}, iced ${icedName}`);
      continue;
    }
    const same =
      icedName === 'invalid' ? ours.invalid : ours.codeName === icedName && ours.length === ii.length;
    if (same) t.agree++;
    else
      t.disagreements.push(
        `${hexAt(bytes, off, 15)}: ours ${ours.codeName}/${ours.length}, iced ${icedName}/${ii.length}`,
      );
  }
  iced.free();
  ii.free();
  return t;
}

function hexAt(b: Uint8Array, off: number, n: number): string {
  return Array.from(b.subarray(off, off + n), (x) => x.toString(16).padStart(2, '0')).join(' ');
}

const samples = loadRealCode();

describe.skipIf(samples.length === 0)('differential against iced-x86 on real code', () => {
  for (const s of samples) {
    it(`every instruction of ${s.name} .text that we cover decodes exactly as iced decodes it`, () => {
      const offsets: number[] = [];
      const iced = new IcedDecoder(s.bitness, s.bytes, DecoderOptions.None);
      const ii = new IcedInstruction();
      while (iced.canDecode) {
        offsets.push(iced.position);
        iced.decodeOut(ii);
      }
      iced.free();
      ii.free();
      const t = compareAt(s.bytes, s.bitness, offsets);
      console.log(
        `${s.name}: ${offsets.length} instructions, ${t.agree} agree, ${t.notCovered} not covered yet (${((100 * t.notCovered) / offsets.length).toFixed(2)}%)`,
      );
      expect(t.disagreements.slice(0, 20)).toEqual([]);
    });
  }
});

const COUNT = Number(process.env.RINGZERO_FUZZ_COUNT ?? 30000);

describe('differential against iced-x86 on random bytes', () => {
  for (const bitness of [16, 32, 64] as Bitness[]) {
    it(`${COUNT} seeded random sequences in ${bitness}-bit mode agree wherever we cover the form`, () => {
      const rnd = xorshift(0xd1ff + bitness);
      const bytes = new Uint8Array(COUNT * 16);
      for (let i = 0; i < bytes.length; i++) bytes[i] = rnd() & 0xff;
      const t = compareAt(
        bytes,
        bitness,
        Array.from({ length: COUNT }, (_, i) => i * 16),
      );
      console.log(
        `random ${bitness}-bit: ${t.agree} agree, ${t.notCovered} not covered yet, ${t.disagreements.length} disagree`,
      );
      expect(t.disagreements.slice(0, 20)).toEqual([]);
    });
  }
});
