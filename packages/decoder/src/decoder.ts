import {
  CODE_ARGS,
  CODE_ATTR,
  CODE_MATCH,
  CODE_MNEMONIC,
  CODE_OP_COUNT,
  CODE_OPS,
  CODE_VEX,
  DISPATCH,
  DISPATCH_START,
  MNEMONIC_NAMES,
} from './generated/tables';
import { Instruction, PrefixBit } from './instruction';
import { InvalidReason, OperandDecode as OD, OpKind } from './kinds';
import { Register } from './registers';

/** Processor mode of the code being decoded. */
export type Bitness = 16 | 32 | 64;

/*
 * CODE_MATCH bit layout (written by scripts/generate.ts):
 *   0–2   modes the form exists in (bit 0: 16-bit, 1: 32-bit, 2: 64-bit)
 *   3–5   effective operand sizes it matches (16, 32, 64)
 *   6–8   effective address sizes it matches (16, 32, 64)
 *   9–11  mandatory prefix: 0 legacy, 1 none allowed, 2 = 66, 3 = F3, 4 = F2
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
const SIZES = [16, 32, 64, 64] as const;

/** Per mode and opcode slot: precomputed form choices, built on first use and shared. */
const RESOLVED: Record<Bitness, (Uint16Array | null | undefined)[]> = {
  16: new Array(7 * 256).fill(undefined),
  32: new Array(7 * 256).fill(undefined),
  64: new Array(7 * 256).fill(undefined),
};

// Prefix classes, indexed by byte: 0 is "not a prefix".
const PK_OSIZE = 1;
const PK_ASIZE = 2;
const PK_LOCK = 3;
const PK_REP = 4;
const PK_SEG_LEGACY = 5;
const PK_SEG_FSGS = 6;
const PK_REX = 7;
const PREFIX_KIND = new Uint8Array(256);
PREFIX_KIND[0x66] = PK_OSIZE;
PREFIX_KIND[0x67] = PK_ASIZE;
PREFIX_KIND[0xf0] = PK_LOCK;
PREFIX_KIND[0xf2] = PK_REP;
PREFIX_KIND[0xf3] = PK_REP;
for (const c of [0x26, 0x2e, 0x36, 0x3e]) PREFIX_KIND[c] = PK_SEG_LEGACY;
PREFIX_KIND[0x64] = PK_SEG_FSGS;
PREFIX_KIND[0x65] = PK_SEG_FSGS;
const PREFIX_KIND_64 = PREFIX_KIND.slice();
for (let c = 0x40; c < 0x50; c++) PREFIX_KIND_64[c] = PK_REX;

/** Registers of the 8-bit class: with a REX prefix, numbers 4–7 are SPL..DIL instead of AH..BH. */
function reg8(n: number, rex: number): number {
  if (n < 4) return Register.al + n;
  if (n < 8) return rex !== 0 ? Register.spl + n - 4 : Register.ah + n - 4;
  return Register.r8b + n - 8;
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
  /** Per opcode slot: the precomputed form choice (shared by all decoders of this mode). */
  private readonly resolved: (Uint16Array | null | undefined)[];

  constructor(bitness: Bitness) {
    if (bitness !== 16 && bitness !== 32 && bitness !== 64) {
      throw new RangeError(`bitness must be 16, 32 or 64 (got ${String(bitness)})`);
    }
    this.bitness = bitness;
    this.resolved = RESOLVED[bitness];
  }

  /** Decodes the instruction at `bytes[offset]`, located at address `ip`, into `out`. */
  decodeOut(bytes: Uint8Array, offset: number, ip: number, out: Instruction): void {
    if (offset + SCRATCH_SIZE <= bytes.length && offset >= 0) {
      this.decodeAt(bytes, offset, ip, out);
      return;
    }
    // Near the end of the buffer: decode from a zero-padded copy, then check the length.
    const avail = Math.max(0, Math.min(bytes.length - offset, SCRATCH_SIZE));
    const s = this.scratch;
    s.fill(0);
    for (let i = 0; i < avail; i++) s[i] = bytes[offset + i] ?? 0;
    this.decodeAt(s, 0, ip, out);
    if (out.length > avail) {
      out.code = 0;
      out.mnemonic = '';
      out.mnemonicId = 0;
      out.opCount = 0;
      out.invalidReason = InvalidReason.truncated;
      out.length = avail === 0 ? 0 : avail;
    }
  }

  private decodeAt(b: Uint8Array, off: number, ip: number, out: Instruction): void {
    const mode = this.bitness;
    out.ip = ip;
    out.bitness = mode;
    out.code = 0;
    out.mnemonic = '';
    out.mnemonicId = 0;
    out.invalidReason = 0;
    out.opCount = 0;
    out.op0Kind = 0;
    out.op1Kind = 0;
    out.op2Kind = 0;
    out.op3Kind = 0;
    out.op0Register = 0;
    out.op1Register = 0;
    out.op2Register = 0;
    out.op3Register = 0;
    out.memBase = 0;
    out.memIndex = 0;
    out.memScale = 1;
    out.memDisplacement = 0;
    out.memDisplacementHigh = 0;
    out.memDisplacementSize = 0;
    out.memSize = 0;
    out.memSegment = 0;
    out.segmentPrefix = 0;
    out.immediate = 0;
    out.immediateHigh = 0;
    out.immediate2 = 0;
    out.nearBranchTarget = 0;
    out.farSelector = 0;
    out.farOffset = 0;

    let p = off;
    let pfx66 = 0;
    let pfx67 = 0;
    let lock = 0;
    let rep = 0;
    let seg = 0;
    let rex = 0;
    let prefixes = 0;
    const limit = off + 15;

    // Legacy prefixes and REX (SDM Vol. 2 §2.1.1, §2.2.1): one table lookup per byte.
    const kinds = mode === 64 ? PREFIX_KIND_64 : PREFIX_KIND;
    for (;;) {
      if (p >= limit) {
        this.invalid(out, off, p, InvalidReason.tooLong);
        return;
      }
      const c = b[p]!;
      const k = kinds[c]!;
      if (k === 0) break;
      if (k === PK_REX) {
        rex = c;
        p++;
        continue;
      }
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
        rep = c;
      } else if (k === PK_SEG_LEGACY) {
        // In 64-bit mode ES/CS/SS/DS overrides are ignored and do not replace FS/GS.
        if (mode !== 64 || seg < Register.fs) seg = Register.es + ((c >> 3) & 3);
        prefixes |= PrefixBit.segment;
      } else {
        seg = c === 0x64 ? Register.fs : Register.gs;
        prefixes |= PrefixBit.segment;
      }
      rex = 0; // a legacy prefix after REX cancels it
      p++;
    }
    if (rep === 0xf3) prefixes |= PrefixBit.rep;
    else if (rep === 0xf2) prefixes |= PrefixBit.repne;
    if (rex !== 0) prefixes |= PrefixBit.rex;
    out.prefixes = prefixes;
    out.rex = rex;
    out.segmentPrefix = seg;

    let rexW = (rex >> 3) & 1;
    let rexR = (rex & 4) << 1;
    let rexX = (rex & 2) << 2;
    let rexB = (rex & 1) << 3;
    /** VEX: VEX.L (-1 when not VEX-encoded) and the register in VEX.vvvv. */
    let vexL = -1;
    let vvvv = 0;
    let vexAt = 0;
    let vexEsc = 0;

    // Opcode and map.
    let op = b[p++]!;
    let map = 0;
    if (op === 0x0f) {
      op = b[p++]!;
      map = 1;
      if (op === 0x38) {
        op = b[p++]!;
        map = 2;
      } else if (op === 0x3a) {
        op = b[p++]!;
        map = 3;
      }
    } else if (op === 0xc4 || op === 0xc5 || op === 0x62 || op === 0x8f) {
      const next = b[p]!;
      // In 16/32-bit mode these are LES/LDS/BOUND/POP unless ModRM.mod = 11 (VEX/EVEX) or
      // the XOP map field is 8 or more; in 64-bit mode C4/C5/62 are always VEX/EVEX.
      const isVex = op === 0x8f ? (next & 0x1f) >= 8 : mode === 64 || (next & 0xc0) === 0xc0;
      if (isVex) {
        if (op === 0x62 || op === 0x8f) {
          this.skipVex(b, off, p, op, mode, out);
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
        if (mode !== 64) vvvv &= 7;
        vexL = (b1 >> 2) & 1;
        const pp = b1 & 3;
        pfx66 = pp === 1 ? 1 : 0;
        rep = pp === 2 ? 0xf3 : pp === 3 ? 0xf2 : 0;
        rexW = w;
        rex = w << 3;
        op = b[p++]!;
      }
    }

    const ds = DISPATCH_START[map * 256 + op]!;
    const de = DISPATCH_START[map * 256 + op + 1]!;
    if (ds === de) {
      if (vexL >= 0) this.skipVex(b, off, vexAt, vexEsc, mode, out);
      else this.invalid(out, off, p, InvalidReason.undefinedOpcode);
      return;
    }

    const first = CODE_MATCH[DISPATCH[ds]!]!;
    let modrm = -1;
    if (((first >>> 17) & 3) !== 0) modrm = b[p++]!;
    const mod = modrm >> 6;

    const as = mode === 16 ? (pfx67 ? 32 : 16) : mode === 32 ? (pfx67 ? 16 : 32) : pfx67 ? 32 : 64;
    const slot = map * 256 + op;
    // VEX forms also depend on VEX.L, so they take the candidate scan instead of the table.
    let table = vexL >= 0 ? null : this.resolved[slot];
    if (table === undefined) table = this.resolveSlot(slot, ds, de);
    const r =
      table !== null
        ? table[
            pfx66 |
              (rep === 0xf3 ? 2 : rep === 0xf2 ? 4 : 0) |
              (rexW << 3) |
              (pfx67 << 4) |
              ((modrm & 0xff) << 5)
          ]!
        : this.match(ds, de, modrm, rex, pfx66, rep, pfx67, vexL);
    const code = r >>> 4;
    const cos = SIZES[(r >>> 2) & 3]!;
    const modeFail = (r & 2) !== 0;
    if (code === 0) {
      // VEX coverage is partial: a VEX opcode without a matching row is reported as unsupported
      // (with its length), not as undefined.
      if (vexL >= 0) this.skipVex(b, off, vexAt, vexEsc, mode, out);
      else this.invalid(out, off, p, modeFail ? InvalidReason.invalidInMode : InvalidReason.undefinedOpcode);
      return;
    }
    // A VEX form without a VEX.vvvv operand requires vvvv = 1111b (stored inverted: 0 here).
    if (vexL >= 0 && vvvv !== 0 && (CODE_VEX[code]! & 0x10) === 0) {
      this.invalid(out, off, p, InvalidReason.undefinedOpcode);
      return;
    }
    out.operandSize = cos;
    out.addressSize = as;

    // Memory operand from ModRM/SIB (SDM Vol. 2 §2.1.5, tables 2-1 to 2-3).
    let memUsed = false;
    if (modrm >= 0 && mod !== 3 && ((CODE_MATCH[code]! >>> 22) & 3) !== 3) {
      memUsed = true;
      const rm = modrm & 7;
      let defSeg: number = Register.ds;
      if (as === 16) {
        if (mod === 0 && rm === 6) {
          out.memDisplacement = b[p]! | (b[p + 1]! << 8);
          out.memDisplacementSize = 2;
          p += 2;
        } else {
          out.memBase = BX_SI[rm]!;
          out.memIndex = IDX16[rm]!;
          if (rm === 2 || rm === 3 || rm === 6) defSeg = Register.ss;
          if (mod === 1) {
            out.memDisplacement = ((b[p]! << 24) >> 24) & 0xffff;
            out.memDisplacementSize = 1;
            p += 1;
          } else if (mod === 2) {
            out.memDisplacement = b[p]! | (b[p + 1]! << 8);
            out.memDisplacementSize = 2;
            p += 2;
          }
        }
      } else {
        const regBase = as === 32 ? Register.eax : Register.rax;
        let baseNum = -1;
        if (rm === 4) {
          const sib = b[p++]!;
          const idx = ((sib >> 3) & 7) | rexX;
          if (idx !== 4) {
            out.memIndex = regBase + idx;
            out.memScale = 1 << (sib >> 6);
          } else out.memScale = 1 << (sib >> 6);
          const bn = sib & 7;
          if (bn === 5 && mod === 0) {
            out.memDisplacement = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
            out.memDisplacementSize = 4;
            p += 4;
          } else baseNum = bn | rexB;
        } else if (rm === 5 && mod === 0) {
          out.memDisplacement = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
          out.memDisplacementSize = 4;
          p += 4;
          if (mode === 64) out.memBase = as === 64 ? Register.rip : Register.eip;
        } else baseNum = rm | rexB;
        if (baseNum >= 0) {
          out.memBase = regBase + baseNum;
          if (baseNum === 4 || baseNum === 5) defSeg = Register.ss;
        }
        if (mod === 1) {
          out.memDisplacement = (b[p]! << 24) >> 24;
          out.memDisplacementSize = 1;
          p += 1;
        } else if (mod === 2) {
          out.memDisplacement = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
          out.memDisplacementSize = 4;
          p += 4;
        }
        if (as === 32) out.memDisplacement >>>= 0;
      }
      out.memSegment = seg !== 0 ? seg : defSeg;
    }

    // Operands.
    const count = CODE_OP_COUNT[code]!;
    const reg = ((modrm >> 3) & 7) | rexR;
    const rmReg = (modrm & 7) | rexB;
    for (let i = 0; i < count; i++) {
      const k = CODE_OPS[code * 4 + i]!;
      const arg = CODE_ARGS[code * 4 + i]!;
      let kind: number = OpKind.register;
      let r = 0;
      switch (k) {
        case OD.reg8:
          r = reg8(reg, rex);
          break;
        case OD.reg16:
          r = Register.ax + reg;
          break;
        case OD.reg32:
          r = Register.eax + reg;
          break;
        case OD.reg64:
          r = Register.rax + reg;
          break;
        case OD.rm8:
        case OD.rm16:
        case OD.rm32:
        case OD.rm64:
        case OD.r32m16:
        case OD.r64m16:
          if (memUsed) {
            kind = OpKind.memory;
            out.memSize = arg;
          } else {
            r =
              k === OD.rm8
                ? reg8(rmReg, rex)
                : k === OD.rm16
                  ? Register.ax + rmReg
                  : k === OD.rm32 || k === OD.r32m16
                    ? Register.eax + rmReg
                    : Register.rax + rmReg;
          }
          break;
        case OD.mem:
          kind = OpKind.memory;
          out.memSize = arg;
          break;
        case OD.rr16:
          r = Register.ax + rmReg;
          break;
        case OD.rr32:
        case OD.rx32:
          r = Register.eax + rmReg;
          break;
        case OD.rr64:
        case OD.rx64:
          r = Register.rax + rmReg;
          break;
        case OD.sreg:
        case OD.sregw: {
          const n = (modrm >> 3) & 7;
          if (n > 5 || (k === OD.sregw && n === 1)) {
            this.invalid(out, off, p, InvalidReason.badRegister);
            return;
          }
          r = Register.es + n;
          break;
        }
        case OD.cr: {
          const n = reg;
          if (!(n === 0 || n === 2 || n === 3 || n === 4 || n === 8)) {
            this.invalid(out, off, p, InvalidReason.badRegister);
            return;
          }
          r = Register.cr0 + n;
          break;
        }
        case OD.dr:
          if (reg > 7) {
            this.invalid(out, off, p, InvalidReason.badRegister);
            return;
          }
          r = Register.dr0 + reg;
          break;
        case OD.zr8:
          r = reg8((op & 7) | rexB, rex);
          break;
        case OD.zr16:
          r = Register.ax + ((op & 7) | rexB);
          break;
        case OD.zr32:
          r = Register.eax + ((op & 7) | rexB);
          break;
        case OD.zr64:
          r = Register.rax + ((op & 7) | rexB);
          break;
        case OD.fixed:
          r = arg;
          break;
        case OD.sti:
          r = Register.st0 + (modrm & 7);
          break;
        case OD.mm:
          r = Register.mm0 + ((modrm >> 3) & 7);
          break;
        case OD.rmm:
          r = Register.mm0 + (modrm & 7);
          break;
        case OD.mmrm:
          if (memUsed) {
            kind = OpKind.memory;
            out.memSize = arg;
          } else r = Register.mm0 + (modrm & 7);
          break;
        case OD.xmm:
          r = Register.xmm0 + reg;
          break;
        case OD.rxmm:
          r = Register.xmm0 + rmReg;
          break;
        case OD.xmmrm:
          if (memUsed) {
            kind = OpKind.memory;
            out.memSize = arg;
          } else r = Register.xmm0 + rmReg;
          break;
        case OD.ymm:
          r = Register.ymm0 + reg;
          break;
        case OD.rymm:
          r = Register.ymm0 + rmReg;
          break;
        case OD.ymmrm:
          if (memUsed) {
            kind = OpKind.memory;
            out.memSize = arg;
          } else r = Register.ymm0 + rmReg;
          break;
        case OD.vvvvX:
          r = Register.xmm0 + vvvv;
          break;
        case OD.vvvvY:
          r = Register.ymm0 + vvvv;
          break;
        case OD.vvvvR32:
          r = Register.eax + vvvv;
          break;
        case OD.vvvvR64:
          r = Register.rax + vvvv;
          break;
        case OD.ib:
        case OD.one:
          kind = OpKind.immediate;
          if (k === OD.one) out.immediate = 1;
          else out.immediate = b[p++]!;
          break;
        case OD.iw:
          kind = OpKind.immediate;
          out.immediate = b[p]! | (b[p + 1]! << 8);
          p += 2;
          break;
        case OD.id:
          kind = OpKind.immediate;
          out.immediate = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
          p += 4;
          break;
        case OD.iq:
          kind = OpKind.immediate;
          out.immediate = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
          out.immediateHigh = (b[p + 4]! | (b[p + 5]! << 8) | (b[p + 6]! << 16) | (b[p + 7]! << 24)) >>> 0;
          p += 8;
          break;
        case OD.ibs16:
          kind = OpKind.immediate;
          out.immediate = ((b[p++]! << 24) >> 24) & 0xffff;
          break;
        case OD.ibs32:
          kind = OpKind.immediate;
          out.immediate = ((b[p++]! << 24) >> 24) >>> 0;
          break;
        case OD.ibs64:
          kind = OpKind.immediate;
          out.immediate = (b[p++]! << 24) >> 24;
          out.immediateHigh = out.immediate < 0 ? 0xffffffff : 0;
          out.immediate >>>= 0;
          break;
        case OD.ids64:
          kind = OpKind.immediate;
          out.immediate = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
          out.immediateHigh = out.immediate < 0 ? 0xffffffff : 0;
          out.immediate >>>= 0;
          p += 4;
          break;
        case OD.ib2:
          kind = OpKind.immediate;
          out.immediate2 = b[p++]!;
          break;
        case OD.rel8:
        case OD.rel16:
        case OD.rel32: {
          kind = OpKind.nearBranch;
          let rel: number;
          if (k === OD.rel8) rel = (b[p++]! << 24) >> 24;
          else if (k === OD.rel16) {
            rel = ((b[p]! | (b[p + 1]! << 8)) << 16) >> 16;
            p += 2;
          } else {
            rel = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
            p += 4;
          }
          const t = ip + (p - off) + rel;
          out.nearBranchTarget = cos === 16 ? t & 0xffff : cos === 32 ? t >>> 0 : wrap64(t);
          break;
        }
        case OD.ptr1616:
        case OD.ptr1632:
          kind = OpKind.farBranch;
          if (k === OD.ptr1616) {
            out.farOffset = b[p]! | (b[p + 1]! << 8);
            p += 2;
          } else {
            out.farOffset = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
            p += 4;
          }
          out.farSelector = b[p]! | (b[p + 1]! << 8);
          p += 2;
          break;
        case OD.moffs:
          kind = OpKind.memory;
          out.memSize = arg;
          out.memSegment = seg !== 0 ? seg : Register.ds;
          if (as === 16) {
            out.memDisplacement = b[p]! | (b[p + 1]! << 8);
            out.memDisplacementSize = 2;
            p += 2;
          } else {
            out.memDisplacement = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
            out.memDisplacementSize = 4;
            p += 4;
            if (as === 64) {
              out.memDisplacementHigh =
                (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
              out.memDisplacementSize = 8;
              p += 4;
            }
          }
          break;
        case OD.segSI:
          kind = OpKind.memorySegSI;
          out.memSize = arg;
          out.memSegment = seg !== 0 ? seg : Register.ds;
          break;
        case OD.esDI:
          kind = OpKind.memoryESDI;
          out.memSize = arg;
          if (out.memSegment === 0) out.memSegment = Register.es;
          break;
        case OD.segBXAL:
          kind = OpKind.memory;
          out.memSize = arg;
          out.memBase = as === 16 ? Register.bx : as === 32 ? Register.ebx : Register.rbx;
          out.memIndex = Register.al;
          out.memSegment = seg !== 0 ? seg : Register.ds;
          break;
        default:
          kind = OpKind.none;
      }
      if (i === 0) {
        out.op0Kind = kind as OpKind;
        out.op0Register = r;
      } else if (i === 1) {
        out.op1Kind = kind as OpKind;
        out.op1Register = r;
      } else if (i === 2) {
        out.op2Kind = kind as OpKind;
        out.op2Register = r;
      } else {
        out.op3Kind = kind as OpKind;
        out.op3Register = r;
      }
    }

    const len = p - off;
    if (len > 15) {
      this.invalid(out, off, p, InvalidReason.tooLong);
      return;
    }
    if (lock) {
      // LOCK needs a lockable form with a memory destination (SDM Vol. 2, LOCK: #UD otherwise).
      if ((CODE_ATTR[code]! & 1) === 0 || out.op0Kind !== OpKind.memory) {
        this.invalid(out, off, p, InvalidReason.lockNotAllowed);
        return;
      }
    }
    out.length = len;
    out.code = code;
    const mn = CODE_MNEMONIC[code]!;
    out.mnemonicId = mn;
    out.mnemonic = MNEMONIC_NAMES[mn]!;
    out.opCount = count;
    if (out.memSegment === 0 && memUsed) out.memSegment = Register.ds;
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
   * Precomputes `match` for every combination of 66/67/REP/REX.W prefixes and ModRM byte of one
   * opcode (8,192 entries), the first time the opcode is seen, so later decodes take one table
   * load. Opcodes whose forms depend on REX.B (NOP vs XCHG r8) keep the candidate scan.
   */
  private resolveSlot(slot: number, ds: number, de: number): Uint16Array | null {
    for (let i = ds; i < de; i++) {
      if (CODE_MATCH[DISPATCH[i]!]! & 0x10000) {
        this.resolved[slot] = null;
        return null;
      }
    }
    const hasModrm = ((CODE_MATCH[DISPATCH[ds]!]! >>> 17) & 3) !== 0;
    const t = new Uint16Array(8192);
    for (let key = 0; key < 8192; key++) {
      const modrm = hasModrm ? key >>> 5 : -1;
      if (!hasModrm && key >>> 5 !== 0) {
        t[key] = t[key & 31]!;
        continue;
      }
      const repBits = (key >>> 1) & 3;
      const rep = repBits === 1 ? 0xf3 : repBits === 2 ? 0xf2 : 0;
      const rex = (key >>> 3) & 1 ? 0x48 : 0;
      t[key] = this.match(ds, de, modrm, rex, key & 1, rep, (key >>> 4) & 1);
    }
    this.resolved[slot] = t;
    return t;
  }

  private invalid(out: Instruction, off: number, p: number, reason: number): void {
    out.code = 0;
    out.mnemonic = '';
    out.mnemonicId = 0;
    out.opCount = 0;
    out.op0Kind = 0;
    out.op1Kind = 0;
    out.op2Kind = 0;
    out.op3Kind = 0;
    out.invalidReason = reason;
    out.length = Math.max(1, Math.min(15, p - off));
  }

  /**
   * VEX (C4/C5), EVEX (62) and XOP (8F) encodings: computes the length so that a disassembly
   * stays in step, and marks the instruction unsupported.
   */
  private skipVex(b: Uint8Array, off: number, p: number, esc: number, mode: Bitness, out: Instruction): void {
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
    const as = mode === 16 ? 16 : 32;
    if (mod !== 3) {
      if (as === 16 && mode === 16) {
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
    // Immediate byte: VEX map 3 (0F3A) forms and XOP map 8 take an imm8.
    if ((esc !== 0x8f && map === 3) || (esc === 0x8f && map === 8)) p += 1;
    else if (esc === 0x8f && map === 0xa) p += 4;
    this.invalid(out, off, p, InvalidReason.unsupported);
    out.length = Math.min(15, p - off);
  }
}

function wrap64(t: number): number {
  if (t < 0) return t + 2 ** 64;
  if (t >= 2 ** 64) return t - 2 ** 64;
  return t;
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
