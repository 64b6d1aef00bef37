import { codeByName, type Instruction, MemSize, OpKind, PrefixBit, Register } from '@ringzero/decoder';
import { TLB_USER } from '@ringzero/memory';
import { AluOp, ShiftOp } from './alu';
import { Eflags, LazyOp } from './cpu-state';
import { ALU_NAMES, CC_NAMES, SHIFT_NAMES } from './handlers';

/**
 * Inline templates of tier 1 for the most frequent instruction forms. Each template is written
 * against the same state the tier-0 handlers use, so the two tiers agree by construction; the
 * differential tests run both and compare. Anything not covered here is emitted as a call of
 * its tier-0 handler.
 *
 * What a template's source may use (the block function provides it, see `emitBlock`):
 * - `r0`…`r7`: the guest's EAX…EDI, held in locals for the whole block;
 * - `fa`, `fb`, `fv`: operands and 32-bit result of the last flag-setting operation whose flags
 *   have not been written to the `CpuState` yet (`deferred`);
 * - `L`, `e`: scratch for the inlined TLB hit path (`rd`, `wr`, `rmw32`);
 * - `M` (the MMU), `T` and `TW` (its `tlbRead` and `tlbWrite`), `B`, `W`, `D` (RAM as bytes,
 *   words, dwords) and `NB`, `NW`, `ND` (their lengths);
 * - `s` (the `CpuState`), `c` (the `Tier0`), `X` (shared semantics: `BlockHelpers`).
 */

export interface Template {
  readonly code: string;
  /** Can raise an exception (memory access): needs `c.startEip`. */
  readonly mayFault: boolean;
  /** Can write memory (so may hit translated code). */
  readonly stores: boolean;
  /** Sets `s.eip` itself (unconditional branches, calls, returns). */
  readonly setsEip: boolean;
  /**
   * The status flags this instruction leaves are in `fa`, `fb`, `fv` as this lazy operation
   * (written to the `CpuState` only when something needs them there): a `LazyOp` on 32-bit
   * values, or one on 8-bit values plus `BYTE_LAZY`.
   */
  readonly deferred?: number;
  /** Reads or writes the flags in the `CpuState` (pending deferred flags are written first). */
  readonly stateFlags?: boolean;
  /**
   * Sets `fa`, `fb`, `fv` and `fo` itself only when it changes the flags at run time (a shift by
   * CL): pending deferred flags are written first, and after it `fo` says what is pending.
   */
  readonly maybeDeferred?: boolean;
  /**
   * A conditional branch: the source of its condition, and the taken target's distance from the
   * next instruction.
   */
  readonly branch?: { readonly condition: string; readonly displacement: number };
}

/**
 * Added to a deferred `LazyOp` whose operands and result are 8-bit values (`fa`, `fb` and `fv`
 * in 0–255, as tier 0's `alu` records them at that width).
 */
export const BYTE_LAZY = 256;

/** The width of a deferred operation (`Template.deferred`): 8 or 32. */
export function lazyBits(deferred: number): number {
  return (deferred & BYTE_LAZY) !== 0 ? 8 : 32;
}

/** How the status flags relate to `fa`, `fb` and `fv`. */
export type FlagKind = 'sub' | 'logic' | 'add' | 'incdec' | 'shl' | 'shr' | 'sar';

/** The flag kind of a deferred lazy operation (for fused conditions), or undefined. */
export function flagKindOf(op: number): FlagKind | undefined {
  switch (op < 0 ? op : op & ~BYTE_LAZY) {
    case LazyOp.add:
      return 'add';
    case LazyOp.sub:
      return 'sub';
    case LazyOp.logic:
      return 'logic';
    case LazyOp.inc:
    case LazyOp.dec:
      return 'incdec';
    case LazyOp.shl:
      return 'shl';
    case LazyOp.shr:
      return 'shr';
    case LazyOp.sar:
      return 'sar';
    default:
      return undefined;
  }
}

/**
 * A Jcc condition on the locals of the previous instruction's flags, or undefined when it needs
 * the general path (`s.condition`). Condition numbers are the low nibble of the Jcc opcode.
 * `bits` is the operation's width: at 8 bits the operands and result are 0–255, so SF is bit 7
 * and a signed comparison compares the operands moved to the top byte.
 */
export function fusedCondition(kind: FlagKind, cc: number, bits = 32): string | undefined {
  const pair = cc >> 1;
  let c: string | undefined;
  if (bits === 8) {
    const sf = '(fv & 128) !== 0';
    if (kind === 'sub') {
      c = [
        undefined,
        'fa < fb',
        'fv === 0',
        'fa <= fb',
        sf,
        undefined,
        '(fa << 24) < (fb << 24)',
        '(fa << 24) <= (fb << 24)',
      ][pair];
    } else if (kind === 'logic') {
      c = ['false', 'false', 'fv === 0', 'fv === 0', sf, undefined, sf, `fv === 0 || ${sf}`][pair];
    } else if (kind === 'add') {
      c = [undefined, 'fv < fa', 'fv === 0', undefined, sf, undefined, undefined, undefined][pair];
    }
    if (c === undefined) return undefined;
    return (cc & 1) === 0 ? `(${c})` : `!(${c})`;
  }
  if (kind === 'sub') {
    // o, b, e, be, s, p, l, le
    c = [
      undefined,
      '(fa >>> 0) < (fb >>> 0)',
      'fv === 0',
      '(fa >>> 0) <= (fb >>> 0)',
      'fv < 0',
      undefined,
      'fa < fb',
      'fa <= fb',
    ][pair];
  } else if (kind === 'logic') {
    // CF = OF = 0 after AND/OR/XOR/TEST.
    c = ['false', 'false', 'fv === 0', 'fv === 0', 'fv < 0', undefined, 'fv < 0', 'fv <= 0'][pair];
  } else if (kind === 'add') {
    c = [
      undefined,
      '(fv >>> 0) < (fa >>> 0)',
      'fv === 0',
      undefined,
      'fv < 0',
      undefined,
      undefined,
      undefined,
    ][pair];
  } else if (kind === 'incdec') {
    c = [undefined, undefined, 'fv === 0', undefined, 'fv < 0', undefined, undefined, undefined][pair];
  } else {
    // Shifts: `fa` is the operand, `fb` the count (1–31); CF is the last bit shifted out.
    const cf =
      kind === 'shl'
        ? '((fa >>> (32 - fb)) & 1) !== 0'
        : kind === 'shr'
          ? '((fa >>> (fb - 1)) & 1) !== 0'
          : '((fa >> (fb - 1)) & 1) !== 0';
    c = [undefined, cf, 'fv === 0', `${cf} || fv === 0`, 'fv < 0', undefined, undefined, undefined][pair];
  }
  if (c === undefined) return undefined;
  return (cc & 1) === 0 ? `(${c})` : `!(${c})`;
}

const CC_ALIASES: Record<string, string> = {
  c: 'b',
  nae: 'b',
  nb: 'ae',
  nc: 'ae',
  z: 'e',
  nz: 'ne',
  na: 'be',
  nbe: 'a',
  pe: 'p',
  po: 'np',
  nge: 'l',
  nl: 'ge',
  ng: 'le',
  nle: 'g',
};

function ccOf(suffix: string): number {
  return CC_NAMES.indexOf(CC_ALIASES[suffix] ?? suffix);
}

/** The condition number of a Jcc mnemonic (`jb`, `jnz`, …), or -1 (JMP, JCXZ, JECXZ, LOOP). */
export function jccCondition(m: string): number {
  return m.startsWith('j') ? ccOf(m.slice(1)) : -1;
}

/** A conditional branch with a template (`emitTemplate` gives it a `branch`): Jcc in 32-bit code. */
export function isTemplateJcc(i: Instruction): boolean {
  return (
    i.opCount === 1 &&
    i.op0Kind === OpKind.nearBranch &&
    i.operandSize === 32 &&
    jccCondition(i.mnemonic) >= 0
  );
}

function n(v: number): string {
  if (!Number.isSafeInteger(v)) throw new Error(`tier 1: refusing to emit non-integer ${String(v)}`);
  return String(v);
}

/** Index into `s.regs` of a 32-bit general register operand, or -1. */
function reg32(id: number): number {
  return id >= Register.eax && id <= Register.edi ? id - Register.eax : -1;
}

/**
 * The effective address (offset) of a 32-bit-addressed memory operand, as source, or undefined
 * when it uses a register that is not a 32-bit general register.
 */
function offsetOf(i: Instruction): string | undefined {
  if (i.addressSize !== 32) return undefined;
  const parts: string[] = [];
  if (i.memBase !== 0) {
    const b = reg32(i.memBase);
    if (b < 0) return undefined;
    parts.push(`r${n(b)}`);
  }
  if (i.memIndex !== 0) {
    const x = reg32(i.memIndex);
    if (x < 0) return undefined;
    parts.push(i.memScale === 1 ? `r${n(x)}` : `r${n(x)} * ${n(i.memScale)}`);
  }
  if (i.memDisplacement !== 0 || parts.length === 0) parts.push(n(i.memDisplacement | 0));
  // A register local or a constant alone is an int32 already (a scaled index is not).
  const scaled = i.memIndex !== 0 && i.memScale !== 1;
  return parts.length === 1 && !scaled ? (parts[0] as string) : `(${parts.join(' + ')}) | 0`;
}

/**
 * The linear address of a memory operand, as source: the bare offset in a flat DS/ES/SS segment
 * (mode bit 1), otherwise through tier 0's segment check (`c.linear`, which raises #GP/#SS
 * exactly as the handlers do) — FS/GS (Linux's per-CPU data) and CS overrides included.
 */
function address(i: Instruction, mode: number, size: number, write: boolean): string | undefined {
  const off = offsetOf(i);
  if (off === undefined) return undefined;
  const seg = i.memSegment;
  if ((mode & 2) !== 0 && (seg === Register.ds || seg === Register.es || seg === Register.ss)) return off;
  if (seg < Register.es || seg > Register.es + 5) return undefined;
  return `c.linear(${n(seg - Register.es)}, ${off}, ${n(size)}, ${write ? 'true' : 'false'})`;
}

/** Source reading an 8- or 16-bit register operand (zero-extended), or undefined. */
function readSmallReg(id: number): string | undefined {
  if (id >= Register.al && id <= Register.bl) return `(r${n(id - Register.al)} & 255)`;
  if (id >= Register.ah && id <= Register.bh) return `((r${n(id - Register.ah)} >> 8) & 255)`;
  if (id >= Register.ax && id <= Register.di) return `(r${n(id - Register.ax)} & 65535)`;
  return undefined;
}

/** Source reading a 16-bit register operand, or undefined. */
function readWord(id: number): string | undefined {
  return id >= Register.ax && id <= Register.di ? `(r${n(id - Register.ax)} & 65535)` : undefined;
}

/** A statement writing the 16-bit value `v` (source, already 0..65535) to a 16-bit register. */
function writeWordReg(id: number, v: string): string | undefined {
  if (id < Register.ax || id > Register.di) return undefined;
  const k = n(id - Register.ax);
  return `r${k} = (r${k} & -65536) | ${v};`;
}

/** A statement writing the 8-bit value `v` (source, already 0..255) to an 8-bit register. */
function writeByteReg(id: number, v: string): string | undefined {
  if (id >= Register.al && id <= Register.bl) {
    const k = n(id - Register.al);
    return `r${k} = (r${k} & -256) | ${v};`;
  }
  if (id >= Register.ah && id <= Register.bh) {
    const k = n(id - Register.ah);
    return `r${k} = (r${k} & -65281) | (${v} << 8);`;
  }
  return undefined;
}

/** The lazy operation of each `ShiftOp` whose flags tier 1 defers (rotates go through tier 0). */
const LAZY_SHIFT: Readonly<Record<number, LazyOp>> = {
  [ShiftOp.shl]: LazyOp.shl,
  [ShiftOp.sal]: LazyOp.shl,
  [ShiftOp.shr]: LazyOp.shr,
  [ShiftOp.sar]: LazyOp.sar,
};

/**
 * The JavaScript operator of each byte ALU operation whose result needs no flags (`''`: CMP and
 * TEST, which write no register); ADC and SBB read CF and are not here.
 */
const BYTE_OPS: Readonly<Record<number, string>> = {
  [AluOp.add]: '+',
  [AluOp.sub]: '-',
  [AluOp.and]: '&',
  [AluOp.or]: '|',
  [AluOp.xor]: '^',
  [AluOp.cmp]: '',
  [AluOp.test]: '',
};

/** The string forms with templates: which operation, at which width (SCAS and CMPS: bytes). */
const STRING_FORMS: Readonly<
  Record<number, { readonly kind: 'lods' | 'stos' | 'movs' | 'scas' | 'cmps'; readonly bits: number }>
> = Object.fromEntries(
  (
    [
      ['lodsb_al_m8', 'lods', 8],
      ['lodsw_ax_m16', 'lods', 16],
      ['lodsd_eax_m32', 'lods', 32],
      ['stosb_m8_al', 'stos', 8],
      ['stosw_m16_ax', 'stos', 16],
      ['stosd_m32_eax', 'stos', 32],
      ['movsb_m8_m8', 'movs', 8],
      ['movsw_m16_m16', 'movs', 16],
      ['movsd_m32_m32', 'movs', 32],
      ['scasb_al_m8', 'scas', 8],
      ['cmpsb_m8_m8', 'cmps', 8],
    ] as const
  ).map(([name, kind, bits]) => {
    const code = codeByName(name);
    if (code === 0) throw new Error(`tier 1: no form ${name}`);
    return [code, { kind, bits }];
  }),
);

const user = (mode: number) => ((mode & 1) !== 0 ? 'true' : 'false');

// ---- The inlined TLB hit path ----------------------------------------------------------------
// `@ringzero/memory`'s inlining contract: the linear address plus the `tlbRead`/`tlbWrite` entry
// of its page (the block's privilege half) is the physical address on a hit and at least
// `TLB_MISS_PAGE` on a miss; rotated right by the access's alignment (its misalignment moves to
// the top bits), one unsigned compare against the RAM size in words (`NB`, `NW`, `ND`) accepts
// exactly the aligned in-RAM hits. A `tlbWrite` hit also means the dirty bit is set and the page
// is not a watched code page. Anything else (a miss, MMIO, a fault, a write to a code page,
// unaligned data) takes the MMU's own `read*`/`write*`, which walks, faults and watches exactly
// as tier 0 does.

/** The entry of `L`'s page in table `t` for privilege `u` ('true' at CPL 3). */
function entry(t: string, u: string): string {
  return u === 'true' ? `${t}[(L >>> 12) | ${n(TLB_USER)}]` : `${t}[L >>> 12]`;
}

/** Source setting `e` to the index of `L`'s `bits`-wide unit in its RAM view, through table `t`. */
function index(t: string, bits: number, u: string): string {
  // `L` is an int32 (every address source is a register local, an int32 constant, a sum ending
  // in `| 0`, or comes from `c.linear`).
  const sum = `L + ${entry(t, u)}`;
  if (bits === 8) return `e = (${sum}) >>> 0`;
  const k = bits === 16 ? 1 : 2;
  return `e = ${sum}, e = ((e >>> ${k}) | (e << ${32 - k})) >>> 0`;
}

const VIEW: Readonly<Record<number, readonly [view: string, length: string]>> = {
  8: ['B', 'NB'],
  16: ['W', 'NW'],
  32: ['D', 'ND'],
};

function viewOf(bits: number): readonly [view: string, length: string] {
  const v = VIEW[bits];
  if (v === undefined) throw new RangeError(`no RAM view for ${bits}-bit accesses`);
  return v;
}

/**
 * Markers in a template's source, which the region emitter replaces (`emitRegion`). Only the
 * MMU's slow way can fault or hit translated code: the fast way reaches RAM through a TLB entry,
 * and a page holding translated code never has a write entry (the memory package drops them
 * when it is watched). So the fault index and the code-write check go there, off the hit path.
 * - `SLOW_FAULT_EXPR` / `SLOW_FAULT_STMT`: just before the slow way's first MMU call, where the
 *   fault index is set (as `kk = N, ` in an expression, `kk = N; ` in a statement);
 * - `SLOW_STORED`: after a slow-way store, where the check that no translated code was hit goes
 *   when the store is the template's last effect.
 */
export const SLOW_FAULT_EXPR = '/*kk,*/';
export const SLOW_FAULT_STMT = '/*kk;*/';
export const SLOW_STORED = '/*cw*/';

/** An expression reading `bits` (8, 16, 32) at linear address `addr` (source). */
export function rd(bits: number, addr: string, u: string): string {
  const [view, length] = viewOf(bits);
  return `(L = ${addr}, ${index('T', bits, u)}, e < ${length} ? ${view}[e] : (${SLOW_FAULT_EXPR}M.read${bits}(L, ${u})))`;
}

/**
 * A statement writing `value` (source free of side effects) as `bits` at `addr`, then `after`
 * (statements that must follow the store, as ESP's update after a push's write): on both ways,
 * so the slow way's code-write check can come last.
 */
export function wr(bits: number, addr: string, value: string, u: string, after = ''): string {
  const [view, length] = viewOf(bits);
  const then = after === '' ? '' : ` ${after}`;
  const hit = after === '' ? `${view}[e] = ${value};` : `{ ${view}[e] = ${value};${then} }`;
  return `L = ${addr}; ${index('TW', bits, u)}; if (e < ${length}) ${hit} else { ${SLOW_FAULT_STMT}M.write${bits}(L, ${value}, ${u});${then}${SLOW_STORED} }`;
}

/**
 * A read-modify-write of the dword at `addr`: `fa` is the old value, `compute` (which uses only
 * `fa`, `fb`, `fv`, registers and constants, so `e` still indexes the dword) sets `fv`, which is
 * stored. A write hit implies the read right; the slow way checks the write first (#PF before
 * anything changes), as tier 0 does.
 */
function rmw32(addr: string, u: string, compute: string): string {
  return (
    `L = ${addr}; ${index('TW', 32, u)}; ` +
    `if (e < ND) { fa = D[e]; ${compute} D[e] = fv; } ` +
    `else { ${SLOW_FAULT_STMT}M.probeWrite(L, 4, ${u}); fa = M.read32(L, ${u}); ${compute} M.write32(L, fv, ${u});${SLOW_STORED} }`
  );
}

function plain(code: string): Template {
  return { code, mayFault: false, stores: false, setsEip: false };
}

/** A template that computes through tier 0's semantics on the `CpuState`'s flags. */
function viaState(code: string, mayFault = false): Template {
  return { code, mayFault, stores: false, setsEip: false, stateFlags: true };
}

/**
 * ALU operation on 32-bit values `a` and `b` (source expressions) into the block's flag locals
 * `fa`, `fb`, `fv` (AND/OR/XOR/TEST set only `fv`: the logic operation's flags are CF = OF = AF =
 * 0 and the rest from the result, whatever `fa` and `fb` hold); writes the result to `dst`
 * unless the operation only compares. Returns the code and the deferred op.
 */
function aluCode(op: number, a: string, b: string, dst: string | undefined): { code: string; lazy: LazyOp } {
  // A read-modify-write passes the old value already in `fa`.
  const load = a === 'fa' ? '' : `fa = ${a}; `;
  let code: string;
  let lazy: LazyOp;
  switch (op) {
    case AluOp.add:
      code = `${load}fb = ${b}; fv = (fa + fb) | 0;`;
      lazy = LazyOp.add;
      break;
    case AluOp.sub:
    case AluOp.cmp:
      code = `${load}fb = ${b}; fv = (fa - fb) | 0;`;
      lazy = LazyOp.sub;
      break;
    case AluOp.or:
      code = `fv = ${a} | ${b};`;
      lazy = LazyOp.logic;
      break;
    case AluOp.xor:
      code = `fv = ${a} ^ ${b};`;
      lazy = LazyOp.logic;
      break;
    default:
      code = `fv = ${a} & ${b};`;
      lazy = LazyOp.logic;
      break;
  }
  if (dst !== undefined && op !== AluOp.cmp && op !== AluOp.test) code += ` ${dst} = fv;`;
  return { code, lazy };
}

function deferred(code: string, lazy: number, mayFault = false, stores = false): Template {
  return { code, mayFault, stores, setsEip: false, deferred: lazy };
}

/**
 * A template for `i`, or undefined to call its tier-0 handler. `next` is the next EIP (source);
 * `pending` the lazy operation whose flags are deferred in `fa`/`fb`/`fv` before `i` (0: none),
 * which a conditional instruction may test directly.
 */
export function emitTemplate(
  i: Instruction,
  mode: number,
  next: string,
  pending = 0,
  flagsDead = false,
): Template | undefined {
  const m = i.mnemonic;
  const u = user(mode);
  const o0 = i.op0Kind;
  const o1 = i.op1Kind;
  const d = reg32(i.op0Register);
  const sr = reg32(i.op1Register);
  const pendingKind = flagKindOf(pending);
  /** A condition on the flags: fused with the deferred flags when possible. */
  const cond = (cc: number): { code: string; state: boolean } => {
    const f = pendingKind === undefined ? undefined : fusedCondition(pendingKind, cc, lazyBits(pending));
    return f !== undefined ? { code: f, state: false } : { code: `s.condition(${n(cc)})`, state: true };
  };

  // Conditional and unconditional near branches, calls and returns (flat CS: no limit check).
  if (i.opCount === 1 && o0 === OpKind.nearBranch && i.operandSize === 32) {
    const displacement = (i.nearBranchTarget - i.ip - i.length) | 0;
    const target = `((${next}) + ${n(displacement)}) | 0`;
    if (m === 'jmp') return { code: `s.eip = ${target};`, mayFault: false, stores: false, setsEip: true };
    if (m === 'call') {
      if ((mode & 2) === 0) return undefined;
      return {
        code: `{ const sp = (r4 - 4) | 0; ${wr(32, 'sp', next, u, `r4 = sp; s.eip = ${target};`)} }`,
        mayFault: true,
        stores: true,
        setsEip: true,
      };
    }
    const cc = jccCondition(m);
    if (cc >= 0) {
      const c = cond(cc);
      return {
        code: '',
        mayFault: false,
        stores: false,
        setsEip: false,
        stateFlags: c.state,
        branch: { condition: c.code, displacement },
      };
    }
    return undefined;
  }
  if (m === 'ret' && i.opCount === 0 && i.operandSize === 32 && (mode & 2) !== 0) {
    return {
      code: `{ const t = ${rd(32, 'r4', u)}; r4 = (r4 + 4) | 0; s.eip = t; }`,
      mayFault: true,
      stores: false,
      setsEip: true,
    };
  }

  // LODS, STOS, MOVS, SCAS and CMPS without REP, with 32-bit addresses, where DS, ES and SS are
  // flat (ESI and EDI are linear addresses; a source override must name one of those): one
  // iteration inline, ESI/EDI stepping by the size, backwards when DF is set. SCAS and CMPS
  // defer their flags (at 8 bits for the byte forms); the operands are read into constants first
  // so a fault leaves the locals as they were.
  const str = STRING_FORMS[i.code];
  if (str !== undefined) {
    const seg = i.segmentPrefix;
    const flatSource = seg === 0 || seg === Register.ds || seg === Register.es || seg === Register.ss;
    if ((mode & 2) === 0 || i.addressSize !== 32 || (i.prefixes & (PrefixBit.rep | PrefixBit.repne)) !== 0)
      return undefined;
    if (!flatSource && str.kind !== 'stos' && str.kind !== 'scas') return undefined;
    const bits = str.bits;
    const step = `((s.flags & ${n(Eflags.df)}) !== 0 ? ${n(-(bits >> 3))} : ${n(bits >> 3)})`;
    const acc = bits === 32 ? 'r0' : `(r0 & ${n(bits === 8 ? 255 : 65535)})`;
    const toAcc = bits === 32 ? 'r0 = v;' : `r0 = (r0 & ${n(bits === 8 ? -256 : -65536)}) | v;`;
    const si = `r6 = (r6 + ${step}) | 0;`;
    const di = `r7 = (r7 + ${step}) | 0;`;
    const io = { mayFault: true, setsEip: false };
    switch (str.kind) {
      case 'lods':
        return { ...io, code: `{ const v = ${rd(bits, 'r6', u)}; ${toAcc} ${si} }`, stores: false };
      case 'stos':
        return { ...io, code: `{ ${wr(bits, 'r7', acc, u, di)} }`, stores: true };
      case 'movs':
        return {
          ...io,
          code: `{ const v = ${rd(bits, 'r6', u)}; ${wr(bits, 'r7', 'v', u, `${si} ${di}`)} }`,
          stores: true,
        };
      case 'scas':
        return deferred(
          `{ const v = ${rd(bits, 'r7', u)}; fa = ${acc}; fb = v; fv = (fa - fb) & 255; ${di} }`,
          LazyOp.sub + BYTE_LAZY,
          true,
        );
      default:
        return deferred(
          `{ const a = ${rd(bits, 'r6', u)}, v = ${rd(bits, 'r7', u)}; fa = a; fb = v; fv = (fa - fb) & 255; ${si} ${di} }`,
          LazyOp.sub + BYTE_LAZY,
          true,
        );
    }
  }

  // MOVZX/MOVSX r32 from an 8- or 16-bit register or memory operand.
  if ((m === 'movzx' || m === 'movsx') && d >= 0 && i.operandSize === 32) {
    const srcBits =
      i.op1Kind === OpKind.memory ? (i.memSize === MemSize.u8 ? 8 : i.memSize === MemSize.u16 ? 16 : 0) : 0;
    let src: string | undefined;
    let bits = srcBits;
    let faults = false;
    if (o1 === OpKind.register) {
      src = readSmallReg(i.op1Register);
      bits = i.op1Register >= Register.ax ? 16 : 8;
    } else if (o1 === OpKind.memory && srcBits !== 0) {
      const addr = address(i, mode, srcBits >> 3, false);
      if (addr !== undefined) src = rd(srcBits, addr, u);
      faults = true;
    }
    if (src !== undefined) {
      const shift = 32 - bits;
      const v = m === 'movzx' ? src : `((${src} << ${n(shift)}) >> ${n(shift)})`;
      return { code: `r${n(d)} = ${v};`, mayFault: faults, stores: false, setsEip: false };
    }
    return undefined;
  }

  // Byte memory forms: MOV to and from 8-bit registers, MOV/CMP/TEST with an immediate.
  if (i.memSize === MemSize.u8 && i.opCount === 2 && (o0 === OpKind.memory || o1 === OpKind.memory)) {
    if (m === 'mov' && o0 === OpKind.register) {
      const addr = address(i, mode, 1, false);
      const w = addr === undefined ? undefined : writeByteReg(i.op0Register, rd(8, addr, u));
      if (w === undefined) return undefined;
      return { code: w, mayFault: true, stores: false, setsEip: false };
    }
    if (m === 'mov' && o0 === OpKind.memory) {
      const v = o1 === OpKind.immediate ? n(i.immediate & 255) : readSmallReg(i.op1Register);
      const addr = address(i, mode, 1, true);
      if (v === undefined || addr === undefined) return undefined;
      return {
        code: `{ const v = ${v}; ${wr(8, addr, 'v', u)} }`,
        mayFault: true,
        stores: true,
        setsEip: false,
      };
    }
    if ((m === 'cmp' || m === 'test') && o0 === OpKind.memory) {
      const b = o1 === OpKind.immediate ? n(i.immediate & 255) : readSmallReg(i.op1Register);
      const addr = address(i, mode, 1, false);
      if (b === undefined || addr === undefined) return undefined;
      return m === 'cmp'
        ? deferred(`fa = ${rd(8, addr, u)}; fb = ${b}; fv = (fa - fb) & 255;`, LazyOp.sub + BYTE_LAZY, true)
        : deferred(`fa = ${rd(8, addr, u)}; fb = ${b}; fv = fa & fb;`, LazyOp.logic + BYTE_LAZY, true);
    }
    // An ALU operation into an 8-bit register from a byte in memory: the 8-bit ALU template below.
    if (ALU_NAMES[m] === undefined || o0 !== OpKind.register) return undefined;
  }

  // NOP forms and PAUSE (a spin-loop hint): nothing to do.
  if (m === 'nop') return plain('');

  // 8-bit ALU with a register destination (CMP AL, imm8; XOR r8, r/m8; TEST r8, r8; ...): flags
  // deferred at 8 bits, or dead; ADC and SBB through tier 0's `alu` (passed as X.alu).
  const aop8 = ALU_NAMES[m];
  if (aop8 !== undefined && i.opCount === 2 && o0 === OpKind.register) {
    const a = readSmallReg(i.op0Register);
    if (a !== undefined && i.op0Register <= Register.bh) {
      let b: string | undefined;
      let faults = false;
      if (o1 === OpKind.register) b = readSmallReg(i.op1Register);
      else if (o1 === OpKind.immediate) b = n(i.immediate & 255);
      else if (o1 === OpKind.memory && i.memSize === MemSize.u8) {
        const addr = address(i, mode, 1, false);
        if (addr !== undefined) b = rd(8, addr, u);
        faults = true;
      }
      const pure = BYTE_OPS[aop8];
      if (b !== undefined && flagsDead && pure !== undefined) {
        // Flags the next instruction overwrites: the result alone (CMP/TEST only read the operand).
        const w = pure === '' ? undefined : writeByteReg(i.op0Register, 'v');
        const code =
          w === undefined ? `{ const v = ${b}; }` : `{ const v = (${a} ${pure} ${b}) & 255; ${w} }`;
        return { code: pure === '' && !faults ? '' : code, mayFault: faults, stores: false, setsEip: false };
      }
      const writes = aop8 !== AluOp.cmp && aop8 !== AluOp.test;
      const w = b === undefined ? undefined : writes ? writeByteReg(i.op0Register, 'fv') : '';
      if (b !== undefined && w !== undefined) {
        // ADC and SBB read CF: tier 0's `alu` (X.alu), with the flags through the state.
        if (pure === undefined)
          return viaState(`fa = ${a}; fb = ${b}; fv = X.alu(s, ${n(aop8)}, fa, fb, 8); ${w}`, faults);
        // The rest defer their flags at 8 bits: `fa`, `fb` and `fv` as tier 0's `alu` records them.
        const arith = aop8 === AluOp.add || aop8 === AluOp.sub || aop8 === AluOp.cmp;
        const op = pure === '' ? (aop8 === AluOp.cmp ? '-' : '&') : pure;
        const calc = arith ? `fa = ${a}; fb = ${b}; fv = (fa ${op} fb) & 255;` : `fv = ${a} ${op} ${b};`;
        const lazy = aop8 === AluOp.add ? LazyOp.add : arith ? LazyOp.sub : LazyOp.logic;
        return deferred(`${calc} ${w}`, lazy + BYTE_LAZY, faults);
      }
    }
  }

  // MOV between 8-bit registers, or an immediate into one.
  if (
    m === 'mov' &&
    i.opCount === 2 &&
    o0 === OpKind.register &&
    i.op0Register >= Register.al &&
    i.op0Register <= Register.bh
  ) {
    const v =
      o1 === OpKind.immediate
        ? n(i.immediate & 255)
        : o1 === OpKind.register && i.op1Register >= Register.al && i.op1Register <= Register.bh
          ? readSmallReg(i.op1Register)
          : undefined;
    const w = v === undefined ? undefined : writeByteReg(i.op0Register, v);
    if (w !== undefined) return plain(w);
  }

  // 16-bit MOV between registers, memory and immediates.
  if (m === 'mov' && i.operandSize === 16 && i.opCount === 2) {
    let v: string | undefined;
    let faults = false;
    if (o1 === OpKind.register) v = readWord(i.op1Register);
    else if (o1 === OpKind.immediate) v = n(i.immediate & 65535);
    else if (o1 === OpKind.memory && i.memSize === MemSize.u16) {
      const addr = address(i, mode, 2, false);
      if (addr !== undefined) v = rd(16, addr, u);
      faults = true;
    }
    if (v !== undefined && o0 === OpKind.register) {
      const w = writeWordReg(i.op0Register, v);
      if (w !== undefined) return { code: w, mayFault: faults, stores: false, setsEip: false };
    }
    if (v !== undefined && o0 === OpKind.memory && i.memSize === MemSize.u16 && o1 !== OpKind.memory) {
      const addr = address(i, mode, 2, true);
      if (addr !== undefined) {
        return {
          code: `{ const v = ${v}; ${wr(16, addr, 'v', u)} }`,
          mayFault: true,
          stores: true,
          setsEip: false,
        };
      }
    }
    return undefined;
  }

  // SHL/SAL, SHR and SAR of an 8- or 16-bit register by 1 or an immediate: the result and the
  // lazy flags of tier 0's `shift` computed inline (the flags go to the state at that width).
  // The shift or rotate, its lazy operation (SHL/SAL, SHR, SAR) and a count that is not CL
  // (masked to 5 bits), for these templates and the 32-bit ones below.
  const sh = SHIFT_NAMES[m];
  const lazyShift = sh === undefined ? undefined : LAZY_SHIFT[sh];
  const k = o1 === OpKind.immediate ? i.immediate & 31 : 1;
  if (lazyShift !== undefined && o0 === OpKind.register && o1 !== OpKind.register) {
    const id = i.op0Register;
    const bits = id >= Register.al && id <= Register.bh ? 8 : id >= Register.ax && id <= Register.di ? 16 : 0;
    const a = readSmallReg(id);
    if (bits !== 0 && a !== undefined) {
      if (k === 0) return plain('');
      const mask = n(bits === 8 ? 255 : 65535);
      const ext = n(32 - bits);
      const v =
        lazyShift === LazyOp.shl
          ? `(fa << ${n(k)}) & ${mask}`
          : lazyShift === LazyOp.shr
            ? `fa >>> ${n(k)}`
            : `(((fa << ${ext}) >> ${ext}) >> ${n(k)}) & ${mask}`;
      const w = bits === 8 ? writeByteReg(id, 'fv') : writeWordReg(id, 'fv');
      if (w !== undefined)
        return viaState(
          `fa = ${a}; fv = ${v}; s.setLazy(${n(lazyShift)}, fa, ${n(k)}, fv, ${n(bits)}); ${w}`,
        );
    }
  }

  if (i.operandSize !== 32) return undefined;

  // NOT r32 (no flags); ADC/SBB r32 through tier 0's `alu`; IMUL r32, r/m32 (and the
  // three-operand form) through tier 0's `imul2`.
  if (m === 'not' && o0 === OpKind.register && d >= 0) return plain(`r${n(d)} = ~r${n(d)};`);
  if ((m === 'adc' || m === 'sbb') && i.opCount === 2 && o0 === OpKind.register && d >= 0) {
    const op = m === 'adc' ? AluOp.adc : AluOp.sbb;
    let b: string | undefined;
    let faults = false;
    if (o1 === OpKind.register && sr >= 0) b = `r${n(sr)}`;
    else if (o1 === OpKind.immediate) b = n(i.immediate | 0);
    else if (o1 === OpKind.memory && i.memSize === MemSize.u32) {
      const addr = address(i, mode, 4, false);
      if (addr !== undefined) b = rd(32, addr, u);
      faults = true;
    }
    if (b !== undefined) return viaState(`r${n(d)} = X.alu(s, ${n(op)}, r${n(d)}, ${b}, 32);`, faults);
  }
  if (m === 'imul' && d >= 0 && (i.opCount === 2 || (i.opCount === 3 && i.op2Kind === OpKind.immediate))) {
    let a: string | undefined;
    let faults = false;
    if (o1 === OpKind.register && sr >= 0) a = `r${n(sr)}`;
    else if (o1 === OpKind.memory && i.memSize === MemSize.u32) {
      const addr = address(i, mode, 4, false);
      if (addr !== undefined) a = rd(32, addr, u);
      faults = true;
    }
    const b = i.opCount === 3 ? n(i.immediate | 0) : `r${n(d)}`;
    // Flags that the next instruction overwrites are not computed: the product alone.
    if (a !== undefined && flagsDead)
      return { code: `r${n(d)} = Math.imul(${a}, ${b});`, mayFault: faults, stores: false, setsEip: false };
    if (a !== undefined) return viaState(`r${n(d)} = X.imul2(s, ${a}, ${b}, 32);`, faults);
  }
  // NEG r32: flags as SUB from 0, deferred.
  if (m === 'neg' && o0 === OpKind.register && d >= 0) {
    // Tier 0's `neg` records CF = (a !== 0) through a SUB 0 - a.
    return deferred(`fa = 0; fb = r${n(d)}; fv = (0 - fb) | 0; r${n(d)} = fv;`, LazyOp.sub);
  }

  // SETcc r/m8: 1 or 0 from the condition (fused with deferred flags when it can be).
  const setcc = m.startsWith('set') && i.opCount === 1 ? ccOf(m.slice(3)) : -1;
  if (setcc >= 0) {
    const c = cond(setcc);
    const v = `(${c.code} ? 1 : 0)`;
    if (o0 === OpKind.register) {
      const w = writeByteReg(i.op0Register, v);
      if (w !== undefined)
        return { code: w, mayFault: false, stores: false, setsEip: false, stateFlags: c.state };
    } else if (o0 === OpKind.memory && i.memSize === MemSize.u8) {
      const addr = address(i, mode, 1, true);
      if (addr !== undefined) {
        return {
          code: `{ const v = ${v}; ${wr(8, addr, 'v', u)} }`,
          mayFault: true,
          stores: true,
          setsEip: false,
          stateFlags: c.state,
        };
      }
    }
    return undefined;
  }

  // CMOVcc r32, r/m32: the source is read (and may fault) whether or not the condition holds.
  if (m.startsWith('cmov') && d >= 0 && i.opCount === 2) {
    const cc = ccOf(m.slice(4));
    let src: string | undefined;
    let faults = false;
    if (o1 === OpKind.register && sr >= 0) src = `r${n(sr)}`;
    else if (o1 === OpKind.memory && i.memSize === MemSize.u32) {
      const addr = address(i, mode, 4, false);
      if (addr !== undefined) src = rd(32, addr, u);
      faults = true;
    }
    if (cc >= 0 && src !== undefined) {
      const c = cond(cc);
      return {
        code: `{ const v = ${src}; if (${c.code}) r${n(d)} = v; }`,
        mayFault: faults,
        stores: false,
        setsEip: false,
        stateFlags: c.state,
      };
    }
  }

  // LEAVE (32-bit, flat 32-bit stack): ESP = EBP + 4 and EBP = [EBP], reading first.
  if (m === 'leave' && i.opCount === 0 && (mode & 2) !== 0) {
    return {
      code: `{ const v = ${rd(32, 'r5', u)}; r4 = (r5 + 4) | 0; r5 = v; }`,
      mayFault: true,
      stores: false,
      setsEip: false,
    };
  }

  // INC/DEC of a dword in memory (read-modify-write).
  if ((m === 'inc' || m === 'dec') && o0 === OpKind.memory && i.memSize === MemSize.u32) {
    const addr = address(i, mode, 4, true);
    if (addr !== undefined) {
      const op = m === 'inc' ? LazyOp.inc : LazyOp.dec;
      const v = m === 'inc' ? '(fa + 1) | 0' : '(fa - 1) | 0';
      return deferred(rmw32(addr, u, `fb = 1; fv = ${v};`), op, true, true);
    }
  }

  // SHL/SAL, SHR and SAR of a 32-bit register: flags deferred as the lazy shift operations (the
  // operand in `fa`, the count in `fb`). A count of 0 changes nothing, flags included: with an
  // immediate that is known here; with CL the flags become pending only when the count is not
  // 0, which `fo` records at run time.
  if (lazyShift !== undefined && o0 === OpKind.register && d >= 0) {
    const r = `r${n(d)}`;
    const op = lazyShift === LazyOp.shl ? '<<' : lazyShift === LazyOp.shr ? '>>>' : '>>';
    if (o1 !== OpKind.register) {
      if (k === 0) return plain('');
      return deferred(`fa = ${r}; fb = ${n(k)}; fv = (fa ${op} ${n(k)}) | 0; ${r} = fv;`, lazyShift);
    }
    return {
      code: `{ const k = r1 & 31; if (k !== 0) { fa = ${r}; fb = k; fv = (fa ${op} k) | 0; ${r} = fv; fo = ${n(lazyShift)}; } }`,
      mayFault: false,
      stores: false,
      setsEip: false,
      maybeDeferred: true,
    };
  }
  // ROL/ROR whose CF and OF the next instruction overwrites: the rotation alone (a count of 0
  // leaves the value, which `(a << 0) | (a >>> 0)` is).
  if (flagsDead && (sh === ShiftOp.rol || sh === ShiftOp.ror) && o0 === OpKind.register && d >= 0) {
    const r = `r${n(d)}`;
    const [toward, back] = sh === ShiftOp.rol ? ['<<', '>>>'] : ['>>>', '<<'];
    if (o1 === OpKind.register) {
      return plain(`{ const k = r1 & 31; ${r} = (${r} ${toward} k) | (${r} ${back} ((32 - k) & 31)); }`);
    }
    return plain(k === 0 ? '' : `${r} = (${r} ${toward} ${n(k)}) | (${r} ${back} ${n(32 - k)});`);
  }
  // Rotates of a 32-bit register by 1, an immediate or CL: tier 0's `shift`, called directly
  // (passed to the block as X.shift).
  if (sh !== undefined && o0 === OpKind.register && d >= 0) {
    const count =
      o1 === OpKind.register ? '(r1 & 255)' : o1 === OpKind.immediate ? n(i.immediate & 255) : '1';
    return viaState(`r${n(d)} = X.shift(s, ${n(sh)}, r${n(d)}, ${count}, 32);`);
  }

  // Register-register and register-immediate forms.
  if (m === 'mov' && o0 === OpKind.register && d >= 0) {
    if (o1 === OpKind.register && sr >= 0) return plain(`r${n(d)} = r${n(sr)};`);
    if (o1 === OpKind.immediate) return plain(`r${n(d)} = ${n(i.immediate | 0)};`);
  }
  // ADC/SBB read CF: they have their own template above.
  const aop = m === 'adc' || m === 'sbb' ? undefined : ALU_NAMES[m];
  if (aop !== undefined && i.opCount === 2 && o0 === OpKind.register && d >= 0) {
    const b =
      o1 === OpKind.register && sr >= 0
        ? `r${n(sr)}`
        : o1 === OpKind.immediate
          ? n(i.immediate | 0)
          : undefined;
    if (b !== undefined) {
      const a = aluCode(aop, `r${n(d)}`, b, `r${n(d)}`);
      return deferred(a.code, a.lazy);
    }
  }
  if ((m === 'inc' || m === 'dec') && o0 === OpKind.register && d >= 0) {
    const op = m === 'inc' ? LazyOp.inc : LazyOp.dec;
    const v = m === 'inc' ? '(fa + 1) | 0' : '(fa - 1) | 0';
    return deferred(`fa = r${n(d)}; fb = 1; fv = ${v}; r${n(d)} = fv;`, op);
  }
  if (m === 'lea' && d >= 0) {
    const off = offsetOf(i);
    if (off === undefined) return undefined;
    return plain(`r${n(d)} = ${off};`);
  }

  // Stack: PUSH r32 / imm, POP r32 (flat SS, 32-bit stack).
  if ((mode & 2) !== 0 && m === 'push' && i.opCount === 1) {
    let v: string | undefined;
    if (o0 === OpKind.register && d >= 0) v = `r${n(d)}`;
    else if (o0 === OpKind.immediate) v = n(i.immediate | 0);
    if (v !== undefined) {
      return {
        code: `{ const v = ${v}; const sp = (r4 - 4) | 0; ${wr(32, 'sp', 'v', u, 'r4 = sp;')} }`,
        mayFault: true,
        stores: true,
        setsEip: false,
      };
    }
  }
  if ((mode & 2) !== 0 && m === 'pop' && o0 === OpKind.register && d >= 0) {
    // POP ESP leaves ESP = the popped value (the increment happens first).
    return {
      code: `{ const v = ${rd(32, 'r4', u)}; r4 = (r4 + 4) | 0; r${n(d)} = v; }`,
      mayFault: true,
      stores: false,
      setsEip: false,
    };
  }

  // Memory forms in flat segments.
  if (o0 === OpKind.memory || o1 === OpKind.memory) {
    // Dword accesses only (the operand-size attribute says nothing about byte forms).
    if (i.memSize !== MemSize.u32) return undefined;
    const addr = address(i, mode, 4, o0 === OpKind.memory && m === 'mov');
    if (addr === undefined) return undefined;
    if (m === 'mov' && o0 === OpKind.register && d >= 0) {
      return { code: `r${n(d)} = ${rd(32, addr, u)};`, mayFault: true, stores: false, setsEip: false };
    }
    if (m === 'mov' && o0 === OpKind.memory) {
      let v: string | undefined;
      if (o1 === OpKind.register && sr >= 0) v = `r${n(sr)}`;
      else if (o1 === OpKind.immediate) v = n(i.immediate | 0);
      if (v === undefined) return undefined;
      return { code: wr(32, addr, v, u), mayFault: true, stores: true, setsEip: false };
    }
    if (aop !== undefined && i.opCount === 2) {
      if (o0 === OpKind.register && d >= 0) {
        // The load comes first: if it faults, the flag locals still hold the previous flags.
        const a = aluCode(aop, `r${n(d)}`, 'v', `r${n(d)}`);
        return deferred(`{ const v = ${rd(32, addr, u)}; ${a.code} }`, a.lazy, true);
      }
      let b: string | undefined;
      if (o1 === OpKind.register && sr >= 0) b = `r${n(sr)}`;
      else if (o1 === OpKind.immediate) b = n(i.immediate | 0);
      if (b === undefined) return undefined;
      if (o0 === OpKind.memory && aop !== AluOp.cmp && aop !== AluOp.test) {
        // Read-modify-write: `fa` is the old value.
        const waddr = address(i, mode, 4, true);
        if (waddr === undefined) return undefined;
        const a = aluCode(aop, 'fa', b, undefined);
        return deferred(rmw32(waddr, u, a.code), a.lazy, true, true);
      }
      if (aop === AluOp.cmp || aop === AluOp.test) {
        const a = aluCode(aop, rd(32, addr, u), b, undefined);
        return deferred(a.code, a.lazy, true);
      }
    }
  }
  return undefined;
}
