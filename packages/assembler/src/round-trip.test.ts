import { decode, type Instruction } from '@ringzero/decoder';
import { formatIntel } from '@ringzero/decoder/format';
import { describe, expect, it } from 'vitest';
import { assemble } from './assemble';
import type { Bits } from './encoder';
import { allForms, type Form } from './forms';
import { type FormSet, formSamples, formSet, type Sample } from './test-samples';

/*
 * decode → formatIntel → assemble → decode, for sample encodings of every decoder form. The
 * second decode must give the same form with the same operands; where it does not, the reason
 * must be one of the known, named differences below.
 */

/** Differences between the decoder's text and NASM's reading of it, by source form. */
const KNOWN: readonly { readonly form: RegExp; readonly reason: string }[] = [
  { form: /^sal_/, reason: 'SAL is assembled as SHL (/4), as NASM does; /6 is an undocumented alias' },
  {
    form: /^xchg_rm(8|16|32|64)_r(8|16|32|64)$/,
    reason: "NASM puts xchg's first register in ModRM.reg, so two registers come back swapped",
  },
  {
    form: /^(pushaw|popaw|pushfw|popfw|iretw)$/,
    reason:
      'formatIntel prints the 16-bit form as pusha/popa/pushf/popf/iret, which NASM reads as the mode size (pushaw/pushfw/iretw name it)',
  },
  {
    form: /^(mov_sreg_|mov_r64m16_sreg|lldt_|ltr_|verr_|verw_|lmsw_|arpl_)/,
    reason: 'a selector operand ignores the operand size; like NASM, no 66/REX.W is written for it',
  },
  {
    form: /^vex_(vblendvp[sd]|vpblendvb|vp?gather)/,
    reason: 'the assembler does not encode is4 (imm8[7:4] register) or VSIB operands yet',
  },
  {
    form: /^mov_rm64_imm32$/,
    reason: 'NASM writes mov r64, imm as mov r32, imm32 when the value zero-extends from 32 bits',
  },
];

/**
 * Same instruction: mnemonic, every operand field, and the operand and address sizes where the
 * form depends on them (a redundant 66 or 67 in a sample is not part of the instruction).
 */
function sameSemantics(a: Instruction, b: Instruction, form: Form): boolean {
  if (a.mnemonic !== b.mnemonic || a.opCount !== b.opCount) return false;
  const osMatters = form.osMask !== 7 || form.d64 || form.f64;
  const asMatters =
    form.asMask !== 7 ||
    form.ops.some(
      (o) => o.t === 'rm' || o.t === 'mem' || o.t === 'moffs' || o.t === 'string' || o.t === 'xlat',
    );
  if ((osMatters && a.operandSize !== b.operandSize) || (asMatters && a.addressSize !== b.addressSize))
    return false;
  for (let i = 0; i < a.opCount; i++) {
    if (a.opKind(i) !== b.opKind(i) || a.opRegister(i) !== b.opRegister(i)) return false;
  }
  return (
    a.memBase === b.memBase &&
    a.memIndex === b.memIndex &&
    a.memScale === b.memScale &&
    a.memDisplacement === b.memDisplacement &&
    a.memSize === b.memSize &&
    a.segmentPrefix === b.segmentPrefix &&
    a.immediate === b.immediate &&
    a.immediateHigh === b.immediateHigh &&
    a.immediate2 === b.immediate2 &&
    a.nearBranchTarget === b.nearBranchTarget &&
    a.farSelector === b.farSelector &&
    a.farOffset === b.farOffset
  );
}

type Outcome = 'exact' | 'equivalent' | 'explicit' | 'ambiguous' | 'known' | 'mismatch';

interface Result {
  readonly sample: Sample;
  readonly text: string;
  readonly outcome: Outcome;
  readonly detail: string;
}

function roundTrip(s: Sample): Result {
  const ip = s.bits === 64 ? 0x80000000 : 0x1000;
  const text = formatIntel(s.ins);
  const known = KNOWN.find((k) => k.form.test(s.form.name));
  let again: Instruction | undefined;
  let failure = '';
  try {
    const out = assemble(`org ${ip}\n${text}`, { bits: s.bits }).bytes;
    again = decode(out, 0, s.bits, ip);
    if (again.length !== out.length)
      return { sample: s, text, outcome: 'mismatch', detail: 'assembled bytes decode to another length' };
    if (again.code === s.ins.code && sameSemantics(again, s.ins, s.form))
      return { sample: s, text, outcome: 'exact', detail: '' };
    if (sameSemantics(again, s.ins, s.form))
      return { sample: s, text, outcome: 'equivalent', detail: `encoded as ${again.codeName}` };
  } catch (e) {
    // A value too wide for the mode's default size is an error: the explicit form below must work.
    failure = (e as Error).message;
  }
  // The form is still reachable when its size is written out: o16/o32/o64 and a16/a32 prefixes.
  const f = s.form;
  const words: string[] = [];
  if (f.osMask !== 7 || f.d64 || f.f64 || f.rexw === 1) words.push(`o${s.ins.operandSize}`);
  const memory = f.ops.some((o) => o.t === 'rm' || o.t === 'mem');
  if (
    f.asMask !== 7 ||
    f.ops.some((o) => o.t === 'string' || o.t === 'moffs') ||
    (memory && s.ins.addressSize !== s.bits)
  )
    words.push(`a${s.ins.addressSize}`);
  if (words.length > 0) {
    try {
      const bytes = assemble(`org ${ip}\n${words.join(' ')} ${text}`, { bits: s.bits }).bytes;
      const third = decode(bytes, 0, s.bits, ip);
      if (third.code === s.ins.code && third.length === bytes.length && sameSemantics(third, s.ins, s.form))
        return { sample: s, text, outcome: 'explicit', detail: words.join(' ') };
    } catch {
      // not reachable this way
    }
  }
  if (known) return { sample: s, text, outcome: 'known', detail: known.reason };
  if (!again) return { sample: s, text, outcome: 'mismatch', detail: failure };
  if (formatIntel(again) === text)
    return {
      sample: s,
      text,
      outcome: 'ambiguous',
      detail: `formatIntel prints ${s.form.name} and ${again.codeName} alike`,
    };
  return { sample: s, text, outcome: 'mismatch', detail: `→ ${formatIntel(again)} (${again.codeName})` };
}

const SETS: readonly FormSet[] = ['general', 'system', 'x87', 'sse', 'vex'];

describe('round trip through the decoder: decode → formatIntel → assemble → decode', () => {
  for (const bits of [16, 32, 64] as Bits[]) {
    it(`every decodable form in ${bits}-bit mode reassembles to itself or a named equivalent`, () => {
      const samples = formSamples(bits, 3);
      const results = samples.map(roundTrip);
      const mismatches = results.filter((r) => r.outcome === 'mismatch');
      expect(
        mismatches.slice(0, 20).map((r) => `${r.sample.form.name}: ${r.text} ${r.detail}`),
        'unexplained round-trip differences',
      ).toEqual([]);

      // Coverage: a form is covered when a sample of it came back as itself or an equivalent.
      const modeBit = bits === 16 ? 1 : bits === 32 ? 2 : 4;
      const lines: string[] = [];
      for (const set of SETS) {
        const forms = allForms().filter((f) => (f.modes & modeBit) !== 0 && formSet(f) === set);
        const sampled = new Set(samples.filter((s) => formSet(s.form) === set).map((s) => s.form.code));
        const covered = new Set(
          results
            .filter(
              (r) =>
                formSet(r.sample.form) === set &&
                (r.outcome === 'exact' || r.outcome === 'equivalent' || r.outcome === 'explicit'),
            )
            .map((r) => r.sample.form.code),
        );
        lines.push(
          `${set.padEnd(8)} ${covered.size}/${sampled.size} decodable forms (of ${forms.length} rows)`,
        );
        // Forms only reachable through a known difference are the ones listed in KNOWN.
        const uncovered = [...sampled].filter((c) => !covered.has(c));
        const unexplained = uncovered.filter((c) => {
          const f = allForms().find((x) => x.code === c);
          return (
            f &&
            !KNOWN.some((k) => k.form.test(f.name)) &&
            !results.some((r) => r.sample.form.code === c && r.outcome === 'ambiguous')
          );
        });
        expect(unexplained.map((c) => allForms().find((x) => x.code === c)?.name)).toEqual([]);
      }
      const count = (o: Outcome) => results.filter((r) => r.outcome === o).length;
      const ambiguous = [
        ...new Set(results.filter((r) => r.outcome === 'ambiguous').map((r) => r.sample.form.name)),
      ];
      console.log(
        [
          `round trip ${bits}-bit: ${results.length} samples — ${count('exact')} exact, ${count('equivalent')} equivalent encodings, ${count('explicit')} with an explicit o16/o32/a16 prefix, ${count('known')} known differences, ${count('ambiguous')} formatter-ambiguous`,
          ...lines.map((l) => `  ${l}`),
          `  formatter-ambiguous forms (formatIntel omits the operand or address size): ${ambiguous.join(' ')}`,
        ].join('\n'),
      );
    });
  }
});
