/**
 * Small integer vocabularies shared by the row generator, the decoder and the formatter.
 * All are `as const` objects: the value is what the tables store, the key is the name.
 */

/** What kind of value an operand of a decoded instruction is. */
export const OpKind = {
  none: 0,
  register: 1,
  memory: 2,
  immediate: 3,
  nearBranch: 4,
  farBranch: 5,
  /** String source `seg:[si/esi/rsi]`; the segment is `memSegment`. */
  memorySegSI: 6,
  /** String destination `es:[di/edi/rdi]`. */
  memoryESDI: 7,
} as const;
export type OpKind = (typeof OpKind)[keyof typeof OpKind];

/** Size and type of a memory operand. */
export const MemSize = {
  none: 0,
  u8: 1,
  u16: 2,
  u32: 3,
  u64: 4,
  u128: 5,
  u256: 6,
  f32: 7,
  f64: 8,
  f80: 9,
  i16: 10,
  i32: 11,
  i64: 12,
  bcd: 13,
  far16: 14,
  far32: 15,
  far64: 16,
  desc32: 17,
  desc64: 18,
  bound16: 19,
  bound32: 20,
  env14: 21,
  env28: 22,
  state94: 23,
  state108: 24,
  fxsave: 25,
  /** Memory whose size does not matter (LEA, INVLPG). */
  unsized: 26,
} as const;
export type MemSize = (typeof MemSize)[keyof typeof MemSize];

/** Bytes accessed for each `MemSize` (0 where the size is not fixed). */
export const MEM_SIZE_BYTES: readonly number[] = [
  0, 1, 2, 4, 8, 16, 32, 4, 8, 10, 2, 4, 8, 10, 4, 6, 10, 6, 10, 4, 8, 14, 28, 94, 108, 512, 0,
];

/** How an instruction changes the flow of control (SDM terms; used by block builders). */
export const FlowControl = {
  next: 0,
  /** Unconditional direct branch (JMP rel, JMP ptr16:xx). */
  branch: 1,
  /** Conditional branch (Jcc, LOOP, JCXZ). */
  conditionalBranch: 2,
  /** Direct call. */
  call: 3,
  /** Indirect branch through a register or memory. */
  indirectBranch: 4,
  /** Indirect call. */
  indirectCall: 5,
  /** Near or far return. */
  return: 6,
  /** INT n, INT3, INTO, INT1. */
  interrupt: 7,
  /** IRET, RSM. */
  interruptReturn: 8,
  /** SYSENTER, SYSEXIT, SYSCALL, SYSRET. */
  system: 9,
  /** May raise an exception by design (UD0/1/2, BOUND). */
  exception: 10,
  /** HLT. */
  halt: 11,
} as const;
export type FlowControl = (typeof FlowControl)[keyof typeof FlowControl];

/** The privilege requirement the SDM states for an instruction form. */
export const Privilege = {
  /** Runs at any CPL. */
  none: 0,
  /** #GP(0) unless CPL = 0. */
  cpl0: 1,
  /** Checked against EFLAGS.IOPL (and for I/O, the TSS I/O bitmap). */
  iopl: 2,
} as const;
export type Privilege = (typeof Privilege)[keyof typeof Privilege];

/** How an instruction accesses an operand. */
export const OpAccess = {
  none: 0,
  read: 1,
  write: 2,
  readWrite: 3,
  /** Written only when a condition holds (CMOVcc, BSF with zero source). */
  condWrite: 4,
} as const;
export type OpAccess = (typeof OpAccess)[keyof typeof OpAccess];

/** EFLAGS bits, as masks. */
export const Flag = {
  cf: 0x1,
  pf: 0x4,
  af: 0x10,
  zf: 0x40,
  sf: 0x80,
  tf: 0x100,
  if: 0x200,
  df: 0x400,
  of: 0x800,
  iopl: 0x3000,
  nt: 0x4000,
  rf: 0x10000,
  vm: 0x20000,
  ac: 0x40000,
  vif: 0x80000,
} as const;
export type Flag = (typeof Flag)[keyof typeof Flag];

/** Why an encoding was rejected. */
export const InvalidReason = {
  none: 0,
  /** No instruction form has this opcode (with these prefixes, in this mode). */
  undefinedOpcode: 1,
  /** The bytes end before the instruction does. */
  truncated: 2,
  /** The instruction would be longer than 15 bytes. */
  tooLong: 3,
  /** LOCK on a form that does not accept it, or without a memory destination. */
  lockNotAllowed: 4,
  /** The form exists but not in this processor mode (for example PUSH ES in 64-bit mode). */
  invalidInMode: 5,
  /** A register-only form got a memory operand, or the reverse. */
  badModRM: 6,
  /** MOV to CS, a segment register number above 5, or a control register that does not exist. */
  badRegister: 7,
  /** VEX/EVEX/XOP encodings, decoded for length but not supported yet. */
  unsupported: 8,
} as const;
export type InvalidReason = (typeof InvalidReason)[keyof typeof InvalidReason];

/** Lower-case names for `InvalidReason` values. */
export const INVALID_REASON_NAMES: readonly string[] = [
  'none',
  'undefined opcode',
  'truncated',
  'longer than 15 bytes',
  'lock not allowed',
  'invalid in this mode',
  'bad modrm',
  'bad register',
  'unsupported encoding',
];

/**
 * How the decoder fills in one operand of a form (generator → decoder contract). The row
 * operand tokens map onto these in `scripts/generate.ts`.
 */
export const OperandDecode = {
  none: 0,
  /** General register in ModRM.reg, of width 8/16/32/64. */
  reg8: 1,
  reg16: 2,
  reg32: 3,
  reg64: 4,
  /** ModRM r/m: general register of the width, or memory. */
  rm8: 5,
  rm16: 6,
  rm32: 7,
  rm64: 8,
  /** ModRM r/m, memory only (size in the operand argument). */
  mem: 9,
  /** ModRM r/m, register only. */
  rr16: 10,
  rr32: 11,
  rr64: 12,
  /** ModRM r/m as a register whatever the mod bits say (MOV to/from CRn/DRn). */
  rx32: 13,
  rx64: 14,
  /** ModRM r/m: a 32/64-bit register, or 16-bit memory. */
  r32m16: 15,
  r64m16: 16,
  /** Segment, control and debug registers in ModRM.reg. */
  sreg: 17,
  cr: 18,
  dr: 19,
  /** Register number in the low three opcode bits (+ REX.B). */
  zr8: 20,
  zr16: 21,
  zr32: 22,
  zr64: 23,
  /** A fixed register (id in the operand argument). */
  fixed: 24,
  ib: 25,
  iw: 26,
  id: 27,
  iq: 28,
  ibs16: 29,
  ibs32: 30,
  ibs64: 31,
  ids64: 32,
  /** The second immediate (ENTER's nesting level). */
  ib2: 33,
  rel8: 34,
  rel16: 35,
  rel32: 36,
  ptr1616: 37,
  ptr1632: 38,
  /** moffs: an address-size offset, no ModRM. */
  moffs: 39,
  /** String operands. */
  segSI: 40,
  esDI: 41,
  /** XLAT's `seg:[rBX+AL]`. */
  segBXAL: 42,
  /** x87 `st(i)` in ModRM.rm. */
  sti: 43,
  /** The constant 1 of the shift-by-one forms. */
  one: 44,
  /** MMX register in ModRM.reg; MMX register or memory in r/m; MMX register only in r/m. */
  mm: 45,
  mmrm: 46,
  rmm: 47,
  /** XMM register in ModRM.reg; XMM register or memory in r/m; XMM register only in r/m. */
  xmm: 48,
  xmmrm: 49,
  rxmm: 50,
  /** Segment register in ModRM.reg as a destination (MOV Sreg, r/m): CS and numbers above 5 are invalid. */
  sregw: 51,
  /** YMM register in ModRM.reg; YMM register or memory in r/m; YMM register only in r/m. */
  ymm: 52,
  ymmrm: 53,
  rymm: 54,
  /** The register named by VEX.vvvv: XMM, YMM, or a 32/64-bit general register (BMI). */
  vvvvX: 55,
  vvvvY: 56,
  vvvvR32: 57,
  vvvvR64: 58,
  /** Opmask register k0–k7 in ModRM.reg, in ModRM.rm (register only), k or memory in r/m, in VEX.vvvv. */
  kr: 59,
  rkr: 60,
  krm: 61,
  vvvvK: 62,
  /**
   * The register in imm8[7:4] (VBLENDVPS/PD, VPBLENDVB: SDM Vol. 2 §2.3.9 "is4"), XMM or YMM;
   * imm8[7] is ignored outside 64-bit mode.
   */
  is4x: 63,
  is4y: 64,
  /**
   * A VSIB memory operand (SDM Vol. 2 §2.3.12): ModRM memory with a SIB byte whose index is an
   * XMM or YMM register (index 100b names xmm4/ymm4, not "no index").
   */
  vsibx: 65,
  vsiby: 66,
} as const;
export type OperandDecode = (typeof OperandDecode)[keyof typeof OperandDecode];
