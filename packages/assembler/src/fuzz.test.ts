import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble } from './assemble';
import { AssemblerError } from './errors';
import { xorshift } from './test-samples';

/*
 * Random and mutated source never makes the assembler throw anything but AssemblerError, and
 * what it does assemble is a Uint8Array with a listing line per source line. Seeded, so a
 * failure names a case that reproduces.
 */

const COUNT = Number(process.env.RINGZERO_FUZZ_COUNT ?? 4000);

const corpus = ['boot16.asm', 'kernel32.asm', 'long64.asm']
  .flatMap((f) => readFileSync(new URL(`../testdata/${f}`, import.meta.url), 'utf8').split('\n'))
  .filter((l) => l.trim() !== '' && !l.trim().startsWith(';'));

const PIECES = [
  'mov',
  'add',
  'jmp',
  'call',
  'lea',
  'push',
  'pop',
  'db',
  'dw',
  'dd',
  'dq',
  'times',
  'align',
  'equ',
  'org',
  'bits 16',
  'bits 32',
  'bits 64',
  'section .data',
  'resb',
  'lock',
  'rep',
  'o16',
  'a32',
  'eax',
  'rax',
  'ax',
  'al',
  'ah',
  'r8',
  'sil',
  'xmm0',
  'st1',
  'cr0',
  'es',
  'fs',
  'byte',
  'word',
  'dword',
  'qword',
  'tword',
  'far',
  'short',
  'near',
  'strict',
  'rel',
  'abs',
  '[',
  ']',
  '(',
  ')',
  ',',
  ':',
  '+',
  '-',
  '*',
  '/',
  '%',
  '<<',
  '>>',
  '~',
  '$',
  '$$',
  '0',
  '1',
  '-1',
  '0x7fffffff',
  '0xffffffffffffffff',
  '99999999999999999999999',
  "'ab'",
  '"x"',
  '`\\n`',
  'label',
  '.local',
  'label:',
  '1.5',
  '?',
  ';',
  '\\',
  'ebx*4',
  'esp*2',
  '[eax+ebx*8+0x10]',
  '[bp+si]',
  '[rel x]',
];

function mutate(line: string, rnd: () => number): string {
  const pick = <T>(a: readonly T[]) => a[rnd() % a.length] as T;
  const i = line.length === 0 ? 0 : rnd() % line.length;
  switch (rnd() % 7) {
    case 6:
      return Array.from({ length: rnd() % 40 }, () => String.fromCharCode(rnd() % 128)).join('');
    case 0:
      return line.slice(0, i) + line.slice(i + 1 + (rnd() % 4));
    case 1:
      return `${line.slice(0, i)}${pick(PIECES)}${line.slice(i)}`;
    case 2:
      return line.slice(0, i) + String.fromCharCode(32 + (rnd() % 95)) + line.slice(i + 1);
    case 3: {
      const words = line.split(/(\s+|,)/);
      const w = rnd() % Math.max(1, words.length);
      words[w] = pick(PIECES);
      return words.join('');
    }
    case 4:
      return Array.from({ length: 1 + (rnd() % 6) }, () => pick(PIECES)).join(rnd() % 2 ? ' ' : ', ');
    default:
      return line;
  }
}

describe('assembler fuzz invariants', () => {
  it(`${COUNT} random and mutated sources: only AssemblerError is thrown, output is well formed`, () => {
    const rnd = xorshift(0xa55e);
    const unexpected: string[] = [];
    let assembled = 0;
    for (let n = 0; n < COUNT; n++) {
      const lines = Array.from({ length: 1 + (rnd() % 6) }, () => {
        const base = corpus[rnd() % corpus.length] ?? '';
        return rnd() % 4 === 0 ? base : mutate(base, rnd);
      });
      const src = lines.join('\n');
      const lineCount = src.split(/\r\n|\n|\r/).length;
      const bits = ([16, 32, 64] as const)[rnd() % 3];
      try {
        const r = assemble(src, { bits, maxSize: 1 << 20 });
        assembled++;
        if (!(r.bytes instanceof Uint8Array) || r.listing.length !== lineCount)
          unexpected.push(`case ${n}: malformed result for ${JSON.stringify(src)}`);
      } catch (e) {
        if (!(e instanceof AssemblerError))
          unexpected.push(`case ${n}: ${String(e)} for ${JSON.stringify(src)}`);
        else if (e.line < 1 || e.line > lineCount || e.column < 1)
          unexpected.push(`case ${n}: bad position ${e.line}:${e.column} for ${JSON.stringify(src)}`);
      }
    }
    expect(unexpected.slice(0, 10)).toEqual([]);
    // The mutations must not be so aggressive that nothing assembles.
    expect(assembled).toBeGreaterThan(COUNT / 20);
  });

  it('pathological sizes are errors, not hangs or huge allocations', () => {
    for (const src of ['times 0x7fffffff db 0', 'resb 0xffffffffff', 'align 0x10000000', 'times -1 nop']) {
      expect(() => assemble(src, { maxSize: 1 << 20 })).toThrow(AssemblerError);
    }
  });

  it('symbols defined only through each other are an undefined-symbol error, not a hang', () => {
    expect(() => assemble('x equ y\ny equ x\nmov eax, x', { bits: 32 })).toThrow(/undefined symbol/);
  });
});
