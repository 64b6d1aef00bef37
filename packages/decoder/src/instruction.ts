import {
  CODE_ATTR,
  CODE_FLAGS,
  CODE_MNEMONIC,
  CODE_NAMES,
  CODE_OP_COUNT,
  CPUID_FEATURE_NAMES,
  MNEMONIC_NAMES,
} from './generated/tables';
import type { FlowControl, OpAccess, OpKind, Privilege } from './kinds';
import { INVALID_REASON_NAMES } from './kinds';

/**
 * One decoded instruction. A flat, mutable record of numbers so `Decoder.decodeOut` can refill
 * the same object for every instruction without allocating. Per-form facts (flags, flow,
 * privilege, CPUID feature, operand access) are not copied in; read them with the functions
 * below or `formInfo(code)`.
 */
export class Instruction {
  /** Length in bytes (1–15; for an invalid encoding, the bytes examined). */
  length = 0;
  /** Form code (`Code.add_rm32_r32`), 0 when invalid. */
  code = 0;
  /** Lower-case mnemonic (`'add'`), `''` when invalid. */
  mnemonic = '';
  /** Mnemonic id (index into `MNEMONIC_NAMES`). */
  mnemonicId = 0;
  /** Why the bytes do not decode (`InvalidReason`), 0 when valid. */
  invalidReason = 0;
  /** Address of the first byte (the `ip` given to the decoder). */
  ip = 0;
  /** Processor mode the instruction was decoded in: 16, 32 or 64. */
  bitness = 32;
  /** Effective operand size in bits (16, 32, 64). */
  operandSize = 32;
  /** Effective address size in bits (16, 32, 64). */
  addressSize = 32;

  /** Number of operands (0–4). */
  opCount = 0;
  op0Kind: OpKind = 0;
  op1Kind: OpKind = 0;
  op2Kind: OpKind = 0;
  op3Kind: OpKind = 0;
  /** Register id of each register operand (`Register.*`), 0 otherwise. */
  op0Register = 0;
  op1Register = 0;
  op2Register = 0;
  op3Register = 0;

  /** Memory operand (there is at most one, apart from string instructions). */
  memBase = 0;
  memIndex = 0;
  /** Scale factor 1, 2, 4 or 8. */
  memScale = 1;
  /** Displacement, sign-extended to the address size (low 32 bits for moffs64). */
  memDisplacement = 0;
  /** High 32 bits of a 64-bit moffs displacement. */
  memDisplacementHigh = 0;
  /** Bytes of displacement in the encoding (0, 1, 2, 4, 8). */
  memDisplacementSize = 0;
  /** `MemSize` of the memory operand. */
  memSize = 0;
  /** Effective segment register of the memory operand(s). */
  memSegment = 0;
  /** Segment override prefix register, 0 when there is none. */
  segmentPrefix = 0;

  /** First immediate (sign-extended where the form says so; low 32 bits of an imm64). */
  immediate = 0;
  /** High 32 bits of a 64-bit immediate. */
  immediateHigh = 0;
  /** Second immediate (ENTER's nesting level). */
  immediate2 = 0;
  /** Target of a relative branch, wrapped to the operand size. */
  nearBranchTarget = 0;
  /** Far pointer operand: selector and offset. */
  farSelector = 0;
  farOffset = 0;

  /** Prefix bits: see `PrefixBit`. */
  prefixes = 0;
  /** The REX byte (0 when none). */
  rex = 0;

  /** Whether the bytes did not decode to an instruction. */
  get invalid(): boolean {
    return this.code === 0;
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
    return (
      i === 0 ? this.op0Kind : i === 1 ? this.op1Kind : i === 2 ? this.op2Kind : i === 3 ? this.op3Kind : 0
    ) as OpKind;
  }

  /** Register of operand i (0 unless it is a register operand). */
  opRegister(i: number): number {
    return i === 0
      ? this.op0Register
      : i === 1
        ? this.op1Register
        : i === 2
          ? this.op2Register
          : i === 3
            ? this.op3Register
            : 0;
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
