import { PhysicalMemory, TLB_MISS_PAGE, TLB_USER, TlbFlag } from '@ringzero/memory';
import { describe, expect, it } from 'vitest';
import { CpuState } from './cpu-state';
import { GuestFault, Vector } from './fault';
import { FlatMemory } from './harness';
import { Mmu, type PhysicalBus } from './mmu';

const PG = 0x8000_0000 | 0;

/** 32-bit paging: page directory at 0x10000, page table at 0x11000 for linear 0–4 MiB. */
function paged(bus: PhysicalBus): { mmu: Mmu; state: CpuState; map: (lin: number, pte: number) => void } {
  const state = new CpuState();
  const mmu = new Mmu(state, bus);
  bus.write32(0x10000, 0x11000 | 7);
  const map = (lin: number, pte: number) => bus.write32(0x11000 + ((lin >>> 12) & 0x3ff) * 4, pte);
  state.cr3 = 0x10000;
  state.cr0 |= PG;
  mmu.flush();
  return { mmu, state, map };
}

/** The guest fault `f` raised, with CR2. */
function faultOf(state: CpuState, f: () => void): { vector: number; errorCode: number; cr2: number } {
  try {
    f();
  } catch (e) {
    if (!(e instanceof GuestFault)) throw e;
    return { vector: e.vector, errorCode: e.errorCode, cr2: state.cr2 >>> 0 };
  }
  throw new Error('no fault');
}

describe('Mmu on @ringzero/memory', () => {
  it("is the memory package's MMU and TLB over the bus's own RAM (one TLB, one copy of RAM)", () => {
    const memory = new PhysicalMemory(1 << 20);
    const { mmu, map } = paged(memory);
    expect(mmu.memory).toBe(memory);
    expect(mmu.tlbRead).toBe(mmu.paging.tlbRead);
    expect(mmu.tlb).toBe(mmu.paging.tlb);
    expect(mmu.ram.buffer).toBe(memory.ram.buffer);
    map(0x5000, 0x9000 | 0x67); // present, writable, user, accessed, dirty
    memory.write32(0x9010, 0x8765_4321);
    expect(mmu.read32(0x5010, false)).toBe(0x8765_4321 | 0); // dwords are signed
    // The hit path tier 1 inlines: linear + entry is the physical address.
    expect(((0x5010 + (mmu.tlbRead[5] ?? 0)) | 0) >>> 0).toBe(0x9010);
    expect(mmu.tlbRead[5 | TLB_USER]).toBe(mmu.tlbRead[5]); // a user page: both halves hit
    map(0x6000, 0xa000 | 0x63); // supervisor only
    expect(mmu.read32(0x6000, false)).toBe(0);
    expect(mmu.tlbRead[6 | TLB_USER]).toBe((TLB_MISS_PAGE - 0x6000) | 0); // the user half misses
    expect((mmu.tlb[5] ?? 0) & TlbFlag.readSup).not.toBe(0);
  });

  it('adopts the RAM of a bus that is not a PhysicalMemory and forwards the rest of the space to it', () => {
    const bus = new FlatMemory(0x6800); // six whole pages and half a page
    const device: number[] = [];
    const read32 = bus.read32.bind(bus);
    bus.read32 = (a: number) => (a === 0xfee0_0000 ? 0x1234_5678 : read32(a));
    bus.write8 = (a: number, v: number) => {
      if (a < bus.size) bus.ram[a] = v;
      else device.push(a, v);
    };
    const state = new CpuState();
    const mmu = new Mmu(state, bus);
    expect(mmu.ram.buffer).toBe(bus.ram.buffer);
    expect(mmu.ramBytes).toBe(0x6000);
    bus.ram[0x100] = 0xab;
    expect(mmu.read8(0x100, false)).toBe(0xab);
    mmu.write32(0x2000, 0x0102_0304, false);
    expect(bus.read32(0x2000)).toBe(0x0102_0304);
    bus.ram[0x6400] = 0x5c; // the partial page goes through the bus
    expect(mmu.read8(0x6400, false)).toBe(0x5c);
    expect(mmu.read32(0xfee0_0000, false)).toBe(0x1234_5678);
    mmu.write8(0xfee0_0004, 0x99, false);
    expect(device).toEqual([0xfee0_0004, 0x99]);
    expect(mmu.read8(0x10_0000, false)).toBe(0xff); // past the bus's RAM: what the bus reads there
  });

  it('raises a denied access as #PF with CR2 and the error code before any byte changes', () => {
    const memory = new PhysicalMemory(1 << 20);
    const { mmu, state, map } = paged(memory);
    map(0x5000, 0x9000 | 7);
    map(0x7000, 0xb000 | 5); // read-only user page
    memory.write32(0x9ffc, 0x1111_1111);
    // A dword crossing into the unmapped page 0x6000: the second page faults, nothing is written.
    expect(faultOf(state, () => mmu.write32(0x5ffe, -1, true))).toEqual({
      vector: Vector.pf,
      errorCode: 0b110,
      cr2: 0x6000,
    });
    expect(memory.read32(0x9ffc)).toBe(0x1111_1111);
    expect(faultOf(state, () => mmu.write8(0x7003, 1, true))).toEqual({
      vector: Vector.pf,
      errorCode: 0b111,
      cr2: 0x7003,
    });
    // CR0.WP clear: supervisor writes to read-only pages are allowed (SDM vol. 3 §4.6.1).
    mmu.write8(0x7003, 1, false);
    expect(memory.read8(0xb003)).toBe(1);
    state.cr0 |= 0x10000;
    mmu.flush();
    expect(faultOf(state, () => mmu.write8(0x7003, 2, false)).errorCode).toBe(0b011);
    expect(() => mmu.probeWrite(0x5ffe, 4, false)).toThrow(GuestFault);
    expect(state.cr2 >>> 0).toBe(0x6000);
  });

  it('a write to a watched code page calls onCodeWrite before it is visible, once, from any writer', () => {
    const memory = new PhysicalMemory(1 << 20);
    const { mmu, map } = paged(memory);
    map(0x5000, 0x9000 | 0x67);
    const seen: [page: number, old: number][] = [];
    mmu.onCodeWrite = (page) => seen.push([page, memory.read8(0x9004)]);
    expect(mmu.read32(0x5004, false)).toBe(0); // the TLB now maps the page for writes
    mmu.watchCode(9);
    expect(mmu.codePages[9]).toBe(1);
    mmu.write8(0x5004, 0x77, false);
    expect(seen).toEqual([[9, 0]]);
    expect(memory.read8(0x9004)).toBe(0x77);
    expect(mmu.codePages[9]).toBe(0); // unwatched until code is translated from it again
    mmu.write8(0x5004, 0x78, false);
    expect(seen).toHaveLength(1);
    // A device (DMA) write reaches the same listener.
    mmu.watchCode(9);
    memory.writeBytes(0x9004, new Uint8Array([1, 2]));
    expect(seen).toEqual([
      [9, 0],
      [9, 0x78],
    ]);
    mmu.watchCode(9);
    mmu.watchCode(10);
    mmu.unwatchAllCode();
    expect(memory.isWatched(9) || memory.isWatched(10)).toBe(false);
  });

  it('INVLPG drops every fragment of a 4 MiB page; flushes, INVLPG and A20 changes advance the epoch', () => {
    const memory = new PhysicalMemory(16 << 20);
    const state = new CpuState();
    const mmu = new Mmu(state, memory);
    memory.write32(0x10000 + 1 * 4, 0x0040_0000 | 0x87); // linear 4–8 MiB → physical 4 MiB, PS
    state.cr3 = 0x10000;
    state.cr4 |= 0x10; // PSE
    state.cr0 |= PG;
    mmu.flush();
    memory.write32(0x40_1000, 1);
    memory.write32(0x80_1000, 2);
    memory.write32(0x7f_f000, 3);
    memory.write32(0xbf_f000, 4);
    expect(mmu.read32(0x40_1000, false)).toBe(1);
    expect(mmu.read32(0x7f_f000, false)).toBe(3);
    memory.write32(0x10000 + 1 * 4, 0x0080_0000 | 0x87); // remapped to physical 8 MiB
    let epoch = mmu.epoch;
    mmu.invalidate(0x40_1000);
    expect(mmu.epoch).toBeGreaterThan(epoch);
    expect(mmu.read32(0x40_1000, false)).toBe(2);
    expect(mmu.read32(0x7f_f000, false)).toBe(4); // the other fragment went too (SDM vol. 3 §4.10.4.1)
    epoch = mmu.epoch;
    expect(mmu.setA20(false)).toBe(true);
    expect(mmu.epoch).toBeGreaterThan(epoch);
    expect(mmu.a20Mask).toBe(~0x10_0000);
    expect(memory.a20Enabled).toBe(false);
    expect(mmu.setA20(false)).toBe(false);
  });

  it('syncPaging drops identity entries made before CR0.PG was set without a flush', () => {
    const memory = new PhysicalMemory(1 << 20);
    const state = new CpuState();
    const mmu = new Mmu(state, memory);
    memory.write32(0x5000, 0xaaaa);
    memory.write32(0x9000, 0xbbbb);
    expect(mmu.read32(0x5000, false)).toBe(0xaaaa); // paging off: identity
    memory.write32(0x10000, 0x11000 | 7);
    memory.write32(0x11000 + 5 * 4, 0x9000 | 7);
    state.cr3 = 0x10000;
    state.cr0 |= PG; // as a loader or snapshot import does: no flush
    const epoch = mmu.epoch;
    mmu.syncPaging();
    expect(mmu.epoch).toBe(epoch + 1);
    expect(mmu.read32(0x5000, false)).toBe(0xbbbb);
    mmu.syncPaging();
    expect(mmu.epoch).toBe(epoch + 1); // nothing to drop
  });
});
