import { MemoryError } from './errors';
import {
  Access,
  CR0_PG,
  CR0_WP,
  CR4_PAE,
  CR4_PGE,
  CR4_PSE,
  CR4_SMAP,
  CR4_SMEP,
  EFER_LMA,
  EFER_LME,
  EFER_NXE,
  loadPdptes,
  type PagingControl,
  PagingMode,
  pagingMode,
  WalkResult,
  walk,
} from './paging';
import { PAGE_SIZE, PageKind, type PhysicalMemory } from './physical';

/**
 * TLB entry flags (bits 11–3 of an entry; bits 31–12 are the physical page number, bits 2–0
 * are always zero so that an access's alignment can be folded into the rights test). An entry
 * serves an access on the fast path when all the flags of that access's mask are set.
 */
export const TlbFlag = {
  /** The physical page is plain RAM (not ROM, MMIO or a hole). */
  ram: 0x8,
  readSup: 0x10,
  readUser: 0x20,
  /** Writes allowed and the dirty bit already set, and the page is not a watched code page. */
  writeSup: 0x40,
  writeUser: 0x80,
  fetchSup: 0x100,
  fetchUser: 0x200,
  global: 0x400,
  /** The translation comes from a page larger than 4 KiB (INVLPG drops all its fragments). */
  large: 0x800,
} as const;

/** Fast-path masks per access kind: index `access * 2 + (user ? 1 : 0)`. */
export const TLB_MASKS: readonly number[] = [
  TlbFlag.ram | TlbFlag.readSup,
  TlbFlag.ram | TlbFlag.readUser,
  TlbFlag.ram | TlbFlag.writeSup,
  TlbFlag.ram | TlbFlag.writeUser,
  TlbFlag.ram | TlbFlag.fetchSup,
  TlbFlag.ram | TlbFlag.fetchUser,
];

/** Entries of the tagged TLB for 64-bit linear addresses outside [0, 2^32). */
export const TLB_HIGH_ENTRIES = 1 << 16;

/**
 * A page fault. The MMU throws one reused instance (no allocation, no stack capture on the hot
 * path), so copy `linear` and `errorCode` before the next access.
 */
export class PageFault {
  linear = 0;
  errorCode = 0;
  readonly vector = 14;
}

/**
 * A 64-bit linear address that is not canonical (bits 63:47 not all equal, SDM Vol. 3A
 * §3.3.7.1): the CPU raises #GP(0), or #SS(0) for stack accesses, which the caller tells apart.
 * Thrown as one reused instance, like `PageFault`.
 */
export class CanonicalFault {
  linear = 0;
  readonly errorCode = 0;
  readonly vector = 13;
}

const FILLED_CAPACITY = 1 << 16;
const TWO32 = 4294967296;
/**
 * Private copies for the upper-half hit path (`TLB_HIGH_ENTRIES - 1`, `1 / PAGE_SIZE`,
 * `TlbFlag.ram`, `.readSup`, `.writeSup`): V8 reads exported and imported constants through
 * cells on every access. A test checks they agree with the exported ones.
 */
const HIGH_MASK = 0xffff;
const INV_PAGE = 1 / 4096;
const RAM_FLAG_HIGH = 0x8;
const READ_SUP_HIGH = 0x10;
const WRITE_SUP_HIGH = 0x40;
/** @internal For the test that the private copies agree with the exported constants. */
export const HIGH_PATH_CONSTANTS = [
  HIGH_MASK,
  INV_PAGE,
  RAM_FLAG_HIGH,
  READ_SUP_HIGH,
  WRITE_SUP_HIGH,
] as const;
const CR0_NW = 1 << 29;
const CR0_CD = 1 << 30;
const CANONICAL_LIMIT = 2 ** 47;

/** The MMU's state for snapshots (`saveState` / `restoreState`). */
export interface MmuState {
  readonly format: 'ringzero-mmu';
  readonly version: 1;
  readonly cr0: number;
  readonly cr3: number;
  readonly cr4: number;
  readonly efer: number;
  readonly cpl: number;
  readonly ac: boolean;
  /** The four PAE PDPTE registers as lo/hi pairs (8 numbers). */
  readonly pdpte: readonly number[];
}

/** The 64-bit linear address `hi:lo` as the signed number the `…Long` methods take. */
export function linear64(hi: number, lo: number): number {
  return (hi | 0) * TWO32 + (lo >>> 0);
}

/** Whether a 64-bit linear address (as a signed number) is canonical for 48-bit linear addresses. */
export function isCanonical(linear: number): boolean {
  return Number.isInteger(linear) && linear >= -CANONICAL_LIMIT && linear < CANONICAL_LIMIT;
}

/**
 * The physical page a miss entry of `tlbRead` / `tlbWrite` leads to: the last page of the 4 GiB
 * space, which is never RAM (RAM ends by `MAX_RAM`). So `linear + entry` is a RAM address on a
 * hit and at least `TLB_MISS_PAGE` on a miss, and one unsigned compare against the RAM size
 * tells them apart.
 */
export const TLB_MISS_PAGE = 0xffff_f000;

/** The `tlbRead` / `tlbWrite` entry of linear page `page` (0 to 2^20 − 1) that is a miss. */
export function tlbMiss(page: number): number {
  return (TLB_MISS_PAGE - (page & 0xf_ffff) * PAGE_SIZE) | 0;
}
/** Where the user-mode half of `tlbRead` / `tlbWrite` starts. */
export const TLB_USER = 1 << 20;
/**
 * The last entry of `tlbRead` and `tlbWrite`, after both halves: the offset of the current
 * privilege's half (`TLB_USER` at CPL 3, else 0), so an access at the CPL's privilege indexes
 * the table with `(linear >>> 12) | table[TLB_CPL]`.
 */
export const TLB_CPL = 2 << 20;

/** Entries of `Mmu.tlbRead` and `Mmu.tlbWrite`: both privilege halves and the CPL entry. */
export const TLB_TABLE_LENGTH = TLB_CPL + 1;

/** Arrays a caller provides for the RAM fast-path tables (see the `Mmu` constructor). */
export interface TlbTables {
  readonly tlbRead: Int32Array;
  readonly tlbWrite: Int32Array;
}

/** The caller's table, checked, or a new one. */
function checkTable(table: Int32Array | undefined, name: string): Int32Array {
  if (table === undefined) return new Int32Array(TLB_TABLE_LENGTH);
  if (table.length !== TLB_TABLE_LENGTH) {
    throw new RangeError(`Mmu: ${name} must have ${TLB_TABLE_LENGTH} entries (got ${table.length})`);
  }
  return table;
}
// The same number for the hot paths: the engine reads an exported binding through a cell.
const CPL_SLOT = 2 << 20;

/** 0 for a supervisor-mode access, 1 for a user-mode one. */
export type Privilege = 0 | 1;

/**
 * The memory management unit: control registers, the page walker and a software TLB over a
 * `PhysicalMemory`. Linear accesses hit the TLB (one typed-array load and one compare) and fall
 * back to a page walk; faults throw the MMU's `PageFault`.
 *
 * Every access method takes an optional privilege: 1 for a user-mode access, 0 for a
 * supervisor-mode one; it defaults to the current CPL's (CPL 3 is user mode). Passing 0 at CPL 3
 * is an implicit supervisor access (descriptor tables, the TSS), which SMAP checks as if
 * EFLAGS.AC were 0 (SDM Vol. 3A §4.6).
 *
 * The tables (all `Int32Array`s, never replaced, so callers may capture them):
 * - `tlbRead` and `tlbWrite`: the RAM fast path, one entry per 4 KiB page of linear addresses
 *   [0, 2^32) for supervisor accesses and, from `TLB_USER` on, for user accesses. An entry is
 *   the physical page minus the linear page (modulo 2^32) when that access to that page may go
 *   straight to RAM, or `tlbMiss(page)`: `TLB_MISS_PAGE` minus the linear page, so that linear
 *   plus entry is beyond RAM.
 * - `tlb`: the translation of each page with its rights for every kind of access (`TlbFlag`),
 *   RAM or not; `translate` and `fetch8` use it.
 * - `tlbHigh` with `tlbHighPage`: a direct-mapped, tagged table in the format of `tlb` for the
 *   rest of the 48-bit space of 4-level paging; the `…Long` methods use it.
 *
 * How a translator inlines a dword read (32-bit linear address `lin`, an integer; `u` the
 * constant privilege, `rd = mmu.tlbRead`, `ram32 = mem.ram32`): the physical address rotated
 * right by 2 is the word index, with a misalignment in bits 31–30, so one unsigned compare
 * rejects misses, unaligned dwords (and with them page-crossing ones) and non-RAM pages:
 *
 * ```js
 * const p = (lin | 0) + rd[(lin >>> 12) | (u << 20)];
 * const q = ((p >>> 2) | (p << 30)) >>> 0;
 * value = q < words ? ram32[q] : mmu.read32(lin, u); // words = ram32.length, as a constant
 * ```
 */
export class Mmu {
  /** RAM fast path for reads: see the class comment. */
  declare readonly tlbRead: Int32Array;
  /** RAM fast path for writes: the dirty bit is set and the page is not watched. */
  declare readonly tlbWrite: Int32Array;
  /** One entry per 4 KiB linear page of [0, 2^32); 0 is a miss. */
  readonly tlb = new Int32Array(1 << 20);
  /** Entries for 64-bit linear pages outside [0, 2^32), at `page & 0xffff`; 0 is a miss. */
  readonly tlbHigh = new Int32Array(TLB_HIGH_ENTRIES);
  /** The linear page number (`Math.floor(linear / 4096)`, signed) each `tlbHigh` entry maps. */
  readonly tlbHighPage = new Float64Array(TLB_HIGH_ENTRIES);
  /**
   * The control registers the walks read: the MMU's own, or the caller's (see the constructor).
   */
  readonly control: PagingControl;
  /** EFLAGS.AC, for SMAP. */
  ac = false;
  readonly fault = new PageFault();
  readonly canonicalFault = new CanonicalFault();
  /** Statistics. */
  walks = 0;
  flushes = 0;
  /** The privilege of accesses that do not name one: 1 at CPL 3. */
  private userBit: Privilege = 0;
  private cplValue = 0;
  private longMode = false;
  /** Whether some entry holds a fragment of a page larger than 4 KiB (1 GiB: `hasHuge`). */
  private hasLarge = false;
  private hasHuge = false;
  private readonly filled = new Int32Array(FILLED_CAPACITY);
  private filledCount = 0;
  private readonly filledHigh = new Int32Array(FILLED_CAPACITY);
  private filledHighCount = 0;
  private readonly result = new WalkResult();
  private readonly pdpte = new Uint32Array(8);
  /** Whether a setter (or `restoreState`) loaded the PDPTE registers. */
  private pdpteLoaded = false;
  // Assigned once in the constructor (declared, not defined, so the first store is the value
  // and the engine can treat the fields as constant).
  declare readonly mem: PhysicalMemory;
  declare private readonly ram8: Uint8Array;
  declare private readonly ram16: Uint16Array;
  declare private readonly ram32: Uint32Array;
  declare private readonly view: DataView;
  // RAM's length in bytes, words and dwords, as plain numbers: a typed array's `length` is a
  // machine word the engine does not fold into a 32-bit compare.
  declare private readonly ramBytes: number;
  declare private readonly ramWords: number;
  declare private readonly ramDwords: number;

  /**
   * `control`, when given, is the caller's own record of CR0, CR3, CR4 and EFER (a processor
   * model's state object), which the walks then read directly: one copy of the registers. A
   * caller that writes it must call `flush(false)` after changes the TLB caches (CR0.PG/WP,
   * CR3, CR4.PSE/PAE/PGE/SMEP/SMAP), as the setters do. PAE paging entered that way, without
   * `setCr0`/`setCr3`/`setCr4`, reads the PDPTEs from memory at each walk, since no PDPTE
   * registers were loaded.
   *
   * `tables`, when given, are the caller's arrays for `tlbRead` and `tlbWrite` (each
   * `TLB_TABLE_LENGTH` entries, overwritten here): a translator that emits WebAssembly places them
   * in its `WebAssembly.Memory` beside guest RAM, so its code reads them with plain loads.
   */
  constructor(mem: PhysicalMemory, control?: PagingControl, tables?: TlbTables) {
    this.tlbRead = checkTable(tables?.tlbRead, 'tlbRead');
    this.tlbWrite = checkTable(tables?.tlbWrite, 'tlbWrite');
    this.mem = mem;
    this.control = control ?? { cr0: 0, cr3: 0, cr4: 0, efer: 0 };
    this.ram8 = mem.ram;
    this.ram16 = mem.ram16;
    this.ram32 = mem.ram32;
    this.view = mem.view;
    this.ramBytes = mem.ram.length;
    this.ramWords = mem.ram16.length;
    this.ramDwords = mem.ram32.length;
    this.clearFastTables();
    mem.onMappingChange((page) => {
      if (page < 0) this.flush(false);
      else this.dropPhysicalPage(page);
    });
  }

  /** 0..3; accesses at CPL 3 are user accesses. */
  get cpl(): number {
    return this.cplValue;
  }

  set cpl(value: number) {
    this.cplValue = value & 3;
    this.userBit = this.cplValue === 3 ? 1 : 0;
    this.tlbRead[TLB_CPL] = this.userBit * TLB_USER;
    this.tlbWrite[TLB_CPL] = this.userBit * TLB_USER;
  }

  get mode(): PagingMode {
    return pagingMode(this.control);
  }

  /**
   * Writes CR0. Setting PG with EFER.LME set activates IA-32e mode (EFER.LMA = 1) and clearing
   * PG leaves it (SDM Vol. 3A §10.8.5). A change of PG, CD or NW that leaves PAE paging on loads
   * the PDPTE registers (§4.4.1). Returns false, changing nothing, for what raises #GP(0): a
   * PDPTE with reserved bits, or setting PG with EFER.LME = 1 and CR4.PAE = 0 (§4.1.2). A change
   * of PG or WP flushes the TLB (WP changes the rights cached in it; the SDM lets MOV to CR0
   * invalidate entries, §4.10.4.1).
   */
  setCr0(value: number): boolean {
    const c = this.control;
    const old = c.cr0;
    let efer = c.efer;
    if (((old ^ value) & CR0_PG) !== 0) {
      const pg = (value & CR0_PG) !== 0;
      if (pg && (efer & EFER_LME) !== 0 && (c.cr4 & CR4_PAE) === 0) return false;
      efer = pg && (efer & EFER_LME) !== 0 ? efer | EFER_LMA : efer & ~EFER_LMA;
    }
    const next = { cr0: value | 0, cr3: c.cr3, cr4: c.cr4, efer };
    if (((old ^ value) & (CR0_PG | CR0_CD | CR0_NW)) !== 0 && pagingMode(next) === PagingMode.pae) {
      if (!loadPdptes(this.mem, c.cr3, this.pdpte)) return false;
      this.pdpteLoaded = true;
    }
    c.cr0 = value | 0;
    c.efer = efer;
    if (((old ^ value) & (CR0_PG | CR0_WP)) !== 0) this.modeChanged();
    return true;
  }

  /**
   * Writes CR3: flushes non-global entries and, with PAE paging, loads the PDPTE registers.
   * Returns false when a PDPTE has reserved bits set (the CPU raises #GP(0) and CR3 keeps its
   * old value).
   */
  setCr3(value: number): boolean {
    if (this.mode === PagingMode.pae) {
      if (!loadPdptes(this.mem, value, this.pdpte)) return false;
      this.pdpteLoaded = true;
    }
    this.control.cr3 = value;
    this.flush(true);
    return true;
  }

  /**
   * Writes CR4; changes to PSE, PAE, PGE, SMEP or SMAP flush the TLB, global entries included
   * (SDM Vol. 3A §4.10.4.1 requires it for PGE, PAE and SMEP; SMAP and PSE are cached in the
   * entries' rights here). A change of PAE, PGE, PSE or SMEP that leaves PAE paging on loads the
   * PDPTE registers (§4.4.1). Returns false, changing nothing, for what raises #GP(0): a bad
   * PDPTE, or clearing PAE in IA-32e mode (§4.1.2).
   */
  setCr4(value: number): boolean {
    const c = this.control;
    const old = c.cr4;
    if (this.mode === PagingMode.level4 && (value & CR4_PAE) === 0) return false;
    const next = { cr0: c.cr0, cr3: c.cr3, cr4: value | 0, efer: c.efer };
    if (
      ((old ^ value) & (CR4_PAE | CR4_PGE | CR4_PSE | CR4_SMEP)) !== 0 &&
      pagingMode(next) === PagingMode.pae
    ) {
      if (!loadPdptes(this.mem, c.cr3, this.pdpte)) return false;
      this.pdpteLoaded = true;
    }
    c.cr4 = value | 0;
    if (((old ^ value) & (CR4_PSE | CR4_PAE | CR4_PGE | CR4_SMEP | CR4_SMAP)) !== 0) this.modeChanged();
    return true;
  }

  /** Writes EFER (LME, LMA, NXE); NXE and LMA changes flush the TLB. */
  setEfer(value: number): void {
    const old = this.control.efer;
    this.control.efer = value | 0;
    if (((old ^ value) & (EFER_NXE | EFER_LMA)) !== 0) this.modeChanged();
  }

  private modeChanged(): void {
    this.longMode = this.mode === PagingMode.level4;
    this.flush(false);
  }

  /** Forgets one page of [0, 2^32) in every table. */
  private dropPage(page: number): void {
    const miss = tlbMiss(page);
    this.tlb[page] = 0;
    this.tlbRead[page] = miss;
    this.tlbRead[page | TLB_USER] = miss;
    this.tlbWrite[page] = miss;
    this.tlbWrite[page | TLB_USER] = miss;
  }

  /** Sets every entry of `tlbRead` and `tlbWrite` to its miss value. */
  private clearFastTables(): void {
    const rd = this.tlbRead;
    const wr = this.tlbWrite;
    for (let page = 0; page < TLB_USER; page++) {
      const miss = tlbMiss(page);
      rd[page] = miss;
      rd[page | TLB_USER] = miss;
      wr[page] = miss;
      wr[page | TLB_USER] = miss;
    }
  }

  /**
   * INVLPG for a 32-bit linear address: drops the entry for the page, global or not, and every
   * fragment of a larger page containing it (SDM Vol. 3A §4.10.4.1).
   */
  invlpg(linear: number): void {
    const page = linear >>> 12;
    this.dropPage(page);
    if (this.hasHuge) this.dropLargeFragments();
    else if (this.hasLarge) {
      // Fragments of a 4 MiB (32-bit paging) or 2 MiB page: the aligned run of entries around it.
      const span = this.mode === PagingMode.bits32 ? 1024 : 512;
      const first = page & ~(span - 1);
      const tlb = this.tlb;
      for (let p = first; p < first + span; p++) if ((tlb[p]! & TlbFlag.large) !== 0) this.dropPage(p);
    }
  }

  /** INVLPG for a 64-bit linear address (a signed number, see `linear64`). */
  invlpgLong(linear: number): void {
    if (!this.longMode || (linear >= 0 && linear < TWO32)) {
      this.invlpg(linear >>> 0);
      return;
    }
    if (!isCanonical(linear)) return; // INVLPG of a non-canonical address is a no-op (SDM Vol. 2A)
    const page = Math.floor(linear / PAGE_SIZE);
    const index = page & (TLB_HIGH_ENTRIES - 1);
    if (this.tlbHighPage[index] === page) this.tlbHigh[index] = 0;
    if (this.hasHuge) this.dropLargeFragments();
    else if (this.hasLarge) {
      const first = index & ~511;
      const high = this.tlbHigh;
      for (let i = first; i < first + 512; i++) if ((high[i]! & TlbFlag.large) !== 0) high[i] = 0;
    }
  }

  /** Drops every fragment of a large page (all of them: the architecture allows more). */
  private dropLargeFragments(): void {
    const tlb = this.tlb;
    const high = this.tlbHigh;
    if (this.filledCount >= FILLED_CAPACITY || this.filledHighCount >= FILLED_CAPACITY) {
      this.flush(false);
      return;
    }
    for (let i = 0; i < this.filledCount; i++) {
      const p = this.filled[i]!;
      if ((tlb[p]! & TlbFlag.large) !== 0) this.dropPage(p);
    }
    for (let i = 0; i < this.filledHighCount; i++) {
      const p = this.filledHigh[i]!;
      if ((high[p]! & TlbFlag.large) !== 0) high[p] = 0;
    }
  }

  /** Empties the TLB; with `keepGlobal`, entries of global pages stay (CR3 reload with PGE). */
  flush(keepGlobal: boolean): void {
    this.flushes++;
    if (this.filledCount >= FILLED_CAPACITY) {
      // The list overflowed: clear the whole tables (globals are refilled on demand).
      this.tlb.fill(0);
      this.clearFastTables();
      this.filledCount = 0;
    } else {
      const tlb = this.tlb;
      let kept = 0;
      for (let i = 0; i < this.filledCount; i++) {
        const page = this.filled[i]!;
        if (keepGlobal && (tlb[page]! & TlbFlag.global) !== 0) this.filled[kept++] = page;
        else this.dropPage(page);
      }
      this.filledCount = kept;
    }
    this.filledHighCount = flushTable(this.tlbHigh, this.filledHigh, this.filledHighCount, keepGlobal);
    if (this.filledCount === 0 && this.filledHighCount === 0) {
      this.hasLarge = false;
      this.hasHuge = false;
    }
  }

  private dropPhysicalPage(ppn: number): void {
    if (this.filledCount >= FILLED_CAPACITY || this.filledHighCount >= FILLED_CAPACITY) {
      this.flush(false);
      return;
    }
    const tlb = this.tlb;
    for (let i = 0; i < this.filledCount; i++) {
      const page = this.filled[i]!;
      if (tlb[page] !== 0 && tlb[page]! >>> 12 === ppn) this.dropPage(page);
    }
    const high = this.tlbHigh;
    for (let i = 0; i < this.filledHighCount; i++) {
      const index = this.filledHigh[i]!;
      if (high[index] !== 0 && high[index]! >>> 12 === ppn) high[index] = 0;
    }
  }

  /**
   * Translates a 32-bit linear address: returns the physical address or throws the MMU's
   * `PageFault`. Fills the TLB on success.
   */
  translate(linear: number, access: Access, user: Privilege = this.userBit): number {
    linear >>>= 0;
    const e = this.tlb[linear >>> 12]!;
    if ((e & (TlbFlag.readSup << (access * 2 + (user & 1)))) !== 0)
      return ((e & -4096) | (linear & 4095)) >>> 0;
    return this.walkAndFill(linear, access, user & 1);
  }

  /**
   * Translates a 64-bit linear address (a signed number, see `linear64`). With 32-bit or PAE
   * paging the address is taken modulo 2^32; in IA-32e mode a non-canonical address throws the
   * MMU's `CanonicalFault`.
   */
  translateLong(linear: number, access: Access, user: Privilege = this.userBit): number {
    if (linear >= 0 && linear < TWO32) return this.translate(linear, access, user);
    if (!this.longMode) return this.translate(linear >>> 0, access, user);
    if (!(linear >= -CANONICAL_LIMIT && linear < CANONICAL_LIMIT)) {
      this.canonicalFault.linear = linear;
      throw this.canonicalFault;
    }
    const page = Math.floor(linear / PAGE_SIZE);
    const index = page & (TLB_HIGH_ENTRIES - 1);
    const u = user & 1;
    const e = this.tlbHigh[index]!;
    if ((e & (TlbFlag.readSup << (access * 2 + u))) !== 0 && this.tlbHighPage[index] === page) {
      return ((e & -4096) | (linear & 4095)) >>> 0;
    }
    const r = this.walkFor(linear, access, u);
    const phys = this.mem.maskA20(r.physical);
    if (phys < TWO32) {
      if (this.tlbHigh[index] === 0) {
        if (this.filledHighCount < FILLED_CAPACITY) this.filledHigh[this.filledHighCount] = index;
        this.filledHighCount++;
      }
      this.tlbHigh[index] = this.entryFor(phys, r);
      this.tlbHighPage[index] = page;
    }
    return phys;
  }

  /** Walks for an access, counting it; throws the `PageFault` when the access is denied. */
  private walkFor(linear: number, access: Access, user: number): WalkResult {
    this.walks++;
    // At CPL 3 a supervisor access is implicit, and SMAP ignores EFLAGS.AC for those.
    const ac = this.ac && this.cplValue < 3;
    const pdpte = this.pdpteLoaded ? this.pdpte : undefined;
    const r = walk(this.mem, this.control, linear, access, user === 1, ac, this.result, pdpte);
    if (!r.ok) this.pageFault(linear, r.errorCode);
    return r;
  }

  /**
   * Reports a denied access: throws the reused `PageFault` with the linear address and error
   * code. A subclass may throw its own exception instead (a processor model that delivers #PF
   * itself); it must throw, and nothing of the access has happened when it is called.
   */
  protected pageFault(linear: number, errorCode: number): never {
    this.fault.linear = linear;
    this.fault.errorCode = errorCode;
    throw this.fault;
  }

  private walkAndFill(linear: number, access: Access, user: number): number {
    const r = this.walkFor(linear, access, user);
    const phys = this.mem.maskA20(r.physical);
    if (phys < TWO32) {
      const page = linear >>> 12;
      if (this.tlb[page] === 0) {
        if (this.filledCount < FILLED_CAPACITY) this.filled[this.filledCount] = page;
        this.filledCount++;
      }
      const e = this.entryFor(phys, r);
      this.tlb[page] = e;
      const delta = ((e & -4096) - (page << 12)) | 0;
      const miss = tlbMiss(page);
      const ram = (e & TlbFlag.ram) !== 0;
      this.tlbRead[page] = ram && (e & TlbFlag.readSup) !== 0 ? delta : miss;
      this.tlbRead[page | TLB_USER] = ram && (e & TlbFlag.readUser) !== 0 ? delta : miss;
      this.tlbWrite[page] = ram && (e & TlbFlag.writeSup) !== 0 ? delta : miss;
      this.tlbWrite[page | TLB_USER] = ram && (e & TlbFlag.writeUser) !== 0 ? delta : miss;
    }
    return phys;
  }

  /**
   * The TLB entry for a successful walk. Rights are cached only when they do not depend on
   * state that can change without a flush: write rights need the dirty bit already set and the
   * page unwatched; supervisor data rights to user pages are never cached under SMAP (they
   * depend on EFLAGS.AC). Every entry has a read right, so no entry is 0.
   */
  private entryFor(phys: number, r: WalkResult): number {
    const ppn = Math.floor(phys / PAGE_SIZE);
    const mem = this.mem;
    const c = this.control;
    const paging = (c.cr0 & CR0_PG) !== 0;
    const smap = paging && (c.cr4 & CR4_SMAP) !== 0;
    const smep = paging && (c.cr4 & CR4_SMEP) !== 0;
    const wp = (c.cr0 & CR0_WP) !== 0;
    const up = r.userPage;
    let f = 0;
    if (mem.pageKind[ppn] === PageKind.ram) f |= TlbFlag.ram;
    if (!(smap && up)) f |= TlbFlag.readSup;
    if (up) f |= TlbFlag.readUser;
    if (r.dirty && mem.watched[ppn] === 0) {
      if (!(smap && up) && (r.writable || !wp)) f |= TlbFlag.writeSup;
      if (up && r.writable) f |= TlbFlag.writeUser;
    }
    if (!r.noExecute) {
      if (!(smep && up)) f |= TlbFlag.fetchSup;
      if (up) f |= TlbFlag.fetchUser;
    }
    if (r.global) f |= TlbFlag.global;
    if (r.pageSize > PAGE_SIZE) {
      f |= TlbFlag.large;
      this.hasLarge = true;
      if (r.pageSize >= 1 << 30) this.hasHuge = true;
    }
    return (ppn << 12) | f;
  }

  // ---- 32-bit linear accesses (addresses modulo 2^32) ----------------------------------------

  /** Reads a byte at a linear address. */
  read8(linear: number, user?: Privilege): number {
    const rd = this.tlbRead;
    const p =
      ((linear | 0) + rd[(linear >>> 12) | (user === undefined ? rd[CPL_SLOT]! : (user & 1) << 20)]!) >>> 0;
    if (p < this.ramBytes) return this.ram8[p]!;
    return this.mem.read8(this.translate(linear, Access.read, user ?? this.userBit));
  }

  read16(linear: number, user?: Privilege): number {
    const rd = this.tlbRead;
    const p = (linear | 0) + rd[(linear >>> 12) | (user === undefined ? rd[CPL_SLOT]! : (user & 1) << 20)]!;
    const q = ((p >>> 1) | (p << 31)) >>> 0;
    if (q < this.ramWords) return this.ram16[q]!;
    return this.readMiss(linear, 2, user ?? this.userBit);
  }

  read32(linear: number, user?: Privilege): number {
    const rd = this.tlbRead;
    const p = (linear | 0) + rd[(linear >>> 12) | (user === undefined ? rd[CPL_SLOT]! : (user & 1) << 20)]!;
    const q = ((p >>> 2) | (p << 30)) >>> 0;
    if (q < this.ramDwords) return this.ram32[q]!;
    return this.readMiss(linear, 4, user ?? this.userBit);
  }

  /** Fetches a code byte (checks execute rights: NX, SMEP). */
  fetch8(linear: number, user: Privilege = this.userBit): number {
    const e = this.tlb[linear >>> 12]!;
    const m = TlbFlag.ram | (TlbFlag.fetchSup << (user & 1));
    if ((e & m) === m) return this.ram8[((e & -4096) | (linear & 4095)) >>> 0]!;
    return this.mem.read8(this.translate(linear, Access.fetch, user));
  }

  write8(linear: number, value: number, user?: Privilege): void {
    const wr = this.tlbWrite;
    const p =
      ((linear | 0) + wr[(linear >>> 12) | (user === undefined ? wr[CPL_SLOT]! : (user & 1) << 20)]!) >>> 0;
    if (p < this.ramBytes) {
      this.ram8[p] = value;
      return;
    }
    this.mem.write8(this.translate(linear, Access.write, user ?? this.userBit), value);
  }

  write16(linear: number, value: number, user?: Privilege): void {
    const wr = this.tlbWrite;
    const p = (linear | 0) + wr[(linear >>> 12) | (user === undefined ? wr[CPL_SLOT]! : (user & 1) << 20)]!;
    const q = ((p >>> 1) | (p << 31)) >>> 0;
    if (q < this.ramWords) {
      this.ram16[q] = value;
      return;
    }
    this.writeMiss(linear, 2, value, user ?? this.userBit);
  }

  write32(linear: number, value: number, user?: Privilege): void {
    const wr = this.tlbWrite;
    const p = (linear | 0) + wr[(linear >>> 12) | (user === undefined ? wr[CPL_SLOT]! : (user & 1) << 20)]!;
    const q = ((p >>> 2) | (p << 30)) >>> 0;
    if (q < this.ramDwords) {
      this.ram32[q] = value;
      return;
    }
    this.writeMiss(linear, 4, value, user ?? this.userBit);
  }

  /** A read the fast path did not serve: unaligned, page-crossing, not RAM, or a TLB miss. */
  private readMiss(linear: number, size: 2 | 4, user: Privilege): number {
    linear >>>= 0;
    const offset = linear & 4095;
    if (offset > 4096 - size) {
      // A page-crossing read translates the first page, then the second (CR2 is the second
      // page's first byte when only that one faults).
      const p0 = this.translate(linear, Access.read, user);
      const p1 = this.translate(((linear | 4095) + 1) >>> 0, Access.read, user);
      return this.readSplit(p0, p1, 4096 - offset, size);
    }
    // An unaligned access within a RAM page the TLB maps.
    const hit = (linear + this.tlbRead[(linear >>> 12) | ((user & 1) << 20)]!) >>> 0;
    if (hit < this.ramBytes)
      return size === 2 ? this.view.getUint16(hit, true) : this.view.getUint32(hit, true);
    const p = this.translate(linear, Access.read, user);
    return size === 2 ? this.mem.read16(p) : this.mem.read32(p);
  }

  private writeMiss(linear: number, size: 2 | 4, value: number, user: Privilege): void {
    linear >>>= 0;
    const offset = linear & 4095;
    if (offset > 4096 - size) {
      // Both pages are translated before either byte is written, so a fault on the second page
      // leaves memory unchanged (as on hardware).
      const p0 = this.translate(linear, Access.write, user);
      const p1 = this.translate(((linear | 4095) + 1) >>> 0, Access.write, user);
      this.writeSplit(p0, p1, 4096 - offset, size, value);
      return;
    }
    const hit = (linear + this.tlbWrite[(linear >>> 12) | ((user & 1) << 20)]!) >>> 0;
    if (hit < this.ramBytes) {
      if (size === 2) this.view.setUint16(hit, value, true);
      else this.view.setUint32(hit, value, true);
      return;
    }
    const p = this.translate(linear, Access.write, user);
    if (size === 2) this.mem.write16(p, value);
    else this.mem.write32(p, value);
  }

  /** Reads `size` bytes: the first `first` bytes from `p0`, the rest from `p1`. */
  private readSplit(p0: number, p1: number, first: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = (v << 8) | this.mem.read8(i < first ? p0 + i : p1 + (i - first));
    return v >>> 0;
  }

  /** Writes `size` bytes of `value`: the first `first` bytes at `p0`, the rest from `p1`. */
  private writeSplit(p0: number, p1: number, first: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) {
      const phys = i < first ? p0 + i : p1 + (i - first);
      this.mem.write8(phys, (value >>> (8 * i)) & 0xff);
    }
  }

  // ---- 64-bit linear accesses (IA-32e mode; addresses as signed numbers) ---------------------
  // Addresses in [0, 2^32) take the 32-bit fast path; the others use `tlbHigh`.

  read8Long(linear: number, user: Privilege = this.userBit): number {
    if (linear >= 0 && linear < TWO32) return this.read8(linear, user);
    const page = Math.floor(linear / PAGE_SIZE);
    const index = page & (TLB_HIGH_ENTRIES - 1);
    const e = this.tlbHigh[index]!;
    const m = TlbFlag.ram | (TlbFlag.readSup << (user & 1));
    if ((e & m) === m && this.tlbHighPage[index] === page)
      return this.ram8[((e & -4096) | (linear & 4095)) >>> 0]!;
    return this.mem.read8(this.translateLong(linear, Access.read, user));
  }

  read16Long(linear: number, user: Privilege = this.userBit): number {
    if (linear >= 0 && linear <= TWO32 - 2) return this.read16(linear, user);
    return this.readLongSlow(linear, 2, user);
  }

  read32Long(linear: number, user: Privilege = this.userBit): number {
    if (linear >= 0 && linear <= TWO32 - 4) return this.read32(linear, user);
    const page = Math.floor(linear * INV_PAGE);
    const index = page & HIGH_MASK;
    const e = this.tlbHigh[index]!;
    const m = RAM_FLAG_HIGH | (READ_SUP_HIGH << (user & 1));
    if (((e & m) | (linear & 3)) === m && this.tlbHighPage[index] === page) {
      return this.ram32[((e & -4096) | (linear & 4095)) >>> 2]!;
    }
    return this.readLongSlow(linear, 4, user);
  }

  fetch8Long(linear: number, user: Privilege = this.userBit): number {
    if (linear >= 0 && linear < TWO32) return this.fetch8(linear, user);
    return this.mem.read8(this.translateLong(linear, Access.fetch, user));
  }

  write8Long(linear: number, value: number, user: Privilege = this.userBit): void {
    if (linear >= 0 && linear < TWO32) this.write8(linear, value, user);
    else this.mem.write8(this.translateLong(linear, Access.write, user), value);
  }

  write16Long(linear: number, value: number, user: Privilege = this.userBit): void {
    if (linear >= 0 && linear <= TWO32 - 2) this.write16(linear, value, user);
    else this.writeLongSlow(linear, 2, value, user);
  }

  write32Long(linear: number, value: number, user: Privilege = this.userBit): void {
    if (linear >= 0 && linear <= TWO32 - 4) {
      this.write32(linear, value, user);
      return;
    }
    const page = Math.floor(linear * INV_PAGE);
    const index = page & HIGH_MASK;
    const e = this.tlbHigh[index]!;
    const m = RAM_FLAG_HIGH | (WRITE_SUP_HIGH << (user & 1));
    if (((e & m) | (linear & 3)) === m && this.tlbHighPage[index] === page) {
      this.ram32[((e & -4096) | (linear & 4095)) >>> 2] = value;
      return;
    }
    this.writeLongSlow(linear, 4, value, user);
  }

  private readLongSlow(linear: number, size: 2 | 4, user: Privilege): number {
    if (!this.longMode) return size === 2 ? this.read16(linear >>> 0, user) : this.read32(linear >>> 0, user);
    const offset = (linear >>> 0) & 4095;
    if (offset > 4096 - size) {
      const p0 = this.translateLong(linear, Access.read, user);
      const p1 = this.translateLong(linear - offset + 4096, Access.read, user);
      return this.readSplit(p0, p1, 4096 - offset, size);
    }
    const p = this.translateLong(linear, Access.read, user);
    return size === 2 ? this.mem.read16(p) : this.mem.read32(p);
  }

  private writeLongSlow(linear: number, size: 2 | 4, value: number, user: Privilege): void {
    if (!this.longMode) {
      if (size === 2) this.write16(linear >>> 0, value, user);
      else this.write32(linear >>> 0, value, user);
      return;
    }
    const offset = (linear >>> 0) & 4095;
    if (offset > 4096 - size) {
      const p0 = this.translateLong(linear, Access.write, user);
      const p1 = this.translateLong(linear - offset + 4096, Access.write, user);
      this.writeSplit(p0, p1, 4096 - offset, size, value);
      return;
    }
    const p = this.translateLong(linear, Access.write, user);
    if (size === 2) this.mem.write16(p, value);
    else this.mem.write32(p, value);
  }

  /** The PDPTE registers (PAE), as lo/hi pairs. */
  get pdptes(): Uint32Array {
    return this.pdpte;
  }

  /**
   * The state a snapshot needs: control registers, CPL, EFLAGS.AC and the PDPTE registers. The
   * TLB's contents are not saved: a restored MMU starts with an empty TLB, which hardware may
   * also have at any time (the processor is free to invalidate entries, SDM Vol. 3A §4.10.4.1).
   */
  saveState(): MmuState {
    const c = this.control;
    return {
      format: 'ringzero-mmu',
      version: 1,
      cr0: c.cr0,
      cr3: c.cr3,
      cr4: c.cr4,
      efer: c.efer,
      cpl: this.cpl,
      ac: this.ac,
      pdpte: Array.from(this.pdpte),
    };
  }

  /** Restores `saveState`'s output; anything malformed is a `bad-snapshot` error, changing nothing. */
  restoreState(s: unknown): void {
    const st = s as Partial<MmuState> | null;
    const u32 = (v: unknown): v is number =>
      Number.isInteger(v) && (v as number) >= -(2 ** 31) && (v as number) < TWO32;
    if (
      st === null ||
      typeof st !== 'object' ||
      st.format !== 'ringzero-mmu' ||
      st.version !== 1 ||
      !u32(st.cr0) ||
      !u32(st.cr4) ||
      !u32(st.efer) ||
      !(Number.isInteger(st.cr3) && (st.cr3 as number) >= 0 && (st.cr3 as number) < 2 ** 52) ||
      !(Number.isInteger(st.cpl) && (st.cpl as number) >= 0 && (st.cpl as number) <= 3) ||
      typeof st.ac !== 'boolean' ||
      !Array.isArray(st.pdpte) ||
      st.pdpte.length !== 8 ||
      !st.pdpte.every(u32)
    ) {
      throw new MemoryError('bad-snapshot', 'not a valid MMU state', s);
    }
    this.control.cr0 = st.cr0 | 0;
    this.control.cr3 = st.cr3 as number;
    this.control.cr4 = st.cr4 | 0;
    this.control.efer = st.efer | 0;
    this.cpl = st.cpl as number;
    this.ac = st.ac;
    for (let i = 0; i < 8; i++) this.pdpte[i] = st.pdpte[i] as number;
    this.pdpteLoaded = true;
    this.modeChanged();
  }
}

/** Clears the filled entries of a table (or all of it when the list overflowed). */
function flushTable(table: Int32Array, filled: Int32Array, count: number, keepGlobal: boolean): number {
  if (count >= FILLED_CAPACITY) {
    // The list overflowed: clear the whole table (globals are refilled on demand).
    table.fill(0);
    return 0;
  }
  let kept = 0;
  for (let i = 0; i < count; i++) {
    const index = filled[i]!;
    if (keepGlobal && (table[index]! & TlbFlag.global) !== 0) filled[kept++] = index;
    else table[index] = 0;
  }
  return kept;
}
