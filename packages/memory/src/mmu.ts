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
 * TLB entry flags (low 12 bits of an entry; the high 20 bits are the physical page number).
 * An entry is usable on the fast path for an access when all the flags of that access's mask
 * are set: `(e & mask) === mask`.
 */
export const TlbFlag = {
  valid: 0x1,
  /** The physical page is plain RAM (not ROM, MMIO or a hole). */
  ram: 0x2,
  readSup: 0x4,
  readUser: 0x8,
  /** Writes allowed and the dirty bit already set, and the page is not a watched code page. */
  writeSup: 0x10,
  writeUser: 0x20,
  fetchSup: 0x40,
  fetchUser: 0x80,
  global: 0x100,
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

/**
 * A page fault. The MMU throws one reused instance (no allocation, no stack capture on the hot
 * path), so copy `linear` and `errorCode` before the next access.
 */
export class PageFault {
  linear = 0;
  errorCode = 0;
  readonly vector = 14;
}

const FILLED_CAPACITY = 1 << 14;

/**
 * The memory management unit: control registers, the page walker and a software TLB over a
 * `PhysicalMemory`. Linear accesses hit the TLB (one typed-array load and a mask test) and fall
 * back to a page walk; faults throw the MMU's `PageFault`.
 *
 * How a translator inlines a read hit (32-bit linear address `lin`, CPL in `user`):
 *
 * ```js
 * const e = tlb[lin >>> 12];
 * const m = TLB_MASKS[access * 2 + user];
 * if ((e & m) === m && (lin & 0xfff) <= 0xffc) value = view.getUint32(((e & -4096) | (lin & 4095)) >>> 0, true);
 * else value = mmu.read32(lin);
 * ```
 */
export class Mmu {
  /** One entry per 4 KiB linear page of the 32-bit space; 0 is a miss. */
  readonly tlb = new Int32Array(1 << 20);
  readonly control: PagingControl = { cr0: 0, cr3: 0, cr4: 0, efer: 0 };
  private cplValue = 0;
  /** Fast-path masks for the current CPL (see `TLB_MASKS`). */
  private readMask: number = TlbFlag.ram | TlbFlag.readSup;
  private writeMask: number = TlbFlag.ram | TlbFlag.writeSup;
  private fetchMask: number = TlbFlag.ram | TlbFlag.fetchSup;

  /** 0..3; accesses at CPL 3 are user accesses. */
  get cpl(): number {
    return this.cplValue;
  }

  set cpl(value: number) {
    this.cplValue = value & 3;
    const user = this.cplValue === 3;
    this.readMask = user ? TlbFlag.ram | TlbFlag.readUser : TlbFlag.ram | TlbFlag.readSup;
    this.writeMask = user ? TlbFlag.ram | TlbFlag.writeUser : TlbFlag.ram | TlbFlag.writeSup;
    this.fetchMask = user ? TlbFlag.ram | TlbFlag.fetchUser : TlbFlag.ram | TlbFlag.fetchSup;
  }
  /** EFLAGS.AC, for SMAP. */
  ac = false;
  readonly fault = new PageFault();
  /** Statistics. */
  walks = 0;
  flushes = 0;
  private readonly filled = new Int32Array(FILLED_CAPACITY);
  private filledCount = 0;
  private readonly result = new WalkResult();
  private readonly pdpte = new Uint32Array(8);
  private readonly view: DataView;
  private readonly ram: Uint8Array;

  constructor(readonly mem: PhysicalMemory) {
    this.view = mem.view;
    this.ram = mem.ram;
    mem.onMappingChange((page) => {
      if (page < 0) this.flush(false);
      else this.dropPhysicalPage(page);
    });
  }

  get mode(): PagingMode {
    return pagingMode(this.control);
  }

  /** Writes CR0; a change of PG or WP flushes the TLB (WP changes the rights cached in it). */
  setCr0(value: number): void {
    const old = this.control.cr0;
    this.control.cr0 = value | 0;
    if (((old ^ value) & (CR0_PG | CR0_WP)) !== 0) this.flush(false);
  }

  /**
   * Writes CR3: flushes non-global entries and, with PAE paging, loads the PDPTE registers.
   * Returns false when a PDPTE has reserved bits set (the CPU raises #GP(0) and CR3 keeps its
   * old value).
   */
  setCr3(value: number): boolean {
    if (this.mode === PagingMode.pae && !loadPdptes(this.mem, value, this.pdpte)) return false;
    this.control.cr3 = value;
    this.flush(true);
    return true;
  }

  /** Writes CR4; changes to PSE, PAE, PGE, SMEP or SMAP flush the TLB. */
  setCr4(value: number): boolean {
    const old = this.control.cr4;
    const next = { ...this.control, cr4: value | 0 };
    if (pagingMode(next) === PagingMode.pae && !loadPdptes(this.mem, this.control.cr3, this.pdpte))
      return false;
    this.control.cr4 = value | 0;
    if (((old ^ value) & (CR4_PSE | CR4_PAE | CR4_PGE | CR4_SMEP | CR4_SMAP)) !== 0) this.flush(false);
    return true;
  }

  /** Writes EFER (LME, LMA, NXE); NXE changes flush the TLB. */
  setEfer(value: number): void {
    const old = this.control.efer;
    this.control.efer = value | 0;
    if (((old ^ value) & (EFER_NXE | EFER_LMA)) !== 0) this.flush(false);
  }

  /** INVLPG: drops the entry for one linear page, global or not. */
  invlpg(linear: number): void {
    this.tlb[linear >>> 12] = 0;
  }

  /** Empties the TLB; with `keepGlobal`, entries of global pages stay (CR3 reload with PGE). */
  flush(keepGlobal: boolean): void {
    this.flushes++;
    const tlb = this.tlb;
    if (this.filledCount >= FILLED_CAPACITY) {
      // The list overflowed: clear the whole table (globals are refilled on demand).
      tlb.fill(0);
      this.filledCount = 0;
      return;
    }
    let kept = 0;
    for (let i = 0; i < this.filledCount; i++) {
      const page = this.filled[i]!;
      const e = tlb[page]!;
      if (keepGlobal && (e & TlbFlag.global) !== 0) this.filled[kept++] = page;
      else tlb[page] = 0;
    }
    this.filledCount = kept;
  }

  private dropPhysicalPage(ppn: number): void {
    const tlb = this.tlb;
    if (this.filledCount >= FILLED_CAPACITY) {
      tlb.fill(0);
      this.filledCount = 0;
      return;
    }
    for (let i = 0; i < this.filledCount; i++) {
      const page = this.filled[i]!;
      if (tlb[page]! >>> 12 === ppn) tlb[page] = 0;
    }
  }

  /**
   * Translates a linear address for an access at the current CPL: returns the physical address
   * or throws the MMU's `PageFault`. Fills the TLB on success.
   */
  translate(linear: number, access: Access): number {
    linear >>>= 0;
    const user = this.cpl === 3;
    const e = this.tlb[linear >>> 12]!;
    const flag =
      access === Access.read
        ? user
          ? TlbFlag.readUser
          : TlbFlag.readSup
        : access === Access.write
          ? user
            ? TlbFlag.writeUser
            : TlbFlag.writeSup
          : user
            ? TlbFlag.fetchUser
            : TlbFlag.fetchSup;
    if ((e & flag) !== 0) return ((e & -4096) | (linear & 4095)) >>> 0;
    return this.walkAndFill(linear, access, user);
  }

  private walkAndFill(linear: number, access: Access, user: boolean): number {
    this.walks++;
    const r = walk(this.mem, this.control, linear, access, user, this.ac, this.result, this.pdpte);
    if (!r.ok) {
      this.fault.linear = linear;
      this.fault.errorCode = r.errorCode;
      throw this.fault;
    }
    const phys = this.mem.maskA20(r.physical);
    if (phys < 2 ** 32) this.fill(linear, phys, r);
    return phys;
  }

  private fill(linear: number, phys: number, r: WalkResult): void {
    const ppn = Math.floor(phys / PAGE_SIZE);
    const mem = this.mem;
    const c = this.control;
    const paging = (c.cr0 & CR0_PG) !== 0;
    const smap = paging && (c.cr4 & CR4_SMAP) !== 0;
    const smep = paging && (c.cr4 & CR4_SMEP) !== 0;
    const wp = (c.cr0 & CR0_WP) !== 0;
    const up = r.userPage;
    const watched = mem.watched[ppn] !== 0;
    let f = TlbFlag.valid;
    if (mem.pageKind[ppn] === PageKind.ram) f |= TlbFlag.ram;
    if (!(smap && up)) f |= TlbFlag.readSup;
    if (up) f |= TlbFlag.readUser;
    if (r.dirty && !watched) {
      if (!(smap && up) && (r.writable || !wp)) f |= TlbFlag.writeSup;
      if (up && r.writable) f |= TlbFlag.writeUser;
    }
    if (!r.noExecute) {
      if (!(smep && up)) f |= TlbFlag.fetchSup;
      if (up) f |= TlbFlag.fetchUser;
    }
    if (r.global) f |= TlbFlag.global;
    const page = linear >>> 12;
    if (this.tlb[page] === 0) {
      if (this.filledCount < FILLED_CAPACITY) this.filled[this.filledCount] = page;
      this.filledCount++;
    }
    this.tlb[page] = (ppn << 12) | f;
  }

  /** Reads a byte at a linear address (current CPL). */
  read8(linear: number): number {
    const e = this.tlb[linear >>> 12]!;
    const m = this.readMask;
    if ((e & m) === m) return this.ram[((e & -4096) | (linear & 4095)) >>> 0]!;
    return this.mem.read8(this.translate(linear, Access.read));
  }

  read16(linear: number): number {
    const e = this.tlb[linear >>> 12]!;
    const m = this.readMask;
    if ((e & m) === m && (linear & 4095) <= 4094) {
      return this.view.getUint16(((e & -4096) | (linear & 4095)) >>> 0, true);
    }
    if ((linear & 4095) === 4095) return this.read8(linear) | (this.read8(linear + 1) << 8);
    return this.mem.read16(this.translate(linear, Access.read));
  }

  read32(linear: number): number {
    const e = this.tlb[linear >>> 12]!;
    const m = this.readMask;
    if ((e & m) === m && (linear & 4095) <= 4092) {
      return this.view.getUint32(((e & -4096) | (linear & 4095)) >>> 0, true);
    }
    if ((linear & 4095) > 4092) return this.readSplit(linear, 4);
    return this.mem.read32(this.translate(linear, Access.read));
  }

  /** Fetches a code byte (checks execute rights: NX, SMEP). */
  fetch8(linear: number): number {
    const e = this.tlb[linear >>> 12]!;
    const m = this.fetchMask;
    if ((e & m) === m) return this.ram[((e & -4096) | (linear & 4095)) >>> 0]!;
    return this.mem.read8(this.translate(linear, Access.fetch));
  }

  write8(linear: number, value: number): void {
    const e = this.tlb[linear >>> 12]!;
    const m = this.writeMask;
    if ((e & m) === m) {
      this.ram[((e & -4096) | (linear & 4095)) >>> 0] = value;
      return;
    }
    this.mem.write8(this.translate(linear, Access.write), value);
  }

  write16(linear: number, value: number): void {
    const e = this.tlb[linear >>> 12]!;
    const m = this.writeMask;
    if ((e & m) === m && (linear & 4095) <= 4094) {
      this.view.setUint16(((e & -4096) | (linear & 4095)) >>> 0, value, true);
      return;
    }
    if ((linear & 4095) === 4095) {
      this.writeSplit(linear, 2, value);
      return;
    }
    this.mem.write16(this.translate(linear, Access.write), value);
  }

  write32(linear: number, value: number): void {
    const e = this.tlb[linear >>> 12]!;
    const m = this.writeMask;
    if ((e & m) === m && (linear & 4095) <= 4092) {
      this.view.setUint32(((e & -4096) | (linear & 4095)) >>> 0, value, true);
      return;
    }
    if ((linear & 4095) > 4092) {
      this.writeSplit(linear, 4, value);
      return;
    }
    this.mem.write32(this.translate(linear, Access.write), value);
  }

  private readSplit(linear: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = (v << 8) | this.read8((linear + i) >>> 0);
    return v >>> 0;
  }

  /**
   * A write that crosses a page: both pages are translated before either byte is written, so a
   * fault on the second page leaves memory unchanged (as on hardware).
   */
  private writeSplit(linear: number, size: number, value: number): void {
    const p0 = this.translate(linear, Access.write);
    const next = ((linear | 4095) + 1) >>> 0;
    const p1 = this.translate(next, Access.write);
    for (let i = 0; i < size; i++) {
      const lin = (linear + i) >>> 0;
      const phys = lin < next ? p0 + i : p1 + (lin - next);
      this.mem.write8(phys, (value >>> (8 * i)) & 0xff);
    }
  }

  /** The PDPTE registers (PAE), as lo/hi pairs. */
  get pdptes(): Uint32Array {
    return this.pdpte;
  }

  /** Plain state for snapshots (the TLB itself is not state: it refills). */
  saveState(): {
    cr0: number;
    cr3: number;
    cr4: number;
    efer: number;
    cpl: number;
    ac: boolean;
    pdpte: number[];
  } {
    return { ...this.control, cpl: this.cpl, ac: this.ac, pdpte: Array.from(this.pdpte) };
  }

  restoreState(s: {
    cr0: number;
    cr3: number;
    cr4: number;
    efer: number;
    cpl: number;
    ac: boolean;
    pdpte: number[];
  }): void {
    this.control.cr0 = s.cr0 | 0;
    this.control.cr3 = s.cr3;
    this.control.cr4 = s.cr4 | 0;
    this.control.efer = s.efer | 0;
    this.cpl = s.cpl & 3;
    this.ac = s.ac;
    for (let i = 0; i < 8; i++) this.pdpte[i] = s.pdpte[i] ?? 0;
    this.flush(false);
  }
}
