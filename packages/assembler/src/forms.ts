import {
  allRows,
  codeByName,
  MEM_SIZE_BYTES,
  MemSize,
  type Row,
  registerByName,
  registerName,
} from '@ringzero/decoder';

/*
 * The encoder index: every row of the decoder (`allRows`, the same declarative rows its tables
 * are generated from) parsed into what an encoder needs — opcode bytes, ModRM use, prefixes,
 * mode and size conditions and operand specs — and grouped by mnemonic. Nothing here is written
 * per instruction: when a row is added to the decoder, the assembler can encode it.
 */

/** Mode bits: 1 = 16-bit, 2 = 32-bit, 4 = 64-bit (also used for operand/address sizes). */
export type SizeMask = number;

/** One operand of a form, as the operand matcher needs it. */
export type OpSpec =
  /** ModRM.reg: a register of the class (gpr by size, seg, cr, dr, mm, xmm, ymm). */
  | { readonly t: 'reg'; readonly cls: SpecClass; readonly size: number; readonly noCs?: boolean }
  /** ModRM.rm: a register of `cls`/`size` or memory of `mem`. `alt16`: also a 16-bit register. */
  | {
      readonly t: 'rm';
      readonly cls: SpecClass;
      readonly size: number;
      readonly mem: MemSpec;
      readonly alt16?: boolean;
    }
  /** ModRM.rm, memory only. */
  | { readonly t: 'mem'; readonly mem: MemSpec }
  /** ModRM.rm, register only (`mod` forced to 11 for MOV CRn/DRn). */
  | { readonly t: 'rr'; readonly cls: SpecClass; readonly size: number }
  /** Register number in the low three opcode bits. */
  | { readonly t: 'zr'; readonly size: number }
  /** One fixed register (decoder id). */
  | { readonly t: 'fixed'; readonly id: number }
  /** Immediate: `field` bytes; `signed`: sign-extended to the operand size (imm8 or imm32). */
  | { readonly t: 'imm'; readonly field: number; readonly signed: boolean; readonly second?: boolean }
  /** The constant 1 of the shift-by-one forms (nothing encoded). */
  | { readonly t: 'one' }
  /** Relative branch displacement of `field` bytes. */
  | { readonly t: 'rel'; readonly field: number }
  /** ptr16:16 / ptr16:32: offset of `field` bytes, then a selector. */
  | { readonly t: 'ptr'; readonly field: number }
  /** moffs: an absolute address of the address size, no ModRM. */
  | { readonly t: 'moffs'; readonly mem: MemSpec }
  /** String operand (implicit `[esi]` / `[edi]`): not written in Intel syntax. */
  | { readonly t: 'string' }
  /** XLAT's `[ebx+al]`. */
  | { readonly t: 'xlat' }
  /** The register in VEX.vvvv. */
  | { readonly t: 'vvvv'; readonly cls: SpecClass; readonly size: number }
  /**
   * Operands the encoder does not write yet: the imm8[7:4] register of VBLENDVPS/PD and VPBLENDVB
   * (`is4`) and the vector-index memory of the gathers (`vsib`). They match no operand, so
   * these forms are reported as having no form for the operands given.
   */
  | { readonly t: 'is4' | 'vsib' };

export type SpecClass = 'gpr' | 'seg' | 'cr' | 'dr' | 'st' | 'mm' | 'xmm' | 'ymm' | 'k';

/** A memory operand's size: bytes it accesses and the size keyword that selects it. */
export interface MemSpec {
  readonly memSize: number;
  /** Bytes; 0 when the size does not matter (LEA, INVLPG). */
  readonly bytes: number;
  /** The size keyword (in bytes) that names this operand; 0: no keyword, only unsized `[...]`. */
  readonly keyword: number;
  /** A far pointer (m16:16, m16:32, m16:64). */
  readonly far: boolean;
}

/** One instruction form from the decoder's rows, parsed for encoding. */
export interface Form {
  /** The decoder's form code (`Code.add_rm32_r32`). */
  readonly code: number;
  readonly name: string;
  readonly mnemonic: string;
  /** Position in the decoder's row table: earlier rows win ties, as in the decoder. */
  readonly order: number;
  /** Mandatory prefix: 0 none, 1 none allowed (NP), 2 = 66, 3 = F3, 4 = F2, 5 no F2/F3 (NR). */
  readonly mp: number;
  /** Escape bytes and opcode (`[0x0f, 0x01]`); for VEX forms only the opcode byte. */
  readonly opcode: readonly number[];
  /** VEX map (1 = 0F, 2 = 0F38, 3 = 0F3A); 0 when not VEX-encoded. */
  readonly vexMap: number;
  /** VEX.L: -1 ignored, 0 or 1. */
  readonly vexL: number;
  readonly plusR: boolean;
  /** ModRM: 0 none, 1 `/r`, 2 `/digit`, 3 fixed byte. */
  readonly modrm: number;
  readonly digit: number;
  readonly fixedModrm: number;
  readonly modes: SizeMask;
  readonly osMask: SizeMask;
  readonly asMask: SizeMask;
  readonly d64: boolean;
  readonly f64: boolean;
  /** REX.W / VEX.W: 0 any, 1 required, 2 must be clear, 3 clear in 64-bit mode. */
  readonly rexw: number;
  readonly norexb: boolean;
  readonly ops: readonly OpSpec[];
  /** Operand access letters from the row (`r`, `w`, `m`, ...), one per operand. */
  readonly access: string;
  readonly lock: boolean;
  readonly rep: boolean;
  readonly repe: boolean;
}

function memSpec(memSize: number, far = false): MemSpec {
  const bytes = MEM_SIZE_BYTES[memSize] ?? 0;
  let keyword = 0;
  switch (memSize) {
    case MemSize.u8:
    case MemSize.u16:
    case MemSize.u32:
    case MemSize.u64:
    case MemSize.u128:
    case MemSize.u256:
    case MemSize.f32:
    case MemSize.f64:
    case MemSize.f80:
    case MemSize.i16:
    case MemSize.i32:
    case MemSize.i64:
    case MemSize.bcd:
      keyword = bytes;
      break;
    case MemSize.far16:
      keyword = 2;
      break;
    case MemSize.far32:
      keyword = 4;
      break;
    case MemSize.far64:
      keyword = 8;
      break;
  }
  return { memSize, bytes, keyword, far };
}

const G = 'gpr' as const;

/** Row operand tokens → operand specs (the row vocabulary of `scripts/generate.ts`). */
const TOKENS: Readonly<Record<string, OpSpec>> = {
  r8: { t: 'reg', cls: G, size: 1 },
  r16: { t: 'reg', cls: G, size: 2 },
  r32: { t: 'reg', cls: G, size: 4 },
  r64: { t: 'reg', cls: G, size: 8 },
  rm8: { t: 'rm', cls: G, size: 1, mem: memSpec(MemSize.u8) },
  rm16: { t: 'rm', cls: G, size: 2, mem: memSpec(MemSize.u16) },
  rm32: { t: 'rm', cls: G, size: 4, mem: memSpec(MemSize.u32) },
  rm64: { t: 'rm', cls: G, size: 8, mem: memSpec(MemSize.u64) },
  m: { t: 'mem', mem: memSpec(MemSize.unsized) },
  m8: { t: 'mem', mem: memSpec(MemSize.u8) },
  m16: { t: 'mem', mem: memSpec(MemSize.u16) },
  m32: { t: 'mem', mem: memSpec(MemSize.u32) },
  m64: { t: 'mem', mem: memSpec(MemSize.u64) },
  m128: { t: 'mem', mem: memSpec(MemSize.u128) },
  m256: { t: 'mem', mem: memSpec(MemSize.u256) },
  m2byte: { t: 'mem', mem: memSpec(MemSize.u16) },
  m32fp: { t: 'mem', mem: memSpec(MemSize.f32) },
  m64fp: { t: 'mem', mem: memSpec(MemSize.f64) },
  m80fp: { t: 'mem', mem: memSpec(MemSize.f80) },
  m16int: { t: 'mem', mem: memSpec(MemSize.i16) },
  m32int: { t: 'mem', mem: memSpec(MemSize.i32) },
  m64int: { t: 'mem', mem: memSpec(MemSize.i64) },
  m80bcd: { t: 'mem', mem: memSpec(MemSize.bcd) },
  mfar16: { t: 'mem', mem: memSpec(MemSize.far16, true) },
  mfar32: { t: 'mem', mem: memSpec(MemSize.far32, true) },
  mfar64: { t: 'mem', mem: memSpec(MemSize.far64, true) },
  mdesc32: { t: 'mem', mem: memSpec(MemSize.desc32) },
  mdesc64: { t: 'mem', mem: memSpec(MemSize.desc64) },
  m16x2: { t: 'mem', mem: memSpec(MemSize.bound16) },
  m32x2: { t: 'mem', mem: memSpec(MemSize.bound32) },
  menv16: { t: 'mem', mem: memSpec(MemSize.env14) },
  menv32: { t: 'mem', mem: memSpec(MemSize.env28) },
  mstate16: { t: 'mem', mem: memSpec(MemSize.state94) },
  mstate32: { t: 'mem', mem: memSpec(MemSize.state108) },
  m512: { t: 'mem', mem: memSpec(MemSize.fxsave) },
  rr16: { t: 'rr', cls: G, size: 2 },
  rr32: { t: 'rr', cls: G, size: 4 },
  rr64: { t: 'rr', cls: G, size: 8 },
  rx32: { t: 'rr', cls: G, size: 4 },
  rx64: { t: 'rr', cls: G, size: 8 },
  r32m16: { t: 'rm', cls: G, size: 4, mem: memSpec(MemSize.u16), alt16: true },
  r64m16: { t: 'rm', cls: G, size: 8, mem: memSpec(MemSize.u16), alt16: true },
  r32m8: { t: 'rm', cls: G, size: 4, mem: memSpec(MemSize.u8) },
  r64m8: { t: 'rm', cls: G, size: 8, mem: memSpec(MemSize.u8) },
  r64m32: { t: 'rm', cls: G, size: 8, mem: memSpec(MemSize.u32) },
  sreg: { t: 'reg', cls: 'seg', size: 0 },
  sregw: { t: 'reg', cls: 'seg', size: 0, noCs: true },
  cr: { t: 'reg', cls: 'cr', size: 0 },
  dr: { t: 'reg', cls: 'dr', size: 0 },
  zr8: { t: 'zr', size: 1 },
  zr16: { t: 'zr', size: 2 },
  zr32: { t: 'zr', size: 4 },
  zr64: { t: 'zr', size: 8 },
  ib: { t: 'imm', field: 1, signed: false },
  iw: { t: 'imm', field: 2, signed: false },
  id: { t: 'imm', field: 4, signed: false },
  iq: { t: 'imm', field: 8, signed: false },
  ibs16: { t: 'imm', field: 1, signed: true },
  ibs32: { t: 'imm', field: 1, signed: true },
  ibs64: { t: 'imm', field: 1, signed: true },
  ids64: { t: 'imm', field: 4, signed: true },
  ib2: { t: 'imm', field: 1, signed: false, second: true },
  rel8: { t: 'rel', field: 1 },
  rel16: { t: 'rel', field: 2 },
  rel32: { t: 'rel', field: 4 },
  ptr1616: { t: 'ptr', field: 2 },
  ptr1632: { t: 'ptr', field: 4 },
  mo8: { t: 'moffs', mem: memSpec(MemSize.u8) },
  mo16: { t: 'moffs', mem: memSpec(MemSize.u16) },
  mo32: { t: 'moffs', mem: memSpec(MemSize.u32) },
  mo64: { t: 'moffs', mem: memSpec(MemSize.u64) },
  ssi8: { t: 'string' },
  ssi16: { t: 'string' },
  ssi32: { t: 'string' },
  ssi64: { t: 'string' },
  sdi8: { t: 'string' },
  sdi16: { t: 'string' },
  sdi32: { t: 'string' },
  sdi64: { t: 'string' },
  sbx: { t: 'xlat' },
  sti: { t: 'rr', cls: 'st', size: 0 },
  one: { t: 'one' },
  mm: { t: 'reg', cls: 'mm', size: 0 },
  mmrm64: { t: 'rm', cls: 'mm', size: 0, mem: memSpec(MemSize.u64) },
  mmrm32: { t: 'rm', cls: 'mm', size: 0, mem: memSpec(MemSize.u32) },
  rmm: { t: 'rr', cls: 'mm', size: 0 },
  xmm: { t: 'reg', cls: 'xmm', size: 0 },
  xmmrm128: { t: 'rm', cls: 'xmm', size: 0, mem: memSpec(MemSize.u128) },
  xmmrm64: { t: 'rm', cls: 'xmm', size: 0, mem: memSpec(MemSize.u64) },
  xmmrm32: { t: 'rm', cls: 'xmm', size: 0, mem: memSpec(MemSize.u32) },
  xmmrm16: { t: 'rm', cls: 'xmm', size: 0, mem: memSpec(MemSize.u16) },
  xmmrm8: { t: 'rm', cls: 'xmm', size: 0, mem: memSpec(MemSize.u8) },
  rxmm: { t: 'rr', cls: 'xmm', size: 0 },
  ymm: { t: 'reg', cls: 'ymm', size: 0 },
  ymmrm256: { t: 'rm', cls: 'ymm', size: 0, mem: memSpec(MemSize.u256) },
  rymm: { t: 'rr', cls: 'ymm', size: 0 },
  vx: { t: 'vvvv', cls: 'xmm', size: 0 },
  vy: { t: 'vvvv', cls: 'ymm', size: 0 },
  kr: { t: 'reg', cls: 'k', size: 0 },
  rkr: { t: 'rr', cls: 'k', size: 0 },
  krm8: { t: 'rm', cls: 'k', size: 0, mem: memSpec(MemSize.u8) },
  krm16: { t: 'rm', cls: 'k', size: 0, mem: memSpec(MemSize.u16) },
  krm32: { t: 'rm', cls: 'k', size: 0, mem: memSpec(MemSize.u32) },
  krm64: { t: 'rm', cls: 'k', size: 0, mem: memSpec(MemSize.u64) },
  vk: { t: 'vvvv', cls: 'k', size: 0 },
  vr32: { t: 'vvvv', cls: G, size: 4 },
  vr64: { t: 'vvvv', cls: G, size: 8 },
  is4x: { t: 'is4' },
  is4y: { t: 'is4' },
  vm32x32: { t: 'vsib' },
  vm32x64: { t: 'vsib' },
  vm32y32: { t: 'vsib' },
  vm64x32: { t: 'vsib' },
  vm64x64: { t: 'vsib' },
  vm64y32: { t: 'vsib' },
  vm64y64: { t: 'vsib' },
};

/** A row the encoder index could not read (a vocabulary change in the decoder's rows). */
export class FormIndexError extends Error {
  constructor(
    readonly row: string,
    why: string,
  ) {
    super(`row ${row}: ${why}`);
    this.name = 'FormIndexError';
  }
}

function parseRow(row: Row, order: number): Form {
  const [name, mnemonic, encoding, operands, , attributes] = row;
  const fail = (why: string): never => {
    throw new FormIndexError(name, why);
  };
  const ops: OpSpec[] = [];
  for (const tok of operands.split(/\s+/).filter(Boolean)) {
    const spec = TOKENS[tok];
    if (spec) {
      ops.push(spec);
      continue;
    }
    const id = registerByName(tok);
    if (id === 0) fail(`unknown operand token ${tok}`);
    ops.push({ t: 'fixed', id });
  }
  let mp = 0;
  const bytes: number[] = [];
  let plusR = false;
  let modrm = 0;
  let digit = 0;
  let fixedModrm = 0;
  let modes = 7;
  let osMask = 7;
  let asMask = 7;
  let d64 = false;
  let f64 = false;
  let rexw = 0;
  let norexb = false;
  let vex = false;
  let vexL = -1;
  const needsOpcode = () => {
    if (bytes.length === 0) return true;
    if (bytes[0] !== 0x0f) return false;
    if (bytes.length === 1) return true;
    if (bytes.length === 2) return bytes[1] === 0x38 || bytes[1] === 0x3a;
    return false;
  };
  for (const t of encoding.split(/\s+/).filter(Boolean)) {
    if (t === 'vex') vex = true;
    else if (t === 'L0') vexL = 0;
    else if (t === 'L1') vexL = 1;
    else if (t === 'LIG' || t === 'WIG') {
      // ignored bits
    } else if (t === 'W0') rexw = 2;
    else if (t === 'W0x') rexw = 3;
    else if (t === 'W1') rexw = 1;
    else if (t === 'pNP') mp = 1;
    else if (t === 'p66') mp = 2;
    else if (t === 'pF3') mp = 3;
    else if (t === 'pF2') mp = 4;
    else if (t === 'pNR') mp = 5;
    else if (/^[0-9A-F]{2}$/.test(t)) {
      if (modrm === 0 && !plusR && needsOpcode()) bytes.push(Number.parseInt(t, 16));
      else {
        modrm = 3;
        fixedModrm = Number.parseInt(t, 16);
      }
    } else if (t === '+r') plusR = true;
    else if (t === '/r') modrm = 1;
    else if (/^\/[0-7]$/.test(t)) {
      modrm = 2;
      digit = Number(t[1]);
    } else if (t === 'o16' || t === 'o32' || t === 'o64') {
      const bit = t === 'o16' ? 1 : t === 'o32' ? 2 : 4;
      osMask = osMask === 7 ? bit : osMask | bit;
    } else if (t === 'a16' || t === 'a32' || t === 'a64') {
      const bit = t === 'a16' ? 1 : t === 'a32' ? 2 : 4;
      asMask = asMask === 7 ? bit : asMask | bit;
    } else if (t === 'i64') modes &= 3;
    else if (t === 'x64') modes &= 4;
    else if (t === 'd64') d64 = true;
    else if (t === 'f64') f64 = true;
    else if (t === 'rexw') rexw = 1;
    else if (t === 'norexw') rexw = 2;
    else if (t === 'norexb') norexb = true;
    else fail(`unknown encoding token ${t}`);
  }
  let vexMap = 0;
  let opcode = bytes;
  if (vex) {
    if (bytes[0] !== 0x0f) fail('VEX form without a 0F map');
    vexMap = bytes[1] === 0x38 && bytes.length === 3 ? 2 : bytes[1] === 0x3a && bytes.length === 3 ? 3 : 1;
    opcode = [bytes[bytes.length - 1] ?? 0];
  }
  const code = codeByName(name);
  if (code === 0) fail('no decoder code with this name');
  let access = '';
  let lock = false;
  let rep = false;
  let repe = false;
  for (const a of attributes.split(/\s+/).filter(Boolean)) {
    if (a === 'lock') lock = true;
    else if (a === 'rep') rep = true;
    else if (a === 'repe') repe = true;
    else if (a.startsWith('rw:')) access = a.slice(3);
  }
  if (access === '') access = ops.map((_, i) => (i === 0 ? 'm' : 'r')).join('');
  return {
    code,
    name,
    mnemonic,
    order,
    mp,
    opcode,
    vexMap,
    vexL,
    plusR,
    modrm,
    digit,
    fixedModrm,
    modes,
    osMask,
    asMask,
    d64,
    f64,
    rexw,
    norexb,
    ops,
    access,
    lock,
    rep,
    repe,
  };
}

/** Every decoder form, parsed. Built once, on first use. */
let FORMS: readonly Form[] | undefined;
let BY_MNEMONIC: Map<string, Form[]> | undefined;

/** All forms of the decoder's rows, in row order. */
export function allForms(): readonly Form[] {
  if (!FORMS) FORMS = allRows.map(parseRow);
  return FORMS;
}

/** The decoder's forms grouped by the decoder's mnemonic. */
export function formsByDecoderMnemonic(): ReadonlyMap<string, readonly Form[]> {
  if (!BY_MNEMONIC) {
    BY_MNEMONIC = new Map();
    for (const f of allForms()) {
      const list = BY_MNEMONIC.get(f.mnemonic);
      if (list) list.push(f);
      else BY_MNEMONIC.set(f.mnemonic, [f]);
    }
  }
  return BY_MNEMONIC;
}

/** Human-readable operand list of a form (`r/m32, imm8`) for error messages. */
export function formSignature(f: Form): string {
  const parts = f.ops
    .filter((o) => o.t !== 'string' && o.t !== 'xlat')
    .map((o) => {
      switch (o.t) {
        case 'reg':
          return o.cls === 'gpr' ? `r${o.size * 8}` : o.cls === 'seg' ? 'sreg' : o.cls;
        case 'rm':
          if (o.cls === 'gpr') return o.alt16 ? `r${o.size * 8}/m16` : `r/m${o.size * 8}`;
          return `${o.cls}/m${o.mem.bytes * 8}`;
        case 'mem':
          return o.mem.far ? 'far mem' : o.mem.bytes ? `m${o.mem.bytes * 8}` : 'mem';
        case 'rr':
          return o.cls === 'gpr' ? `r${o.size * 8}` : o.cls === 'st' ? 'st(i)' : o.cls;
        case 'zr':
          return `r${o.size * 8}`;
        case 'fixed':
          return registerName(o.id);
        case 'imm':
          return `imm${o.field * 8}`;
        case 'one':
          return '1';
        case 'rel':
          return 'label';
        case 'ptr':
          return 'sel:offset';
        case 'moffs':
          return `[moffs${o.mem.bytes * 8}]`;
        case 'vvvv':
          return o.cls === 'gpr' ? `r${o.size * 8}` : o.cls;
        case 'is4':
          return 'is4 register (not encoded yet)';
        case 'vsib':
          return 'vsib memory (not encoded yet)';
        default:
          return '';
      }
    });
  return parts.length > 0 ? `${f.mnemonic} ${parts.join(', ')}` : f.mnemonic;
}
