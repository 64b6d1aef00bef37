import { describe, expect, it } from 'vitest';
import { MemoryError } from './errors';
import { MAX_RAM, PageKind, PhysicalMemory } from './physical';

describe('PhysicalMemory', () => {
  it('reads and writes little-endian values of every width, aligned or not', () => {
    const m = new PhysicalMemory(1 << 20);
    m.write32(0x1001, 0x11223344);
    expect(m.read8(0x1001)).toBe(0x44);
    expect(m.read16(0x1002)).toBe(0x2233);
    expect(m.read32(0x1001)).toBe(0x11223344);
    m.write64(0x2000, 0x0102030405060708n);
    expect(m.read64(0x2000)).toBe(0x0102030405060708n);
    m.write16(0x2fff, 0xabcd); // crosses a page
    expect(m.read16(0x2fff)).toBe(0xabcd);
  });

  it('unmapped holes read as all ones and ignore writes', () => {
    const m = new PhysicalMemory(1 << 20);
    expect(m.read8(0x20_0000)).toBe(0xff);
    expect(m.read32(0xfff0_0000)).toBe(0xffffffff);
    m.write32(0x20_0000, 0);
    expect(m.read32(0x20_0000)).toBe(0xffffffff);
    expect(m.read32(2 ** 33)).toBe(0xffffffff);
  });

  it('an access that straddles the end of RAM reads RAM bytes then hole bytes', () => {
    const m = new PhysicalMemory(1 << 20);
    m.write8((1 << 20) - 1, 0x12);
    expect(m.read16((1 << 20) - 1)).toBe(0xff12);
  });

  it('ROM regions read their bytes and drop writes', () => {
    const m = new PhysicalMemory(1 << 20);
    m.addRom(0xffff_0000, new Uint8Array([1, 2, 3, 4]));
    expect(m.read32(0xffff_0000)).toBe(0x04030201);
    m.write8(0xffff_0000, 9);
    expect(m.read8(0xffff_0000)).toBe(1);
    expect(m.read8(0xffff_0004)).toBe(0xff);
    expect(m.pageKind[0xffff0]).toBe(PageKind.rom);
  });

  it('MMIO regions route accesses to their handler with offset and size', () => {
    const m = new PhysicalMemory(1 << 20);
    const log: string[] = [];
    m.addMmio(0xfec0_0000, 0x1000, {
      read: (off, size) => {
        log.push(`r${size}@${off}`);
        return 0x1234_5678;
      },
      write: (off, size, v) => {
        log.push(`w${size}@${off}=${v.toString(16)}`);
      },
    });
    expect(m.read32(0xfec0_0010)).toBe(0x12345678);
    expect(m.read8(0xfec0_0010)).toBe(0x78);
    m.write16(0xfec0_0020, 0xbeef);
    expect(log).toEqual(['r4@16', 'r1@16', 'w2@32=beef']);
  });

  it('an MMIO handler that throws becomes a MemoryError naming the region', () => {
    const m = new PhysicalMemory(1 << 20);
    m.addMmio(
      0xfe00_0000,
      0x1000,
      {
        read: () => {
          throw new Error('boom');
        },
        write: () => {},
      },
      'hpet',
    );
    expect(() => m.read32(0xfe00_0000)).toThrow(/hpet read/);
    try {
      m.read32(0xfe00_0000);
    } catch (e) {
      expect(e).toBeInstanceOf(MemoryError);
      expect((e as MemoryError).code).toBe('mmio-failed');
    }
  });

  it('rejects absurd sizes and overlapping regions with MemoryError', () => {
    expect(() => new PhysicalMemory(0)).toThrow(MemoryError);
    expect(() => new PhysicalMemory(1000)).toThrow(/multiple of 4 KiB/);
    expect(() => new PhysicalMemory(MAX_RAM + 4096)).toThrow(/3.5 GiB/);
    expect(() => new PhysicalMemory(Number.NaN)).toThrow(MemoryError);
    const m = new PhysicalMemory(1 << 20);
    expect(() => m.addRom(0x1000, new Uint8Array(4))).toThrow(/overlaps/);
    expect(() => m.addMmio(0x12345, 0x1000, { read: () => 0, write: () => {} })).toThrow(
      /multiples of 4 KiB/,
    );
    expect(() => m.readBytes(0, -1)).toThrow(MemoryError);
  });

  it('with A20 disabled, address bit 20 is forced to zero (the 8086 wrap-around)', () => {
    const m = new PhysicalMemory(4 << 20);
    m.write8(0x0_0010, 0xaa);
    m.write8(0x10_0010, 0xbb);
    m.setA20(false);
    expect(m.read8(0x10_0010)).toBe(0xaa);
    m.setA20(true);
    expect(m.read8(0x10_0010)).toBe(0xbb);
  });

  it('writes to watched pages call the hook before the write is visible, on every path', () => {
    const m = new PhysicalMemory(1 << 20);
    const seen: [number, number, number][] = [];
    m.onCodeWrite((page, addr, len) => {
      seen.push([page, addr, m.read8(addr)]);
      void len;
    });
    m.write8(0x3000, 7);
    m.watchPage(3);
    m.write8(0x3000, 8);
    m.write32(0x3ffe, 0x01020304); // crosses into page 4 (unwatched): hook for page 3 only
    m.writeBytes(0x2ff0, new Uint8Array(32)); // DMA-style bulk write over pages 2 and 3
    expect(seen).toEqual([
      [3, 0x3000, 7],
      [3, 0x3ffe, 0],
      [3, 0x2ff0, 0],
    ]);
    m.unwatchPage(3);
    m.write8(0x3000, 1);
    expect(seen.length).toBe(3);
  });
});
