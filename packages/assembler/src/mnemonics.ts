import { type Form, formsByDecoderMnemonic } from './forms';

/*
 * NASM's mnemonics over the decoder's forms. Mostly the decoder's mnemonic is NASM's; the
 * differences are listed here as data:
 *  - condition-code synonyms (jz = je, cmovnae = cmovb, setpe = setp, ...);
 *  - mnemonics whose size NASM takes from `bits` (pushf, popf, pusha, popa, iret, ret, retf)
 *    while the decoder names each size (pushf = 16-bit, pushfd = 32-bit);
 *  - spelling synonyms (xlat, sal, loopz, icebp, fwait, movsx with a 32-bit source);
 *  - the x87 control instructions with an implied WAIT (finit = wait + fninit).
 */

/** NASM condition-code synonyms → the decoder's condition names. */
const CC_ALIASES: Readonly<Record<string, string>> = {
  z: 'e',
  nz: 'ne',
  c: 'b',
  nc: 'ae',
  nae: 'b',
  nb: 'ae',
  na: 'be',
  nbe: 'a',
  pe: 'p',
  po: 'np',
  nge: 'l',
  nl: 'ge',
  ng: 'le',
  nle: 'g',
};

/** Mnemonics whose forms are drawn from several decoder mnemonics (or a subset of one). */
const FAMILIES: Readonly<Record<string, readonly string[]>> = {
  // name: list of `mnemonic` (all forms) or `=code_name_prefix` (forms whose name starts so).
  pushf: ['pushf', 'pushfd', 'pushfq'],
  pushfw: ['pushf'],
  popf: ['popf', 'popfd', 'popfq'],
  popfw: ['popf'],
  pusha: ['pusha', 'pushad'],
  pushaw: ['pusha'],
  popa: ['popa', 'popad'],
  popaw: ['popa'],
  iret: ['iret', 'iretd', 'iretq'],
  iretw: ['iret'],
  ret: ['ret'],
  retn: ['ret'],
  retw: ['=retnw'],
  retnw: ['=retnw'],
  retd: ['=retnd'],
  retnd: ['=retnd'],
  retq: ['=retnq'],
  retnq: ['=retnq'],
  retf: ['retf', 'retfq'],
  retfw: ['=retfw'],
  retfd: ['=retfd'],
  retfq: ['retfq'],
  xlat: ['xlatb'],
  sal: ['shl'],
  loopz: ['loope'],
  loopnz: ['loopne'],
  icebp: ['int1'],
  int01: ['int1'],
  fwait: ['wait'],
  movsx: ['movsx', '=movsxd_r64_rm32'],
  sysexit: ['sysexit', 'sysexitq'],
  sysret: ['sysret', 'sysretq'],
};

/** x87 control instructions that NASM writes with an implied WAIT (9B) before the no-wait form. */
const WAIT_FORMS: Readonly<Record<string, string>> = {
  finit: 'fninit',
  fclex: 'fnclex',
  fstsw: 'fnstsw',
  fstcw: 'fnstcw',
  fstenv: 'fnstenv',
  fsave: 'fnsave',
  fdisi: 'fndisi',
  feni: 'fneni',
  fsetpm: 'fnsetpm',
};

/**
 * x87 mnemonics written without operands, and the operands NASM gives them
 * (`fadd` = `faddp st1, st0`, `fxch` = `fxch st0, st1`).
 */
export const X87_DEFAULTS: Readonly<Record<string, readonly [string, string, string]>> = {
  fadd: ['faddp', 'st1', 'st0'],
  faddp: ['faddp', 'st1', 'st0'],
  fmul: ['fmulp', 'st1', 'st0'],
  fmulp: ['fmulp', 'st1', 'st0'],
  fsub: ['fsubp', 'st1', 'st0'],
  fsubp: ['fsubp', 'st1', 'st0'],
  fsubr: ['fsubrp', 'st1', 'st0'],
  fsubrp: ['fsubrp', 'st1', 'st0'],
  fdiv: ['fdivp', 'st1', 'st0'],
  fdivp: ['fdivp', 'st1', 'st0'],
  fdivr: ['fdivrp', 'st1', 'st0'],
  fdivrp: ['fdivrp', 'st1', 'st0'],
  fxch: ['fxch', 'st0', 'st1'],
  fcom: ['fcom', 'st0', 'st1'],
  fcomp: ['fcomp', 'st0', 'st1'],
  fucom: ['fucom', 'st0', 'st1'],
  fucomp: ['fucomp', 'st0', 'st1'],
  fcomi: ['fcomi', 'st0', 'st1'],
  fcomip: ['fcomip', 'st0', 'st1'],
  fucomi: ['fucomi', 'st0', 'st1'],
  fucomip: ['fucomip', 'st0', 'st1'],
};

/** What a mnemonic names: the candidate forms and whether NASM puts a WAIT before them. */
export interface MnemonicEntry {
  readonly forms: readonly Form[];
  readonly wait: boolean;
}

const CACHE = new Map<string, MnemonicEntry | null>();

function resolve(name: string): MnemonicEntry | null {
  const byMnemonic = formsByDecoderMnemonic();
  const wait = WAIT_FORMS[name];
  if (wait !== undefined) {
    const forms = byMnemonic.get(wait);
    return forms ? { forms, wait: true } : null;
  }
  const family = FAMILIES[name];
  if (family) {
    const forms: Form[] = [];
    for (const part of family) {
      if (part.startsWith('=')) {
        const prefix = part.slice(1);
        for (const list of byMnemonic.values())
          for (const f of list) if (f.name === prefix || f.name.startsWith(`${prefix}_`)) forms.push(f);
      } else forms.push(...(byMnemonic.get(part) ?? []));
    }
    forms.sort((a, b) => a.order - b.order);
    return forms.length > 0 ? { forms, wait: false } : null;
  }
  const direct = byMnemonic.get(name);
  if (direct) return { forms: direct, wait: false };
  for (const stem of ['j', 'set', 'cmov', 'fcmov']) {
    if (!name.startsWith(stem)) continue;
    const cc = CC_ALIASES[name.slice(stem.length)];
    if (cc !== undefined) {
      const forms = byMnemonic.get(stem + cc);
      if (forms) return { forms, wait: false };
    }
  }
  return null;
}

/** The forms a (lower-case) mnemonic names, or undefined when it is not an instruction. */
export function lookupMnemonic(name: string): MnemonicEntry | undefined {
  let e = CACHE.get(name);
  if (e === undefined) {
    e = resolve(name);
    CACHE.set(name, e);
  }
  return e ?? undefined;
}

/** Instruction prefixes written as words before the mnemonic. */
export const PREFIX_WORDS: ReadonlySet<string> = new Set([
  'lock',
  'rep',
  'repe',
  'repz',
  'repne',
  'repnz',
  'o16',
  'o32',
  'o64',
  'a16',
  'a32',
  'a64',
  'es',
  'cs',
  'ss',
  'ds',
  'fs',
  'gs',
]);
