import { CODE_MATCH, CODE_VEX, DISPATCH, DISPATCH_START } from './generated/tables';
import { Instruction, PrefixBit } from './instruction';
import { InvalidReason, OperandDecode as OD, OpKind } from './kinds';
import {
  CODE_FAST,
  DETAIL_MEM,
  EXTRA,
  FAST_DETAIL_SHIFT,
  FAST_LOCKABLE,
  FAST_RM_ALWAYS_REGISTER,
  FAST_USES_VVVV,
  MEM_DISP_SIZE_SHIFT,
  MEM_INDEX_SHIFT,
  MEM_SCALE_SHIFT,
  MEM_SEGMENT_SHIFT,
  OPS_LOW_SHIFT,
  OPS_MEMORY,
  OPS_MEMORY_DETAIL,
  OPS_REG_SHIFT,
  OPS_REX,
  OPS_RM_SHIFT,
  OPS_VVVV_SHIFT,
  STATE_AS_SHIFT,
  STATE_MODE_SHIFT,
  STATE_OS_SHIFT,
  STATE_REX_SHIFT,
  STATE_SEGMENT_SHIFT,
  templateKind,
} from './operand-template';
import { Register } from './registers';

/** Processor mode of the code being decoded. */
export type Bitness = 16 | 32 | 64;

/*
 * CODE_MATCH bit layout (written by scripts/generate.ts):
 *   0–2   modes the form exists in (bit 0: 16-bit, 1: 32-bit, 2: 64-bit)
 *   3–5   effective operand sizes it matches (16, 32, 64)
 *   6–8   effective address sizes it matches (16, 32, 64)
 *   9–11  mandatory prefix: 0 legacy, 1 none allowed, 2 = 66, 3 = F3, 4 = F2, 5 no F2/F3 (66 sizes)
 *   12    d64: operand size defaults to 64 in 64-bit mode
 *   13    f64: operand size is 64 in 64-bit mode
 *   14–15 REX.W / VEX.W: 0 any, 1 required, 2 must be clear, 3 clear in 64-bit mode only
 *   16    REX.B must be clear
 *   17–18 ModRM: 0 none, 1 any, 2 reg field fixed, 3 whole byte fixed
 *   19–21 the fixed reg field
 *   22–23 mod: 0 any, 1 memory only, 2 register only
 *   24–31 the fixed ModRM byte
 */

const BX_SI = [
  Register.bx,
  Register.bx,
  Register.bp,
  Register.bp,
  Register.si,
  Register.di,
  Register.bp,
  Register.bx,
];
const IDX16 = [Register.si, Register.di, Register.si, Register.di, 0, 0, 0, 0];

const SCRATCH_SIZE = 40;

// Byte classes, indexed by byte: prefixes (1–7), then what a byte ending the prefixes starts.
const PK_OSIZE = 1;
const PK_ASIZE = 2;
const PK_LOCK = 3;
const PK_REP = 4;
const PK_SEG_LEGACY = 5;
const PK_SEG_FSGS = 6;
const PK_REX = 7;
/** A one-byte opcode. */
const BC_OPCODE = 8;
/** The 0F escape of the two- and three-byte maps. */
const BC_ESCAPE = 9;
/** C4/C5/62/8F: VEX, EVEX or XOP, or in 16/32-bit mode possibly LES/LDS/BOUND/POP. */
const BC_VEX = 10;
const BYTE_CLASS = new Uint8Array(256).fill(BC_OPCODE);
BYTE_CLASS[0x66] = PK_OSIZE;
BYTE_CLASS[0x67] = PK_ASIZE;
BYTE_CLASS[0xf0] = PK_LOCK;
BYTE_CLASS[0xf2] = PK_REP;
BYTE_CLASS[0xf3] = PK_REP;
for (const c of [0x26, 0x2e, 0x36, 0x3e]) BYTE_CLASS[c] = PK_SEG_LEGACY;
BYTE_CLASS[0x64] = PK_SEG_FSGS;
BYTE_CLASS[0x65] = PK_SEG_FSGS;
BYTE_CLASS[0x0f] = BC_ESCAPE;
for (const c of [0xc4, 0xc5, 0x62, 0x8f]) BYTE_CLASS[c] = BC_VEX;
const BYTE_CLASS_64 = BYTE_CLASS.slice();
for (let c = 0x40; c < 0x50; c++) BYTE_CLASS_64[c] = PK_REX;

/*
 * Form choice per opcode slot (SDM Vol. 2 §2.1–2.3: the prefixes and ModRM fields that select a
 * form), precomputed into one flat table per mode:
 *
 *   SLOT_INFO[slot]         0 no form, else `base << 3 | 4 | keyMode` (the same for every mode)
 *   RESULTS[mode][base + key]  the `match` result for that key; NOT_BUILT until the slot is
 *                           first seen, when all its keys are computed at once
 *
 * key = 66 | F3 << 1 | F2 << 2 | W << 3 | (VEX ? VEX.L : 67) << 4 | ModRM part << 5, where the
 * ModRM part depends on keyMode: 0 no ModRM (REX.B: NOP against XCHG r8, rAX), 1 the reg field
 * and whether mod = 11b (16 values), 2 the whole ModRM byte (slots with forms of a fixed ModRM),
 * 3 a ModRM byte that no form's choice depends on (none: 32 keys, one or two cache lines).
 */
const NOT_BUILT = 0xffff;
/** Keys per slot by key mode. */
const KEYS_PER_MODE = [64, 512, 8192, 32] as const;
const SLOT_INFO = new Int32Array(7 * 256);
let resultsSize = 0;
for (let slot = 0; slot < 7 * 256; slot++) {
  const ds = DISPATCH_START[slot]!;
  const de = DISPATCH_START[slot + 1]!;
  if (ds === de) continue;
  let keyMode = 0;
  if (((CODE_MATCH[DISPATCH[ds]!]! >>> 17) & 3) !== 0) {
    // ModRM: ignored by the choice unless a form fixes its reg field, byte, or mod class.
    keyMode = 3;
    for (let i = ds; i < de; i++) {
      const m = CODE_MATCH[DISPATCH[i]!]!;
      const kind = (m >>> 17) & 3;
      if (kind === 3) keyMode = 2;
      else if ((kind === 2 || ((m >>> 22) & 3) !== 0) && keyMode === 3) keyMode = 1;
    }
  }
  SLOT_INFO[slot] = (resultsSize << 3) | 4 | keyMode;
  resultsSize += KEYS_PER_MODE[keyMode]!;
}
const RESULTS: Partial<Record<Bitness, Uint16Array>> = {};
/**
 * First level, for the common case in one load: FAST_RESULTS[mode][slot << 9 | prefix key |
 * ModRM reg/mod << 5] = `code << 4 | sizeIndex << 2 | hasModrm << 1`, or 1 for "ask the slot's
 * table" (no form, invalid combination, forms keyed by the whole ModRM byte or by REX.B).
 */
const FAST_RESULTS: Partial<Record<Bitness, Uint16Array>> = {};

/** VEX/EVEX map 1 opcodes followed by an imm8 (SDM Vol. 2 appendix A, table A-3). */
const MAP1_IMM8 = new Uint8Array(256);
for (const op of [0x70, 0x71, 0x72, 0x73, 0xc2, 0xc4, 0xc5, 0xc6]) MAP1_IMM8[op] = 1;

/** Displacement bytes by ModRM (32/64-bit addressing), and whether a SIB byte follows. */
const MODRM_DISP = new Uint8Array(256);
for (let m = 0; m < 256; m++) {
  const mod = m >> 6;
  const rm = m & 7;
  MODRM_DISP[m] = mod === 1 ? 1 : mod === 2 ? 4 : mod === 0 && rm === 5 ? 4 : 0;
}

/*
 * The shortcut of `decodeOut` (SDM Vol. 2 §2.1: without legacy prefixes, the opcode, REX.W and
 * the ModRM reg and mod fields choose the form of every one-byte and 0F opcode but a few), one
 * table per mode:
 *
 *   FAST[map << 13 | REX.W << 12 | opcode << 4 | ModRM.reg << 1 | (mod = 11b)]
 *     = code | FE_MODRM | FE_RM_REGISTER | sizeIndex << FE_OS_SHIFT | immediate kind << FE_IMM_SHIFT
 *
 * or FE_SLOW (the general path decodes it: legacy prefixes, the 0F 38/0F 3A maps, VEX/EVEX/XOP,
 * forms that depend on REX.B or on more of the ModRM byte than reg and mod, operands that need
 * checks or more than one immediate, and all of 16-bit mode), FE_NOT_BUILT until first seen.
 * The ModRM byte's memory operand comes from two more tables (MEM_RM, MEM_SIB). Handling 66 and
 * segment prefixes here too was measured 5% slower on the kernel sample (A/B in one process):
 * the extra state costs every instruction more than the 2–3% of prefixed ones gain.
 */
const FK_MAP1 = 1 << 13;
const FE_CODE = 0xfff;
const FE_MODRM = 1 << 12;
const FE_RM_REGISTER = 1 << 13;
const FE_OS_SHIFT = 14;
const FE_IMM_SHIFT = 16;
const FE_SLOW = -2;
const FE_NOT_BUILT = -1;
/** Immediate and branch operands of the shortcut (`FE_IMM_SHIFT`). */
const FI_IB = 1;
const FI_IBS32 = 2;
const FI_ID = 3;
const FI_REL8 = 4;
const FI_REL32 = 5;
const FI_IW = 6;
const FI_IBS64 = 7;
const FI_IDS64 = 8;
const FI_IQ = 9;
const FI_IBS16 = 10;
const FI_ONE = 11;
const FI_OF_DECODE_KIND: Partial<Record<number, number>> = {
  [OD.ib]: FI_IB,
  [OD.ibs32]: FI_IBS32,
  [OD.id]: FI_ID,
  [OD.rel8]: FI_REL8,
  [OD.rel32]: FI_REL32,
  [OD.iw]: FI_IW,
  [OD.ibs64]: FI_IBS64,
  [OD.ids64]: FI_IDS64,
  [OD.iq]: FI_IQ,
  [OD.ibs16]: FI_IBS16,
  [OD.one]: FI_ONE,
};
const FAST: Partial<Record<Bitness, Int32Array>> = {};

/** ModRM reg and r/m fields in the packed operand word. */
const MODRM_OPS = new Int32Array(256);
for (let m = 0; m < 256; m++) MODRM_OPS[m] = (((m >> 3) & 7) << OPS_REG_SHIFT) | ((m & 7) << OPS_RM_SHIFT);
/** What a REX prefix adds to the packed operand word: REX.R, REX.B (r/m and opcode register). */
const REX_OPS = new Int32Array(256);
/** What a REX prefix adds to `Instruction.state`: the byte and its prefix bit. */
const REX_STATE = new Int32Array(256);
for (let r = 0x40; r < 0x50; r++) {
  REX_OPS[r] =
    ((r & 4) << (OPS_REG_SHIFT + 1)) |
    ((r & 1) << (OPS_RM_SHIFT + 3)) |
    ((r & 1) << (OPS_LOW_SHIFT + 3)) |
    OPS_REX;
  REX_STATE[r] = (r << STATE_REX_SHIFT) | PrefixBit.rex;
}
const NO_REX = new Uint8Array(256);
const REX_64 = new Uint8Array(256);
for (let r = 0x40; r < 0x50; r++) REX_64[r] = 1;

/**
 * Memory operands of 32- and 64-bit addressing without a segment override (SDM Vol. 2 tables 2-2
 * and 2-3, §2.2.1.6 RIP-relative), as `Instruction.memBits`: MEM_RM[REX.B << 8 | ModRM], -1 when
 * a SIB byte follows, and MEM_SIB[REX.X << 11 | REX.B << 10 | mod << 8 | SIB].
 */
function memoryTables(mode: 32 | 64): { rm: Int32Array; sib: Int32Array } {
  const regBase = mode === 32 ? Register.eax : Register.rax;
  const rm = new Int32Array(512);
  const sib = new Int32Array(4096);
  for (let rexB = 0; rexB < 2; rexB++)
    for (let m = 0; m < 0xc0; m++) {
      const r = m & 7;
      let bits: number;
      if (r === 4) bits = -1;
      else if (m < 0x40 && r === 5)
        bits =
          (mode === 64 ? Register.rip : 0) | (Register.ds << MEM_SEGMENT_SHIFT) | (4 << MEM_DISP_SIZE_SHIFT);
      else {
        const n = r | (rexB << 3);
        const seg = n === 4 || n === 5 ? Register.ss : Register.ds;
        bits = (regBase + n) | (seg << MEM_SEGMENT_SHIFT) | (MODRM_DISP[m]! << MEM_DISP_SIZE_SHIFT);
      }
      rm[(rexB << 8) | m] = bits;
    }
  for (let rx = 0; rx < 4; rx++)
    for (let mod = 0; mod < 3; mod++)
      for (let sb = 0; sb < 256; sb++) {
        const rexX = (rx >> 1) << 3;
        const rexB = (rx & 1) << 3;
        const idx = ((sb >> 3) & 7) | rexX;
        let bits = idx !== 4 ? (regBase + idx) << MEM_INDEX_SHIFT : 0;
        bits |= (sb >> 6) << MEM_SCALE_SHIFT;
        let dispSize = mod === 1 ? 1 : mod === 2 ? 4 : 0;
        let seg: number = Register.ds;
        const bn = sb & 7;
        if (bn === 5 && mod === 0) dispSize = 4;
        else {
          const n = bn | rexB;
          bits |= regBase + n;
          if (n === 4 || n === 5) seg = Register.ss;
        }
        sib[(rx << 10) | (mod << 8) | sb] =
          bits | (seg << MEM_SEGMENT_SHIFT) | (dispSize << MEM_DISP_SIZE_SHIFT);
      }
  return { rm, sib };
}
const MEMORY_32 = memoryTables(32);
const MEMORY_64 = memoryTables(64);

/**
 * A branch target from the sum of ip, length and displacement, wrapped at the operand size
 * (16, 32 or 64 bits; 64-bit targets are exact below 2^53).
 */
function wrapTarget(t: number, bits: number): number {
  return bits === 16
    ? t & 0xffff
    : bits === 32
      ? t >>> 0
      : t < 0
        ? t + 2 ** 64
        : t >= 2 ** 64
          ? t - 2 ** 64
          : t;
}

/**
 * Decodes x86 machine code in 16-, 32- or 64-bit mode into a reused `Instruction`.
 *
 * ```ts
 * const d = new Decoder(32);
 * const ins = new Instruction();
 * d.decodeOut(bytes, 0, 0x1000, ins); // ins.mnemonic === 'add', ins.length === 2
 * ```
 *
 * Decoding never throws and never reads outside `bytes`: bytes that end early give an invalid
 * instruction with reason `truncated`.
 */
export class Decoder {
  readonly bitness: Bitness;
  private readonly scratch = new Uint8Array(SCRATCH_SIZE);
  /** Prefix/opcode byte classes of this mode. */
  private readonly byteClass: Uint8Array;
  private readonly slotInfo = SLOT_INFO;
  private readonly codeFast = CODE_FAST;
  private readonly extra = EXTRA;
  /** The mode's bits in `Instruction.state`. */
  private readonly modeBits: number;
  /** Form choice per opcode slot and key (shared by all decoders of this mode). */
  private readonly results: Uint16Array;
  /** First-level form choice per slot, prefixes and ModRM reg/mod (shared by the mode's decoders). */
  private readonly fastResults: Uint16Array;
  /** The shortcut's table (see `FAST`), shared by the mode's decoders. */
  private readonly fast: Int32Array;
  /** REX prefixes of this mode: 1 for 40–4F in 64-bit mode. */
  private readonly rexClass: Uint8Array;
  private readonly memRm: Int32Array;
  private readonly memSib: Int32Array;
  /** `Instruction.state` without prefixes: the mode and its default address size. */
  private readonly stateBase: number;

  constructor(bitness: Bitness) {
    if (bitness !== 16 && bitness !== 32 && bitness !== 64) {
      throw new RangeError(`bitness must be 16, 32 or 64 (got ${String(bitness)})`);
    }
    this.bitness = bitness;
    this.byteClass = bitness === 64 ? BYTE_CLASS_64 : BYTE_CLASS;
    this.modeBits = (bitness === 16 ? 0 : bitness === 32 ? 1 : 2) << STATE_MODE_SHIFT;
    let results = RESULTS[bitness];
    if (results === undefined) {
      results = new Uint16Array(resultsSize).fill(NOT_BUILT);
      RESULTS[bitness] = results;
    }
    this.results = results;
    let fast = FAST_RESULTS[bitness];
    if (fast === undefined) {
      fast = new Uint16Array(7 * 256 * 512).fill(NOT_BUILT);
      FAST_RESULTS[bitness] = fast;
    }
    this.fastResults = fast;
    let shortcut = FAST[bitness];
    if (shortcut === undefined) {
      shortcut = new Int32Array(2 << 13).fill(bitness === 16 ? FE_SLOW : FE_NOT_BUILT);
      FAST[bitness] = shortcut;
    }
    this.fast = shortcut;
    this.rexClass = bitness === 64 ? REX_64 : NO_REX;
    const mem = bitness === 64 ? MEMORY_64 : MEMORY_32;
    this.memRm = mem.rm;
    this.memSib = mem.sib;
    this.stateBase = this.modeBits | ((bitness === 16 ? 0 : bitness === 32 ? 1 : 2) << STATE_AS_SHIFT);
  }

  /** Computes one entry of the shortcut's table from the form choice of the general path. */
  private buildFastEntry(key: number): number {
    const map = key >>> 13;
    const w = (key >>> 12) & 1;
    const op = (key >>> 4) & 0xff;
    const regMod = ((key >>> 1) & 7) | ((key & 1) << 3);
    const slot = map * 256 + op;
    let entry = FE_SLOW;
    // C4/C5/62/8F may start a VEX, EVEX or XOP prefix: the general path tells.
    const si = this.slotInfo[slot]!;
    if (si !== 0 && (map !== 0 || this.byteClass[op] === BC_OPCODE)) {
      const keyMode = si & 3;
      const base = si >>> 3;
      if (this.results[base] === NOT_BUILT) this.buildSlot(slot, si, 0);
      let fr = 1;
      if (keyMode === 2) {
        // Forms keyed by the whole ModRM byte: usable if every byte with this reg field and mod
        // class gives the same form (x87 register forms, C7 /0 beside XBEGIN C7 F8, ...).
        const reg = regMod & 7;
        const from = (regMod & 8) !== 0 ? 0xc0 : 0;
        const to = (regMod & 8) !== 0 ? 0x100 : 0xc0;
        for (let modrm = from + (reg << 3); modrm < to; modrm += (modrm & 7) === 7 ? 0x39 : 1) {
          const r = this.results[base + ((w << 3) | (modrm << 5))]!;
          if (modrm === from + (reg << 3)) fr = r;
          else if (r !== fr) fr = 1;
        }
        if (fr >>> 4 === 0) fr = 1;
        else fr = (fr & 0xfffc) | 2;
      } else if (keyMode === 0 && this.bitness !== 64) {
        // Without REX, REX.B is 0 (the slot's table also has the REX.B = 1 half: NOP or XCHG r8).
        const r = this.results[base + (w << 3)]!;
        if (r >>> 4 !== 0) fr = r & 0xfffc;
      } else {
        const fk = (slot << 9) | (w << 3) | (regMod << 5);
        fr = this.fastResults[fk]!;
        if (fr === NOT_BUILT) fr = this.buildFast(slot, fk);
      }
      if ((fr & 1) === 0) {
        const code = fr >>> 4;
        const info = this.codeFast[code]!;
        const extras = info & 7;
        let imm = 0;
        let ok = (info & (DETAIL_MEM << FAST_DETAIL_SHIFT)) === 0 && extras <= 1;
        if (ok && extras === 1) {
          imm = FI_OF_DECODE_KIND[this.extra[code * 4]!] ?? 0;
          // Branch targets wrap at the operand size: the shortcut wraps at the mode's (32 or 64).
          const natural = this.bitness === 64 ? 2 : 1;
          ok = imm !== 0 && ((imm !== FI_REL8 && imm !== FI_REL32) || ((fr >>> 2) & 3) === natural);
        }
        if (ok)
          entry =
            code |
            ((fr & 2) !== 0 ? FE_MODRM : 0) |
            ((info & FAST_RM_ALWAYS_REGISTER) !== 0 ? FE_RM_REGISTER : 0) |
            (((fr >>> 2) & 3) << FE_OS_SHIFT) |
            (imm << FE_IMM_SHIFT);
      }
    }
    this.fast[key] = entry;
    return entry;
  }

  /** Decodes the instruction at `bytes[offset]`, located at address `ip`, into `out`. */
  decodeOut(bytes: Uint8Array, offset: number, ip: number, out: Instruction): void {
    if (offset + SCRATCH_SIZE > bytes.length || offset < 0) {
      this.decodeNearEnd(bytes, offset, ip, out);
      return;
    }
    const b = bytes;
    let p = offset;
    let c = b[p]!;
    let rex = 0;
    if (this.rexClass[c] !== 0) {
      rex = c;
      c = b[++p]!;
    }
    let key = (c << 4) | ((rex & 8) << 9);
    if (c === 0x0f) {
      c = b[++p]!;
      key = FK_MAP1 | (c << 4) | ((rex & 8) << 9);
    }
    const m = b[p + 1]!;
    key |= ((m >> 2) & 0xe) | ((m + 0x40) >> 8);
    let e = this.fast[key]!;
    if (e < 0) {
      if (e === FE_NOT_BUILT) e = this.buildFastEntry(key);
      if (e < 0) {
        this.decodeGeneral(bytes, offset, ip, out);
        return;
      }
    }
    p++;
    let ops = ((c & 7) << OPS_LOW_SHIFT) | REX_OPS[rex]!;
    if ((e & FE_MODRM) !== 0) {
      ops |= MODRM_OPS[m]!;
      p++;
      if (m < 0xc0 && (e & FE_RM_REGISTER) === 0) {
        ops |= OPS_MEMORY;
        let bits = this.memRm[((rex & 1) << 8) | m]!;
        if (bits < 0) bits = this.memSib[((rex & 3) << 10) | ((m >> 6) << 8) | b[p++]!]!;
        const ds = bits >>> MEM_DISP_SIZE_SHIFT;
        let disp = 0;
        if (ds === 1) disp = (b[p]! << 24) >> 24;
        else if (ds === 4) disp = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
        out.displacement = this.bitness === 64 ? disp : disp >>> 0;
        out.memBits = bits;
        p += ds;
      }
    }
    const imm = (e >>> FE_IMM_SHIFT) & 15;
    if (imm !== 0) {
      switch (imm) {
        case FI_IB:
          out.imm = b[p]!;
          p += 1;
          break;
        case FI_IBS32:
          out.imm = ((b[p]! << 24) >> 24) >>> 0;
          p += 1;
          break;
        case FI_ID:
          out.imm = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
          p += 4;
          break;
        case FI_REL8: {
          const t = ip + (p + 1 - offset) + ((b[p]! << 24) >> 24);
          out.target = wrapTarget(t, this.bitness);
          p += 1;
          break;
        }
        case FI_REL32: {
          const t =
            ip + (p + 4 - offset) + (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24));
          out.target = wrapTarget(t, this.bitness);
          p += 4;
          break;
        }
        case FI_IW:
          out.imm = b[p]! | (b[p + 1]! << 8);
          p += 2;
          break;
        case FI_IBS64: {
          const v = (b[p]! << 24) >> 24;
          out.imm = v >>> 0;
          out.immHigh = v < 0 ? 0xffffffff : 0;
          p += 1;
          break;
        }
        case FI_IDS64: {
          const v = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
          out.imm = v >>> 0;
          out.immHigh = v < 0 ? 0xffffffff : 0;
          p += 4;
          break;
        }
        case FI_IQ:
          out.imm = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
          out.immHigh = (b[p + 4]! | (b[p + 5]! << 8) | (b[p + 6]! << 16) | (b[p + 7]! << 24)) >>> 0;
          p += 8;
          break;
        case FI_IBS16:
          out.imm = ((b[p]! << 24) >> 24) & 0xffff;
          p += 1;
          break;
        default:
          // FI_ONE: the shift-by-one forms.
          out.imm = 1;
          break;
      }
    }
    out.ip = ip;
    out.operandBits = ops;
    out.length = p - offset;
    out.code = e & FE_CODE;
    out.state = this.stateBase | REX_STATE[rex]! | (((e >>> FE_OS_SHIFT) & 3) << STATE_OS_SHIFT);
  }

  /**
   * @internal The general decoder: every prefix, map and form. `decodeOut` takes a table-driven
   * shortcut for the common case (no legacy prefix, one-byte and 0F opcodes whose form the opcode,
   * REX.W and ModRM reg/mod decide, at most one immediate or branch operand) and comes here for
   * the rest; tests check that both give the same instruction.
   */
  decodeGeneral(bytes: Uint8Array, offset: number, ip: number, out: Instruction): void {
    if (offset + SCRATCH_SIZE > bytes.length || offset < 0) {
      this.decodeNearEnd(bytes, offset, ip, out);
      return;
    }
    const b = bytes;
    const off = offset;
    const mode = this.bitness;
    out.ip = ip;

    let p = off;
    let pfx66 = 0;
    let pfx67 = 0;
    let lock = 0;
    /** REP prefix as a key bit: 2 for F3, 4 for F2 (the last one counts). */
    let rep = 0;
    let seg = 0;
    let rex = 0;
    let prefixes = 0;
    const limit = off + 15;

    // Legacy prefixes and REX (SDM Vol. 2 §2.1.1, §2.2.1): one table lookup per byte, which
    // also classes the opcode byte that ends them.
    const classes = this.byteClass;
    let c = b[p]!;
    let k = classes[c]!;
    if (k < BC_OPCODE) {
      do {
        if (p >= limit) {
          this.invalid(out, off, p, InvalidReason.tooLong);
          return;
        }
        if (k === PK_REX) {
          rex = c;
        } else {
          if (k === PK_OSIZE) {
            pfx66 = 1;
            prefixes |= PrefixBit.operandSize;
          } else if (k === PK_ASIZE) {
            pfx67 = 1;
            prefixes |= PrefixBit.addressSize;
          } else if (k === PK_LOCK) {
            lock = 1;
            prefixes |= PrefixBit.lock;
          } else if (k === PK_REP) {
            rep = c === 0xf3 ? 2 : 4;
          } else if (k === PK_SEG_LEGACY) {
            // In 64-bit mode ES/CS/SS/DS overrides are ignored and do not replace FS/GS.
            if (mode !== 64 || seg < Register.fs) seg = Register.es + ((c >> 3) & 3);
            prefixes |= PrefixBit.segment;
          } else {
            seg = c === 0x64 ? Register.fs : Register.gs;
            prefixes |= PrefixBit.segment;
          }
          rex = 0; // a legacy prefix after REX cancels it
        }
        c = b[++p]!;
        k = classes[c]!;
      } while (k < BC_OPCODE);
      if (p >= limit) {
        this.invalid(out, off, p, InvalidReason.tooLong);
        return;
      }
      if (rep === 2) prefixes |= PrefixBit.rep;
      else if (rep === 4) prefixes |= PrefixBit.repne;
      if (rex !== 0) prefixes |= PrefixBit.rex;
    }
    const rexByte = rex;

    let rexW = (rex >> 3) & 1;
    let rexR = (rex & 4) << 1;
    let rexX = (rex & 2) << 2;
    let rexB = (rex & 1) << 3;
    /** VEX: VEX.L (-1 when not VEX-encoded) and the register in VEX.vvvv. */
    let vexL = -1;
    let vvvv = 0;
    /** VEX.vvvv with its top bit also outside 64-bit mode (an unused field must be 1111b there too). */
    let vvvvField = 0;
    let vexAt = 0;
    let vexEsc = 0;

    // Opcode and map.
    let op = c;
    p++;
    let map = 0;
    if (k === BC_ESCAPE) {
      op = b[p++]!;
      map = 1;
      if (op === 0x38) {
        op = b[p++]!;
        map = 2;
      } else if (op === 0x3a) {
        op = b[p++]!;
        map = 3;
      }
    } else if (k === BC_VEX) {
      const next = b[p]!;
      // In 16/32-bit mode these are LES/LDS/BOUND/POP unless ModRM.mod = 11 (VEX/EVEX) or
      // the XOP map field is 8 or more; in 64-bit mode C4/C5/62 are always VEX/EVEX.
      const isVex = op === 0x8f ? (next & 0x1f) >= 8 : mode === 64 || (next & 0xc0) === 0xc0;
      if (isVex) {
        if (op === 0x62 || op === 0x8f) {
          this.skipVex(b, off, p, op, pfx67, out);
          return;
        }
        // VEX (SDM Vol. 2 §2.3): 66/F2/F3/REX before it are #UD; fields are stored inverted.
        if (pfx66 || rep || rex || lock) {
          this.invalid(out, off, p, InvalidReason.undefinedOpcode);
          return;
        }
        vexAt = p;
        vexEsc = op;
        let b1: number;
        let w = 0;
        if (op === 0xc5) {
          b1 = b[p++]!;
          map = 4;
          rexR = mode === 64 ? ((~b1 >> 7) & 1) << 3 : 0;
        } else {
          const m = b[p++]!;
          b1 = b[p++]!;
          const mmmmm = m & 0x1f;
          if (mmmmm < 1 || mmmmm > 3) {
            this.invalid(out, off, p, InvalidReason.undefinedOpcode);
            return;
          }
          map = 3 + mmmmm;
          w = b1 >> 7;
          if (mode === 64) {
            rexR = ((~m >> 7) & 1) << 3;
            rexX = ((~m >> 6) & 1) << 3;
            rexB = ((~m >> 5) & 1) << 3;
          }
        }
        vvvv = (~b1 >> 3) & 15;
        vvvvField = vvvv;
        if (mode !== 64) vvvv &= 7;
        vexL = (b1 >> 2) & 1;
        const pp = b1 & 3;
        pfx66 = pp === 1 ? 1 : 0;
        rep = pp === 2 ? 2 : pp === 3 ? 4 : 0;
        rexW = w;
        rex = w << 3;
        op = b[p++]!;
      }
    }

    // Form choice: one load, keyed by the opcode slot, the prefixes and the next byte's ModRM
    // reg and mod fields (read before knowing whether the opcode has ModRM: the byte is there,
    // in `bytes` or in the padded scratch copy).
    const slot = map * 256 + op;
    const pk = pfx66 | rep | (rexW << 3) | ((vexL >= 0 ? vexL : pfx67) << 4);
    const next = b[p]!;
    const fk = (slot << 9) | pk | ((((next >> 3) & 7) | (((next + 0x40) >> 5) & 8)) << 5);
    let fr = this.fastResults[fk]!;
    if (fr === NOT_BUILT) fr = this.buildFast(slot, fk);
    let modrm = -1;
    let r: number;
    if ((fr & 1) === 0) {
      r = fr;
      if ((fr & 2) !== 0) {
        modrm = next;
        p++;
      }
    } else {
      // The rest: opcodes without forms, invalid combinations, forms that depend on the whole
      // ModRM byte or on REX.B.
      const si = this.slotInfo[slot]!;
      if (si === 0) {
        if (vexL >= 0) this.skipVex(b, off, vexAt, vexEsc, pfx67, out);
        else this.invalid(out, off, p, InvalidReason.undefinedOpcode);
        return;
      }
      let key = pk;
      const keyMode = si & 3;
      if (keyMode === 3) modrm = b[p++]!;
      else if (keyMode === 1) {
        modrm = b[p++]!;
        key |= (((modrm >> 3) & 7) | (((modrm + 0x40) >> 5) & 8)) << 5;
      } else if (keyMode === 2) {
        modrm = b[p++]!;
        key |= modrm << 5;
      } else key |= rexB << 2;
      r = this.results[(si >>> 3) + key]!;
      if (r === NOT_BUILT) r = this.buildSlot(slot, si, key);
      if (r >>> 4 === 0) {
        // VEX coverage is partial: a VEX opcode without a matching row is reported as unsupported
        // (with its length), not as undefined.
        if (vexL >= 0) this.skipVex(b, off, vexAt, vexEsc, pfx67, out);
        else
          this.invalid(
            out,
            off,
            p,
            (r & 2) !== 0 ? InvalidReason.invalidInMode : InvalidReason.undefinedOpcode,
          );
        return;
      }
    }
    const code = r >>> 4;
    // A VEX form without a VEX.vvvv operand requires vvvv = 1111b (stored inverted: 0 here), all
    // four bits in every mode (SDM Vol. 2A Figure 2-9: "1111 if unused"; only a register number
    // drops the top bit outside 64-bit mode).
    const fast = this.codeFast[code]!;
    if (vexL >= 0 && vvvvField !== 0 && (fast & FAST_USES_VVVV) === 0) {
      this.invalid(out, off, p, InvalidReason.undefinedOpcode);
      return;
    }
    const osIdx = (r >>> 2) & 3;
    const cos = 16 << osIdx;
    const asIdx = mode === 16 ? pfx67 : mode === 32 ? pfx67 ^ 1 : 2 - pfx67;
    const as = 16 << asIdx;

    // Memory operand from ModRM/SIB (SDM Vol. 2 §2.1.5, tables 2-1 to 2-3).
    let ops =
      ((((modrm >> 3) & 7) | rexR) << OPS_REG_SHIFT) |
      (((modrm & 7) | rexB) << OPS_RM_SHIFT) |
      (((op & 7) | rexB) << OPS_LOW_SHIFT) |
      (vvvv << OPS_VVVV_SHIFT) |
      (rex !== 0 ? OPS_REX : 0);
    /** Where the SIB byte (if any) is: right after ModRM. */
    const sibAt = p;
    if (modrm >= 0 && modrm < 0xc0 && (fast & FAST_RM_ALWAYS_REGISTER) === 0) {
      ops |= OPS_MEMORY;
      p =
        as === 16 ? this.memory16(b, p, modrm, seg, out) : this.memory(b, p, modrm, as, seg, rexX, rexB, out);
    }
    out.operandBits = ops;

    // Operands that read bytes or need a check; the others come from the form's template.
    const extras = fast & 7;
    if (extras !== 0) {
      if ((fast & (DETAIL_MEM << FAST_DETAIL_SHIFT)) !== 0) {
        out.operandBits = ops | OPS_MEMORY_DETAIL;
        out.memBits = 0;
        out.displacement = 0;
        out.displacementHigh = 0;
      }
      const reg = ((modrm >> 3) & 7) | rexR;
      for (let i = 0; i < extras; i++) {
        const k = this.extra[code * 4 + i]!;
        switch (k) {
          case OD.ib:
            out.imm = b[p]!;
            p += 1;
            break;
          case OD.one:
            out.imm = 1;
            break;
          case OD.iw:
            out.imm = b[p]! | (b[p + 1]! << 8);
            p += 2;
            break;
          case OD.id:
            out.imm = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
            p += 4;
            break;
          case OD.iq:
            out.imm = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
            out.immHigh = (b[p + 4]! | (b[p + 5]! << 8) | (b[p + 6]! << 16) | (b[p + 7]! << 24)) >>> 0;
            p += 8;
            break;
          case OD.ibs16:
            out.imm = ((b[p]! << 24) >> 24) & 0xffff;
            p += 1;
            break;
          case OD.ibs32:
            out.imm = ((b[p]! << 24) >> 24) >>> 0;
            p += 1;
            break;
          case OD.ibs64: {
            const v = (b[p]! << 24) >> 24;
            out.imm = v >>> 0;
            out.immHigh = v < 0 ? 0xffffffff : 0;
            p += 1;
            break;
          }
          case OD.ids64: {
            const v = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
            out.imm = v >>> 0;
            out.immHigh = v < 0 ? 0xffffffff : 0;
            p += 4;
            break;
          }
          case OD.ib2:
            out.imm2 = b[p]!;
            p += 1;
            break;
          case OD.rel8: {
            const t = ip + (p + 1 - off) + ((b[p]! << 24) >> 24);
            out.target = wrapTarget(t, cos);
            p += 1;
            break;
          }
          case OD.rel16: {
            const t = ip + (p + 2 - off) + (((b[p]! | (b[p + 1]! << 8)) << 16) >> 16);
            out.target = wrapTarget(t, cos);
            p += 2;
            break;
          }
          case OD.rel32: {
            const t = ip + (p + 4 - off) + (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24));
            out.target = wrapTarget(t, cos);
            p += 4;
            break;
          }
          case OD.ptr1616:
            out.farOff = b[p]! | (b[p + 1]! << 8);
            out.selector = b[p + 2]! | (b[p + 3]! << 8);
            p += 4;
            break;
          case OD.ptr1632:
            out.farOff = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
            out.selector = b[p + 4]! | (b[p + 5]! << 8);
            p += 6;
            break;
          case OD.moffs:
            if (as === 16) {
              out.memBits =
                ((seg !== 0 ? seg : Register.ds) << MEM_SEGMENT_SHIFT) | (2 << MEM_DISP_SIZE_SHIFT);
              out.displacement = b[p]! | (b[p + 1]! << 8);
              p += 2;
              break;
            }
            out.displacement = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
            if (as === 64) {
              out.displacementHigh =
                (b[p + 4]! | (b[p + 5]! << 8) | (b[p + 6]! << 16) | (b[p + 7]! << 24)) >>> 0;
              out.memBits =
                ((seg !== 0 ? seg : Register.ds) << MEM_SEGMENT_SHIFT) | (8 << MEM_DISP_SIZE_SHIFT);
              p += 8;
              break;
            }
            out.memBits = ((seg !== 0 ? seg : Register.ds) << MEM_SEGMENT_SHIFT) | (4 << MEM_DISP_SIZE_SHIFT);
            p += 4;
            break;
          case OD.segSI:
            out.memBits = (seg !== 0 ? seg : Register.ds) << MEM_SEGMENT_SHIFT;
            break;
          case OD.esDI:
            out.memBits = Register.es << MEM_SEGMENT_SHIFT;
            break;
          case OD.segBXAL:
            out.memBits =
              (as === 16 ? Register.bx : as === 32 ? Register.ebx : Register.rbx) |
              (Register.al << MEM_INDEX_SHIFT) |
              ((seg !== 0 ? seg : Register.ds) << MEM_SEGMENT_SHIFT);
            break;
          case OD.sreg:
          case OD.sregw: {
            const n = (modrm >> 3) & 7;
            if (n > 5 || (k === OD.sregw && n === 1)) {
              this.invalid(out, off, p, InvalidReason.badRegister);
              return;
            }
            break;
          }
          case OD.cr:
            if (!(reg === 0 || reg === 2 || reg === 3 || reg === 4 || reg === 8)) {
              this.invalid(out, off, p, InvalidReason.badRegister);
              return;
            }
            break;
          case OD.is4x:
          case OD.is4y:
            // The fourth register is imm8[7:4]; outside 64-bit mode imm8[7] is ignored (SDM
            // Vol. 2 §2.3.9). imm8[3:0] are ignored.
            out.operandBits =
              (out.operandBits & ~(15 << OPS_LOW_SHIFT)) |
              ((mode === 64 ? b[p]! >> 4 : (b[p]! >> 4) & 7) << OPS_LOW_SHIFT);
            p += 1;
            break;
          case OD.vsibx:
          case OD.vsiby: {
            // VSIB (SDM Vol. 2 §2.3.12): a SIB byte is required (#UD without one, so also with
            // 16-bit addressing); its index names a vector register, 100b included. The gather
            // pages: #UD if any two of destination, index and mask are the same register.
            if ((modrm & 7) !== 4 || as === 16) {
              this.invalid(out, off, p, InvalidReason.badModRM);
              return;
            }
            const index = ((b[sibAt]! >> 3) & 7) | rexX;
            if (reg === index || reg === vvvv || index === vvvv) {
              this.invalid(out, off, p, InvalidReason.badRegister);
              return;
            }
            out.memBits =
              (out.memBits & ~(0xff << MEM_INDEX_SHIFT)) |
              (((k === OD.vsibx ? Register.xmm0 : Register.ymm0) + index) << MEM_INDEX_SHIFT);
            break;
          }
          case OD.dr:
          case OD.kr:
            // DR8–DR15 do not exist (SDM Vol. 2B MOV—Move to/from Debug Registers); opmask operands
            // are k0–k7 only, so an opmask ModRM.reg with VEX.R set names no register.
            if (reg > 7) {
              this.invalid(out, off, p, InvalidReason.badRegister);
              return;
            }
            break;
          case OD.vvvvK:
            // The opmask pages encode this operand as VEX.1vvv (SDM Vol. 2 KADDW, KANDW, …,
            // KUNPCKBW): k8–k15 do not exist. vvvv is already three bits outside 64-bit mode.
            if (vvvv > 7) {
              this.invalid(out, off, p, InvalidReason.badRegister);
              return;
            }
            break;
          default:
            break;
        }
      }
    }

    const len = p - off;
    if (len > 15) {
      this.invalid(out, off, p, InvalidReason.tooLong);
      return;
    }
    if (lock) {
      // LOCK needs a lockable form with a memory destination (SDM Vol. 2, LOCK: #UD otherwise).
      if ((fast & FAST_LOCKABLE) === 0 || templateKind(code, ops, 0) !== OpKind.memory) {
        this.invalid(out, off, p, InvalidReason.lockNotAllowed);
        return;
      }
    }
    out.length = len;
    out.code = code;
    out.state =
      prefixes |
      (rexByte << STATE_REX_SHIFT) |
      (seg << STATE_SEGMENT_SHIFT) |
      (osIdx << STATE_OS_SHIFT) |
      (asIdx << STATE_AS_SHIFT) |
      this.modeBits;
  }

  /** Near the end of the buffer: decodes from a zero-padded copy, then checks the length. */
  private decodeNearEnd(bytes: Uint8Array, offset: number, ip: number, out: Instruction): void {
    const avail = Math.max(0, Math.min(bytes.length - offset, SCRATCH_SIZE));
    const s = this.scratch;
    s.fill(0);
    for (let i = 0; i < avail; i++) s[i] = bytes[offset + i] ?? 0;
    this.decodeOut(s, 0, ip, out);
    if (out.length > avail) {
      this.invalid(out, 0, avail, InvalidReason.truncated);
      out.length = avail === 0 ? 0 : avail;
    }
  }

  /** 16-bit ModRM addressing (SDM Vol. 2 table 2-1); returns the position after the displacement. */
  private memory16(b: Uint8Array, p: number, modrm: number, seg: number, out: Instruction): number {
    const mod = modrm >> 6;
    const rm = modrm & 7;
    let defSeg: number = Register.ds;
    let bits = 0;
    let disp = 0;
    if (mod === 0 && rm === 6) {
      disp = b[p]! | (b[p + 1]! << 8);
      bits = 2 << MEM_DISP_SIZE_SHIFT;
      p += 2;
    } else {
      bits = BX_SI[rm]! | (IDX16[rm]! << MEM_INDEX_SHIFT);
      if (rm === 2 || rm === 3 || rm === 6) defSeg = Register.ss;
      if (mod === 1) {
        disp = ((b[p]! << 24) >> 24) & 0xffff;
        bits |= 1 << MEM_DISP_SIZE_SHIFT;
        p += 1;
      } else if (mod === 2) {
        disp = b[p]! | (b[p + 1]! << 8);
        bits |= 2 << MEM_DISP_SIZE_SHIFT;
        p += 2;
      }
    }
    out.displacement = disp;
    out.memBits = bits | ((seg !== 0 ? seg : defSeg) << MEM_SEGMENT_SHIFT);
    return p;
  }

  /** 32/64-bit ModRM/SIB addressing (SDM Vol. 2 tables 2-2 and 2-3, §2.2.1.6 RIP-relative). */
  private memory(
    b: Uint8Array,
    p: number,
    modrm: number,
    as: number,
    seg: number,
    rexX: number,
    rexB: number,
    out: Instruction,
  ): number {
    const rm = modrm & 7;
    const regBase = as === 32 ? Register.eax : Register.rax;
    let dispSize = MODRM_DISP[modrm]!;
    let bits = 0;
    let defSeg: number = Register.ds;
    if (rm === 4) {
      const sib = b[p++]!;
      const idx = ((sib >> 3) & 7) | rexX;
      if (idx !== 4) bits = (regBase + idx) << MEM_INDEX_SHIFT;
      bits |= (sib >> 6) << MEM_SCALE_SHIFT;
      const bn = sib & 7;
      if (bn === 5 && modrm < 0x40) dispSize = 4;
      else {
        const n = bn | rexB;
        bits |= regBase + n;
        if (n === 4 || n === 5) defSeg = Register.ss;
      }
    } else if (dispSize === 4 && modrm < 0x40) {
      // mod = 00, r/m = 101: disp32, RIP-relative in 64-bit mode.
      if (as === 64) bits = Register.rip;
      else if (this.bitness === 64) bits = Register.eip;
    } else {
      const n = rm | rexB;
      bits = regBase + n;
      if (n === 4 || n === 5) defSeg = Register.ss;
    }
    let disp = 0;
    if (dispSize === 1) disp = (b[p]! << 24) >> 24;
    else if (dispSize === 4) disp = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
    out.displacement = as === 32 ? disp >>> 0 : disp;
    out.memBits =
      bits | ((seg !== 0 ? seg : defSeg) << MEM_SEGMENT_SHIFT) | (dispSize << MEM_DISP_SIZE_SHIFT);
    return p + dispSize;
  }

  /**
   * Picks the form among the candidates of one opcode for the prefixes and ModRM seen (SDM Vol. 2
   * §2.1–2.2 and the opcode maps). Returns `code << 4 | sizeIndex << 2 | modeFail << 1 | 1`.
   */
  private match(
    ds: number,
    de: number,
    modrm: number,
    rex: number,
    pfx66: number,
    rep: number,
    pfx67: number,
    vexL = -1,
  ): number {
    const mode = this.bitness;
    const modeBit = mode === 16 ? 1 : mode === 32 ? 2 : 4;
    const rexW = (rex >> 3) & 1;
    const mod = modrm >> 6;
    const os =
      mode === 16 ? (pfx66 ? 32 : 16) : mode === 32 ? (pfx66 ? 16 : 32) : rexW ? 64 : pfx66 ? 16 : 32;
    const as = mode === 16 ? (pfx67 ? 32 : 16) : mode === 32 ? (pfx67 ? 16 : 32) : pfx67 ? 32 : 64;
    const asBit = as === 16 ? 1 : as === 32 ? 2 : 4;
    const mpActive = rep === 0xf3 ? 3 : rep === 0xf2 ? 4 : pfx66 ? 2 : 1;
    let modeFail = 0;
    for (let i = ds; i < de; i++) {
      const c = DISPATCH[i]!;
      const m = CODE_MATCH[c]!;
      if (vexL >= 0) {
        const l = CODE_VEX[c]! & 3;
        if ((l === 1 && vexL !== 0) || (l === 2 && vexL !== 1)) continue;
      }
      const mp = (m >>> 9) & 7;
      if (mp !== 0) {
        if (mp === 1) {
          if (pfx66 || rep) continue;
        } else if (mp === 5) {
          if (rep) continue;
        } else if (mp !== mpActive) continue;
      }
      const kind = (m >>> 17) & 3;
      if (kind === 2) {
        if (((modrm >> 3) & 7) !== ((m >>> 19) & 7)) continue;
      } else if (kind === 3) {
        if (modrm !== m >>> 24) continue;
      }
      const modc = (m >>> 22) & 3;
      if (modc === 1) {
        if (mod === 3) continue;
      } else if (modc === 2 && mod !== 3) continue;
      const rw = (m >>> 14) & 3;
      if (rw === 1) {
        if (!rexW) continue;
      } else if (rw === 2) {
        if (rexW) continue;
      } else if (rw === 3 && rexW && mode === 64) continue;
      if (m & 0x10000 && rex & 1) continue;
      let s = os;
      if (mp === 2) s = mode === 16 ? 16 : rexW ? 64 : 32;
      if (mode === 64) {
        if (m & 0x2000) s = 64;
        else if (m & 0x1000) s = pfx66 && !rexW ? 16 : 64;
      }
      if (((m >>> 3) & 7 & (s === 16 ? 1 : s === 32 ? 2 : 4)) === 0) continue;
      if (((m >>> 6) & 7 & asBit) === 0) continue;
      if ((m & modeBit) === 0) {
        modeFail = 1;
        continue;
      }
      return (c << 4) | ((s === 16 ? 0 : s === 32 ? 1 : 2) << 2) | 1;
    }
    return (modeFail << 1) | 1;
  }

  /**
   * Precomputes `match` for every key of one opcode slot (see `SLOT_INFO`), the first time the
   * slot is seen: 64 entries without ModRM, 512 with, 8,192 when a form has a fixed ModRM byte.
   * Returns the result for the key `wanted`.
   */
  private buildSlot(slot: number, info: number, wanted: number): number {
    const ds = DISPATCH_START[slot]!;
    const de = DISPATCH_START[slot + 1]!;
    const keyMode = info & 3;
    const base = info >>> 3;
    const size = KEYS_PER_MODE[keyMode]!;
    const vex = slot >= 4 * 256;
    for (let key = 0; key < size; key++) {
      const part = key >>> 5;
      let modrm = -1;
      let rex = (key >>> 3) & 1 ? 0x48 : 0;
      if (keyMode === 2) modrm = part;
      else if (keyMode === 1) modrm = (part & 8 ? 0xc0 : 0) | ((part & 7) << 3);
      else if (keyMode === 3) modrm = 0;
      else rex |= part;
      const repBits = (key >>> 1) & 3;
      const rep = repBits === 1 ? 0xf3 : repBits === 2 ? 0xf2 : 0;
      const bit4 = (key >>> 4) & 1;
      this.results[base + key] = this.match(
        ds,
        de,
        modrm,
        rex,
        key & 1,
        rep,
        vex ? 0 : bit4,
        vex ? bit4 : -1,
      );
    }
    return this.results[base + wanted]!;
  }

  /**
   * Fills the first-level entries of one opcode slot (512 keys: prefixes and ModRM reg/mod) from
   * the slot's own table; entries the first level cannot answer are marked for the slow path.
   * Returns the entry for `wanted`.
   */
  private buildFast(slot: number, wanted: number): number {
    const si = this.slotInfo[slot]!;
    const keyMode = si & 3;
    const base = si >>> 3;
    if (si !== 0 && this.results[base] === NOT_BUILT) this.buildSlot(slot, si, 0);
    for (let key = 0; key < 512; key++) {
      let entry = 1;
      if (si !== 0 && keyMode !== 2) {
        const r = this.results[base + (keyMode === 1 ? key : key & 31)]!;
        // Without ModRM the slot's table is keyed by REX.B instead (NOP against XCHG r8, rAX).
        const sameForRexB = keyMode !== 0 || this.results[base + (key & 31) + 32] === r;
        if (r >>> 4 !== 0 && sameForRexB) entry = (r & 0xfffc) | (keyMode !== 0 ? 2 : 0);
      }
      this.fastResults[(slot << 9) | key] = entry;
    }
    return this.fastResults[wanted]!;
  }

  /** Marks `out` invalid: no form, no operands, the reason and the bytes examined. */
  private invalid(out: Instruction, off: number, p: number, reason: number): void {
    out.code = 0;
    out.reason = reason;
    out.operandBits = 0;
    out.state = this.modeBits;
    out.length = Math.max(1, Math.min(15, p - off));
  }

  /**
   * VEX (C4/C5), EVEX (62) and XOP (8F) encodings: computes the length so that a disassembly
   * stays in step, and marks the instruction unsupported.
   */
  private skipVex(b: Uint8Array, off: number, p: number, esc: number, pfx67: number, out: Instruction): void {
    const mode = this.bitness;
    let map = 1;
    let pp = 0;
    if (esc === 0xc5) {
      pp = b[p]! & 3;
      p += 1;
    } else if (esc === 0xc4 || esc === 0x8f) {
      map = b[p]! & 0x1f;
      pp = b[p + 1]! & 3;
      p += 2;
    } else {
      map = b[p]! & 7;
      pp = b[p + 1]! & 3;
      p += 3;
    }
    void pp;
    const opcode = b[p++]!;
    // VZEROUPPER / VZEROALL (VEX.0F 77) are the only VEX forms without a ModRM byte.
    if (esc !== 0x8f && esc !== 0x62 && map === 1 && opcode === 0x77) {
      this.invalid(out, off, p, InvalidReason.unsupported);
      out.length = p - off;
      return;
    }
    const modrm = b[p++]!;
    const mod = modrm >> 6;
    const rm = modrm & 7;
    // 16-bit addressing in 16-bit mode, or in 32-bit mode with 67 (SDM Vol. 2 §2.1.5).
    const as16 = mode === 16 ? pfx67 === 0 : mode === 32 && pfx67 === 1;
    if (mod !== 3) {
      if (as16) {
        if (mod === 0 && rm === 6) p += 2;
        else if (mod === 1) p += 1;
        else if (mod === 2) p += 2;
      } else {
        if (rm === 4) {
          const sib = b[p++]!;
          if ((sib & 7) === 5 && mod === 0) p += 4;
        } else if (rm === 5 && mod === 0) p += 4;
        if (mod === 1) p += 1;
        else if (mod === 2) p += 4;
      }
    }
    // Immediate byte: map 3 (0F3A) forms, the map 1 opcodes with an imm8 (PSHUFD, the shift
    // groups 71–73, CMPPS, PINSRW, PEXTRW, SHUFPS) and XOP map 8 take one.
    if (
      (esc !== 0x8f && (map === 3 || (map === 1 && MAP1_IMM8[opcode] === 1))) ||
      (esc === 0x8f && map === 8)
    )
      p += 1;
    else if (esc === 0x8f && map === 0xa) p += 4;
    this.invalid(out, off, p, InvalidReason.unsupported);
    out.length = Math.min(15, p - off);
  }
}

const shared = { 16: new Decoder(16), 32: new Decoder(32), 64: new Decoder(64) } as const;

/**
 * Decodes one instruction into a new `Instruction` (convenient; allocates). For loops, use a
 * `Decoder` and `decodeOut` with one reused instruction.
 */
export function decode(bytes: Uint8Array, offset: number, bitness: Bitness, ip = 0): Instruction {
  const d = shared[bitness];
  if (d === undefined) throw new RangeError(`bitness must be 16, 32 or 64 (got ${String(bitness)})`);
  const out = new Instruction();
  d.decodeOut(bytes, offset, ip, out);
  return out;
}
