import {
  Access,
  CR0_PG,
  type GuestMemory,
  PAGE_SIZE,
  Mmu as PagingUnit,
  PhysicalMemory,
  type Privilege,
  type TlbTables,
} from '@ringzero/memory';
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

const FOUR_GIB = 2 ** 32;

/**
 * `@ringzero/memory`'s MMU reading the processor's own control registers (the `CpuState` is
 * its `control`) and raising a denied access as the guest's #PF, with CR2, before any part of
 * the access happens.
 */
class GuestPaging extends PagingUnit {
  private readonly cpu: CpuState;

  constructor(memory: PhysicalMemory, cpu: CpuState, tables?: TlbTables) {
    super(memory, cpu, tables);
    this.cpu = cpu;
  }

  protected override pageFault(linear: number, errorCode: number): never {
    this.cpu.cr2 = linear | 0;
    raise(Vector.pf, errorCode);
  }
}

/**
 * The `PhysicalMemory` the paging unit works on for a bus that is not one: the bus's RAM (its
 * whole 4 KiB pages, when the array is 4-byte aligned) is adopted as RAM, and every other
 * address of the 4 GiB space is a region forwarded to the bus.
 */
function memoryOver(bus: PhysicalBus): PhysicalMemory {
  const ram = bus.ram;
  const usable =
    ram !== undefined && ram.byteOffset % 4 === 0
      ? ram.subarray(0, Math.min(ram.length - (ram.length % PAGE_SIZE), 0xe000_0000))
      : new Uint8Array(0);
  const memory = new PhysicalMemory(usable);
  const base = usable.length;
  memory.addMmio(
    base,
    FOUR_GIB - base,
    {
      read: (offset, size) =>
        size === 1
          ? bus.read8(base + offset)
          : size === 2
            ? bus.read16(base + offset)
            : bus.read32(base + offset),
      write: (offset, size, value) => {
        if (size === 1) bus.write8(base + offset, value);
        else if (size === 2) bus.write16(base + offset, value);
        else bus.write32(base + offset, value);
      },
    },
    'bus',
  );
  return memory;
}

/**
 * Linear → physical translation and linear accesses for the processor: `@ringzero/memory`'s MMU
 * and TLB (32-bit paging with 4 MiB pages, CR0.WP, U/S and R/W checks, accessed/dirty bits, SDM
 * vol. 3 §4.3, §4.6; identity entries while paging is off, A20 masking) over the bus, with the
 * processor's conventions: privileges as booleans (true for CPL 3), dwords read as signed
 * numbers, page faults raised as the guest's #PF with CR2 set before anything is accessed.
 *
 * There is one TLB, the paging unit's: tier 1 inlines its hit path (`tlbRead`/`tlbWrite`, the
 * `@ringzero/memory` inlining contract) and tier 0 looks up region entries in `tlb`. Code pages
 * are the memory's watched pages (`codePages`): a write to one calls `onCodeWrite` before it is
 * visible, whether it comes from the guest, a device or a loader.
 */
export class Mmu {
  readonly bus: PhysicalBus;
  /** The physical memory translations lead to: the bus itself when it is a `PhysicalMemory`. */
  readonly memory: PhysicalMemory;
  /** The paging unit: control registers (the `CpuState`), walker and TLB. */
  readonly paging: PagingUnit;
  private readonly state: CpuState;
  /** Guest RAM as bytes, words and (signed) dwords: `memory`'s RAM. */
  readonly ram: Uint8Array;
  readonly ram16: Uint16Array;
  readonly ram32: Int32Array;
  /** RAM's length in bytes, words and dwords, as numbers (for the inlined hit path's compare). */
  readonly ramBytes: number;
  readonly ramWords: number;
  readonly ramDwords: number;
  /** The paging unit's TLB: rights of each linear page of [0, 2^32) (`TlbFlag`, frame in 31–12). */
  readonly tlb: Int32Array;
  /** The RAM fast path for reads and writes (`@ringzero/memory`'s `tlbRead`, `tlbWrite`). */
  readonly tlbRead: Int32Array;
  readonly tlbWrite: Int32Array;
  /** Physical pages holding cached instructions (the memory's watched pages; read only). */
  readonly codePages: Uint8Array;
  onCodeWrite: CodeWriteListener | null = null;
  /** ANDed into physical addresses by tier 0's paging-off fetch: ~(1 << 20) with A20 closed. */
  a20Mask = -1;
  /** Incremented whenever cached translations are dropped (tier 1's block links check it). */
  epoch = 0;
  /** CR0.PG (0 or 1) when the TLB was last flushed: the mode its entries were made in. */
  private entriesPaging = 0;

  /** `tables`: the caller's arrays for the fast-path tables (`@ringzero/memory`'s `Mmu`). */
  constructor(state: CpuState, bus: PhysicalBus, tables?: TlbTables) {
    this.state = state;
    this.bus = bus;
    const memory = bus instanceof PhysicalMemory ? bus : memoryOver(bus);
    this.memory = memory;
    this.paging = new GuestPaging(memory, state, tables);
    this.ram = memory.ram;
    this.ram16 = memory.ram16;
    this.ram32 = new Int32Array(memory.ram.buffer, memory.ram.byteOffset, memory.ram32.length);
    this.ramBytes = memory.ram.length;
    this.ramWords = memory.ram16.length;
    this.ramDwords = memory.ram32.length;
    this.tlb = this.paging.tlb;
    this.tlbRead = this.paging.tlbRead;
    this.tlbWrite = this.paging.tlbWrite;
    this.codePages = memory.watched;
    this.entriesPaging = (state.cr0 >>> 31) & 1;
    const hook = (page: number): void => this.codeWrite(page);
    memory.onCodeWrite(hook);
    if (memory !== bus) bus.onCodeWrite?.(hook);
    // A20 and ROM/MMIO mapping changes flush the paging unit's TLB: block links must not survive.
    memory.onMappingChange((page) => {
      if (page < 0) this.epoch++;
    });
  }

  /**
   * Drops the entries when CR0.PG differs from the mode they were made in (a caller that changed
   * CR0 without `flush`, such as a loader or a snapshot import). Tier 1 calls it before it runs
   * blocks, whose inlined hit path trusts the entries.
   */
  syncPaging(): void {
    if (((this.state.cr0 >>> 31) & 1) !== this.entriesPaging) this.flush();
  }

  /** Drops every cached translation (MOV CR3, MOV CR0/CR4 paging bits, task switch). */
  flush(): void {
    this.epoch++;
    this.entriesPaging = (this.state.cr0 & CR0_PG) !== 0 ? 1 : 0;
    this.paging.flush(false);
  }

  /** Drops the translation of one linear page, and every fragment of a large page holding it (INVLPG). */
  invalidate(linear: number): void {
    this.epoch++;
    this.paging.invlpg(linear >>> 0);
  }

  /**
   * Opens or closes the A20 gate of the memory (and of the bus, when it is another object):
   * with it closed, physical address bit 20 reads as 0. Returns whether the gate changed (the
   * TLB is flushed then).
   */
  setA20(enabled: boolean): boolean {
    this.memory.setA20(enabled);
    if (this.bus !== this.memory) this.bus.setA20?.(enabled);
    const mask = enabled ? -1 : ~0x100000;
    if (mask === this.a20Mask) return false;
    this.a20Mask = mask;
    this.flush();
    return true;
  }

  /** Watches a physical page that holds translated code (see `onCodeWrite`). */
  watchCode(page: number): void {
    if (this.codePages[page] !== 0) return;
    this.memory.watchPage(page);
    if (this.bus !== this.memory) this.bus.watchPage?.(page);
  }

  /** Stops watching a page; returns whether it was watched. */
  unwatchCode(page: number): boolean {
    if (this.codePages[page] === 0) return false;
    this.memory.unwatchPage(page);
    if (this.bus !== this.memory) this.bus.unwatchPage?.(page);
    return true;
  }

  /** Stops watching every page (the translations are all dropped). */
  unwatchAllCode(): void {
    const pages = this.codePages;
    for (let p = pages.indexOf(1); p >= 0; p = pages.indexOf(1, p + 1)) this.unwatchCode(p);
  }

  private codeWrite(page: number): void {
    if (this.unwatchCode(page)) this.onCodeWrite?.(page);
  }

  /** Translates a linear address for an access, raising #PF when the walk denies it. */
  translate(linear: number, write: boolean, user: boolean): number {
    return this.paging.translate(linear, write ? Access.write : Access.read, user ? 1 : 0);
  }

  // ---- Linear accesses ----------------------------------------------------------------------
  // `user` is true for CPL 3 accesses; descriptor-table and stack-switch accesses pass false.
  // Each is the paging unit's: a TLB hit goes straight to RAM; the rest (misses, unaligned and
  // page-crossing accesses, MMIO, writes to code pages) walks, faults and watches.

  read8(linear: number, user: boolean): number {
    return this.paging.read8(linear, privilege(user));
  }

  read16(linear: number, user: boolean): number {
    return this.paging.read16(linear, privilege(user));
  }

  /** A dword, as a signed 32-bit number. */
  read32(linear: number, user: boolean): number {
    return this.paging.read32(linear, privilege(user)) | 0;
  }

  /**
   * Checks that `length` bytes (at most a page) from `linear` are writable, raising #PF before
   * anything is written. When the second page faults, CR2 is its first byte, as this host reports
   * for split stores and read-modify-writes (recorded against a PROT_NONE page).
   */
  probeWrite(linear: number, length: number, user: boolean): void {
    const u = privilege(user);
    this.paging.translate(linear, Access.write, u);
    const last = (linear + length - 1) | 0;
    if ((last ^ linear) >>> 12 !== 0) this.paging.translate(last & ~0xfff, Access.write, u);
  }

  write8(linear: number, value: number, user: boolean): void {
    this.paging.write8(linear, value, privilege(user));
  }

  write16(linear: number, value: number, user: boolean): void {
    this.paging.write16(linear, value, privilege(user));
  }

  write32(linear: number, value: number, user: boolean): void {
    this.paging.write32(linear, value, privilege(user));
  }

  /** Reads instruction bytes without faulting: returns how many of `out` were filled. */
  fetchBytes(linear: number, out: Uint8Array, user: boolean): number {
    const u = privilege(user);
    let n = 0;
    while (n < out.length) {
      const a = (linear + n) | 0;
      let p: number;
      try {
        p = this.paging.translate(a, Access.read, u);
      } catch {
        return n;
      }
      out[n++] = p < this.ramBytes ? (this.ram[p] ?? 0) : this.memory.read8(p);
    }
    return n;
  }
}

function privilege(user: boolean): Privilege {
  return user ? 1 : 0;
}
