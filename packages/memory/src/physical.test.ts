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

  it('64-bit accesses reach a handler with 64-bit registers in one piece, others as two dwords', () => {
    const m = new PhysicalMemory(1 << 20);
    const log: string[] = [];
    m.addMmio(
      0xfed0_0000,
      0x1000,
      {
        read: (off, size) => {
          log.push(`r${size}@${off}`);
          return 0;
        },
        write: () => {},
        read64: (off) => {
          log.push(`r8@${off}`);
          return 0x1122_3344_5566_7788n;
        },
        write64: (off, v) => {
          log.push(`w8@${off}=${v.toString(16)}`);
        },
      },
      'hpet',
    );
    m.addMmio(0xfec0_0000, 0x1000, {
      read: (off, size) => {
        log.push(`ioapic r${size}@${off}`);
        return off === 0x10 ? 0xaaaa_aaaa : 0x5555_5555;
      },
      write: (off, size, v) => {
        log.push(`ioapic w${size}@${off}=${v.toString(16)}`);
      },
    });
    expect(m.read64(0xfed0_00f0)).toBe(0x1122_3344_5566_7788n);
    m.write64(0xfed0_00f0, -1n); // taken modulo 2^64
    expect(m.read64(0xfec0_0010)).toBe(0x5555_5555_aaaa_aaaan);
    m.write64(0xfec0_0020, 0x0000_0001_0000_0002n);
    expect(log).toEqual([
      'r8@240',
      'w8@240=ffffffffffffffff',
      'ioapic r4@16',
      'ioapic r4@20',
      'ioapic w4@32=2',
      'ioapic w4@36=1',
    ]);
    const bad = new PhysicalMemory(1 << 20);
    bad.addMmio(0xfed0_0000, 0x1000, {
      read: () => 0,
      write: () => {},
      read64: () => {
        throw new Error('no');
      },
    });
    expect(() => bad.read64(0xfed0_0000)).toThrow(MemoryError);
  });

  it('an access crossing from one region into the next is split at the boundary, little-endian', () => {
    const m = new PhysicalMemory(1 << 20);
    const log: string[] = [];
    m.addRom(0xfff0_0000, new Uint8Array(4096).fill(0x11));
    m.addMmio(0xfff0_1000, 0x1000, {
      read: (off, size) => {
        log.push(`r${size}@${off}`);
        return 0xbbaa;
      },
      write: (off, size, v) => {
        log.push(`w${size}@${off}=${v.toString(16)}`);
      },
    });
    expect(m.read32(0xfff0_0ffe)).toBe(0xbbaa_1111); // two ROM bytes, then a word of the device
    m.write32(0xfff0_0ffe, 0x4433_2211); // the ROM half is dropped
    expect(m.read16(0xfff0_0ffe)).toBe(0x1111);
    expect(m.read32(0xfff0_1ffe)).toBe(0xffff_bbaa); // device, then a hole
    expect(log).toEqual(['r2@0', 'w2@0=4433', 'r2@4094']);
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
    const m = new PhysicalMemory(4 << 20);
    const seen: string[] = [];
    m.onCodeWrite((page, addr, len) => {
      // What execution would see at this moment: the watched page's first bytes.
      seen.push(`${page}@${addr.toString(16)}+${len}:${m.read8(0x3000)},${m.read8(0x3ffe)}`);
    });
    m.write8(0x3000, 7);
    m.watchPage(3);
    m.write8(0x3000, 8);
    m.write16(0x3ffe, 0x0102);
    m.write32(0x3ffe, 0x0304_0506); // crosses into page 4 (unwatched): hook for page 3 only
    m.write64(0x3000, 0n);
    expect(seen).toEqual(['3@3000+1:7,0', '3@3ffe+2:8,0', '3@3ffe+4:8,2', '3@3000+4:8,6', '3@3004+4:0,6']);
    seen.length = 0;
    m.writeBytes(0x2ff0, new Uint8Array(32).fill(0xaa)); // DMA-style bulk write over pages 2 and 3
    expect(seen).toEqual(['3@2ff0+32:0,6']);
    expect(m.read8(0x3000)).toBe(0xaa);
    m.setA20(false); // the byte-by-byte path of bulk writes notifies too
    seen.length = 0;
    m.writeBytes(0x3ffe, new Uint8Array([1, 2]));
    expect(seen).toEqual(['3@3ffe+1:170,6', '3@3fff+1:170,1']);
    m.setA20(true);
    m.unwatchPage(3);
    seen.length = 0;
    m.write8(0x3000, 1);
    m.writeBytes(0x3000, new Uint8Array(8));
    expect(seen).toEqual([]);
  });

  it('addresses that are negative, fractional, not finite or above 4 GiB never throw and never reach RAM', () => {
    const m = new PhysicalMemory(1 << 20);
    m.addMmio(0xfee0_0000, 0x1000, { read: () => 0x1234, write: () => {} });
    for (let i = 0; i < m.size; i += 4) m.write32(i, i * 2654435761);
    const before = m.ram.slice();
    const bad = [-1, -4096, 2 ** 32, 2 ** 32 + 0x1000, 2 ** 52, Number.NaN, Infinity, -Infinity];
    for (const a20 of [true, false]) {
      m.setA20(a20);
      for (const addr of bad) {
        expect(m.read8(addr)).toBe(0xff);
        expect(m.read16(addr)).toBe(0xffff);
        expect(m.read32(addr)).toBe(0xffff_ffff);
        expect(m.read64(addr)).toBe(0xffff_ffff_ffff_ffffn);
        m.write8(addr, 0);
        m.write16(addr, 0);
        m.write32(addr, 0);
        m.write64(addr, 0n);
        m.writeBytes(addr, new Uint8Array(16));
        expect(Array.from(m.readBytes(addr, 4))).toEqual([0xff, 0xff, 0xff, 0xff]);
      }
      for (const addr of [0.5, 4095.5, 1.25e-9]) {
        expect(typeof m.read8(addr)).toBe('number');
        expect(typeof m.read32(addr)).toBe('number');
      }
    }
    m.setA20(true);
    expect(m.ram).toEqual(before);
  });

  it('with A20 disabled, bit 20 is cleared as an unsigned address: MMIO near 4 GiB stays reachable', () => {
    const m = new PhysicalMemory(1 << 20);
    m.addMmio(0xfee0_0000, 0x1000, { read: () => 0x42, write: () => {} });
    m.setA20(false);
    expect(m.read32(0xfee0_0010)).toBe(0x42);
    expect(m.read32(0xfef0_0010)).toBe(0x42); // bit 20 set: wraps onto 0xfee0_0010
    expect(m.maskA20(2 ** 32 + 0x10_1000)).toBe(2 ** 32 + 0x1000);
  });

  it('an MMIO handler that throws on a write becomes a MemoryError too', () => {
    const m = new PhysicalMemory(1 << 20);
    const handler = {
      read: () => 0,
      write: () => {
        throw new RangeError('bad register');
      },
    };
    m.addMmio(0xfe00_0000, 0x1000, handler, 'ioapic');
    for (const w of [
      () => m.write8(0xfe00_0000, 1),
      () => m.write32(0xfe00_0004, 1),
      () => m.writeBytes(0xfe00_0000, new Uint8Array(2)),
    ]) {
      let caught: unknown;
      try {
        w();
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(MemoryError);
      expect((caught as MemoryError).code).toBe('mmio-failed');
      expect((caught as MemoryError).value).toBeTypeOf('number');
    }
  });

  it('rejects absurd RAM sizes and copy lengths with MemoryError', () => {
    for (const size of [Infinity, -4096, 2 ** 40, 1.5 * 4096, MAX_RAM + 4096]) {
      expect(() => new PhysicalMemory(size)).toThrow(MemoryError);
    }
    const m = new PhysicalMemory(1 << 20);
    for (const length of [2 ** 32 + 1, Number.NaN, 0.5, -1]) {
      expect(() => m.readBytes(0, length)).toThrow(MemoryError);
    }
  });

  it('adopts an existing byte array as RAM: one copy, seen through every view', () => {
    const bytes = new Uint8Array(3 * 4096);
    const m = new PhysicalMemory(bytes);
    expect(m.size).toBe(3 * 4096);
    bytes[0x1004] = 0x78;
    expect(m.read8(0x1004)).toBe(0x78);
    m.write32(0x2000, 0xcafebabe);
    expect(bytes[0x2003]).toBe(0xca);
    expect(m.ram32[0x800]).toBe(0xcafebabe);
    expect(m.read8(3 * 4096)).toBe(0xff); // past the adopted RAM: a hole
    // A 4-byte-aligned window of a larger buffer: the views start at its offset.
    const window = new Uint8Array(new ArrayBuffer(5 * 4096), 4096, 4096);
    const w = new PhysicalMemory(window);
    w.write16(0, 0x1234);
    expect(w.ram16[0]).toBe(0x1234);
    expect(new Uint8Array(window.buffer)[4096]).toBe(0x34);
    // An empty array is a memory of holes only (every address can be mapped to MMIO).
    const empty = new PhysicalMemory(new Uint8Array(0));
    expect(empty.read32(0)).toBe(0xffff_ffff);
    empty.addMmio(0, 4096, { read: (offset) => offset, write: () => {} });
    expect(empty.read8(0x12)).toBe(0x12);
  });

  it('rejects adopted arrays that are not whole pages or not 4-byte aligned', () => {
    expect(() => new PhysicalMemory(new Uint8Array(4095))).toThrow(MemoryError);
    expect(() => new PhysicalMemory(new Uint8Array(new ArrayBuffer(8192), 2, 4096))).toThrow(/aligned/);
  });
});
