import {
  CODE_ARGS,
  CODE_ATTR,
  CODE_COUNT,
  CODE_MATCH,
  CODE_OP_COUNT,
  CODE_OPS,
  CODE_VEX,
} from './generated/tables';
import { OperandDecode as OD, OpKind } from './kinds';
import { Register } from './registers';

/*
 * Per-form operand templates, derived once from CODE_OPS/CODE_ARGS so that the common operands
 * take no branches: operand i of form c has a fixed kind and a register `base + field`, where the
 * field is one of the numbers the decoder extracts from ModRM, the opcode or VEX.vvvv. Two
 * variants: ModRM r/m naming a register (mod = 11b) and naming memory. Operands that read bytes
 * or need checks (immediates, branch targets, moffs, string operands, segment/control/debug
 * registers) are listed per form as "extras" and handled in operand order by a switch.
 */
export const F_NONE = 0;
export const F_REG = 1; // ModRM.reg | REX.R
export const F_RM = 2; // ModRM.rm | REX.B
export const F_OPLOW = 3; // opcode bits 0–2 | REX.B
export const F_VVVV = 4;
export const F_REG8 = 5; // 8-bit register numbering of F_REG (SPL..DIL with REX)
export const F_RM8 = 6;
export const F_OPLOW8 = 7;
export const F_REG3 = 8; // ModRM.reg without REX.R
export const F_RM3 = 9; // ModRM.rm without REX.B
export const F_VVVV3 = 10; // VEX.vvvv, low three bits

/**
 * Operand i of form c: `kind | field << 3 | base << 7` at `variant * CODE_COUNT * 4 + c * 4 + i`
 * (variant 1: the ModRM r/m operand is memory).
 */
export const TEMPLATE = new Uint16Array(CODE_COUNT * 8);
/** Memory size of each form per variant, at `variant * CODE_COUNT + code`. */
export const TEMPLATE_MEMSIZE = new Uint8Array(CODE_COUNT * 2);
/** Operands handled by the decoder's switch: up to 4 per form (decode kinds, in order). */
export const EXTRA = new Uint8Array(CODE_COUNT * 4);
export const EXTRA_COUNT = new Uint8Array(CODE_COUNT);
/**
 * Which detail fields of `Instruction` a form's operands fill, besides a ModRM memory operand:
 * the `DETAIL_*` bits. A field outside the mask reads as its default.
 */
export const DETAIL = new Uint8Array(CODE_COUNT);
export const DETAIL_IMM = 0x1;
export const DETAIL_IMM_HIGH = 0x2;
export const DETAIL_IMM2 = 0x4;
export const DETAIL_BRANCH = 0x8;
export const DETAIL_FAR = 0x10;
/** moffs, string and XLAT operands: the memory fields are filled by the operand itself. */
export const DETAIL_MEM = 0x20;

/**
 * What the decoder's hot path needs of a form, in one word: bits 0–2 the number of extras,
 * 3–8 the `DETAIL_*` bits, then the `FAST_*` flags.
 */
export const CODE_FAST = new Uint32Array(CODE_COUNT);
export const FAST_DETAIL_SHIFT = 3;
/** ModRM r/m is a register whatever the mod bits say (MOV to/from CRn/DRn). */
export const FAST_RM_ALWAYS_REGISTER = 1 << 9;
/** Accepts LOCK (with a memory destination). */
export const FAST_LOCKABLE = 1 << 10;
/** Has a VEX.vvvv operand (VEX forms without one need vvvv = 1111b). */
export const FAST_USES_VVVV = 1 << 11;
function build(): void {
  const place = (c: number, i: number, v: number, kind: number, base: number, field: number) => {
    const at = v * CODE_COUNT * 4 + c * 4 + i;
    TEMPLATE[at] = kind | (field << 3) | (base << 7);
  };
  for (let c = 1; c < CODE_COUNT; c++) {
    const count = CODE_OP_COUNT[c]!;
    let extras = 0;
    let detail = 0;
    for (let i = 0; i < count; i++) {
      const k = CODE_OPS[c * 4 + i]!;
      const arg = CODE_ARGS[c * 4 + i]!;
      const both = (kind: number, base: number, field: number) => {
        place(c, i, 0, kind, base, field);
        place(c, i, 1, kind, base, field);
      };
      const rm = (base: number, field: number) => {
        place(c, i, 0, OpKind.register, base, field);
        place(c, i, 1, OpKind.memory, 0, F_NONE);
        TEMPLATE_MEMSIZE[CODE_COUNT + c] = arg;
      };
      const extra = (kind: number) => {
        both(kind, 0, F_NONE);
        EXTRA[c * 4 + extras++] = k;
      };
      switch (k) {
        case OD.reg8:
          both(OpKind.register, 0, F_REG8);
          break;
        case OD.reg16:
          both(OpKind.register, Register.ax, F_REG);
          break;
        case OD.reg32:
          both(OpKind.register, Register.eax, F_REG);
          break;
        case OD.reg64:
          both(OpKind.register, Register.rax, F_REG);
          break;
        case OD.rm8:
          rm(0, F_RM8);
          break;
        case OD.rm16:
          rm(Register.ax, F_RM);
          break;
        case OD.rm32:
        case OD.r32m16:
          rm(Register.eax, F_RM);
          break;
        case OD.rm64:
        case OD.r64m16:
          rm(Register.rax, F_RM);
          break;
        case OD.mmrm:
          rm(Register.mm0, F_RM3);
          break;
        case OD.xmmrm:
          rm(Register.xmm0, F_RM);
          break;
        case OD.ymmrm:
          rm(Register.ymm0, F_RM);
          break;
        case OD.mem:
          both(OpKind.memory, 0, F_NONE);
          TEMPLATE_MEMSIZE[CODE_COUNT + c] = arg;
          break;
        case OD.rr16:
          both(OpKind.register, Register.ax, F_RM);
          break;
        case OD.rr32:
        case OD.rx32:
          both(OpKind.register, Register.eax, F_RM);
          break;
        case OD.rr64:
        case OD.rx64:
          both(OpKind.register, Register.rax, F_RM);
          break;
        case OD.zr8:
          both(OpKind.register, 0, F_OPLOW8);
          break;
        case OD.zr16:
          both(OpKind.register, Register.ax, F_OPLOW);
          break;
        case OD.zr32:
          both(OpKind.register, Register.eax, F_OPLOW);
          break;
        case OD.zr64:
          both(OpKind.register, Register.rax, F_OPLOW);
          break;
        case OD.fixed:
          both(OpKind.register, arg, F_NONE);
          break;
        case OD.sti:
          both(OpKind.register, Register.st0, F_RM3);
          break;
        case OD.mm:
          both(OpKind.register, Register.mm0, F_REG3);
          break;
        case OD.rmm:
          both(OpKind.register, Register.mm0, F_RM3);
          break;
        case OD.xmm:
          both(OpKind.register, Register.xmm0, F_REG);
          break;
        case OD.rxmm:
          both(OpKind.register, Register.xmm0, F_RM);
          break;
        case OD.ymm:
          both(OpKind.register, Register.ymm0, F_REG);
          break;
        case OD.rymm:
          both(OpKind.register, Register.ymm0, F_RM);
          break;
        case OD.vvvvX:
          both(OpKind.register, Register.xmm0, F_VVVV);
          break;
        case OD.vvvvY:
          both(OpKind.register, Register.ymm0, F_VVVV);
          break;
        case OD.vvvvR32:
          both(OpKind.register, Register.eax, F_VVVV);
          break;
        case OD.vvvvR64:
          both(OpKind.register, Register.rax, F_VVVV);
          break;
        // Opmask registers: k0–k7, three bits. In 64-bit mode a set VEX.R (ModRM.reg) or
        // VEX.vvvv[3] names no register (checked as extras); VEX.B is ignored for ModRM.r/m.
        case OD.kr:
          both(OpKind.register, Register.k0, F_REG3);
          EXTRA[c * 4 + extras++] = k;
          break;
        case OD.rkr:
          both(OpKind.register, Register.k0, F_RM3);
          break;
        case OD.krm:
          rm(Register.k0, F_RM3);
          break;
        case OD.vvvvK:
          both(OpKind.register, Register.k0, F_VVVV3);
          EXTRA[c * 4 + extras++] = k;
          break;
        // is4: the decoder reads imm8[7:4] (an extra) into the opcode-low field of the packed
        // operand word, which VEX forms do not otherwise use.
        case OD.is4x:
          both(OpKind.register, Register.xmm0, F_OPLOW);
          EXTRA[c * 4 + extras++] = k;
          break;
        case OD.is4y:
          both(OpKind.register, Register.ymm0, F_OPLOW);
          EXTRA[c * 4 + extras++] = k;
          break;
        // VSIB: a ModRM memory operand whose index the decoder replaces with a vector register
        // (an extra, which also checks the SIB byte and the register rules).
        case OD.vsibx:
        case OD.vsiby:
          both(OpKind.memory, 0, F_NONE);
          TEMPLATE_MEMSIZE[CODE_COUNT + c] = arg;
          EXTRA[c * 4 + extras++] = k;
          break;
        case OD.sreg:
        case OD.sregw:
          both(OpKind.register, Register.es, F_REG3);
          EXTRA[c * 4 + extras++] = k;
          break;
        case OD.cr:
          both(OpKind.register, Register.cr0, F_REG);
          EXTRA[c * 4 + extras++] = k;
          break;
        case OD.dr:
          both(OpKind.register, Register.dr0, F_REG);
          EXTRA[c * 4 + extras++] = k;
          break;
        case OD.rel8:
        case OD.rel16:
        case OD.rel32:
          extra(OpKind.nearBranch);
          detail |= DETAIL_BRANCH;
          break;
        case OD.ptr1616:
        case OD.ptr1632:
          extra(OpKind.farBranch);
          detail |= DETAIL_FAR;
          break;
        case OD.moffs:
        case OD.segBXAL:
          extra(OpKind.memory);
          detail |= DETAIL_MEM;
          TEMPLATE_MEMSIZE[c] = arg;
          TEMPLATE_MEMSIZE[CODE_COUNT + c] = arg;
          break;
        case OD.segSI:
          extra(OpKind.memorySegSI);
          detail |= DETAIL_MEM;
          TEMPLATE_MEMSIZE[c] = arg;
          TEMPLATE_MEMSIZE[CODE_COUNT + c] = arg;
          break;
        case OD.esDI:
          extra(OpKind.memoryESDI);
          detail |= DETAIL_MEM;
          TEMPLATE_MEMSIZE[c] = arg;
          TEMPLATE_MEMSIZE[CODE_COUNT + c] = arg;
          break;
        case OD.ib:
        case OD.iw:
        case OD.id:
        case OD.iq:
        case OD.ibs16:
        case OD.ibs32:
        case OD.ibs64:
        case OD.ids64:
        case OD.ib2:
        case OD.one:
          extra(OpKind.immediate);
          detail |=
            k === OD.ib2
              ? DETAIL_IMM2
              : k === OD.iq || k === OD.ibs64 || k === OD.ids64
                ? DETAIL_IMM | DETAIL_IMM_HIGH
                : DETAIL_IMM;
          break;
        default:
          both(OpKind.none, 0, F_NONE);
      }
    }
    // MOVS/CMPS: the source's segment is the one reported; ES:[rDI] adds nothing then.
    let hasSegSI = false;
    for (let j = 0; j < extras; j++) if (EXTRA[c * 4 + j] === OD.segSI) hasSegSI = true;
    if (hasSegSI) {
      let w = 0;
      for (let j = 0; j < extras; j++) {
        const e = EXTRA[c * 4 + j] ?? 0;
        if (e !== OD.esDI) EXTRA[c * 4 + w++] = e;
      }
      for (let j = w; j < extras; j++) EXTRA[c * 4 + j] = 0;
      extras = w;
    }
    EXTRA_COUNT[c] = extras;
    DETAIL[c] = detail;
    CODE_FAST[c] =
      extras |
      (detail << FAST_DETAIL_SHIFT) |
      ((((CODE_MATCH[c] ?? 0) >>> 22) & 3) === 3 ? FAST_RM_ALWAYS_REGISTER : 0) |
      ((CODE_ATTR[c] ?? 0) & 1 ? FAST_LOCKABLE : 0) |
      ((CODE_VEX[c] ?? 0) & 0x10 ? FAST_USES_VVVV : 0);
  }
}
build();

/** 8-bit register ids by number, without and with a REX prefix (index rex * 16 + n). */
export const REG8 = new Uint8Array(32);
for (let n = 0; n < 16; n++) {
  REG8[n] = n < 4 ? Register.al + n : n < 8 ? Register.ah + n - 4 : Register.r8b + n - 8;
  REG8[16 + n] = n < 4 ? Register.al + n : n < 8 ? Register.spl + n - 4 : Register.r8b + n - 8;
}

/**
 * Packed per-instruction operand numbers (`Instruction` keeps one such number and derives its
 * operand registers from it and the form's template).
 */
export const OPS_MEMORY = 0x1;
export const OPS_REG_SHIFT = 1;
export const OPS_RM_SHIFT = 5;
export const OPS_LOW_SHIFT = 9;
export const OPS_VVVV_SHIFT = 13;
export const OPS_REX = 1 << 17;
/** The memory fields hold a memory operand (ModRM memory, moffs, string or XLAT operand). */
export const OPS_MEMORY_DETAIL = 1 << 18;

/** `Instruction.memBits`: base register, index register, log2 scale, segment, displacement bytes. */
export const MEM_INDEX_SHIFT = 8;
export const MEM_SCALE_SHIFT = 16;
export const MEM_SEGMENT_SHIFT = 18;
export const MEM_DISP_SIZE_SHIFT = 26;

/** `Instruction.state`: prefix bits, REX byte, segment prefix, operand/address size and mode (0–2 for 16/32/64). */
export const STATE_REX_SHIFT = 8;
export const STATE_SEGMENT_SHIFT = 16;
export const STATE_OS_SHIFT = 24;
export const STATE_AS_SHIFT = 26;
export const STATE_MODE_SHIFT = 28;

/** The register of operand `i` of form `code`, given the packed operand numbers. */
export function templateRegister(code: number, ops: number, i: number): number {
  const t = TEMPLATE[(ops & OPS_MEMORY) * CODE_COUNT * 4 + code * 4 + i] ?? 0;
  const base = t >>> 7;
  const bank = ops & OPS_REX ? 16 : 0;
  switch ((t >>> 3) & 15) {
    case F_REG:
      return base + ((ops >>> OPS_REG_SHIFT) & 15);
    case F_RM:
      return base + ((ops >>> OPS_RM_SHIFT) & 15);
    case F_OPLOW:
      return base + ((ops >>> OPS_LOW_SHIFT) & 15);
    case F_VVVV:
      return base + ((ops >>> OPS_VVVV_SHIFT) & 15);
    case F_REG8:
      return REG8[bank + ((ops >>> OPS_REG_SHIFT) & 15)] ?? 0;
    case F_RM8:
      return REG8[bank + ((ops >>> OPS_RM_SHIFT) & 15)] ?? 0;
    case F_OPLOW8:
      return REG8[bank + ((ops >>> OPS_LOW_SHIFT) & 15)] ?? 0;
    case F_REG3:
      return base + ((ops >>> OPS_REG_SHIFT) & 7);
    case F_RM3:
      return base + ((ops >>> OPS_RM_SHIFT) & 7);
    case F_VVVV3:
      return base + ((ops >>> OPS_VVVV_SHIFT) & 7);
    default:
      return base;
  }
}

/** The kind of operand `i` of form `code`. */
export function templateKind(code: number, ops: number, i: number): number {
  return (TEMPLATE[(ops & OPS_MEMORY) * CODE_COUNT * 4 + code * 4 + i] ?? 0) & 7;
}
