import { describe, expect, it } from 'vitest';
import { Decoder } from './decoder';
import { caseInScope, compareCase, icedVectorDir, readIcedCases } from './iced-vectors';
import { Instruction } from './instruction';

const dir = icedVectorDir();
const FILES = [
  ['DecoderTest16.txt', 16],
  ['DecoderTest32.txt', 32],
  ['DecoderTest64.txt', 64],
  ['DecoderTestMisc16.txt', 16],
  ['DecoderTestMisc32.txt', 32],
  ['DecoderTestMisc64.txt', 64],
] as const;

describe.skipIf(dir === undefined)('iced-x86 decoder test vectors (shared/testdata/iced-x86)', () => {
  for (const [file, bitness] of FILES) {
    it(`every ${file} case for a form in our tables decodes as iced expects`, () => {
      const cases = readIcedCases(dir!, file, bitness);
      const d = new Decoder(bitness);
      const ins = new Instruction();
      const failures: string[] = [];
      let inScope = 0;
      for (const c of cases) {
        if (!caseInScope(c)) continue;
        inScope++;
        d.decodeOut(c.bytes, 0, 0, ins);
        const diff = compareCase(c, ins);
        if (diff !== undefined) failures.push(`${file}:${c.line} ${c.text}\n    ${diff}`);
      }
      console.log(`${file}: ${inScope} cases in scope of ${cases.length}`);
      expect(inScope).toBeGreaterThan(40);
      expect(failures.slice(0, 20)).toEqual([]);
    });
  }
});
