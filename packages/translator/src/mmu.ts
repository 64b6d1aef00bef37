import { Access, type GuestMemory, WalkResult, walk } from '@ringzero/memory';
import type { CpuState } from './cpu-state';
import { raise, Vector } from './fault';

/**
 * What the translator needs from guest physical memory: `@ringzero/memory`'s `GuestMemory`
 * (little-endian reads and writes at any physical address), plus, optionally, the RAM array as
 * `ram` for the fast path (addresses below `ram.length`). `PhysicalMemory` satisfies it.
 */
export interface PhysicalBus extends GuestMemory {
  readonly ram?: Uint8Array;
  /** Asks to be told (through `onCodeWrite`) about writes to a page that holds cached code. */
  watchPage?(page: number): void;
  unwatchPage?(page: number): void;
  /** The bus's own A20 gate (kept in step by `Tier0.setA20`). */
  setA20?(enabled: boolean): void;
  /** Registers the function called before a write to a watched page (device DMA, loaders). */
  onCodeWrite?(hook: ((page: number, address: number, length: number) => void) | undefined): void;
}

/** Called when a guest write touches a physical page that holds cached instructions. */
export type CodeWriteListener = (physicalPage: number) => void;

/**
 * Bits of a TLB entry (`Mmu.tlb[linear >>> 12]`), below the physical frame in bits 12–31. An
 * entry of 0 is empty. Tier 1 inlines the hit path: an access may use the entry directly when
 * every bit it needs is set, and takes `read*`/`write*` otherwise.
 */
export const TlbBit = {
  valid: 1,
  /** Readable at CPL 3. */
  user: 2,
  /** Writable at CPL 0–2 (R/W, or CR0.WP clear). */
  writeSuper: 4,
  /** Writable at CPL 3. */
  writeUser: 8,
  /** The page's dirty bit is already set (a write needs no page walk). */
  dirty: 16,
  /** The whole 4 KiB frame is RAM below 2 GiB: `ram`, `ram16` and `ram32` hold it. */
  ram: 32,
} as const;
const TLB_TRACK_MAX = 8192;
/** An identity entry (paging off): every right, dirty. */
const TLB_IDENTITY = TlbBit.valid | TlbBit.user | TlbBit.writeSuper | TlbBit.writeUser | TlbBit.dirty;

/**
 * Linear → physical translation for 32-bit paging with 4 MiB pages (CR4.PSE), CR0.WP, U/S and
 * R/W checks and accessed/dirty bits (SDM vol. 3 §4.3, §4.6), with a one-entry-per-page TLB.
 * Page faults are precise: the walker raises #PF with CR2 and the error code set before any
 * part of the access happens.
 *
 * This is the translator's own small MMU, written against `PhysicalBus` while
 * `@ringzero/memory`'s MMU is being written; the interface the interpreter uses (`read*`,
 * `write*`, `flush`, `invalidate`) is what will be backed by that package.
 */
export class Mmu {
  readonly bus: PhysicalBus;
  private readonly state: CpuState;
  /** Guest RAM (physical addresses below `ram.length`); empty when the bus has none. */
  readonly ram: Uint8Array;
  private readonly ramSize: number;
  /** RAM as 16- and 32-bit words (when its buffer offset allows), for aligned accesses. */
  readonly ram16: Uint16Array;
  readonly ram32: Int32Array;
  /**
   * linear page → physical frame | `TlbBit`s; 0 = not cached. While paging is off, pages that
   * were accessed hold identity entries (so tier 1's inlined hit path serves both modes).
   */
  readonly tlb = new Int32Array(1 << 20);
  /** CR0.PG (0 or 1) of the entries in `tlb` (meaningful while `trackedCount > 0`). */
  private tlbPaging = 0;
  private readonly tracked = new Int32Array(TLB_TRACK_MAX);
  private readonly walkOut = new WalkResult();
  private trackedCount = 0;
  /** Physical pages holding cached instructions: writes to them call `onCodeWrite`. */
  readonly codePages = new Uint8Array(1 << 20);
  onCodeWrite: CodeWriteListener | null = null;
  /** ANDed into every physical address: ~(1 << 20) while the A20 gate is disabled. */
  a20Mask = -1;
  /** Incremented whenever cached translations are dropped (tier 1's block links check it). */
  epoch = 0;

  constructor(state: CpuState, bus: PhysicalBus) {
    this.state = state;
    this.bus = bus;
    this.ram = bus.ram ?? new Uint8Array(0);
    this.ramSize = this.ram.length;
    const aligned = this.ram.byteOffset % 4 === 0;
    this.ram16 = aligned
      ? new Uint16Array(this.ram.buffer, this.ram.byteOffset, this.ram.length >>> 1)
      : new Uint16Array(0);
    this.ram32 = aligned
      ? new Int32Array(this.ram.buffer, this.ram.byteOffset, this.ram.length >>> 2)
      : new Int32Array(0);
  }

  /**
   * Drops the entries when CR0.PG differs from the mode they were made in (a caller that changed
   * CR0 without `flush`, such as a loader or a snapshot import). Tier 1 calls it before it runs
   * blocks, whose inlined hit path trusts the entries.
   */
  syncPaging(): void {
    if (this.trackedCount !== 0 && ((this.state.cr0 >>> 31) & 1) !== this.tlbPaging) this.flush();
  }

  /** Drops every cached translation (MOV CR3, MOV CR0/CR4 paging bits, task switch). */
  flush(): void {
    this.epoch++;
    if (this.trackedCount >= TLB_TRACK_MAX) this.tlb.fill(0);
    else for (let i = 0; i < this.trackedCount; i++) this.tlb[this.tracked[i] ?? 0] = 0;
    this.trackedCount = 0;
  }

  /** Drops the translation of one linear page (INVLPG). */
  invalidate(linear: number): void {
    this.epoch++;
    this.tlb[linear >>> 12] = 0;
  }

  /** Translates a linear address for an access, raising #PF when the walk denies it. */
  translate(linear: number, write: boolean, user: boolean): number {
    const s = this.state;
    if ((s.cr0 & 0x80000000) === 0) {
      const phys = (linear & this.a20Mask) >>> 0;
      if (this.tlb[linear >>> 12] === 0) this.fillIdentity(linear >>> 12, phys & ~0xfff);
      return phys;
    }
    const e = this.tlb[linear >>> 12] ?? 0;
    if (e !== 0) {
      const ok = write
        ? (e & (user ? TlbBit.writeUser : TlbBit.writeSuper)) !== 0 && (e & TlbBit.dirty) !== 0
        : !user || (e & TlbBit.user) !== 0;
      if (ok) return (((e & ~0xfff) | (linear & 0xfff)) & this.a20Mask) >>> 0;
    }
    return this.walk(linear, write, user);
  }

  private walk(linear: number, write: boolean, user: boolean): number {
    // The page walk itself is @ringzero/memory's (A/D updates, PSE, WP, reserved bits).
    const r = walk(
      this.bus,
      this.state,
      linear >>> 0,
      write ? Access.write : Access.read,
      user,
      false,
      this.walkOut,
    );
    if (!r.ok) this.pageFault(linear, r.errorCode);
    const frame = (r.physical & ~0xfff) >>> 0;
    const wp = (this.state.cr0 & 0x10000) !== 0;
    this.fill(linear, frame, r.writable ? 2 : 0, r.userPage ? 4 : 0, wp, write || r.dirty);
    return (r.physical & this.a20Mask) >>> 0;
  }

  private fillIdentity(page: number, frame: number): void {
    if (this.trackedCount === 0) this.tlbPaging = 0;
    this.track(page);
    this.tlb[page] = frame | TLB_IDENTITY | this.ramBit(frame);
  }

  /** `TlbBit.ram` when the whole frame is RAM the word views reach, else 0. */
  private ramBit(frame: number): number {
    return frame >= 0 && frame + 4096 <= this.ram32.length * 4 && frame < 0x80000000 ? TlbBit.ram : 0;
  }

  private track(page: number): void {
    if (this.tlb[page] === 0 && this.trackedCount < TLB_TRACK_MAX) this.tracked[this.trackedCount++] = page;
    else if (this.tlb[page] === 0) this.trackedCount = TLB_TRACK_MAX;
  }

  private fill(linear: number, frame: number, rw: number, us: number, wp: boolean, dirty: boolean): void {
    if (this.trackedCount === 0) this.tlbPaging = 1;
    let bits = TlbBit.valid;
    if (us) bits |= TlbBit.user;
    if (rw || !wp) bits |= TlbBit.writeSuper;
    if (rw && us) bits |= TlbBit.writeUser;
    if (dirty) bits |= TlbBit.dirty;
    const page = linear >>> 12;
    const masked = (frame & this.a20Mask) >>> 0;
    this.track(page);
    this.tlb[page] = masked | bits | this.ramBit(masked);
  }

  private pageFault(linear: number, error: number): never {
    this.state.cr2 = linear | 0;
    raise(Vector.pf, error);
  }

  // ---- Linear accesses ----------------------------------------------------------------------
  // `user` is true for CPL 3 accesses; descriptor-table and stack-switch accesses pass false.

  read8(linear: number, user: boolean): number {
    const p = this.translate(linear, false, user);
    return p < this.ramSize ? (this.ram[p] ?? 0) : this.bus.read8(p);
  }

  read16(linear: number, user: boolean): number {
    if ((linear & 0xfff) === 0xfff) return this.read8(linear, user) | (this.read8(linear + 1, user) << 8);
    const p = this.translate(linear, false, user);
    if (p + 1 < this.ramSize) return (this.ram[p] ?? 0) | ((this.ram[p + 1] ?? 0) << 8);
    return this.bus.read16(p);
  }

  read32(linear: number, user: boolean): number {
    if ((linear & 3) === 0) {
      // Aligned: one word load from RAM (the common case).
      const p = this.translate(linear, false, user);
      if (p < this.ramSize && p >>> 2 < this.ram32.length) return this.ram32[p >>> 2] as number;
      return this.bus.read32(p) | 0;
    }
    if ((linear & 0xfff) > 0xffc) {
      const lo = this.read16(linear, user);
      return lo | (this.read16(linear + 2, user) << 16);
    }
    const p = this.translate(linear, false, user);
    if (p + 3 < this.ramSize) {
      const r = this.ram;
      return (r[p] ?? 0) | ((r[p + 1] ?? 0) << 8) | ((r[p + 2] ?? 0) << 16) | ((r[p + 3] ?? 0) << 24);
    }
    return this.bus.read32(p) | 0;
  }

  /**
   * Checks that `length` bytes (at most a page) from `linear` are writable, raising #PF before
   * anything is written. When the second page faults, CR2 is its first byte, as this host reports
   * for split stores and read-modify-writes (recorded against a PROT_NONE page).
   */
  probeWrite(linear: number, length: number, user: boolean): void {
    this.translate(linear, true, user);
    const last = (linear + length - 1) | 0;
    if ((last ^ linear) >>> 12 !== 0) this.translate(last & ~0xfff, true, user);
  }

  write8(linear: number, value: number, user: boolean): void {
    const p = this.translate(linear, true, user);
    if (this.codePages[p >>> 12] !== 0) this.codeWrite(p >>> 12);
    if (p < this.ramSize) this.ram[p] = value;
    else this.bus.write8(p, value & 0xff);
  }

  write16(linear: number, value: number, user: boolean): void {
    if ((linear & 0xfff) === 0xfff) {
      this.probeWrite(linear, 2, user);
      this.write8(linear, value, user);
      this.write8(linear + 1, value >> 8, user);
      return;
    }
    const p = this.translate(linear, true, user);
    if (this.codePages[p >>> 12] !== 0) this.codeWrite(p >>> 12);
    if (p + 1 < this.ramSize) {
      this.ram[p] = value;
      this.ram[p + 1] = value >> 8;
    } else this.bus.write16(p, value & 0xffff);
  }

  write32(linear: number, value: number, user: boolean): void {
    if ((linear & 3) === 0) {
      const p = this.translate(linear, true, user);
      if (this.codePages[p >>> 12] !== 0) this.codeWrite(p >>> 12);
      if (p < this.ramSize && p >>> 2 < this.ram32.length) this.ram32[p >>> 2] = value;
      else this.bus.write32(p, value >>> 0);
      return;
    }
    if ((linear & 0xfff) > 0xffc) {
      this.probeWrite(linear, 4, user);
      this.write16(linear, value, user);
      this.write16(linear + 2, value >> 16, user);
      return;
    }
    const p = this.translate(linear, true, user);
    if (this.codePages[p >>> 12] !== 0) this.codeWrite(p >>> 12);
    if (p + 3 < this.ramSize) {
      const r = this.ram;
      r[p] = value;
      r[p + 1] = value >> 8;
      r[p + 2] = value >> 16;
      r[p + 3] = value >> 24;
    } else this.bus.write32(p, value >>> 0);
  }

  private codeWrite(page: number): void {
    this.codePages[page] = 0;
    this.onCodeWrite?.(page);
  }

  /** Reads instruction bytes without faulting: returns how many of `out` were filled. */
  fetchBytes(linear: number, out: Uint8Array, user: boolean): number {
    let n = 0;
    while (n < out.length) {
      const a = (linear + n) | 0;
      let p: number;
      try {
        p = this.translate(a, false, user);
      } catch {
        return n;
      }
      out[n++] = p < this.ramSize ? (this.ram[p] ?? 0) : this.bus.read8(p);
    }
    return n;
  }
}
