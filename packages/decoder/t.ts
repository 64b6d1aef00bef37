import { Decoder } from './src/decoder';
import { caseInScope, compareCase, icedVectorDir, readIcedCases } from './src/iced-vectors';
import { Instruction } from './src/instruction';

const dir = icedVectorDir()!;
const ins = new Instruction();
const fails = new Map<string, string[]>();
for (const [f, b] of [
  ['DecoderTest16.txt', 16],
  ['DecoderTest32.txt', 32],
  ['DecoderTest64.txt', 64],
  ['DecoderTestMisc16.txt', 16],
  ['DecoderTestMisc32.txt', 32],
  ['DecoderTestMisc64.txt', 64],
] as const) {
  const cases = readIcedCases(dir, f, b);
  let inScope = 0,
    ok = 0;
  const d = new Decoder(b);
  for (const c of cases) {
    if (!caseInScope(c)) continue;
    inScope++;
    d.decodeOut(c.bytes, 0, 0, ins);
    const diff = compareCase(c, ins);
    if (!diff) ok++;
    else {
      const k = diff.replace(/op\d /, '').slice(0, 60);
      const l = fails.get(k) ?? [];
      l.push(`${b} ${c.text}`);
      fails.set(k, l);
    }
  }
  console.log(f, cases.length, 'inScope', inScope, 'ok', ok);
}
const sorted = [...fails.entries()].sort((a, b) => b[1].length - a[1].length);
for (const [k, l] of sorted.slice(0, 60)) console.log(l.length, k, '  e.g.', l[0]);
