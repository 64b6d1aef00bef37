/**
 * The exception model (SDM Vol. 3A §6.3, table 6-1, and §6.15): vectors 0–21 with their names,
 * class, and whether they push an error code; the contributory/benign/page-fault matrix that
 * decides when a second fault becomes a double fault, and when a fault during a double fault
 * shuts the processor down (triple fault).
 */

/** Exception vectors. */
export const Vector = {
  DE: 0,
  DB: 1,
  NMI: 2,
  BP: 3,
  OF: 4,
  BR: 5,
  UD: 6,
  NM: 7,
  DF: 8,
  CSO: 9,
  TS: 10,
  NP: 11,
  SS: 12,
  GP: 13,
  PF: 14,
  MF: 16,
  AC: 17,
  MC: 18,
  XM: 19,
  VE: 20,
  CP: 21,
} as const;
export type Vector = (typeof Vector)[keyof typeof Vector];

export type ExceptionClass = 'fault' | 'trap' | 'abort' | 'interrupt' | 'fault-or-trap';

export interface ExceptionInfo {
  readonly vector: number;
  readonly mnemonic: string;
  readonly name: string;
  readonly class: ExceptionClass;
  readonly errorCode: boolean;
  /** §6.15 table 6-4: benign, contributory or page fault (for double-fault rules). */
  readonly kind: 'benign' | 'contributory' | 'page-fault' | 'double-fault';
}

const T: readonly ExceptionInfo[] = [
  {
    vector: 0,
    mnemonic: '#DE',
    name: 'Divide Error',
    class: 'fault',
    errorCode: false,
    kind: 'contributory',
  },
  { vector: 1, mnemonic: '#DB', name: 'Debug', class: 'fault-or-trap', errorCode: false, kind: 'benign' },
  {
    vector: 2,
    mnemonic: 'NMI',
    name: 'Nonmaskable Interrupt',
    class: 'interrupt',
    errorCode: false,
    kind: 'benign',
  },
  { vector: 3, mnemonic: '#BP', name: 'Breakpoint', class: 'trap', errorCode: false, kind: 'benign' },
  { vector: 4, mnemonic: '#OF', name: 'Overflow', class: 'trap', errorCode: false, kind: 'benign' },
  {
    vector: 5,
    mnemonic: '#BR',
    name: 'BOUND Range Exceeded',
    class: 'fault',
    errorCode: false,
    kind: 'benign',
  },
  { vector: 6, mnemonic: '#UD', name: 'Invalid Opcode', class: 'fault', errorCode: false, kind: 'benign' },
  {
    vector: 7,
    mnemonic: '#NM',
    name: 'Device Not Available',
    class: 'fault',
    errorCode: false,
    kind: 'benign',
  },
  { vector: 8, mnemonic: '#DF', name: 'Double Fault', class: 'abort', errorCode: true, kind: 'double-fault' },
  {
    vector: 9,
    mnemonic: '#MF',
    name: 'Coprocessor Segment Overrun',
    class: 'fault',
    errorCode: false,
    kind: 'benign',
  },
  { vector: 10, mnemonic: '#TS', name: 'Invalid TSS', class: 'fault', errorCode: true, kind: 'contributory' },
  {
    vector: 11,
    mnemonic: '#NP',
    name: 'Segment Not Present',
    class: 'fault',
    errorCode: true,
    kind: 'contributory',
  },
  {
    vector: 12,
    mnemonic: '#SS',
    name: 'Stack-Segment Fault',
    class: 'fault',
    errorCode: true,
    kind: 'contributory',
  },
  {
    vector: 13,
    mnemonic: '#GP',
    name: 'General Protection',
    class: 'fault',
    errorCode: true,
    kind: 'contributory',
  },
  { vector: 14, mnemonic: '#PF', name: 'Page Fault', class: 'fault', errorCode: true, kind: 'page-fault' },
  { vector: 15, mnemonic: '—', name: 'Reserved', class: 'fault', errorCode: false, kind: 'benign' },
  {
    vector: 16,
    mnemonic: '#MF',
    name: 'x87 FPU Floating-Point Error',
    class: 'fault',
    errorCode: false,
    kind: 'benign',
  },
  { vector: 17, mnemonic: '#AC', name: 'Alignment Check', class: 'fault', errorCode: true, kind: 'benign' },
  { vector: 18, mnemonic: '#MC', name: 'Machine Check', class: 'abort', errorCode: false, kind: 'benign' },
  {
    vector: 19,
    mnemonic: '#XM',
    name: 'SIMD Floating-Point Exception',
    class: 'fault',
    errorCode: false,
    kind: 'benign',
  },
  {
    vector: 20,
    mnemonic: '#VE',
    name: 'Virtualization Exception',
    class: 'fault',
    errorCode: false,
    kind: 'benign',
  },
  {
    vector: 21,
    mnemonic: '#CP',
    name: 'Control Protection Exception',
    class: 'fault',
    errorCode: true,
    kind: 'contributory',
  },
];

/** Facts about exception vector 0–21 (undefined for others: those are interrupts). */
export function exceptionInfo(vector: number): ExceptionInfo | undefined {
  return T[vector];
}

/** Whether delivering `vector` as an exception pushes an error code. */
export function pushesErrorCode(vector: number): boolean {
  return T[vector]?.errorCode ?? false;
}

/** What the processor does when `second` occurs while delivering `first` (§6.15, table 6-5). */
export type Escalation = 'serial' | 'double-fault' | 'triple-fault';

/**
 * Double-fault rules: contributory after contributory, and contributory or page fault after a
 * page fault, give #DF; any of those while delivering #DF shuts down (triple fault); every
 * other pair is handled serially (the second exception is delivered normally).
 */
export function escalate(first: number, second: number): Escalation {
  const a = T[first]?.kind ?? 'benign';
  const b = T[second]?.kind ?? 'benign';
  if (a === 'double-fault') return b === 'benign' ? 'serial' : 'triple-fault';
  if (a === 'contributory' && b === 'contributory') return 'double-fault';
  if (a === 'page-fault' && (b === 'contributory' || b === 'page-fault')) return 'double-fault';
  return 'serial';
}

/** An architectural fault to raise: vector and error code (0 where the vector has none). */
export interface Fault {
  readonly vector: number;
  readonly errorCode: number;
}

/** Selector error code (§6.13): selector index/TI with EXT (bit 0) and IDT (bit 1) flags. */
export function selectorErrorCode(selector: number, ext = false): number {
  return (selector & 0xfffc) | (ext ? 1 : 0);
}

/** Error code naming an IDT entry: vector × 8 + IDT bit (2) + EXT. */
export function idtErrorCode(vector: number, ext = false): number {
  return ((vector << 3) | 2 | (ext ? 1 : 0)) & 0xffff;
}

export function gp(errorCode = 0): Fault {
  return { vector: Vector.GP, errorCode };
}
export function np(errorCode: number): Fault {
  return { vector: Vector.NP, errorCode };
}
export function ss(errorCode: number): Fault {
  return { vector: Vector.SS, errorCode };
}
export function ts(errorCode: number): Fault {
  return { vector: Vector.TS, errorCode };
}
export function ud(): Fault {
  return { vector: Vector.UD, errorCode: 0 };
}
