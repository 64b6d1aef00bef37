import { allRows, CODE_COUNT } from '@ringzero/decoder';
import { describe, expect, it } from 'vitest';
import { allForms, formsByDecoderMnemonic } from './forms';
import { lookupMnemonic } from './mnemonics';

describe('encoder index built from the decoder rows', () => {
  it('reads every decoder row, one form per code', () => {
    const forms = allForms();
    expect(forms.length).toBe(allRows.length);
    expect(forms.length).toBe(CODE_COUNT - 1);
    expect(new Set(forms.map((f) => f.code)).size).toBe(forms.length);
  });

  it('parses encodings as the decoder does (spot checks)', () => {
    const byName = new Map(allForms().map((f) => [f.name, f]));
    const add = byName.get('add_rm32_imm8');
    expect([add?.opcode, add?.modrm, add?.digit, add?.osMask]).toEqual([[0x83], 2, 0, 2]);
    const lgdt = byName.get('lgdt_m1632');
    expect([lgdt?.opcode, lgdt?.digit, lgdt?.modes]).toEqual([[0x0f, 0x01], 2, 3]);
    const movdqa = byName.get('movdqa_xmm_xmmm128');
    expect([movdqa?.mp, movdqa?.opcode]).toEqual([2, [0x0f, 0x6f]]);
    const vpaddd = byName.get('vex_vpaddd_ymm_ymm_ymmm256');
    expect([vpaddd?.vexMap, vpaddd?.vexL, vpaddd?.opcode]).toEqual([1, 1, [0xfe]]);
  });

  it('every decoder mnemonic is an assembler mnemonic', () => {
    const missing = [...formsByDecoderMnemonic().keys()].filter((m) => lookupMnemonic(m) === undefined);
    expect(missing).toEqual([]);
  });

  it("NASM's names resolve to the decoder's forms", () => {
    const names = (m: string) => lookupMnemonic(m)?.forms.map((f) => f.name) ?? [];
    expect(names('jz')).toEqual(names('je'));
    expect(names('cmovnae')).toEqual(names('cmovb'));
    expect(names('pushf')).toEqual(['pushfw', 'pushfd', 'pushfq']);
    expect(names('iretw')).toEqual(['iretw']);
    expect(names('xlat')).toEqual(['xlat_m8']);
    expect(lookupMnemonic('fstsw')?.wait).toBe(true);
    expect(lookupMnemonic('nosuch')).toBeUndefined();
  });
});
