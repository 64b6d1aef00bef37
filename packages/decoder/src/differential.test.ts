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
const NOT_INTEL = /^(d3now|femms|xcrypt|xsha|xstore)/;

interface Tally {
  agree: number;
  notCovered: number;
  disagreements: string[];
}

function compareAt(
  bytes: Uint8Array,
  bitness: Bitness,
  offsets: Iterable<number>,
  /** Also require iced's length for forms we do not cover (real code: the disassembly stays in step). */
  lengthOfUncovered = false,
): Tally {
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
      // Not covered yet (EVEX, XOP, the VEX forms without rows): unsupported, with iced's length
      // so that a disassembly stays in step. 3DNow! and VIA PadLock opcodes are #UD on Intel
      // processors (no such rows in SDM Vol. 2 appendix A) and decode as invalid here.
      if (!ours.invalid)
        t.disagreements.push(`${hexAt(bytes, off, ii.length)}: ours ${ours.codeName}, iced ${icedName}`);
      else if (lengthOfUncovered && ours.length !== ii.length && !NOT_INTEL.test(icedName))
        t.disagreements.push(
          `${hexAt(bytes, off, ii.length)}: unsupported with length ${ours.length}, iced ${icedName}/${ii.length}`,
        );
      else t.notCovered++;
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
const NODE_DEFAULT_BYTES = 4 << 20;

describe.skipIf(samples.length === 0)('differential against iced-x86 on real code', () => {
  for (const s of samples) {
    // The Node binary's .text is tens of megabytes: its first 4 MB by default, all of it with
    // RINGZERO_REAL_CODE_FULL=1.
    const bytes =
      s.bytes.length > NODE_DEFAULT_BYTES && process.env.RINGZERO_REAL_CODE_FULL !== '1'
        ? s.bytes.subarray(0, NODE_DEFAULT_BYTES)
        : s.bytes;
    it(`every instruction of ${s.name} .text (${bytes.length} bytes) that we cover decodes exactly as iced decodes it`, () => {
      const offsets: number[] = [];
      const iced = new IcedDecoder(s.bitness, bytes, DecoderOptions.None);
      const ii = new IcedInstruction();
      while (iced.canDecode) {
        offsets.push(iced.position);
        iced.decodeOut(ii);
      }
      iced.free();
      ii.free();
      const t = compareAt(bytes, s.bitness, offsets, true);
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
