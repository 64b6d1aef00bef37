import {
  CODE_ATTR,
  CODE_COUNT,
  CODE_FLAGS,
  CODE_MNEMONIC,
  CODE_NAMES,
  CODE_OP_COUNT,
  CPUID_FEATURE_NAMES,
  MNEMONIC_NAMES,
} from './generated/tables';
import type { FlowControl, OpAccess, OpKind, Privilege } from './kinds';
import { INVALID_REASON_NAMES } from './kinds';
import {
  DETAIL,
  DETAIL_BRANCH,
  DETAIL_FAR,
  DETAIL_IMM,
  DETAIL_IMM_HIGH,
  DETAIL_IMM2,
  MEM_DISP_SIZE_SHIFT,
  MEM_INDEX_SHIFT,
  MEM_SCALE_SHIFT,
  MEM_SEGMENT_SHIFT,
  OPS_MEMORY,
  OPS_MEMORY_DETAIL,
  STATE_AS_SHIFT,
  STATE_MODE_SHIFT,
  STATE_OS_SHIFT,
  STATE_REX_SHIFT,
  STATE_SEGMENT_SHIFT,
  TEMPLATE_MEMSIZE,
  templateKind,
  templateRegister,
} from './operand-template';

/**
 * One decoded instruction, refilled in place by `Decoder.decodeOut` without allocating. The
 * decoder stores a few numbers per instruction (form code, length, sizes, prefixes, the ModRM/
 * opcode/VEX register numbers packed in one word, and the memory and immediate fields the form
 * has); operand kinds, registers, the mnemonic and the operand count are read through getters
 * that combine those numbers with the form's tables. Per-form facts (flags, flow, privilege,
 * CPUID feature, operand access) are read with the functions below or `formInfo(code)`.
 */
export class Instruction {
  /** Length in bytes (1–15; for an invalid encoding, the bytes examined). */
  length = 0;
  /** Form code (`Code.add_rm32_r32`), 0 when invalid. */
  code = 0;
  /** Address of the first byte (the `ip` given to the decoder). */
  ip = 0;

  /**
   * @internal Prefixes, REX, segment prefix, operand/address size and mode, packed by the
   * decoder (`STATE_*` in `operand-template.ts`); read them through the getters.
   */
  state = (1 << STATE_OS_SHIFT) | (1 << STATE_AS_SHIFT) | (1 << STATE_MODE_SHIFT);
  /** @internal Register numbers of the operands, packed by the decoder; read `op0Register` etc. */
  operandBits = 0;
  /** @internal Why the bytes do not decode; read `invalidReason`. */
  reason = 0;
  /** @internal Memory operand registers, scale, segment and displacement size, packed (`MEM_*`). */
  memBits = 0;
  /** @internal Backing fields of the displacement and immediates, valid per the form. */
  displacement = 0;
  displacementHigh = 0;
  imm = 0;
  immHigh = 0;
  imm2 = 0;
  target = 0;
  selector = 0;
  farOff = 0;

  /** Processor mode the instruction was decoded in: 16, 32 or 64. */
  get bitness(): number {
    return 16 << ((this.state >>> STATE_MODE_SHIFT) & 3);
  }
  /** Effective operand size in bits (16, 32, 64). */
  get operandSize(): number {
    return 16 << ((this.state >>> STATE_OS_SHIFT) & 3);
  }
  /** Effective address size in bits (16, 32, 64). */
  get addressSize(): number {
    return 16 << ((this.state >>> STATE_AS_SHIFT) & 3);
  }
  /** Prefix bits: see `PrefixBit`. */
  get prefixes(): number {
    return this.state & 0xff;
  }
  /** The REX byte (0 when none). */
  get rex(): number {
    return (this.state >>> STATE_REX_SHIFT) & 0xff;
  }
  /** Segment override prefix register, 0 when there is none. */
  get segmentPrefix(): number {
    return (this.state >>> STATE_SEGMENT_SHIFT) & 0xff;
  }

  /** Whether the bytes did not decode to an instruction. */
  get invalid(): boolean {
    return this.code === 0;
  }

  /** Why the bytes do not decode (`InvalidReason`), 0 when valid. */
  get invalidReason(): number {
    return this.code === 0 ? this.reason : 0;
  }

  /** Lower-case mnemonic (`'add'`), `''` when invalid. */
  get mnemonic(): string {
    return MNEMONIC_NAMES[CODE_MNEMONIC[this.code] ?? 0] ?? '';
  }

  /** Mnemonic id (index into `MNEMONIC_NAMES`). */
  get mnemonicId(): number {
    return CODE_MNEMONIC[this.code] ?? 0;
  }

  /** Number of operands (0–4). */
  get opCount(): number {
    return CODE_OP_COUNT[this.code] ?? 0;
  }

  get op0Kind(): OpKind {
    return templateKind(this.code, this.operandBits, 0) as OpKind;
  }
  get op1Kind(): OpKind {
    return templateKind(this.code, this.operandBits, 1) as OpKind;
  }
  get op2Kind(): OpKind {
    return templateKind(this.code, this.operandBits, 2) as OpKind;
  }
  get op3Kind(): OpKind {
    return templateKind(this.code, this.operandBits, 3) as OpKind;
  }
  /** Register id of each register operand (`Register.*`), 0 otherwise. */
  get op0Register(): number {
    return this.registerOf(0);
  }
  get op1Register(): number {
    return this.registerOf(1);
  }
  get op2Register(): number {
    return this.registerOf(2);
  }
  get op3Register(): number {
    return this.registerOf(3);
  }

  private registerOf(i: number): number {
    return templateRegister(this.code, this.operandBits, i);
  }

  private get hasMemory(): boolean {
    return (this.operandBits & (OPS_MEMORY | OPS_MEMORY_DETAIL)) !== 0;
  }

  /** Memory operand (there is at most one, apart from string instructions). */
  get memBase(): number {
    return this.hasMemory ? this.memBits & 0xff : 0;
  }
  get memIndex(): number {
    return this.hasMemory ? (this.memBits >>> MEM_INDEX_SHIFT) & 0xff : 0;
  }
  /** Scale factor 1, 2, 4 or 8. */
  get memScale(): number {
    return this.hasMemory ? 1 << ((this.memBits >>> MEM_SCALE_SHIFT) & 3) : 1;
  }
  /** Displacement, sign-extended to the address size (low 32 bits for moffs64). */
  get memDisplacement(): number {
    return this.hasMemory ? this.displacement : 0;
  }
  /** High 32 bits of a 64-bit moffs displacement. */
  get memDisplacementHigh(): number {
    return (this.operandBits & OPS_MEMORY_DETAIL) !== 0 ? this.displacementHigh : 0;
  }
  /** Bytes of displacement in the encoding (0, 1, 2, 4, 8). */
  get memDisplacementSize(): number {
    return this.hasMemory ? (this.memBits >>> MEM_DISP_SIZE_SHIFT) & 15 : 0;
  }
  /** Effective segment register of the memory operand(s). */
  get memSegment(): number {
    return this.hasMemory ? (this.memBits >>> MEM_SEGMENT_SHIFT) & 0xff : 0;
  }
  /** `MemSize` of the memory operand. */
  get memSize(): number {
    return TEMPLATE_MEMSIZE[(this.operandBits & OPS_MEMORY) * CODE_COUNT + this.code] ?? 0;
  }

  /** First immediate (sign-extended where the form says so; low 32 bits of an imm64). */
  get immediate(): number {
    return (DETAIL[this.code] ?? 0) & DETAIL_IMM ? this.imm : 0;
  }
  /** High 32 bits of a 64-bit immediate. */
  get immediateHigh(): number {
    return (DETAIL[this.code] ?? 0) & DETAIL_IMM_HIGH ? this.immHigh : 0;
  }
  /** Second immediate (ENTER's nesting level). */
  get immediate2(): number {
    return (DETAIL[this.code] ?? 0) & DETAIL_IMM2 ? this.imm2 : 0;
  }
  /** Target of a relative branch, wrapped to the operand size. */
  get nearBranchTarget(): number {
    return (DETAIL[this.code] ?? 0) & DETAIL_BRANCH ? this.target : 0;
  }
  /** Far pointer operand: selector and offset. */
  get farSelector(): number {
    return (DETAIL[this.code] ?? 0) & DETAIL_FAR ? this.selector : 0;
  }
  get farOffset(): number {
    return (DETAIL[this.code] ?? 0) & DETAIL_FAR ? this.farOff : 0;
  }

  /** The form's name (`'add_rm32_r32'`). */
  get codeName(): string {
    return CODE_NAMES[this.code] ?? 'invalid';
  }

  /** Human-readable reason for an invalid encoding (`'undefined opcode'`). */
  get invalidReasonName(): string {
    return INVALID_REASON_NAMES[this.invalidReason] ?? 'unknown';
  }

  /** Operand kind by index. */
  opKind(i: number): OpKind {
    return (i >= 0 && i < 4 ? templateKind(this.code, this.operandBits, i) : 0) as OpKind;
  }

  /** Register of operand i (0 unless it is a register operand). */
  opRegister(i: number): number {
    return i >= 0 && i < 4 ? this.registerOf(i) : 0;
  }

  /** A copy that does not change when the decoder reuses this object. */
  clone(): Instruction {
    return Object.assign(new Instruction(), this);
  }
}

/** Bits of `Instruction.prefixes`. */
export const PrefixBit = {
  lock: 0x1,
  rep: 0x2,
  repne: 0x4,
  operandSize: 0x8,
  addressSize: 0x10,
  segment: 0x20,
  rex: 0x40,
} as const;
export type PrefixBit = (typeof PrefixBit)[keyof typeof PrefixBit];

/** Facts about one form, from the instruction rows. */
export interface FormInfo {
  readonly code: number;
  readonly name: string;
  readonly operandCount: number;
  readonly flagsRead: number;
  readonly flagsWritten: number;
  readonly flagsSet: number;
  readonly flagsCleared: number;
  readonly flagsUndefined: number;
  readonly flowControl: FlowControl;
  readonly privilege: Privilege;
  readonly cpuidFeature: string;
  readonly lockable: boolean;
  readonly acceptsRep: boolean;
  readonly acceptsRepe: boolean;
  readonly operandAccess: readonly OpAccess[];
}

/** Flow control of a form (`FlowControl`). */
export function flowControl(code: number): FlowControl {
  return (((CODE_ATTR[code] ?? 0) >>> 5) & 15) as FlowControl;
}

/** Privilege requirement of a form as the SDM states it (`Privilege`). */
export function privilege(code: number): Privilege {
  return (((CODE_ATTR[code] ?? 0) >>> 3) & 3) as Privilege;
}

/** EFLAGS bits a form reads. */
export function flagsRead(code: number): number {
  return CODE_FLAGS[code * 5] ?? 0;
}

/** EFLAGS bits a form modifies in any way (written, set, cleared or left undefined). */
export function flagsModified(code: number): number {
  const b = code * 5;
  return (
    ((CODE_FLAGS[b + 1] ?? 0) |
      (CODE_FLAGS[b + 2] ?? 0) |
      (CODE_FLAGS[b + 3] ?? 0) |
      (CODE_FLAGS[b + 4] ?? 0)) >>>
    0
  );
}

/** All facts about a form; allocates, so keep it off hot paths. */
export function formInfo(code: number): FormInfo {
  const attr = CODE_ATTR[code] ?? 0;
  const count = CODE_OP_COUNT[code] ?? 0;
  const access: OpAccess[] = [];
  for (let i = 0; i < count; i++) access.push(((attr >>> (17 + i * 3)) & 7) as OpAccess);
  const b = code * 5;
  return {
    code,
    name: CODE_NAMES[code] ?? 'invalid',
    operandCount: count,
    flagsRead: CODE_FLAGS[b] ?? 0,
    flagsWritten: CODE_FLAGS[b + 1] ?? 0,
    flagsSet: CODE_FLAGS[b + 2] ?? 0,
    flagsCleared: CODE_FLAGS[b + 3] ?? 0,
    flagsUndefined: CODE_FLAGS[b + 4] ?? 0,
    flowControl: flowControl(code),
    privilege: privilege(code),
    cpuidFeature: CPUID_FEATURE_NAMES[(attr >>> 9) & 255] ?? 'none',
    lockable: (attr & 1) !== 0,
    acceptsRep: (attr & 2) !== 0,
    acceptsRepe: (attr & 4) !== 0,
    operandAccess: access,
  };
}

/** The form code id for a name (`codeByName('add_rm32_r32')`), or 0. */
export function codeByName(name: string): number {
  const i = CODE_NAMES.indexOf(name);
  return Math.max(i, 0);
}

/** The lower-case mnemonic of a form code (`'add'`), `''` for invalid. */
export function mnemonicOf(code: number): string {
  return MNEMONIC_NAMES[CODE_MNEMONIC[code] ?? 0] ?? '';
}

/** The name of a form code. */
export function codeName(code: number): string {
  return CODE_NAMES[code] ?? 'invalid';
}
