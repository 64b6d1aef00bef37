import { Decoder, Instruction } from '@ringzero/decoder';
import { type Address, encodeAddress, fitsSigned8 } from './address';
import { AssemblerError, type AssemblerErrorCode, type SourcePosition } from './errors';
import type { Value } from './expression';
import { type Form, formSignature, type MemSpec, type OpSpec, type SpecClass } from './forms';
import { lookupMnemonic, X87_DEFAULTS } from './mnemonics';
import type { JumpKind } from './operands';
import { gpr, lookupRegister, type Reg, registerById } from './registers';

/** Processor mode: the `bits` setting. */
export type Bits = 16 | 32 | 64;

/** An operand with its expressions evaluated. */
export type Operand =
  | { readonly k: 'reg'; readonly reg: Reg; readonly size?: number; readonly column: number }
  | {
      readonly k: 'mem';
      readonly addr: Address;
      readonly size?: number;
      readonly far: boolean;
      readonly seg?: Reg;
      readonly rel?: boolean;
      readonly dispSize?: number;
      readonly column: number;
    }
  | {
      readonly k: 'imm';
      readonly v: Value;
      readonly size?: number;
      readonly strict: boolean;
      readonly jump?: JumpKind;
      readonly column: number;
    }
  | {
      readonly k: 'far';
      readonly seg: Value;
      readonly off: Value;
      readonly size?: number;
      readonly column: number;
    };

/** Prefix words written before the mnemonic. */
export interface Prefixes {
  lock: boolean;
  /** 0xf3 (rep/repe/repz), 0xf2 (repne/repnz) or 0. */
  rep: number;
  /** A segment register written as a prefix word (`fs lodsb`). */
  seg?: Reg;
  /** o16/o32/o64. */
  osize?: number;
  /** a16/a32/a64. */
  asize?: number;
}

/** One instruction to encode. */
export interface EncodeRequest {
  readonly mode: Bits;
  /** Address of the instruction's first byte. */
  readonly addr: bigint;
  /** Last pass: values are final, so range errors are reported instead of tolerated. */
  readonly final: boolean;
  /** When > 0, prefer encodings at least this long (the layout may only grow). */
  readonly minLength: number;
  readonly defaultRel: boolean;
  readonly prefixes: Prefixes;
  readonly mnemonic: string;
  readonly ops: readonly Operand[];
  readonly pos: SourcePosition;
}

interface SizeOption {
  /** Effective operand size in bits (0 when the form has none, as VEX forms). */
  readonly s: number;
  readonly p66: boolean;
  readonly rexW: boolean;
  /** Encodable without a size prefix chosen for the operand size (66 or REX.W). */
  readonly isDefault: boolean;
}

interface Candidate {
  readonly bytes: Uint8Array;
  readonly form: Form;
  readonly isDefault: boolean;
  readonly rank: number;
  /** Size keyword of the unsized memory operand's spec, for the size-ambiguity check. */
  readonly memKeyword: number;
  readonly memUnsized: boolean;
  /** Uses a sign-extended imm8: NASM prefers it over an equally long accumulator form. */
  readonly sbyte: boolean;
  /** x87 `op st(i), st0` form: NASM's choice for `fadd st0, st0`. */
  readonly stiFirst: boolean;
  /** Bytes before the instruction proper (the WAIT of `fstsw`). */
  readonly skip: number;
  /** Operand size of the encoding. */
  readonly s: number;
}

type Failure = {
  readonly kind: 'nomatch' | 'range' | 'mode' | 'prefix' | 'address';
  readonly msg: string;
  /** Column of the operand the failure is about. */
  readonly column?: number;
};

const NOMATCH: Failure = { kind: 'nomatch', msg: '' };

const verifier: Record<Bits, Decoder> = { 16: new Decoder(16), 32: new Decoder(32), 64: new Decoder(64) };
const verifyIns = new Instruction();
const SEG_PREFIX: Readonly<Record<string, number>> = {
  es: 0x26,
  cs: 0x2e,
  ss: 0x36,
  ds: 0x3e,
  fs: 0x64,
  gs: 0x65,
};

const IN_MODE: Record<Bits, WeakMap<readonly Form[], readonly Form[]>> = {
  16: new WeakMap(),
  32: new WeakMap(),
  64: new WeakMap(),
};

function formsInMode(forms: readonly Form[], mode: Bits): readonly Form[] {
  let f = IN_MODE[mode].get(forms);
  if (!f) {
    f = forms.filter((x) => (x.modes & modeBit(mode)) !== 0);
    IN_MODE[mode].set(forms, f);
  }
  return f;
}

function modeBit(bits: number): number {
  return bits === 16 ? 1 : bits === 32 ? 2 : 4;
}

const SIZE_OPTIONS: Record<Bits, Map<Form, readonly SizeOption[]>> = {
  16: new Map(),
  32: new Map(),
  64: new Map(),
};

function sizeOptions(form: Form, mode: Bits): readonly SizeOption[] {
  let o = SIZE_OPTIONS[mode].get(form);
  if (!o) {
    o = computeSizeOptions(form, mode);
    SIZE_OPTIONS[mode].set(form, o);
  }
  return o;
}

function computeSizeOptions(form: Form, mode: Bits): SizeOption[] {
  if (form.vexMap !== 0) return [{ s: 0, p66: false, rexW: false, isDefault: form.rexw !== 1 }];
  const has = (s: number) => (form.osMask & modeBit(s)) !== 0;
  const o = (s: number, p66: boolean, rexW: boolean): SizeOption => ({
    s,
    p66,
    rexW,
    isDefault: !p66 && !rexW,
  });
  let opts: SizeOption[];
  if (form.osMask === 7 && !form.d64 && !form.f64) {
    const w = form.rexw === 1 && mode === 64;
    opts = [o(w ? 64 : mode === 16 ? 16 : 32, false, w)];
  } else if (form.mp === 2) {
    // A mandatory 66 is not an operand-size prefix; REX.W still selects 64 bits.
    opts =
      mode === 16
        ? [o(16, false, false)]
        : mode === 32
          ? [o(32, false, false)]
          : [o(32, false, false), o(64, false, true)];
  } else if (mode === 16) opts = [o(16, false, false), o(32, true, false)];
  else if (mode === 32) opts = [o(32, false, false), o(16, true, false)];
  else if (form.f64) opts = [o(64, false, false)];
  else if (form.d64) opts = [o(64, false, false), o(16, true, false)];
  else opts = [o(32, false, false), o(16, true, false), o(64, false, true)];
  return opts.filter((x) => {
    if (!(form.osMask === 7 || form.f64 || has(x.s))) return false;
    if (form.rexw === 1) return x.rexW;
    if (form.rexw === 2) return !x.rexW;
    if (form.rexw === 3) return !(x.rexW && mode === 64);
    return true;
  });
}

/** Bytes of `v` as an n-byte little-endian field (two's complement). */
function pushLE(out: number[], v: bigint, n: number): void {
  let m = BigInt.asUintN(n * 8, v);
  for (let i = 0; i < n; i++) {
    out.push(Number(m & 0xffn));
    m >>= 8n;
  }
}

function hex(v: bigint): string {
  return v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
}

function inRange(v: bigint, bytes: number): boolean {
  const bits = BigInt(bytes * 8);
  return v >= -(1n << (bits - 1n)) && v < 1n << bits;
}

function regMatches(cls: SpecClass, size: number, r: Reg): boolean {
  switch (cls) {
    case 'gpr':
      return (
        (r.cls === 'gpr8' || r.cls === 'gpr16' || r.cls === 'gpr32' || r.cls === 'gpr64') && r.size === size
      );
    default:
      return r.cls === cls;
  }
}

function describe(op: Operand): string {
  switch (op.k) {
    case 'reg':
      return op.reg.name;
    case 'mem': {
      const s =
        op.size === undefined
          ? ''
          : `${['', 'byte', 'word', '', 'dword', '', '', '', 'qword', '', 'tword'][op.size] ?? `${op.size}-byte`} `;
      return `${op.far ? 'far ' : ''}${s}[mem]`.replace('  ', ' ');
    }
    case 'imm':
      return op.jump ? `${op.jump} label` : 'imm';
    case 'far':
      return 'sel:offset';
  }
}

/** What the matcher assigned to each encoding field. */
interface Fields {
  regField: number;
  rm?: { reg: Reg } | { mem: Operand & { k: 'mem' }; spec: MemSpec };
  zr?: Reg;
  vvvv?: Reg;
  imms: { v: bigint; n: number }[];
  rel?: { target: Value; n: number; column: number };
  ptr?: { seg: bigint; off: bigint; n: number };
  moffs?: Operand & { k: 'mem' };
  regs: Reg[];
  addrSize: number;
  memUnsized: boolean;
  memKeyword: number;
}

/** Encodes one instruction, choosing the form NASM would. Throws `AssemblerError`. */
export function encodeInstruction(req: EncodeRequest): Uint8Array {
  const err = (code: AssemblerErrorCode, detail: string, value?: unknown, column?: number): never => {
    throw new AssemblerError(code, { ...req.pos, column: column ?? req.pos.column }, detail, value);
  };
  let mnemonic = req.mnemonic;
  let entry = lookupMnemonic(mnemonic);
  if (!entry) return err('unknown-mnemonic', `unknown mnemonic '${mnemonic}'`, mnemonic);
  let ops = req.ops;
  let asizeFromOperand: number | undefined;

  // NASM's operand conveniences, rewritten into the forms' operand lists.
  const variants: { ops: readonly Operand[]; rank: number }[] = [];
  if (ops.length === 0 && !entry.forms.some((f) => visibleCount(f) === 0)) {
    const d = X87_DEFAULTS[mnemonic];
    if (d) {
      mnemonic = d[0];
      entry = lookupMnemonic(mnemonic) ?? entry;
      ops = [d[1], d[2]].map((n) => ({ k: 'reg', reg: lookupRegister(n) as Reg, column: req.pos.column }));
    }
  }
  // AAM and AAD default to base 10.
  if ((mnemonic === 'aam' || mnemonic === 'aad') && ops.length === 0)
    ops = [{ k: 'imm', v: { n: 10n, known: true, reloc: 0 }, strict: false, column: req.pos.column }];
  if (
    (mnemonic.startsWith('loop') || mnemonic.startsWith('jcxz')) &&
    ops.length === 2 &&
    ops[1]?.k === 'reg' &&
    ['cx', 'ecx', 'rcx'].includes(ops[1].reg.name)
  ) {
    asizeFromOperand = ops[1].reg.size * 8;
    ops = [ops[0] as Operand];
  }
  // NASM's `mov r64, imm`: a value that zero-extends from 32 bits is written as `mov r32, imm32`.
  const m0 = ops[0];
  const m1 = ops[1];
  if (
    mnemonic === 'mov' &&
    ops.length === 2 &&
    m0?.k === 'reg' &&
    m0.reg.cls === 'gpr64' &&
    m1?.k === 'imm' &&
    !m1.strict &&
    m1.size !== 4 &&
    m1.v.known &&
    m1.v.reloc === 0 &&
    m1.v.n >= 0n &&
    m1.v.n < 1n << 32n
  ) {
    const r32 = gpr(4, m0.reg.num);
    if (r32)
      variants.push({
        ops: [
          { ...m0, reg: r32 },
          { ...m1, size: undefined },
        ],
        rank: 0,
      });
  }
  // JCXZ/JECXZ/JRCXZ name the counter register, and so the address size.
  if (mnemonic === 'jcxz') asizeFromOperand = 16;
  else if (mnemonic === 'jecxz') asizeFromOperand = 32;
  else if (mnemonic === 'jrcxz') asizeFromOperand = 64;
  variants.push({ ops, rank: 0 });
  if (mnemonic === 'imul' && ops.length === 2 && ops[0]?.k === 'reg' && ops[1]?.k === 'imm')
    variants.push({ ops: [ops[0], ops[0], ops[1]], rank: 0 });
  if (ops.length === 1 && ops[0]?.k === 'reg' && ops[0].reg.cls === 'st') {
    const st0 = { k: 'reg', reg: lookupRegister('st0') as Reg, column: ops[0].column } as const;
    variants.push({ ops: [st0, ops[0]], rank: 1 }, { ops: [ops[0], st0], rank: 2 });
  }
  if ((mnemonic === 'xchg' || mnemonic === 'test') && ops.length === 2) {
    const swapped = [ops[1] as Operand, ops[0] as Operand];
    // NASM puts xchg's first register in ModRM.reg; test keeps r/m first.
    if (mnemonic === 'xchg') variants.unshift({ ops: swapped, rank: -1 });
    else variants.push({ ops: swapped, rank: 1 });
  }

  const variantKinds = variants.map((v) => ({ ...v, kinds: v.ops.map(operandKind) }));
  const failures: Failure[] = [];
  const matched: Candidate[] = [];
  const forms = formsInMode(entry.forms, req.mode);
  if (forms.length === 0)
    return err('invalid-in-mode', `'${mnemonic}' is not valid in ${req.mode}-bit mode`, mnemonic);
  const wides = req.minLength > 0 ? [false, true] : [false];
  let defaultRange: Failure | undefined;
  for (const lenient of req.final ? [false] : [false, true]) {
    for (const form of forms) {
      for (const v of variantKinds) {
        if (!plausible(form, v.kinds)) continue;
        for (const opt of sizeOptions(form, req.mode)) {
          for (const wide of wides) {
            const r = tryForm(form, v.ops, opt, req, asizeFromOperand, lenient, entry.wait, wide);
            if ('kind' in r) {
              if (r !== NOMATCH) failures.push(r);
              if (r.kind === 'range' && opt.isDefault) defaultRange = r;
            } else matched.push({ ...r, rank: v.rank });
          }
        }
      }
    }
    // A value too wide for the mode's operand size is an error (NASM truncates it), not a
    // silent switch to a wider operand size (a 4-byte push in 16-bit code, say).
    if (defaultRange && matched.length > 0 && !matched.some((c) => c.isDefault)) {
      matched.length = 0;
      failures.unshift(defaultRange);
    }
    if (matched.length > 0) break;
    // A non-final pass may see provisional values out of range: retry without range checks.
    if (!failures.some((f) => f.kind === 'range')) break;
  }
  if (matched.length === 0) {
    const range = failures.find((f) => f.kind === 'range');
    if (range) return err('out-of-range', range.msg, undefined, range.column);
    const prefix = failures.find((f) => f.kind === 'prefix');
    if (prefix) return err('bad-prefix', prefix.msg);
    const addr = failures.find((f) => f.kind === 'address');
    if (addr) return err('bad-address', addr.msg, undefined, addr.column);
    const mode = failures.find((f) => f.kind === 'mode');
    if (mode) return err('invalid-in-mode', mode.msg);
    // Forms closest to what was written first: same operand count, most operands of the same kind.
    const scored = forms.map((f) => ({ f, score: closeness(f, ops) }));
    scored.sort((a, b) => b.score - a.score || a.f.order - b.f.order);
    const sigs = [...new Set(scored.map((x) => formSignature(x.f)))];
    const given = ops.map(describe).join(', ');
    const list = sigs.slice(0, 10).join(' | ') + (sigs.length > 10 ? ' | ...' : '');
    return err(
      'invalid-operands',
      `invalid operands for '${mnemonic}' (${given || 'none'}); expected ${list}`,
      mnemonic,
    );
  }

  // An unsized memory operand that several sizes would fit is an error, as in NASM; near
  // JMP/CALL and CVTSI2Sx take the mode's default size.
  const sized = matched.filter((c) => c.memUnsized && c.memKeyword !== 0);
  let pool = matched;
  if (sized.length > 0 && new Set(sized.map((c) => c.memKeyword)).size > 1) {
    const defaults = matched.filter((c) => c.isDefault);
    const allowDefault = ['jmp', 'call', 'cvtsi2ss', 'cvtsi2sd', 'vcvtsi2ss', 'vcvtsi2sd'].includes(mnemonic);
    if (!allowDefault || new Set(defaults.map((c) => c.memKeyword)).size !== 1)
      return err(
        'size-unspecified',
        'operation size not specified: write byte, word, dword, qword or tword before the memory operand',
      );
    pool = defaults;
  }
  // Preference: the mode's default operand size, then the shortest, then NASM's tie-breaks.
  pool.sort(
    (a, b) =>
      Number(b.isDefault) - Number(a.isDefault) ||
      a.bytes.length - b.bytes.length ||
      Number(b.sbyte) - Number(a.sbyte) ||
      a.rank - b.rank ||
      Number(b.stiFirst) - Number(a.stiFirst) ||
      a.form.order - b.form.order,
  );
  // Verified lazily, best first: usually one decode per instruction.
  let firstFailure: Failure | undefined;
  const verified: Candidate[] = [];
  for (const c of pool) {
    if (req.minLength === 0 && verified.length > 0) break;
    const why = verify(c, req);
    if (why === undefined) verified.push(c);
    else firstFailure ??= why;
  }
  if (verified.length === 0) {
    if (firstFailure?.kind === 'prefix') return err('bad-prefix', firstFailure.msg);
    return err(
      'invalid-operands',
      `no encoding of '${mnemonic}' with these operands decodes back to it`,
      mnemonic,
    );
  }
  if (req.minLength > 0) {
    const group = verified.filter((c) => c.isDefault === verified[0]?.isDefault);
    const longEnough = group.find((c) => c.bytes.length >= req.minLength);
    return (longEnough ?? (group[group.length - 1] as Candidate)).bytes;
  }
  return (verified[0] as Candidate).bytes;
}

/**
 * The decoder is the judge: the bytes must decode to the candidate's form, at their length.
 * Returns undefined when they do, or why not.
 */
function verify(c: Candidate, req: EncodeRequest): Failure | undefined {
  const view = c.skip ? c.bytes.subarray(c.skip) : c.bytes;
  verifier[req.mode].decodeOut(view, 0, 0, verifyIns);
  // NASM writes `xchg eax, eax` (and ax, ax) as 90, which is NOP; not in 64-bit mode, where
  // xchg eax, eax clears the upper half of rax.
  const pf = req.prefixes;
  const nopXchg =
    c.form.mnemonic === 'xchg' &&
    verifyIns.mnemonic === 'nop' &&
    !(req.mode === 64 && c.s === 32) &&
    pf.rep === 0;
  if ((verifyIns.code === c.form.code || nopXchg) && verifyIns.length === view.length) return undefined;
  if (verifyIns.code !== 0 && (pf.rep !== 0 || pf.lock || pf.seg || pf.osize || pf.asize))
    return {
      kind: 'prefix',
      msg: `the prefixes turn '${c.form.mnemonic}' into '${verifyIns.mnemonic}'; remove them`,
    };
  return { kind: 'nomatch', msg: '' };
}

/*
 * A cheap first filter: each written operand has a kind bit, each form operand a mask of the
 * kinds it can take, so most forms of a mnemonic are skipped without trying them.
 */
const K_GPR8 = 1;
const K_GPR16 = 2;
const K_GPR32 = 4;
const K_GPR64 = 8;
const K_GPR_ANY = K_GPR16 | K_GPR32 | K_GPR64;
const K_MEM = 16;
const K_IMM = 32;
const K_FAR = 64;
const CLASS_BIT: Readonly<Record<string, number>> = {
  gpr8: K_GPR8,
  gpr16: K_GPR16,
  gpr32: K_GPR32,
  gpr64: K_GPR64,
  ip: 0,
  seg: 128,
  cr: 256,
  dr: 512,
  st: 1024,
  mm: 2048,
  xmm: 4096,
  ymm: 8192,
  k: 16384,
};

function gprBit(size: number): number {
  return size === 1 ? K_GPR8 : size === 2 ? K_GPR16 : size === 4 ? K_GPR32 : K_GPR64;
}

function specMask(sp: OpSpec, form: Form): number {
  const cls = (c: SpecClass, size: number) => (c === 'gpr' ? gprBit(size) : (CLASS_BIT[c] ?? 0));
  switch (sp.t) {
    case 'reg':
      return cls(sp.cls, sp.size) | (form.mnemonic === 'arpl' ? K_GPR16 : 0);
    case 'rm': {
      let m = cls(sp.cls, sp.size) | K_MEM;
      // Selector operands take a register of any width (see movSregAny), ARPL a 16-bit one.
      if (sp.cls === 'gpr' && (sp.alt16 || sp.mem.bytes === 2 || form.mnemonic === 'arpl')) m |= K_GPR_ANY;
      return m;
    }
    case 'mem':
    case 'moffs':
    case 'xlat':
      return K_MEM;
    case 'rr':
    case 'vvvv':
      return cls(sp.cls, sp.size);
    case 'zr':
      return gprBit(sp.size);
    case 'fixed': {
      const r = registerById(sp.id);
      return r ? (CLASS_BIT[r.cls] ?? 0) : 0;
    }
    case 'imm':
    case 'one':
    case 'rel':
      return K_IMM;
    case 'ptr':
      return K_FAR;
    case 'string':
    case 'is4':
    case 'vsib':
      return 0;
  }
}

const MASKS = new Map<Form, { all: number[]; noXlat: number[] }>();

function masksOf(form: Form): { all: number[]; noXlat: number[] } {
  let m = MASKS.get(form);
  if (!m) {
    const specs = form.ops.some((o) => o.t === 'string') ? [] : form.ops;
    m = {
      all: specs.map((sp) => specMask(sp, form)),
      noXlat: specs.filter((o) => o.t !== 'xlat').map((sp) => specMask(sp, form)),
    };
    MASKS.set(form, m);
  }
  return m;
}

function operandKind(op: Operand): number {
  switch (op.k) {
    case 'reg':
      return CLASS_BIT[op.reg.cls] ?? 0;
    case 'mem':
      return K_MEM;
    case 'imm':
      return K_IMM;
    case 'far':
      return K_FAR;
  }
}

function plausible(form: Form, kinds: readonly number[]): boolean {
  const m = masksOf(form);
  const masks = kinds.length === 0 ? m.noXlat : m.all;
  if (masks.length !== kinds.length) return false;
  for (let i = 0; i < kinds.length; i++)
    if (((masks[i] as number) & (kinds[i] as number)) === 0) return false;
  return true;
}

/** How well a form's operands fit the written ones, for ordering an error's suggestions. */
function closeness(f: Form, ops: readonly Operand[]): number {
  const specs = f.ops.some((o) => o.t === 'string') ? [] : f.ops.filter((o) => o.t !== 'xlat');
  let score = specs.length === ops.length ? 10 : 0;
  specs.forEach((sp, i) => {
    const op = ops[i];
    if (!op) return;
    if (op.k === 'reg' && 'cls' in sp) {
      const cls = op.reg.cls.startsWith('gpr') ? 'gpr' : op.reg.cls;
      if (sp.cls === cls) score += sp.t === 'rm' || sp.t === 'reg' || sp.t === 'rr' ? 3 : 2;
      if (cls === 'gpr' && sp.size === op.reg.size) score += 1;
    } else if (op.k === 'reg' && sp.t === 'fixed' && sp.id === op.reg.id) score += 4;
    else if (op.k === 'mem' && (sp.t === 'rm' || sp.t === 'mem' || sp.t === 'moffs')) score += 3;
    else if (op.k === 'imm' && (sp.t === 'imm' || sp.t === 'rel' || sp.t === 'one')) score += 3;
    else if (op.k === 'far' && sp.t === 'ptr') score += 3;
  });
  return score;
}

function visibleCount(f: Form): number {
  if (f.ops.some((o) => o.t === 'string')) return 0;
  return f.ops.filter((o) => o.t !== 'xlat').length;
}

function tryForm(
  form: Form,
  ops: readonly Operand[],
  opt: SizeOption,
  req: EncodeRequest,
  asizeFromOperand: number | undefined,
  lenient: boolean,
  wait: boolean,
  wide: boolean,
): Omit<Candidate, 'rank'> | Failure {
  const mode = req.mode;
  const pf = req.prefixes;
  const checkRange = req.final || !lenient;
  const nomatch = NOMATCH;
  if (pf.osize !== undefined) {
    if (opt.s !== 0 && !(form.osMask === 7 && !form.d64 && !form.f64)) {
      if (opt.s !== pf.osize) return nomatch;
    } else if (form.rexw === 1 && pf.osize !== 64) return nomatch;
    else if ((form.rexw === 2 || form.rexw === 3) && pf.osize === 64) return nomatch;
  }
  // String instructions write none of their operands (`stosb`, not `stosb [edi], al`).
  let specs = form.ops.some((o) => o.t === 'string') ? [] : form.ops;
  if (ops.length === 0) specs = specs.filter((o) => o.t !== 'xlat');
  if (specs.length !== ops.length) return nomatch;

  const f: Fields = {
    regField: form.modrm === 2 ? form.digit : 0,
    imms: [],
    regs: [],
    addrSize: 0,
    memUnsized: false,
    memKeyword: 0,
  };
  let memOp: (Operand & { k: 'mem' }) | undefined;
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i] as OpSpec;
    const op = ops[i] as Operand;
    const access = form.access[form.ops.indexOf(spec)] ?? 'r';
    const r = matchOne(spec, op, opt, form, req, f, access, checkRange);
    if (r !== true) return r === NOMATCH ? r : { ...r, column: op.column };
    if (op.k === 'mem') memOp = op;
    if (op.k === 'reg') f.regs.push(op.reg);
  }

  // Address size: from the memory operand's registers, a size inside [ ], a prefix, or the mode.
  const defaultAs = mode;
  let asize = defaultAs as number;
  if (memOp) {
    const a = memOp.addr;
    let fromMem = a.regSize;
    if (fromMem === 0 && memOp.dispSize !== undefined && memOp.dispSize >= 2 && (f.moffs || !a.base))
      fromMem = memOp.dispSize * 8;
    if (fromMem !== 0) asize = fromMem;
    else if (pf.asize !== undefined) asize = pf.asize;
    if (pf.asize !== undefined && asize !== pf.asize)
      return { kind: 'address', msg: `a${pf.asize} conflicts with the ${asize}-bit address in the operand` };
  } else if (asizeFromOperand !== undefined) asize = asizeFromOperand;
  else if (pf.asize !== undefined) asize = pf.asize;
  if (mode === 64 && asize === 16)
    return { kind: 'mode', msg: '16-bit addresses cannot be used in 64-bit mode' };
  if (mode !== 64 && asize === 64) return { kind: 'mode', msg: '64-bit addresses exist only in 64-bit mode' };
  if ((form.asMask & modeBit(asize)) === 0) return nomatch;
  f.addrSize = asize;

  if (pf.lock && (!form.lock || ops[0]?.k !== 'mem'))
    return {
      kind: 'prefix',
      msg: `lock is not allowed here: '${form.mnemonic}' with a memory destination that accepts it is required`,
    };

  // Prefix bytes, in NASM's order: WAIT, LOCK/REP, segment, 66, 67, mandatory prefix, REX/VEX.
  const out: number[] = [];
  if (wait) out.push(0x9b);
  if (pf.lock) out.push(0xf0);
  if (pf.rep !== 0) {
    if (form.mp >= 3 || form.mp === 1 || form.vexMap !== 0)
      return { kind: 'prefix', msg: `'${form.mnemonic}' does not accept a rep prefix` };
    out.push(pf.rep);
  }
  const seg = memOp?.seg ?? pf.seg;
  if (memOp?.seg && pf.seg && memOp.seg.id !== pf.seg.id)
    return { kind: 'prefix', msg: 'two different segment overrides' };
  if (seg) out.push(SEG_PREFIX[seg.name] ?? 0x3e);
  const rawOsize = pf.osize !== undefined && form.osMask === 7 && !form.d64 && !form.f64 && form.rexw === 0;
  if (opt.p66 || (rawOsize && ((pf.osize === 16 && mode !== 16) || (pf.osize === 32 && mode === 16))))
    out.push(0x66);
  if (asize !== defaultAs) out.push(0x67);
  if (form.vexMap === 0) {
    if (form.mp === 2) out.push(0x66);
    else if (form.mp === 3) out.push(0xf3);
    else if (form.mp === 4) out.push(0xf2);
  }

  // ModRM and friends.
  let mod = 3;
  let rm = 0;
  let sib = -1;
  let dispSize = 0;
  let dispValue: Value | undefined;
  let ripRel = false;
  const rexR = (f.regField >> 3) & 1;
  let rexX = 0;
  let rexB = 0;
  if (f.rm && 'reg' in f.rm) {
    rm = f.rm.reg.num & 7;
    rexB = f.rm.reg.num >> 3;
  } else if (f.rm && 'mem' in f.rm) {
    const m = f.rm.mem;
    const a = m.addr;
    const wantRel =
      mode === 64 &&
      !a.base &&
      !a.index &&
      (m.rel === true || (m.rel === undefined && req.defaultRel && a.disp.reloc !== 0));
    if (m.rel === true && mode !== 64)
      return { kind: 'mode', msg: 'rel addressing exists only in 64-bit mode' };
    if (m.dispSize === 8) return nomatch; // a 64-bit address fits only moffs (mov al/ax/eax/rax)
    const forced = a.base || a.index ? m.dispSize : undefined;
    const enc = encodeAddress(a, asize, mode, wantRel, wide && a.hasDisp, forced);
    mod = enc.mod;
    rm = enc.rm;
    sib = enc.sib;
    dispSize = enc.dispSize;
    ripRel = enc.ripRel;
    rexX = enc.rexX;
    rexB = enc.rexB;
    dispValue = a.disp;
    if (dispSize === 1 && checkRange && forced === 1 && a.disp.known && !fitsSigned8(a.disp, asize))
      return { kind: 'range', msg: `displacement ${hex(a.disp.n)} does not fit in a byte`, column: m.column };
    if (checkRange && a.disp.known && !ripRel) {
      const ok =
        asize === 16 ? inRange(a.disp.n, 2) : asize === 32 ? inRange(a.disp.n, 4) : fitsSigned32(a.disp.n);
      if (!ok)
        return {
          kind: 'range',
          msg: `displacement ${hex(a.disp.n)} does not fit in a ${asize === 16 ? 16 : 32}-bit address field`,
          column: m.column,
        };
    }
  }
  if (f.zr) rexB = f.zr.num >> 3;

  // REX: required bits, and the byte registers that need (or forbid) it.
  let rex = 0;
  if (form.vexMap === 0) {
    const needW = opt.rexW;
    const uniform = f.regs.some((r) => r.cls === 'gpr8' && r.needsRex);
    if (needW || rexR || rexX || rexB || uniform)
      rex = 0x40 | (needW ? 8 : 0) | (rexR << 2) | (rexX << 1) | rexB;
    if (rex !== 0 && mode !== 64) {
      const r = f.regs.find((x) => x.needsRex);
      return {
        kind: 'mode',
        msg: r ? `register '${r.name}' exists only in 64-bit mode` : 'this form exists only in 64-bit mode',
      };
    }
    if (rex !== 0 && f.regs.some((r) => r.high))
      return {
        kind: 'mode',
        msg: 'ah, bh, ch and dh cannot be used in an instruction that needs a REX prefix',
      };
    if (form.norexb && rexB) return nomatch;
    if (rex !== 0) out.push(rex);
    out.push(...form.opcode);
  } else {
    if (mode !== 64 && (rexR || rexX || rexB || (f.vvvv && f.vvvv.num > 7)))
      return { kind: 'mode', msg: 'registers 8–15 exist only in 64-bit mode' };
    const pp = form.mp === 2 ? 1 : form.mp === 3 ? 2 : form.mp === 4 ? 3 : 0;
    const w = form.rexw === 1 ? 1 : 0;
    const l = form.vexL === 1 ? 1 : 0;
    const vvvv = (~(f.vvvv?.num ?? 0) & 15) << 3;
    if (form.vexMap === 1 && w === 0 && rexX === 0 && rexB === 0) {
      out.push(0xc5, ((rexR ^ 1) << 7) | vvvv | (l << 2) | pp);
    } else {
      out.push(0xc4, ((rexR ^ 1) << 7) | ((rexX ^ 1) << 6) | ((rexB ^ 1) << 5) | form.vexMap);
      out.push((w << 7) | vvvv | (l << 2) | pp);
    }
    out.push(...form.opcode);
  }
  if (form.plusR && f.zr) out[out.length - 1] = (out[out.length - 1] as number) + (f.zr.num & 7);
  if (form.modrm === 3) out.push(form.fixedModrm);
  else if (form.modrm !== 0) {
    out.push((mod << 6) | ((f.regField & 7) << 3) | rm);
    if (sib >= 0) out.push(sib);
  }
  const dispAt = out.length;
  if (dispSize > 0) pushLE(out, ripRel ? 0n : (dispValue?.n ?? 0n), dispSize);
  if (f.moffs) {
    const a = f.moffs.addr;
    const n = asize / 8;
    if (checkRange && a.disp.known && !inRange(a.disp.n, n))
      return {
        kind: 'range',
        msg: `address ${hex(a.disp.n)} does not fit in ${asize} bits`,
        column: f.moffs.column,
      };
    pushLE(out, a.disp.n, n);
  }
  for (const imm of f.imms) pushLE(out, imm.v, imm.n);
  let relAt = -1;
  if (f.rel) {
    relAt = out.length;
    pushLE(out, 0n, f.rel.n);
  }
  if (f.ptr) {
    pushLE(out, f.ptr.off, f.ptr.n);
    pushLE(out, f.ptr.seg, 2);
  }
  const len = out.length;
  if (len > 15) return { kind: 'nomatch', msg: 'longer than 15 bytes' };
  const end = req.addr + BigInt(len);
  if (ripRel && dispValue) {
    const d = dispValue.n - end;
    if (checkRange && dispValue.known && !fitsSigned32(d))
      return {
        kind: 'range',
        msg: `rel target ${hex(dispValue.n)} is out of the ±2 GiB RIP-relative range`,
        column: memOp?.column,
      };
    const tmp: number[] = [];
    pushLE(tmp, d, 4);
    for (let i = 0; i < 4; i++) out[dispAt + i] = tmp[i] as number;
  }
  if (f.rel) {
    const t = f.rel.target;
    const d = t.n - end;
    const n = f.rel.n;
    // Until the last pass a target may be unknown or provisional: a rel8 form that does not
    // reach it is skipped (the retry without range checks takes it when nothing else fits).
    // Unknown targets (forward references on the first pass) are assumed near: jumps start
    // short and grow, which reaches the smallest layout.
    const fits = t.known ? n !== 1 || (d >= -128n && d <= 127n) : !req.final;
    if (!fits && checkRange) {
      if (n === 1)
        return {
          kind: 'range',
          msg: t.known
            ? `short jump out of range: the target is ${d} bytes away (expected -128..127)`
            : 'the jump target is not known yet',
          column: f.rel.column,
        };
    }
    if (n === 4 && mode === 64 && t.known && checkRange && !fitsSigned32(d))
      return {
        kind: 'range',
        msg: `jump target ${hex(t.n)} is out of the ±2 GiB range`,
        column: f.rel.column,
      };
    // Outside 64-bit mode the target is an offset of the operand size (IP or EIP).
    if ((mode !== 64 || opt.s === 16) && t.known && checkRange && (t.n < 0n || t.n >= 1n << BigInt(opt.s)))
      return {
        kind: 'range',
        msg: `jump target ${hex(t.n)} does not fit in a ${opt.s}-bit instruction pointer`,
        column: f.rel.column,
      };
    const tmp: number[] = [];
    pushLE(tmp, d, n);
    for (let i = 0; i < n; i++) out[relAt + i] = tmp[i] as number;
  }
  const bytes = Uint8Array.from(out);

  // NASM takes `jmp far [mem]` in 64-bit mode as m16:64 (REX.W).
  let isDefault = opt.isDefault;
  if (mode === 64 && f.rm && 'mem' in f.rm && f.rm.spec.far && f.rm.mem.size === undefined)
    isDefault = opt.s === 64;
  return {
    bytes,
    form,
    isDefault,
    memKeyword: f.memKeyword,
    memUnsized: f.memUnsized,
    sbyte: form.ops.some((o) => o.t === 'imm' && o.signed && o.field === 1),
    stiFirst: form.ops[0]?.t === 'rr' && form.ops[0].cls === 'st',
    skip: wait ? 1 : 0,
    s: opt.s,
  };
}

/** Size of the data a form works on, from its first sized general-register operand. */
function dataBytes(form: Form): number | undefined {
  for (const o of form.ops) {
    if ((o.t === 'reg' || o.t === 'rm' || o.t === 'rr' || o.t === 'zr') && 'cls' in o && o.cls === 'gpr') {
      if (o.t === 'rm' && o.alt16) return o.mem.bytes;
      return o.size;
    }
    if (o.t === 'zr') return o.size;
    if (o.t === 'fixed') {
      const r = registerById(o.id);
      if (r && r.size > 0) return r.size;
    }
  }
  return undefined;
}

function fitsSigned32(v: bigint): boolean {
  const m = BigInt.asUintN(64, v);
  return (v >= -(1n << 63n) && v < 1n << 64n && m < 1n << 31n) || m >= (1n << 64n) - (1n << 31n);
}

/**
 * MOV to a segment register reads only 16 bits, so NASM takes a source register of any width
 * without a size prefix; MOV r64, Sreg is written as the 32-bit form (the upper bits are
 * zeroed either way).
 */
function movSregAny(form: Form, spec: OpSpec & { t: 'rm' }, r: Reg, access: string): boolean {
  if (r.cls !== 'gpr16' && r.cls !== 'gpr32' && r.cls !== 'gpr64') return false;
  // A selector read from a register (LAR, LSL, LLDT, LTR, VERR, VERW, LMSW): any width.
  if (SELECTOR_READERS.has(form.mnemonic) && access === 'r' && spec.cls === 'gpr' && spec.mem.bytes === 2)
    return true;
  if (form.mnemonic !== 'mov' || !form.ops.some((o) => o.t === 'reg' && o.cls === 'seg')) return false;
  if (access === 'r') return true;
  return spec.alt16 === true && spec.size === 4 && r.cls === 'gpr64';
}

const SELECTOR_READERS: ReadonlySet<string> = new Set(['lar', 'lsl', 'lldt', 'ltr', 'verr', 'verw', 'lmsw']);

function memSizeOk(spec: MemSpec, op: Operand & { k: 'mem' }, form: Form): boolean {
  const flow = form.mnemonic === 'jmp' || form.mnemonic === 'call';
  // JMP/CALL through a far pointer need `far`; LDS/LES/LSS/LFS/LGS take it without.
  if (spec.far && flow) {
    if (!op.far) return false;
  } else if (op.far && !spec.far) return false;
  if (op.size === undefined) return true;
  if (spec.keyword !== 0) return op.size === spec.keyword;
  return spec.bytes === 0 || op.size === spec.bytes;
}

function matchOne(
  spec: OpSpec,
  op: Operand,
  opt: SizeOption,
  form: Form,
  req: EncodeRequest,
  f: Fields,
  access: string,
  checkRange: boolean,
): true | Failure {
  const nomatch = NOMATCH;
  const mode = req.mode;
  switch (spec.t) {
    case 'reg': {
      if (op.k !== 'reg') return nomatch;
      if (!regMatches(spec.cls, spec.size, op.reg) && !(form.mnemonic === 'arpl' && op.reg.cls === 'gpr16'))
        return nomatch;
      if (spec.noCs && op.reg.name === 'cs') return nomatch;
      if (spec.cls === 'cr' && ![0, 2, 3, 4, 8].includes(op.reg.num)) return nomatch;
      if (spec.cls === 'dr' && op.reg.num > 7) return nomatch;
      if (op.reg.cls === 'mm' || op.reg.cls === 'seg') f.regField = op.reg.num & 7;
      else f.regField = op.reg.num;
      return true;
    }
    case 'rm': {
      if (op.k === 'reg') {
        const alt = spec.alt16 === true && access === 'r' && op.reg.cls === 'gpr16';
        // ARPL reads and writes 16-bit selectors whatever the operand size: NASM uses no 66.
        const arpl = form.mnemonic === 'arpl' && op.reg.cls === 'gpr16';
        if (
          !alt &&
          !arpl &&
          !regMatches(spec.cls, spec.size, op.reg) &&
          !movSregAny(form, spec, op.reg, access)
        )
          return nomatch;
        f.rm = { reg: op.reg };
        return true;
      }
      if (op.k !== 'mem' || op.addr.xlat) return nomatch;
      if (op.addr.error) return { kind: 'address', msg: op.addr.error };
      if (!memSizeOk(spec.mem, op, form)) return nomatch;
      f.rm = { mem: op, spec: spec.mem };
      f.memUnsized = op.size === undefined;
      f.memKeyword = spec.mem.keyword;
      return true;
    }
    case 'mem': {
      if (op.k !== 'mem' || op.addr.xlat) return nomatch;
      if (op.addr.error) return { kind: 'address', msg: op.addr.error };
      if (!memSizeOk(spec.mem, op, form)) return nomatch;
      f.rm = { mem: op, spec: spec.mem };
      f.memUnsized = op.size === undefined;
      f.memKeyword = spec.mem.far ? 0 : spec.mem.keyword;
      return true;
    }
    case 'rr':
      if (op.k !== 'reg' || !regMatches(spec.cls, spec.size, op.reg)) return nomatch;
      f.rm = { reg: op.reg };
      return true;
    case 'zr':
      if (op.k !== 'reg' || !regMatches('gpr', spec.size, op.reg)) return nomatch;
      f.zr = op.reg;
      return true;
    case 'fixed':
      return op.k === 'reg' && op.reg.id === spec.id ? true : nomatch;
    case 'vvvv':
      if (op.k !== 'reg' || !regMatches(spec.cls, spec.size, op.reg)) return nomatch;
      f.vvvv = op.reg;
      return true;
    case 'one':
      if (op.k !== 'imm' || op.jump) return nomatch;
      if (op.size !== undefined && op.size !== 1) return nomatch;
      if (op.strict) return nomatch;
      return op.v.known && op.v.reloc === 0 && op.v.n === 1n ? true : nomatch;
    case 'imm': {
      if (op.k !== 'imm' || op.jump) return nomatch;
      const opBytes = dataBytes(form) ?? opt.s / 8;
      if (op.size !== undefined) {
        const ok = op.size === spec.field || (!op.strict && !spec.second && op.size === opBytes);
        if (!ok) return nomatch;
      }
      const v = op.v;
      if (spec.signed && spec.field === 1) {
        const bits = opt.s;
        const forced = op.size === 1;
        if (!forced && !fitsSigned8(v, bits)) return nomatch;
        if (v.known && checkRange && !inRange(v.n, bits / 8))
          return { kind: 'range', msg: `value ${hex(v.n)} does not fit in ${bits} bits` };
        if (forced && v.known && checkRange && !fitsSigned8(v, bits))
          return { kind: 'range', msg: `value ${hex(v.n)} does not fit in a signed byte` };
      } else if (spec.signed) {
        // NASM writes `mov r64, label` with a 64-bit immediate, not a sign-extended 32-bit one.
        if (form.mnemonic === 'mov' && f.rm && 'reg' in f.rm && (v.reloc !== 0 || !v.known) && op.size !== 4)
          return nomatch;
        if (v.known && checkRange && !fitsSigned32(v.n))
          return {
            kind: 'range',
            msg: `value ${hex(v.n)} does not fit in a sign-extended 32-bit immediate (use mov with a 64-bit register)`,
          };
      } else if (v.known && checkRange && !inRange(v.n, spec.field)) {
        return {
          kind: 'range',
          msg: `value ${hex(v.n)} does not fit in ${spec.field === 1 ? 'a byte' : spec.field === 2 ? 'a word' : spec.field === 4 ? 'a dword' : 'a qword'}`,
        };
      }
      f.imms.push({ v: v.n, n: spec.field });
      return true;
    }
    case 'rel': {
      if (op.k !== 'imm') return nomatch;
      if (op.jump === 'far') return nomatch;
      if (op.jump === 'short' && spec.field !== 1) return nomatch;
      if (op.jump === 'near' && spec.field === 1) return nomatch;
      if (op.size !== undefined && op.size * 8 !== opt.s) return nomatch;
      if (op.strict && op.size === undefined && spec.field === 1) return nomatch;
      f.rel = { target: op.v, n: spec.field, column: op.column };
      return true;
    }
    case 'ptr': {
      if (op.k !== 'far') return nomatch;
      if (op.size !== undefined && op.size * 8 !== opt.s) return nomatch;
      if (checkRange && op.seg.known && !inRange(op.seg.n, 2))
        return { kind: 'range', msg: `segment selector ${hex(op.seg.n)} does not fit in 16 bits` };
      if (checkRange && op.off.known && !inRange(op.off.n, spec.field))
        return { kind: 'range', msg: `far offset ${hex(op.off.n)} does not fit in ${spec.field * 8} bits` };
      f.ptr = { seg: op.seg.n, off: op.off.n, n: spec.field };
      return true;
    }
    case 'moffs': {
      if (op.k !== 'mem' || op.addr.base || op.addr.index || op.addr.xlat || op.addr.error || op.rel === true)
        return nomatch;
      // In 64-bit mode moffs is a 64-bit address: used for `[qword x]` and for addresses that
      // do not fit the sign-extended 32-bit displacement of ModRM.
      if (
        mode === 64 &&
        op.dispSize !== 8 &&
        !(op.dispSize === undefined && op.addr.disp.known && !fitsSigned32(op.addr.disp.n))
      )
        return nomatch;
      if (mode === 64 && req.defaultRel && op.rel === undefined && op.addr.disp.reloc !== 0) return nomatch;
      if (!memSizeOk(spec.mem, op, form)) return nomatch;
      f.moffs = op;
      f.memUnsized = op.size === undefined;
      f.memKeyword = spec.mem.keyword;
      return true;
    }
    case 'xlat':
      return op.k === 'mem' && op.addr.xlat ? true : nomatch;
    case 'string':
    case 'is4':
    case 'vsib':
      return nomatch;
  }
}
