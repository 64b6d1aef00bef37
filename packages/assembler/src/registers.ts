import { REGISTER_NAMES, Register, registerNumber } from '@ringzero/decoder';

/** Register classes the operand matcher distinguishes. */
export type RegClass =
  | 'gpr8'
  | 'gpr16'
  | 'gpr32'
  | 'gpr64'
  | 'ip'
  | 'seg'
  | 'cr'
  | 'dr'
  | 'st'
  | 'mm'
  | 'xmm'
  | 'ymm'
  | 'k';

/** A register as the assembler sees it: the decoder's id plus what encoding it needs. */
export interface Reg {
  /** Lower-case name (`'eax'`). */
  readonly name: string;
  /** The decoder's register id (`Register.eax`). */
  readonly id: number;
  readonly cls: RegClass;
  /** Number within the class, 0–15 (the low three bits go in ModRM/opcode, bit 3 in REX/VEX). */
  readonly num: number;
  /** Size in bytes for general-purpose registers (1, 2, 4, 8); 0 otherwise. */
  readonly size: number;
  /** SPL, BPL, SIL, DIL and R8–R15 in any width: encodable only with a REX prefix. */
  readonly needsRex: boolean;
  /** AH, CH, DH, BH: not encodable when a REX prefix is present. */
  readonly high: boolean;
}

function classOf(id: number): RegClass {
  if (id < Register.ax) return 'gpr8';
  if (id < Register.eax) return 'gpr16';
  if (id < Register.rax) return 'gpr32';
  if (id < Register.eip) return 'gpr64';
  if (id < Register.es) return 'ip';
  if (id < Register.cr0) return 'seg';
  if (id < Register.dr0) return 'cr';
  if (id < Register.st0) return 'dr';
  if (id < Register.mm0) return 'st';
  if (id < Register.xmm0) return 'mm';
  if (id < Register.ymm0) return 'xmm';
  if (id < Register.k0) return 'ymm';
  return 'k';
}

const SIZE: Record<string, number> = { gpr8: 1, gpr16: 2, gpr32: 4, gpr64: 8 };

const BY_NAME = new Map<string, Reg>();
const BY_ID: Reg[] = [];
for (let id = 1; id < REGISTER_NAMES.length; id++) {
  const name = REGISTER_NAMES[id] ?? '';
  const cls = classOf(id);
  const num = registerNumber(id);
  const isGpr = cls === 'gpr8' || cls === 'gpr16' || cls === 'gpr32' || cls === 'gpr64';
  const reg: Reg = {
    name,
    id,
    cls,
    num,
    size: SIZE[cls] ?? 0,
    needsRex: (isGpr && num >= 8) || (id >= Register.spl && id < Register.r8b) || (!isGpr && num >= 8),
    high: id >= Register.ah && id <= Register.bh,
  };
  BY_NAME.set(name, reg);
  BY_ID[id] = reg;
}
// NASM spellings: st(0) is accepted as st0 by the operand parser; r8l is r8b.
for (let i = 8; i < 16; i++) {
  const r = BY_NAME.get(`r${i}b`);
  if (r) BY_NAME.set(`r${i}l`, r);
}

/** The register named `name` (case-insensitive), or undefined. */
export function lookupRegister(name: string): Reg | undefined {
  return BY_NAME.get(name.toLowerCase());
}

/** The register with decoder id `id`. */
export function registerById(id: number): Reg | undefined {
  return BY_ID[id];
}

/** The general-purpose register of class `cls` with number `num`. */
export function gpr(size: number, num: number): Reg | undefined {
  const base = size === 1 ? Register.al : size === 2 ? Register.ax : size === 4 ? Register.eax : Register.rax;
  if (size === 1 && num >= 4 && num < 8) return BY_ID[Register.spl + num - 4];
  if (size === 1 && num >= 8) return BY_ID[Register.r8b + num - 8];
  return BY_ID[base + num];
}

/** Whether the class is a general-purpose register class. */
export function isGpr(r: Reg): boolean {
  return r.cls === 'gpr8' || r.cls === 'gpr16' || r.cls === 'gpr32' || r.cls === 'gpr64';
}
