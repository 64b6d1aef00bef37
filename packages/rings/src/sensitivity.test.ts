import { CODE_COUNT, Code, codeName, decode } from '@ringzero/decoder';
import { describe, expect, it } from 'vitest';
import {
  agreesWithDecoder,
  deprivilegedBehaviour,
  SENSITIVITY,
  SENSITIVITY_RULES,
  sensitiveForms,
  sensitivity,
} from './sensitivity';

describe('sensitivity table', () => {
  it('covers every form the decoder produces, one entry per form code', () => {
    expect(SENSITIVITY.length).toBe(CODE_COUNT);
    for (let c = 1; c < CODE_COUNT; c++) expect(SENSITIVITY[c], codeName(c)).toBeDefined();
  });

  it("agrees with the decoder's privilege field on every form (cpl0 ⇔ privileged, iopl ⇔ iopl)", () => {
    const disagree: string[] = [];
    for (let c = 1; c < CODE_COUNT; c++)
      if (!agreesWithDecoder(c)) disagree.push(`${codeName(c)}: ${sensitivity(c).class}`);
    expect(disagree).toEqual([]);
  });

  it('every rule names mnemonics or forms the decoder knows (no dead rows)', () => {
    const all = new Set<string>();
    for (let c = 1; c < CODE_COUNT; c++) all.add(codeName(c));
    for (const r of SENSITIVITY_RULES) {
      for (const code of r.codes ?? []) expect(all.has(code), code).toBe(true);
      expect(r.sdm.length).toBeGreaterThan(5);
    }
  });

  it("classes the Popek–Goldberg holes of x86 as sensitive, not privileged (Robin & Irvine's list)", () => {
    const holes = [
      Code.popfd,
      Code.pushfd,
      Code.sgdt_m1632,
      Code.sidt_m1632,
      Code.sldt_rm16,
      Code.str_rm16,
      Code.smsw_rm16,
      Code.lar_r32_r32m16,
      Code.lsl_r32_r32m16,
      Code.verr_rm16,
      Code.verw_rm16,
      Code.pushd_cs,
      Code.mov_r32m16_sreg,
      Code.call_ptr1632,
      Code.jmp_ptr1632,
      Code.retfd,
      Code.int_imm8,
      Code.iretd,
    ];
    for (const c of holes) expect(sensitivity(c).class, codeName(c)).toBe('sensitive');
  });

  it('POPF silently keeps IF when deprivileged; HLT faults with #GP(0); OUT is IOPL-checked', () => {
    expect(sensitivity(Code.popfd).deprivileged).toMatchObject({ kind: 'silent', effect: 'if-unchanged' });
    expect(sensitivity(Code.hlt).deprivileged).toMatchObject({
      kind: 'fault',
      vector: 13,
      errorCode: 'zero',
    });
    expect(sensitivity(Code.out_dx_al).class).toBe('iopl');
    expect(sensitivity(Code.mov_cr_r32).class).toBe('privileged');
    expect(sensitivity(Code.add_rm32_r32).class).toBe('innocuous');
  });

  it('looks up decoded instructions: MOV from CS reveals the CPL, MOV to DS is descriptor-checked', () => {
    expect(sensitivity(decode(new Uint8Array([0x8c, 0xc8]), 0, 32).code).deprivileged).toMatchObject({
      effect: 'reveals-cpl',
    });
    expect(sensitivity(decode(new Uint8Array([0x8e, 0xd8]), 0, 32).code).deprivileged).toMatchObject({
      kind: 'fault',
      errorCode: 'selector',
    });
  });

  it('lists the sensitive forms for the audit', () => {
    const forms = sensitiveForms();
    expect(forms.length).toBeGreaterThan(100);
    expect(forms.some(([n]) => n === 'cli')).toBe(true);
  });

  it('INT1 is not DPL-checked, unlike INT n, INT3 and INTO (Vol. 2A INT n/INTO/INT3/INT1)', () => {
    expect(sensitivity(Code.int1).deprivileged).toMatchObject({
      kind: 'silent',
      effect: 'enters-host-kernel',
    });
    for (const c of [Code.int_imm8, Code.int3, Code.into])
      expect(sensitivity(c).deprivileged, codeName(c)).toMatchObject({
        kind: 'fault',
        errorCode: 'idt-entry',
      });
  });

  it('CR4.UMIP turns SGDT, SIDT, SLDT, STR and SMSW into #GP(0) at CPL > 0 (Vol. 3A §2.5)', () => {
    for (const c of [Code.sgdt_m1632, Code.sidt_m1632, Code.sldt_rm16, Code.str_rm16, Code.smsw_rm16]) {
      expect(deprivilegedBehaviour(c).kind, codeName(c)).toBe('silent');
      expect(deprivilegedBehaviour(c, { 'CR4.UMIP': true }), codeName(c)).toMatchObject({
        kind: 'fault',
        vector: 13,
        errorCode: 'zero',
      });
      expect(deprivilegedBehaviour(c, { 'CR4.TSD': true }).kind).toBe('silent');
    }
  });

  it('CR4.TSD makes RDTSC and RDTSCP fault; CR4.PCE makes RDPMC silently work (Vol. 2B RDTSC, RDPMC)', () => {
    expect(deprivilegedBehaviour(Code.rdtsc, { 'CR4.TSD': true })).toMatchObject({
      kind: 'fault',
      vector: 13,
    });
    expect(deprivilegedBehaviour(Code.rdtscp, { 'CR4.TSD': true })).toMatchObject({
      kind: 'fault',
      vector: 13,
    });
    expect(deprivilegedBehaviour(Code.rdtsc)).toMatchObject({ kind: 'silent', effect: 'reveals-host-time' });
    expect(deprivilegedBehaviour(Code.rdpmc)).toMatchObject({ kind: 'fault', vector: 13 });
    expect(deprivilegedBehaviour(Code.rdpmc, { 'CR4.PCE': true })).toMatchObject({
      kind: 'silent',
      effect: 'reveals-host-counters',
    });
    expect(deprivilegedBehaviour(Code.cpuid, { 'cpuid-faulting': true })).toMatchObject({ kind: 'fault' });
  });

  it('every rule whose condition names a control bit carries it as machine-readable data', () => {
    const names = {
      'CR4.UMIP': 'UMIP',
      'CR4.TSD': 'TSD',
      'CR4.PCE': 'PCE',
      'cpuid-faulting': 'CPUID faulting',
    };
    for (const r of SENSITIVITY_RULES) {
      const d = r.deprivileged;
      const when = d.kind === 'none' ? '' : d.when;
      for (const [flag, word] of Object.entries(names))
        if (when.includes(word)) expect(r.control?.flag, `${r.mnemonics.join(',')}: ${when}`).toBe(flag);
    }
  });
});
