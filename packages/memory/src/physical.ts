import { MemoryError } from './errors';

/** Bytes per page (the unit of mapping, watching and TLB entries). */
export const PAGE_SIZE = 4096;
/** The largest RAM a guest may have: 3.5 GiB, leaving the top 512 MiB for MMIO and ROM. */
export const MAX_RAM = 0xe000_0000;
const PAGES_4G = 1 << 20;

/** What backs a physical page. */
export const PageKind = {
  /** Nothing: reads return all ones, writes are dropped. */
  hole: 0,
  ram: 1,
  /** Read-only: writes are dropped. */
  rom: 2,
  mmio: 3,
} as const;
export type PageKind = (typeof PageKind)[keyof typeof PageKind];

/** A memory-mapped device region: offsets are relative to the region's base. */
export interface MmioHandler {
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
  /**
   * A 64-bit access in one piece, for devices with 64-bit registers (an HPET counter, say).
   * Without it a 64-bit access is two 32-bit ones, the low half first.
   */
  read64?(offset: number): bigint;
  write64?(offset: number, value: bigint): void;
}

/**
 * The interface boot loaders, devices and the MMU use: physical reads and writes of 8/16/32/64
 * bits and bulk copies, little-endian, any alignment.
 */
export interface GuestMemory {
  readonly size: number;
  read8(addr: number): number;
  read16(addr: number): number;
  read32(addr: number): number;
  /** 64-bit read as a bigint. */
  read64(addr: number): bigint;
  write8(addr: number, value: number): void;
  write16(addr: number, value: number): void;
  write32(addr: number, value: number): void;
  write64(addr: number, value: bigint): void;
  readBytes(addr: number, length: number): Uint8Array;
  writeBytes(addr: number, data: Uint8Array): void;
}

interface Region {
  readonly base: number;
  readonly size: number;
  readonly handler?: MmioHandler;
  readonly data?: Uint8Array;
  readonly name: string;
}

/** Called before a write to a watched (translated-code) page becomes visible. */
export type CodeWriteHook = (physicalPage: number, address: number, length: number) => void;

/**
 * The guest's physical address space (4 GiB): RAM from address 0, ROM and MMIO regions above
 * it, holes elsewhere, and the A20 gate. Accesses above 4 GiB (PAE) read as a hole.
 *
 * ```ts
 * const mem = new PhysicalMemory(16 * 1024 * 1024);
 * mem.write32(0x1000, 0xdeadbeef);
 * mem.read16(0x1002); // 0xdead
 * ```
 */
export class PhysicalMemory implements GuestMemory {
  /** Guest RAM; physical address = index. The translator reads it directly on TLB hits. */
  readonly ram: Uint8Array;
  /** The same bytes as unsigned 16-bit words (index = physical address / 2), for aligned words. */
  readonly ram16: Uint16Array;
  /** The same bytes as unsigned 32-bit words (index = physical address / 4), for aligned dwords. */
  readonly ram32: Uint32Array;
  readonly view: DataView;
  readonly size: number;
  /** `PageKind` of each 4 KiB page of the 4 GiB space. */
  readonly pageKind = new Uint8Array(PAGES_4G);
  /** Region index + 1 of each ROM/MMIO page (0 for RAM and holes). */
  private readonly pageRegion = new Uint16Array(PAGES_4G);
  private readonly regions: Region[] = [];
  /** Non-zero for pages that hold translated code (the code-page watch). */
  readonly watched = new Uint8Array(PAGES_4G);
  private watchCount = 0;
  private codeWriteHook: CodeWriteHook | undefined;
  private readonly mappingListeners: ((page: number) => void)[] = [];
  private a20 = true;
  /** Bumped when ROM/MMIO mapping or watches change, so TLBs can drop stale page flags. */
  generation = 0;

  /**
   * `ram` is the RAM size in bytes (a positive multiple of 4 KiB, at most `MAX_RAM`), or an
   * existing byte array to use as RAM (its length a multiple of 4 KiB, possibly 0, its offset in
   * its buffer a multiple of 4), so that a caller already holding guest RAM keeps one copy.
   */
  constructor(ram: number | Uint8Array) {
    const ramSize = typeof ram === 'number' ? ram : ram.length;
    const adopted = typeof ram !== 'number';
    if (
      !Number.isInteger(ramSize) ||
      ramSize < (adopted ? 0 : 1) ||
      ramSize % PAGE_SIZE !== 0 ||
      (adopted && ram.byteOffset % 4 !== 0)
    ) {
      throw new MemoryError(
        'bad-size',
        adopted
          ? `adopted RAM must be a multiple of 4 KiB at a 4-byte-aligned offset (got ${ramSize} bytes at ${ram.byteOffset})`
          : `RAM size must be a positive multiple of 4 KiB (got ${ramSize})`,
        ramSize,
      );
    }
    if (ramSize > MAX_RAM) {
      throw new MemoryError('bad-size', `RAM size above the 3.5 GiB limit (got ${ramSize} bytes)`, ramSize);
    }
    let bytes: Uint8Array;
    if (adopted) bytes = ram;
    else {
      try {
        bytes = new Uint8Array(ramSize);
      } catch {
        throw new MemoryError(
          'cannot-allocate',
          `the host cannot allocate ${ramSize} bytes of guest RAM`,
          ramSize,
        );
      }
    }
    this.ram = bytes;
    this.ram16 = new Uint16Array(bytes.buffer, bytes.byteOffset, ramSize >>> 1);
    this.ram32 = new Uint32Array(bytes.buffer, bytes.byteOffset, ramSize >>> 2);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, ramSize);
    this.size = ramSize;
    this.pageKind.fill(PageKind.ram, 0, ramSize / PAGE_SIZE);
  }

  /** Maps read-only memory (a BIOS image, say) at `base`; the bytes are copied. */
  addRom(base: number, bytes: Uint8Array, name = 'rom'): void {
    const size = Math.ceil(bytes.length / PAGE_SIZE) * PAGE_SIZE;
    const data = new Uint8Array(size).fill(0xff);
    data.set(bytes);
    this.addRegion({ base, size, data, name }, PageKind.rom);
  }

  /** Maps a device at `base` for `size` bytes (both multiples of 4 KiB). */
  addMmio(base: number, size: number, handler: MmioHandler, name = 'mmio'): void {
    this.addRegion({ base, size, handler, name }, PageKind.mmio);
  }

  private addRegion(region: Region, kind: PageKind): void {
    const { base, size } = region;
    if (
      !Number.isInteger(base) ||
      base < 0 ||
      base % PAGE_SIZE !== 0 ||
      size <= 0 ||
      size % PAGE_SIZE !== 0
    ) {
      throw new MemoryError('bad-region', `${region.name}: base and size must be multiples of 4 KiB`, base);
    }
    if (base + size > 2 ** 32) throw new MemoryError('bad-region', `${region.name}: ends above 4 GiB`, base);
    const first = base / PAGE_SIZE;
    const last = (base + size) / PAGE_SIZE;
    // Any page already mapped (RAM, ROM or MMIO) in [first, last): native scans, not a loop.
    const taken = [PageKind.ram, PageKind.rom, PageKind.mmio].some((k) => {
      const at = this.pageKind.indexOf(k, first);
      return at >= 0 && at < last;
    });
    if (taken) {
      throw new MemoryError(
        'overlap',
        `${region.name} at 0x${base.toString(16)} overlaps mapped memory`,
        base,
      );
    }
    this.regions.push(region);
    this.pageKind.fill(kind, first, last);
    this.pageRegion.fill(this.regions.length, first, last);
    this.mappingChanged(-1);
  }

  /** Enables or disables the A20 gate; with it off, address bit 20 reads as 0 (8086 wrap). */
  setA20(enabled: boolean): void {
    if (this.a20 !== enabled) {
      this.a20 = enabled;
      this.mappingChanged(-1);
    }
  }

  get a20Enabled(): boolean {
    return this.a20;
  }

  /** The address the A20 gate lets through. */
  maskA20(addr: number): number {
    if (this.a20) return addr;
    if (addr >= 0 && addr < 2 ** 32) return (addr & ~0x10_0000) >>> 0;
    return Math.floor(addr / 0x10_0000) % 2 === 1 ? addr - 0x10_0000 : addr; // above 4 GiB, or not an address
  }

  /**
   * Registers a listener told when a page's mapping or watch state changes (page number, or -1
   * for "anything may have changed"), so TLBs can drop entries that allowed fast writes.
   */
  onMappingChange(listener: (page: number) => void): void {
    this.mappingListeners.push(listener);
  }

  private mappingChanged(page: number): void {
    this.generation++;
    for (const l of this.mappingListeners) l(page);
  }

  /** Sets the function called before any write to a watched page is visible. */
  onCodeWrite(hook: CodeWriteHook | undefined): void {
    this.codeWriteHook = hook;
  }

  /** Marks a physical page as holding translated code. */
  watchPage(page: number): void {
    if (page < 0 || page >= PAGES_4G) return;
    if (this.watched[page] === 0) {
      this.watched[page] = 1;
      this.watchCount++;
      this.mappingChanged(page);
    }
  }

  unwatchPage(page: number): void {
    if (page < 0 || page >= PAGES_4G) return;
    if (this.watched[page] !== 0) {
      this.watched[page] = 0;
      this.watchCount--;
      this.generation++;
    }
  }

  isWatched(page: number): boolean {
    return this.watched[page] !== 0;
  }

  private notifyWrite(addr: number, length: number): void {
    if (this.watchCount === 0) return;
    const first = Math.floor(addr / PAGE_SIZE);
    const last = Math.floor((addr + length - 1) / PAGE_SIZE);
    for (let p = first; p <= last && p < PAGES_4G; p++) {
      if (this.watched[p] !== 0) this.codeWriteHook?.(p, addr, length);
    }
  }

  /** Reads one byte, whatever backs the address. */
  read8(addr: number): number {
    addr = this.maskA20(addr);
    if (addr < this.size && addr >= 0) return this.ram[addr] ?? this.slowRead(addr, 1);
    return this.slowRead(addr, 1);
  }

  read16(addr: number): number {
    addr = this.maskA20(addr);
    if (addr >= 0 && addr + 2 <= this.size) return this.view.getUint16(addr, true);
    if (!(addr >= 0)) return 0xffff; // negative or NaN: not an address (a hole)
    if ((addr & 0xfff) <= 0xffe && addr < 2 ** 32) return this.slowRead(addr, 2);
    return this.read8(addr) | (this.read8(addr + 1) << 8);
  }

  read32(addr: number): number {
    addr = this.maskA20(addr);
    if (addr >= 0 && addr + 4 <= this.size) return this.view.getUint32(addr, true);
    if (!(addr >= 0)) return 0xffff_ffff;
    if ((addr & 0xfff) <= 0xffc && addr < 2 ** 32) return this.slowRead(addr, 4);
    return (this.read16(addr) | (this.read16(addr + 2) << 16)) >>> 0;
  }

  read64(addr: number): bigint {
    if (!(addr >= 0)) return 0xffff_ffff_ffff_ffffn;
    const a = this.maskA20(addr);
    const region = this.mmio64(a);
    if (region?.handler?.read64) {
      try {
        return BigInt.asUintN(64, region.handler.read64(a - region.base));
      } catch (e) {
        throw new MemoryError(
          'mmio-failed',
          `${region.name} read at 0x${a.toString(16)} failed: ${String(e)}`,
          a,
        );
      }
    }
    return BigInt(this.read32(addr)) | (BigInt(this.read32(addr + 4)) << 32n);
  }

  /** The MMIO region an 8-byte access at `addr` falls in entirely, if any. */
  private mmio64(addr: number): Region | undefined {
    if (!(addr >= this.size && addr < 2 ** 32 && Number.isInteger(addr)) || (addr & 0xfff) > 0xff8)
      return undefined;
    const page = addr >>> 12;
    if (this.pageKind[page] !== PageKind.mmio) return undefined;
    return this.regions[(this.pageRegion[page] ?? 0) - 1];
  }

  write8(addr: number, value: number): void {
    addr = this.maskA20(addr);
    if (addr >= 0 && addr < this.size) {
      if (this.watchCount !== 0 && this.watched[addr >>> 12] !== 0) this.notifyWrite(addr, 1);
      this.ram[addr] = value;
      return;
    }
    this.slowWrite(addr, 1, value & 0xff);
  }

  write16(addr: number, value: number): void {
    addr = this.maskA20(addr);
    if (addr >= 0 && addr + 2 <= this.size) {
      if (this.watchCount !== 0) this.notifyWrite(addr, 2);
      this.view.setUint16(addr, value, true);
      return;
    }
    if (!(addr >= 0)) return;
    if ((addr & 0xfff) <= 0xffe && addr < 2 ** 32) {
      this.slowWrite(addr, 2, value & 0xffff);
      return;
    }
    this.write8(addr, value);
    this.write8(addr + 1, value >>> 8);
  }

  write32(addr: number, value: number): void {
    addr = this.maskA20(addr);
    if (addr >= 0 && addr + 4 <= this.size) {
      if (this.watchCount !== 0) this.notifyWrite(addr, 4);
      this.view.setUint32(addr, value >>> 0, true);
      return;
    }
    if (!(addr >= 0)) return;
    if ((addr & 0xfff) <= 0xffc && addr < 2 ** 32) {
      this.slowWrite(addr, 4, value >>> 0);
      return;
    }
    this.write16(addr, value);
    this.write16(addr + 2, value >>> 16);
  }

  write64(addr: number, value: bigint): void {
    if (!(addr >= 0)) return;
    const a = this.maskA20(addr);
    const region = this.mmio64(a);
    if (region?.handler?.write64) {
      try {
        region.handler.write64(a - region.base, BigInt.asUintN(64, value));
      } catch (e) {
        throw new MemoryError(
          'mmio-failed',
          `${region.name} write at 0x${a.toString(16)} failed: ${String(e)}`,
          a,
        );
      }
      return;
    }
    this.write32(addr, Number(value & 0xffff_ffffn));
    this.write32(addr + 4, Number((value >> 32n) & 0xffff_ffffn));
  }

  /** Copies `length` bytes out of guest memory (holes read as 0xFF). */
  readBytes(addr: number, length: number): Uint8Array {
    if (!Number.isInteger(length) || length < 0 || length > 2 ** 32) {
      throw new MemoryError('bad-length', `cannot read ${length} bytes`, length);
    }
    let out: Uint8Array;
    try {
      if (this.a20 && addr >= 0 && addr + length <= this.size) return this.ram.slice(addr, addr + length);
      out = new Uint8Array(length);
    } catch {
      throw new MemoryError('cannot-allocate', `the host cannot allocate ${length} bytes to copy`, length);
    }
    if (!(addr >= 0)) return out.fill(0xff);
    for (let i = 0; i < length; i++) out[i] = this.read8(addr + i);
    return out;
  }

  /** Copies bytes into guest memory (loaders, DMA). Watched pages are notified first. */
  writeBytes(addr: number, data: Uint8Array): void {
    if (this.a20 && addr >= 0 && addr + data.length <= this.size) {
      if (this.watchCount !== 0 && data.length > 0) this.notifyWrite(addr, data.length);
      this.ram.set(data, addr);
      return;
    }
    if (!(addr >= 0)) return; // negative or NaN: not an address
    for (let i = 0; i < data.length; i++) this.write8(addr + i, data[i]!);
  }

  private slowRead(addr: number, size: 1 | 2 | 4): number {
    // Negative, fractional, non-finite and above-4-GiB addresses are holes, never RAM.
    if (!(Number.isInteger(addr) && addr >= 0 && addr < 2 ** 32)) {
      return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    }
    const page = addr >>> 12;
    const kind = this.pageKind[page];
    if (kind === PageKind.ram) {
      // RAM below `size` is handled by the callers; this is a cross-boundary access.
      let v = 0;
      for (let i = size - 1; i >= 0; i--) v = (v << 8) | this.read8(addr + i);
      return v >>> 0;
    }
    const region = this.regions[(this.pageRegion[page] ?? 0) - 1];
    if (kind === PageKind.rom && region?.data) {
      let v = 0;
      const off = addr - region.base;
      for (let i = size - 1; i >= 0; i--) v = (v << 8) | (region.data[off + i] ?? 0xff);
      return v >>> 0;
    }
    if (kind === PageKind.mmio && region?.handler) {
      try {
        const v = region.handler.read(addr - region.base, size);
        return size === 4 ? v >>> 0 : v & ((1 << (size * 8)) - 1);
      } catch (e) {
        throw new MemoryError(
          'mmio-failed',
          `${region.name} read at 0x${addr.toString(16)} failed: ${String(e)}`,
          addr,
        );
      }
    }
    return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
  }

  private slowWrite(addr: number, size: 1 | 2 | 4, value: number): void {
    if (!(Number.isInteger(addr) && addr >= 0 && addr < 2 ** 32)) return;
    const page = addr >>> 12;
    const kind = this.pageKind[page];
    if (kind === PageKind.ram) {
      for (let i = 0; i < size; i++) this.write8(addr + i, (value >>> (8 * i)) & 0xff);
      return;
    }
    if (kind === PageKind.mmio) {
      const region = this.regions[(this.pageRegion[page] ?? 0) - 1];
      if (!region?.handler) return;
      try {
        region.handler.write(addr - region.base, size, value);
      } catch (e) {
        throw new MemoryError(
          'mmio-failed',
          `${region.name} write at 0x${addr.toString(16)} failed: ${String(e)}`,
          addr,
        );
      }
    }
    // ROM and holes ignore writes.
  }
}
