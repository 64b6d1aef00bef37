import { TLB_TABLE_LENGTH } from '@ringzero/memory';

/**
 * One `WebAssembly.Memory` holding everything tier 1's WebAssembly regions touch with plain loads
 * and stores: the exchange slots between a region and its JavaScript wrapper, the guest's general
 * registers (`CpuState.regs`), the MMU's RAM fast-path tables (`tlbRead`, `tlbWrite`) and guest
 * RAM. Everything else stays in JavaScript and is reached through imported functions.
 *
 * Layout (byte offsets, all multiples of 64 KiB past the first block):
 * - 0: exchange slots (`Xfer`), 32 dwords;
 * - `REGS_OFFSET`: EAX…EDI;
 * - `TLB_READ_OFFSET`, `TLB_WRITE_OFFSET`: the two tables, `TLB_TABLE_LENGTH` dwords each;
 * - `CHAIN_OFFSET`: the chain map (`CHAIN_ENTRIES` entries of four dwords), by which a region
 *   finds the region entry at its exit's physical address and tail-calls it (`WasmChain`);
 * - `RAM_OFFSET`: guest RAM.
 */
export interface WasmArena {
  readonly memory: WebAssembly.Memory;
  /** Exchange slots, indexed by `Xfer`. */
  readonly xfer: Int32Array;
  readonly regs: Int32Array;
  readonly tlbRead: Int32Array;
  readonly tlbWrite: Int32Array;
  /** The chain map: per entry the physical address (-1: empty), the mode, the table index and the block. */
  readonly chain: Int32Array;
  readonly ram: Uint8Array;
}

/** Dword indexes of the exchange slots a region writes before it returns or calls out. */
export const Xfer = {
  /** The pending lazy flag operation (`LazyOp`, plus `BYTE_LAZY` at 8 bits), 0 for none. */
  fo: 0,
  fa: 1,
  fb: 2,
  fv: 3,
  /** EIP of the instruction that is running (for a fault). */
  at: 4,
  /** Instructions retired by the call (and the regions it chained to) so far, before that instruction. */
  retired: 5,
  /** EIP when the region returns. */
  eip: 6,
  /** Set by a call-out when a write reached translated code. */
  codeWrite: 7,
  /** The carry an INC/DEC left standing, when `fo` is one of them. */
  cf: 8,
  /** Region-to-region tail calls made inside WebAssembly (read and cleared by `Tier1.foldStats`). */
  chains: 9,
  /**
   * Set by a call-out when the region must go back to the dispatcher at its exit instead of
   * chaining: the run ended (a PAUSE loop's exit), a REP string instruction counted its
   * iterations (the region's budget is stale) or an interrupt shadow began (the dispatcher's next
   * region entry ends it).
   */
  stay: 10,
  /** FS's base, for FS-relative operands in a mode with mode bit 2 (written at each entry). */
  fsBase: 11,
  /** EFLAGS.DF as it stands (0 or 0x400), written at each entry and after each call-out. */
  df: 12,
  /** GS's base, for GS-relative operands in a mode with `MODE_GS` (written at each entry). */
  gsBase: 13,
} as const;

const PAGE = 65536;
export const REGS_OFFSET = 256;
export const TLB_READ_OFFSET = PAGE;
const TABLE_BYTES = Math.ceil((4 * TLB_TABLE_LENGTH) / PAGE) * PAGE;
export const TLB_WRITE_OFFSET = TLB_READ_OFFSET + TABLE_BYTES;
/** log2 of the chain map's entry count. */
export const CHAIN_BITS = 16;
export const CHAIN_ENTRIES = 1 << CHAIN_BITS;
export const CHAIN_OFFSET = TLB_WRITE_OFFSET + TABLE_BYTES;
/** The multiplier of the chain map's hash (Fibonacci hashing of the physical address). */
export const CHAIN_HASH = 0x9e3779b1 | 0;

/** The chain map entry (0 to `CHAIN_ENTRIES` − 1) of physical address `phys`. */
export function chainEntry(phys: number): number {
  return Math.imul(phys, CHAIN_HASH) >>> (32 - CHAIN_BITS);
}
export const RAM_OFFSET = CHAIN_OFFSET + 16 * CHAIN_ENTRIES;
/** The largest guest RAM an arena holds (a 32-bit WebAssembly memory is at most 4 GiB). */
export const ARENA_MAX_RAM = 2 ** 32 - RAM_OFFSET - PAGE;

/**
 * Allocates an arena for `ramBytes` of guest RAM (a positive multiple of 4 KiB). Throws a
 * `RangeError` naming the size when it is impossible or the host cannot allocate it.
 */
export function createArena(ramBytes: number): WasmArena {
  if (!Number.isSafeInteger(ramBytes) || ramBytes <= 0 || ramBytes % 4096 !== 0 || ramBytes > ARENA_MAX_RAM) {
    throw new RangeError(
      `arena: guest RAM must be a positive multiple of 4 KiB up to ${ARENA_MAX_RAM} bytes (got ${ramBytes})`,
    );
  }
  const pages = Math.ceil((RAM_OFFSET + ramBytes) / PAGE);
  let memory: WebAssembly.Memory;
  try {
    memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  } catch {
    throw new RangeError(
      `arena: the host cannot allocate ${pages * PAGE} bytes for ${ramBytes} bytes of guest RAM`,
    );
  }
  const buffer = memory.buffer;
  return {
    memory,
    xfer: new Int32Array(buffer, 0, 32),
    regs: new Int32Array(buffer, REGS_OFFSET, 8),
    tlbRead: new Int32Array(buffer, TLB_READ_OFFSET, TLB_TABLE_LENGTH),
    tlbWrite: new Int32Array(buffer, TLB_WRITE_OFFSET, TLB_TABLE_LENGTH),
    chain: new Int32Array(buffer, CHAIN_OFFSET, 4 * CHAIN_ENTRIES).fill(-1),
    ram: new Uint8Array(buffer, RAM_OFFSET, ramBytes),
  };
}
