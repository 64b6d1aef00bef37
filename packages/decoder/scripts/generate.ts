/**
 * Derives the decoder's lookup tables from the declarative rows in `src/rows/` and writes
 * `src/generated/tables.ts`. Deterministic: the same rows always give the same file, and CI
 * fails when the committed file differs from a fresh run.
 *
 *   pnpm --filter @ringzero/decoder generate
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemSize, OperandDecode } from '../src/kinds';
import { Register } from '../src/registers';
import { allRows } from '../src/rows/index';
import type { Row } from '../src/rows/row';

const OD = OperandDecode;

/** Row operand token → [decode kind, argument (memory size or fixed register id)]. */
const OPERAND_TOKENS: Record<string, readonly [number, number]> = {
  r8: [OD.reg8, MemSize.none],
  r16: [OD.reg16, MemSize.none],
  r32: [OD.reg32, MemSize.none],
  r64: [OD.reg64, MemSize.none],
  rm8: [OD.rm8, MemSize.u8],
  rm16: [OD.rm16, MemSize.u16],
  rm32: [OD.rm32, MemSize.u32],
  rm64: [OD.rm64, MemSize.u64],
  m: [OD.mem, MemSize.unsized],
  m8: [OD.mem, MemSize.u8],
  m16: [OD.mem, MemSize.u16],
  m32: [OD.mem, MemSize.u32],
  m64: [OD.mem, MemSize.u64],
  m128: [OD.mem, MemSize.u128],
  m256: [OD.mem, MemSize.u256],
  m2byte: [OD.mem, MemSize.u16],
  m32fp: [OD.mem, MemSize.f32],
  m64fp: [OD.mem, MemSize.f64],
  m80fp: [OD.mem, MemSize.f80],
  m16int: [OD.mem, MemSize.i16],
  m32int: [OD.mem, MemSize.i32],
  m64int: [OD.mem, MemSize.i64],
  m80bcd: [OD.mem, MemSize.bcd],
  mfar16: [OD.mem, MemSize.far16],
  mfar32: [OD.mem, MemSize.far32],
  mfar64: [OD.mem, MemSize.far64],
  mdesc32: [OD.mem, MemSize.desc32],
  mdesc64: [OD.mem, MemSize.desc64],
  m16x2: [OD.mem, MemSize.bound16],
  m32x2: [OD.mem, MemSize.bound32],
  menv16: [OD.mem, MemSize.env14],
  menv32: [OD.mem, MemSize.env28],
  mstate16: [OD.mem, MemSize.state94],
  mstate32: [OD.mem, MemSize.state108],
  m512: [OD.mem, MemSize.fxsave],
  rr16: [OD.rr16, MemSize.none],
  rr32: [OD.rr32, MemSize.none],
  rr64: [OD.rr64, MemSize.none],
  rx32: [OD.rx32, MemSize.none],
  rx64: [OD.rx64, MemSize.none],
  r32m16: [OD.r32m16, MemSize.u16],
  r64m16: [OD.r64m16, MemSize.u16],
  r32m8: [OD.r32m16, MemSize.u8],
  r64m8: [OD.r64m16, MemSize.u8],
  r64m32: [OD.r64m16, MemSize.u32],
  sreg: [OD.sreg, MemSize.none],
  sregw: [OD.sregw, MemSize.none],
  cr: [OD.cr, MemSize.none],
  dr: [OD.dr, MemSize.none],
  zr8: [OD.zr8, MemSize.none],
  zr16: [OD.zr16, MemSize.none],
  zr32: [OD.zr32, MemSize.none],
  zr64: [OD.zr64, MemSize.none],
  ib: [OD.ib, MemSize.none],
  iw: [OD.iw, MemSize.none],
  id: [OD.id, MemSize.none],
  iq: [OD.iq, MemSize.none],
  ibs16: [OD.ibs16, MemSize.none],
  ibs32: [OD.ibs32, MemSize.none],
  ibs64: [OD.ibs64, MemSize.none],
  ids64: [OD.ids64, MemSize.none],
  ib2: [OD.ib2, MemSize.none],
  rel8: [OD.rel8, MemSize.none],
  rel16: [OD.rel16, MemSize.none],
  rel32: [OD.rel32, MemSize.none],
  ptr1616: [OD.ptr1616, MemSize.none],
  ptr1632: [OD.ptr1632, MemSize.none],
  mo8: [OD.moffs, MemSize.u8],
  mo16: [OD.moffs, MemSize.u16],
  mo32: [OD.moffs, MemSize.u32],
  mo64: [OD.moffs, MemSize.u64],
  ssi8: [OD.segSI, MemSize.u8],
  ssi16: [OD.segSI, MemSize.u16],
  ssi32: [OD.segSI, MemSize.u32],
  ssi64: [OD.segSI, MemSize.u64],
  sdi8: [OD.esDI, MemSize.u8],
  sdi16: [OD.esDI, MemSize.u16],
  sdi32: [OD.esDI, MemSize.u32],
  sdi64: [OD.esDI, MemSize.u64],
  sbx: [OD.segBXAL, MemSize.u8],
  sti: [OD.sti, MemSize.none],
  one: [OD.one, MemSize.none],
  mm: [OD.mm, MemSize.none],
  mmrm64: [OD.mmrm, MemSize.u64],
  mmrm32: [OD.mmrm, MemSize.u32],
  rmm: [OD.rmm, MemSize.none],
  xmm: [OD.xmm, MemSize.none],
  xmmrm128: [OD.xmmrm, MemSize.u128],
  xmmrm64: [OD.xmmrm, MemSize.u64],
  xmmrm32: [OD.xmmrm, MemSize.u32],
  xmmrm16: [OD.xmmrm, MemSize.u16],
  xmmrm8: [OD.xmmrm, MemSize.u8],
  rxmm: [OD.rxmm, MemSize.none],
  ymm: [OD.ymm, MemSize.none],
  ymmrm256: [OD.ymmrm, MemSize.u256],
  rymm: [OD.rymm, MemSize.none],
  vx: [OD.vvvvX, MemSize.none],
  vy: [OD.vvvvY, MemSize.none],
  vr32: [OD.vvvvR32, MemSize.none],
  vr64: [OD.vvvvR64, MemSize.none],
  kr: [OD.kr, MemSize.none],
  rkr: [OD.rkr, MemSize.none],
  krm8: [OD.krm, MemSize.u8],
  krm16: [OD.krm, MemSize.u16],
  krm32: [OD.krm, MemSize.u32],
  krm64: [OD.krm, MemSize.u64],
  vk: [OD.vvvvK, MemSize.none],
  is4x: [OD.is4x, MemSize.none],
  is4y: [OD.is4y, MemSize.none],
  // VSIB: vm<index bits><x|y: index register> then the element size (the memory size reported).
  vm32x32: [OD.vsibx, MemSize.u32],
  vm32x64: [OD.vsibx, MemSize.u64],
  vm32y32: [OD.vsiby, MemSize.u32],
  vm64x32: [OD.vsibx, MemSize.u32],
  vm64x64: [OD.vsibx, MemSize.u64],
  vm64y32: [OD.vsiby, MemSize.u32],
  vm64y64: [OD.vsiby, MemSize.u64],
};

const MEM_ONLY = new Set<number>([OD.mem, OD.vsibx, OD.vsiby]);
const REG_ONLY = new Set<number>([OD.rr16, OD.rr32, OD.rr64, OD.sti, OD.rmm, OD.rxmm, OD.rymm, OD.rkr]);
const VVVV = new Set<number>([OD.vvvvX, OD.vvvvY, OD.vvvvR32, OD.vvvvR64, OD.vvvvK]);
const MODRM_USERS = new Set<number>([
  OD.reg8,
  OD.reg16,
  OD.reg32,
  OD.reg64,
  OD.rm8,
  OD.rm16,
  OD.rm32,
  OD.rm64,
  OD.mem,
  OD.rr16,
  OD.rr32,
  OD.rr64,
  OD.rx32,
  OD.rx64,
  OD.r32m16,
  OD.r64m16,
  OD.sreg,
  OD.sregw,
  OD.cr,
  OD.dr,
  OD.sti,
  OD.mm,
  OD.mmrm,
  OD.rmm,
  OD.xmm,
  OD.xmmrm,
  OD.rxmm,
  OD.ymm,
  OD.ymmrm,
  OD.rymm,
  OD.kr,
  OD.rkr,
  OD.krm,
  OD.vsibx,
  OD.vsiby,
]);

const FLAG_LETTERS: Record<string, number> = {
  c: 0x1,
  p: 0x4,
  a: 0x10,
  z: 0x40,
  s: 0x80,
  t: 0x100,
  i: 0x200,
  d: 0x400,
  o: 0x800,
  l: 0x3000,
  n: 0x4000,
  f: 0x10000,
  v: 0x80000,
  x: 0x40000,
};

const FLOW: Record<string, number> = {
  br: 1,
  jcc: 2,
  call: 3,
  ibr: 4,
  icall: 5,
  ret: 6,
  int: 7,
  iret: 8,
  sys: 9,
  exc: 10,
  halt: 11,
};

const ACCESS: Record<string, number> = { n: 0, r: 1, w: 2, m: 3, c: 4 };

/** Default operand access when a row does not say: first operand read-write, the rest read. */
function defaultAccess(count: number): number[] {
  return Array.from({ length: count }, (_, i) => (i === 0 ? 3 : 1));
}

interface Form {
  code: number;
  name: string;
  mnemonic: number;
  map: number;
  opcodes: number[];
  match: number;
  ops: number[];
  args: number[];
  flags: [number, number, number, number, number];
  attr: number;
  /** VEX: bits 0–1 L (0 ignored, 1 L0, 2 L1), bit 4 uses VEX.vvvv, bit 5 VEX-encoded. */
  vex: number;
  order: number;
}

function fail(row: Row, why: string): never {
  throw new Error(`row ${row[0]}: ${why}`);
}

function parseFlags(row: Row): [number, number, number, number, number] {
  const out: [number, number, number, number, number] = [0, 0, 0, 0, 0];
  const keys = ['r', 'w', 's', 'c', 'u'];
  for (const part of row[4].split(/\s+/).filter(Boolean)) {
    const [k, letters] = part.split(':');
    const slot = keys.indexOf(k ?? '');
    if (slot < 0 || letters === undefined) fail(row, `bad flags token ${part}`);
    if (letters === 'vif') {
      out[slot] = (out[slot] ?? 0) | 0x80000;
      continue;
    }
    for (const ch of letters) {
      const bit = FLAG_LETTERS[ch];
      if (bit === undefined) fail(row, `bad flag letter ${ch}`);
      out[slot] = (out[slot] ?? 0) | bit;
    }
  }
  return out;
}

function build(rows: readonly Row[]) {
  const mnemonics: string[] = [''];
  const mnemonicIndex = new Map<string, number>([['', 0]]);
  const cpuFeatures: string[] = ['none'];
  const forms: Form[] = [];
  const seen = new Set<string>();

  rows.forEach((row, order) => {
    const [name, mnemonic, encoding, operands] = row;
    if (seen.has(name)) fail(row, 'duplicate code name');
    seen.add(name);
    if (!/^[a-z0-9_]+$/.test(name)) fail(row, 'code names are lower-case [a-z0-9_]');
    let mn = mnemonicIndex.get(mnemonic);
    if (mn === undefined) {
      mn = mnemonics.length;
      mnemonics.push(mnemonic);
      mnemonicIndex.set(mnemonic, mn);
    }

    const ops: number[] = [];
    const args: number[] = [];
    for (const tok of operands.split(/\s+/).filter(Boolean)) {
      const known = OPERAND_TOKENS[tok];
      if (known) {
        ops.push(known[0]);
        args.push(known[1]);
        continue;
      }
      const reg = (Register as Record<string, number>)[tok];
      const regId = reg ?? registerIdByName(tok);
      if (regId === 0) fail(row, `unknown operand ${tok}`);
      ops.push(OD.fixed);
      args.push(regId);
    }
    if (ops.length > 4) fail(row, 'more than four operands');

    // Encoding.
    const toks = encoding.split(/\s+/).filter(Boolean);
    let mp = 0;
    const opcodeBytes: number[] = [];
    let plusR = false;
    let modrmKind = 0;
    let regDigit = 0;
    let fixedModrm = 0;
    let modes = 0b111;
    let osMask = 0b111;
    let asMask = 0b111;
    let d64 = 0;
    let f64 = 0;
    let rexw = 0;
    let norexb = 0;
    let vex = 0;
    for (const t of toks) {
      if (t === 'vex') vex |= 0x20;
      else if (t === 'L0') vex |= 1;
      else if (t === 'L1') vex |= 2;
      else if (t === 'LIG' || t === 'WIG') {
        // ignored bit: no condition
      } else if (t === 'W0') rexw = 2;
      else if (t === 'W0x') rexw = 3;
      else if (t === 'W1') rexw = 1;
      else if (t === 'pNP') mp = 1;
      else if (t === 'p66') mp = 2;
      else if (t === 'pF3') mp = 3;
      else if (t === 'pF2') mp = 4;
      else if (t === 'pNR') mp = 5;
      else if (/^[0-9A-F]{2}$/.test(t)) {
        if (modrmKind === 0 && !plusR && needsOpcode(opcodeBytes)) opcodeBytes.push(Number.parseInt(t, 16));
        else {
          modrmKind = 3;
          fixedModrm = Number.parseInt(t, 16);
        }
      } else if (t === '+r') plusR = true;
      else if (t === '/r') modrmKind = 1;
      else if (/^\/[0-7]$/.test(t)) {
        modrmKind = 2;
        regDigit = Number(t[1]);
      } else if (t === 'o16' || t === 'o32' || t === 'o64') {
        const bit = t === 'o16' ? 1 : t === 'o32' ? 2 : 4;
        osMask = osMask === 0b111 ? bit : osMask | bit;
      } else if (t === 'a16' || t === 'a32' || t === 'a64') {
        const bit = t === 'a16' ? 1 : t === 'a32' ? 2 : 4;
        asMask = asMask === 0b111 ? bit : asMask | bit;
      } else if (t === 'i64') modes &= 0b011;
      else if (t === 'x64') modes &= 0b100;
      else if (t === 'd64') d64 = 1;
      else if (t === 'f64') f64 = 1;
      else if (t === 'rexw') rexw = 1;
      else if (t === 'norexw') rexw = 2;
      else if (t === 'norexb') norexb = 1;
      else fail(row, `bad encoding token ${t}`);
    }
    let map = 0;
    let opcode: number;
    if (opcodeBytes[0] === 0x0f) {
      if (opcodeBytes[1] === 0x38 && opcodeBytes.length === 3) map = 2;
      else if (opcodeBytes[1] === 0x3a && opcodeBytes.length === 3) map = 3;
      else if (opcodeBytes.length === 2) map = 1;
      else fail(row, 'bad opcode bytes');
      opcode = opcodeBytes[opcodeBytes.length - 1] ?? 0;
    } else {
      if (opcodeBytes.length !== 1) fail(row, 'bad opcode bytes');
      opcode = opcodeBytes[0] ?? 0;
    }
    if (vex !== 0) map += 3;
    if (ops.some((o) => VVVV.has(o))) vex |= 0x10;
    const usesModrm = ops.some((o) => MODRM_USERS.has(o));
    if (usesModrm && modrmKind === 0) fail(row, 'operands need ModRM but the encoding has none');
    // The decoder keys REX.B into the form choice only for opcodes without ModRM (NOP/XCHG 90).
    if (norexb && modrmKind !== 0) fail(row, 'norexb is for opcodes without ModRM');
    let modc = 0;
    if (ops.some((o) => MEM_ONLY.has(o))) modc = 1;
    if (ops.some((o) => REG_ONLY.has(o))) {
      if (modc === 1) fail(row, 'both memory-only and register-only operands');
      modc = 2;
    }
    if (modrmKind === 3) modc = 2;
    // MOV to/from CRn/DRn: the mod bits are ignored and r/m is always a register (SDM Vol. 2, MOV).
    if (ops.some((o) => o === OD.rx32 || o === OD.rx64)) modc = 3;
    const opcodes = plusR ? Array.from({ length: 8 }, (_, i) => opcode + i) : [opcode];
    if (plusR && (opcode & 7) !== 0) fail(row, '+r opcode must have low bits 0');

    const match =
      (modes |
        (osMask << 3) |
        (asMask << 6) |
        (mp << 9) |
        (d64 << 12) |
        (f64 << 13) |
        (rexw << 14) |
        (norexb << 16) |
        (modrmKind << 17) |
        (regDigit << 19) |
        (modc << 22) |
        (fixedModrm << 24)) >>>
      0;

    // Attributes.
    let attr = 0;
    let access: number[] = defaultAccess(ops.length);
    for (const a of row[5].split(/\s+/).filter(Boolean)) {
      if (a === 'lock') attr |= 1;
      else if (a === 'rep') attr |= 2;
      else if (a === 'repe') attr |= 4;
      else if (a === 'cpl0') attr |= 1 << 3;
      else if (a === 'iopl') attr |= 2 << 3;
      else if (a.startsWith('flow:')) {
        const f = FLOW[a.slice(5)];
        if (f === undefined) fail(row, `bad flow ${a}`);
        attr |= f << 5;
      } else if (a.startsWith('cpu:')) {
        const feat = a.slice(4);
        let id = cpuFeatures.indexOf(feat);
        if (id < 0) {
          id = cpuFeatures.length;
          cpuFeatures.push(feat);
        }
        attr |= id << 9;
      } else if (a.startsWith('rw:')) {
        const letters = a.slice(3);
        if (letters.length !== ops.length) fail(row, `rw: needs one letter per operand (${ops.length})`);
        access = [...letters].map((ch) => {
          const v = ACCESS[ch];
          if (v === undefined) fail(row, `bad access letter ${ch}`);
          return v;
        });
      } else fail(row, `bad attribute ${a}`);
    }
    access.forEach((v, i) => {
      attr |= v << (17 + i * 3);
    });
    // Implicit fixed-register operands are counted as operands; nothing else is hidden.
    forms.push({
      code: forms.length + 1,
      name,
      mnemonic: mn,
      map,
      opcodes,
      match,
      ops,
      args,
      flags: parseFlags(row),
      attr: attr >>> 0,
      vex,
      order,
    });
  });

  // Dispatch: per (map, opcode) the candidate forms, most specific first.
  const lists: Form[][] = Array.from({ length: 7 * 256 }, () => []);
  for (const f of forms) for (const op of f.opcodes) lists[f.map * 256 + op]?.push(f);
  const specificity = (f: Form) => {
    const kind = (f.match >>> 17) & 3;
    const mp = (f.match >>> 9) & 7;
    const modc = (f.match >>> 22) & 3;
    return (kind === 3 ? 0 : 8) + (mp !== 0 ? 0 : 4) + (modc !== 0 ? 0 : 2);
  };
  const start: number[] = [];
  const dispatch: number[] = [];
  for (const list of lists) {
    start.push(dispatch.length);
    list.sort((a, b) => specificity(a) - specificity(b) || a.order - b.order);
    for (const f of list) dispatch.push(f.code);
  }
  start.push(dispatch.length);
  return { forms, mnemonics, cpuFeatures, start, dispatch };
}

function needsOpcode(bytes: number[]): boolean {
  if (bytes.length === 0) return true;
  if (bytes[0] !== 0x0f) return false;
  if (bytes.length === 1) return true;
  if (bytes.length === 2) return bytes[1] === 0x38 || bytes[1] === 0x3a;
  return false;
}

function registerIdByName(name: string): number {
  const names = Object.entries(Register);
  for (const [k, v] of names) if (k === name) return v;
  return 0;
}

function numbers(values: readonly number[], perLine = 32): string {
  const lines: string[] = [];
  for (let i = 0; i < values.length; i += perLine)
    lines.push(`  ${values.slice(i, i + perLine).join(', ')},`);
  return lines.join('\n');
}

function render(): string {
  const { forms, mnemonics, cpuFeatures, start, dispatch } = build(allRows);
  const n = forms.length + 1;
  const codeNames = ['invalid', ...forms.map((f) => f.name)];
  const mnem = [0, ...forms.map((f) => f.mnemonic)];
  const match = [0, ...forms.map((f) => f.match)];
  const ops: number[] = [0, 0, 0, 0];
  const args: number[] = [0, 0, 0, 0];
  const count = [0];
  const flags: number[] = [0, 0, 0, 0, 0];
  const attr = [0];
  const vexInfo = [0, ...forms.map((f) => f.vex)];
  for (const f of forms) {
    for (let i = 0; i < 4; i++) {
      ops.push(f.ops[i] ?? 0);
      args.push(f.args[i] ?? 0);
    }
    count.push(f.ops.length);
    flags.push(...f.flags);
    attr.push(f.attr);
  }
  const out: string[] = [];
  out.push('// @generated by scripts/generate.ts — do not edit');
  out.push(
    '// Derived from the instruction rows in src/rows/. Regenerate: pnpm --filter @ringzero/decoder generate',
  );
  out.push('');
  out.push(`/** Number of form codes, including \`invalid\` (0). */`);
  out.push(`export const CODE_COUNT = ${n};`);
  out.push('');
  out.push('/** Form code ids by name. */');
  out.push('export const Code = {');
  codeNames.forEach((name, i) => {
    out.push(`  ${name}: ${i},`);
  });
  out.push('} as const;');
  out.push('');
  out.push('/** Form code names indexed by code id. */');
  out.push('export const CODE_NAMES: readonly string[] = [');
  for (const name of codeNames) out.push(`  '${name}',`);
  out.push('];');
  out.push('');
  out.push('/** Lower-case mnemonics indexed by mnemonic id (0 is the empty mnemonic of invalid code). */');
  out.push('export const MNEMONIC_NAMES: readonly string[] = [');
  for (const m of mnemonics) out.push(`  '${m}',`);
  out.push('];');
  out.push('');
  out.push('/** CPUID feature names indexed by feature id. */');
  out.push('export const CPUID_FEATURE_NAMES: readonly string[] = [');
  for (const c of cpuFeatures) out.push(`  '${c}',`);
  out.push('];');
  out.push('');
  out.push('/** Mnemonic id of each code. */');
  out.push(`export const CODE_MNEMONIC = new Uint16Array([\n${numbers(mnem)}\n]);`);
  out.push('');
  out.push('/** Packed encoding conditions of each code (see src/decoder.ts for the bit layout). */');
  out.push(`export const CODE_MATCH = new Uint32Array([\n${numbers(match, 8)}\n]);`);
  out.push('');
  out.push('/** Operand decode kinds, four per code. */');
  out.push(`export const CODE_OPS = new Uint8Array([\n${numbers(ops)}\n]);`);
  out.push('');
  out.push('/** Operand arguments (memory size or fixed register id), four per code. */');
  out.push(`export const CODE_ARGS = new Uint8Array([\n${numbers(args)}\n]);`);
  out.push('');
  out.push('/** Operand count of each code. */');
  out.push(`export const CODE_OP_COUNT = new Uint8Array([\n${numbers(count)}\n]);`);
  out.push('');
  out.push('/** EFLAGS read, written, set, cleared, undefined: five masks per code. */');
  out.push(`export const CODE_FLAGS = new Uint32Array([\n${numbers(flags, 10)}\n]);`);
  out.push('');
  out.push(
    '/** Attributes: bit 0 lock, 1 rep, 2 repe, 3–4 privilege, 5–8 flow, 9–16 cpuid feature, 17+ access (3 bits an operand). */',
  );
  out.push(`export const CODE_ATTR = new Uint32Array([\n${numbers(attr, 8)}\n]);`);
  out.push('');
  out.push(
    '/** VEX conditions of each code: bits 0–1 L (1 = L0, 2 = L1), bit 4 uses VEX.vvvv, bit 5 VEX form. */',
  );
  out.push(`export const CODE_VEX = new Uint8Array([\n${numbers(vexInfo)}\n]);`);
  out.push('');
  out.push(
    '/** First candidate of each (map × 256 + opcode) in DISPATCH (maps 4–6 are VEX 0F/0F38/0F3A). */',
  );
  out.push(`export const DISPATCH_START = new Uint16Array([\n${numbers(start)}\n]);`);
  out.push('');
  out.push('/** Candidate codes per opcode, most specific first. */');
  out.push(`export const DISPATCH = new Uint16Array([\n${numbers(dispatch)}\n]);`);
  out.push('');
  return out.join('\n');
}

const here = dirname(fileURLToPath(import.meta.url));
const target = join(here, '..', 'src', 'generated', 'tables.ts');
writeFileSync(target, render());
console.log(`wrote ${target}`);
