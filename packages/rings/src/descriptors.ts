/**
 * Selectors and segment descriptors (SDM Vol. 3A §3.4.2, §3.4.5, §3.5, §6.11, §7.2): parse and
 * encode code/data segments, LDT and TSS descriptors, and call, interrupt, trap and task gates.
 */

/** System-descriptor types (S = 0), SDM Vol. 3A table 3-2. */
export const SystemType = {
  tss16Available: 1,
  ldt: 2,
  tss16Busy: 3,
  callGate16: 4,
  taskGate: 5,
  interruptGate16: 6,
  trapGate16: 7,
  tss32Available: 9,
  tss32Busy: 11,
  callGate32: 12,
  interruptGate32: 14,
  trapGate32: 15,
} as const;
export type SystemType = (typeof SystemType)[keyof typeof SystemType];

/** A selector's parts: index into the table, TI (0 = GDT, 1 = LDT) and RPL. */
export function selectorIndex(sel: number): number {
  return (sel >>> 3) & 0x1fff;
}
export function selectorTi(sel: number): 0 | 1 {
  return ((sel >>> 2) & 1) as 0 | 1;
}
export function selectorRpl(sel: number): number {
  return sel & 3;
}
/** A null selector (index 0 in the GDT, any RPL). */
export function isNullSelector(sel: number): boolean {
  return (sel & 0xfffc) === 0;
}
export function makeSelector(index: number, ti: 0 | 1, rpl: number): number {
  return ((index & 0x1fff) << 3) | (ti << 2) | (rpl & 3);
}

/** A parsed segment or system descriptor. */
export interface Descriptor {
  readonly lo: number;
  readonly hi: number;
  /** Linear base address. */
  readonly base: number;
  /** Effective limit in bytes (scaled by G: (limit << 12) | 0xFFF). */
  readonly limit: number;
  /** 4-bit type field. */
  readonly type: number;
  /** S: 1 for code/data, 0 for system descriptors. */
  readonly codeOrData: boolean;
  readonly dpl: number;
  readonly present: boolean;
  readonly available: boolean;
  /** L: 64-bit code segment. */
  readonly long: boolean;
  /** D/B: 32-bit default size / big stack. */
  readonly big: boolean;
  readonly granularity: boolean;
  readonly isCode: boolean;
  readonly isData: boolean;
  /** Code: conforming (C). */
  readonly conforming: boolean;
  /** Code: readable; data: always readable. */
  readonly readable: boolean;
  /** Data: writable. */
  readonly writable: boolean;
  /** Data: expand-down. */
  readonly expandDown: boolean;
  readonly accessed: boolean;
}

/** Parses an 8-byte descriptor given as its low and high doublewords. */
export function parseDescriptor(lo: number, hi: number): Descriptor {
  lo >>>= 0;
  hi >>>= 0;
  const type = (hi >>> 8) & 15;
  const s = ((hi >>> 12) & 1) === 1;
  const g = ((hi >>> 23) & 1) === 1;
  const rawLimit = (lo & 0xffff) | (hi & 0xf0000);
  const isCode = s && (type & 8) !== 0;
  const isData = s && (type & 8) === 0;
  return {
    lo,
    hi,
    base: ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0,
    limit: g ? ((rawLimit << 12) | 0xfff) >>> 0 : rawLimit,
    type,
    codeOrData: s,
    dpl: (hi >>> 13) & 3,
    present: ((hi >>> 15) & 1) === 1,
    available: ((hi >>> 20) & 1) === 1,
    long: ((hi >>> 21) & 1) === 1,
    big: ((hi >>> 22) & 1) === 1,
    granularity: g,
    isCode,
    isData,
    conforming: isCode && (type & 4) !== 0,
    readable: isData || (isCode && (type & 2) !== 0),
    writable: isData && (type & 2) !== 0,
    expandDown: isData && (type & 4) !== 0,
    accessed: s && (type & 1) !== 0,
  };
}

export interface DescriptorFields {
  base: number;
  /** Raw 20-bit limit (in pages when `granularity`). */
  limit: number;
  type: number;
  codeOrData: boolean;
  dpl: number;
  present: boolean;
  available?: boolean;
  long?: boolean;
  big?: boolean;
  granularity?: boolean;
}

/** Encodes a descriptor; returns `[lo, hi]`. */
export function encodeDescriptor(f: DescriptorFields): [number, number] {
  const lo = (((f.base & 0xffff) << 16) | (f.limit & 0xffff)) >>> 0;
  const hi =
    (((f.base >>> 16) & 0xff) |
      ((f.type & 15) << 8) |
      (f.codeOrData ? 1 << 12 : 0) |
      ((f.dpl & 3) << 13) |
      (f.present ? 1 << 15 : 0) |
      (f.limit & 0xf0000) |
      (f.available ? 1 << 20 : 0) |
      (f.long ? 1 << 21 : 0) |
      (f.big ? 1 << 22 : 0) |
      (f.granularity ? 1 << 23 : 0) |
      (f.base & 0xff000000)) >>>
    0;
  return [lo, hi];
}

/** A parsed call, interrupt, trap or task gate (SDM Vol. 3A figures 5-8, 6-2). */
export interface Gate {
  readonly type: number;
  readonly selector: number;
  readonly offset: number;
  readonly dpl: number;
  readonly present: boolean;
  /** Call gates: parameter count (doublewords or words to copy). */
  readonly paramCount: number;
  /** 32-bit gate (types 12, 14, 15). */
  readonly is32: boolean;
  /** S bit: a code/data descriptor, which is never a gate. */
  readonly codeOrData: boolean;
}

export function parseGate(lo: number, hi: number): Gate {
  lo >>>= 0;
  hi >>>= 0;
  const type = (hi >>> 8) & 15;
  const is32 = (type & 8) !== 0;
  return {
    type,
    selector: lo >>> 16,
    offset: type === SystemType.taskGate ? 0 : is32 ? ((hi & 0xffff0000) | (lo & 0xffff)) >>> 0 : lo & 0xffff,
    dpl: (hi >>> 13) & 3,
    present: ((hi >>> 15) & 1) === 1,
    paramCount: hi & 0x1f,
    is32,
    codeOrData: ((hi >>> 12) & 1) === 1,
  };
}

export function encodeGate(g: {
  type: number;
  selector: number;
  offset: number;
  dpl: number;
  present: boolean;
  paramCount?: number;
}): [number, number] {
  const lo = (((g.selector & 0xffff) << 16) | (g.offset & 0xffff)) >>> 0;
  const hi =
    ((g.offset & 0xffff0000) |
      (g.present ? 0x8000 : 0) |
      ((g.dpl & 3) << 13) |
      ((g.type & 15) << 8) |
      ((g.paramCount ?? 0) & 0x1f)) >>>
    0;
  return [lo, hi];
}

/** Where the descriptor tables are and how to read them (linear addresses). */
export interface DescriptorTables {
  gdtBase: number;
  gdtLimit: number;
  ldtBase: number;
  ldtLimit: number;
  idtBase: number;
  idtLimit: number;
  /** Reads a doubleword at a linear address (through paging, as supervisor). */
  read32(linear: number): number;
}

/**
 * Reads the descriptor a selector names, or undefined when its 8 bytes lie beyond the table's
 * limit (the caller raises #GP(selector)). A null selector is the caller's business.
 */
export function readDescriptor(t: DescriptorTables, selector: number): Descriptor | undefined {
  const ti = selectorTi(selector);
  const base = ti ? t.ldtBase : t.gdtBase;
  const limit = ti ? t.ldtLimit : t.gdtLimit;
  const off = selector & 0xfff8;
  if (off + 7 > limit) return undefined;
  return parseDescriptor(t.read32((base + off) >>> 0), t.read32((base + off + 4) >>> 0));
}

/** Reads IDT entry `vector` (protected mode, 8-byte gates), or undefined beyond the IDT limit. */
export function readIdtGate(t: DescriptorTables, vector: number): Gate | undefined {
  const off = (vector & 0xff) * 8;
  if (off + 7 > t.idtLimit) return undefined;
  return parseGate(t.read32((t.idtBase + off) >>> 0), t.read32((t.idtBase + off + 4) >>> 0));
}
