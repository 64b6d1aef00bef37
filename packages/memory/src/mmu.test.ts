import { describe, expect, it } from 'vitest';
import { Mmu, PageFault, TlbFlag } from './mmu';
import { Access, CR0_PG, CR0_WP, CR4_PGE } from './paging';
import { PhysicalMemory } from './physical';

/** 32-bit paging: page directory at 0x1000, one page table at 0x2000 covering 0–4 MiB. */
function setup() {
  const mem = new PhysicalMemory(4 << 20);
  const mmu = new Mmu(mem);
  mem.write32(0x1000, 0x2000 | 7);
  const map = (lin: number, phys: number, flags = 7) =>
    mem.write32(0x2000 + ((lin >>> 12) & 0x3ff) * 4, phys | flags);
  map(0x0040_0000 & 0x3fffff, 0); // placeholder entry 0
  mmu.setCr3(0x1000);
  mmu.setCr0(CR0_PG | CR0_WP | 1);
  return { mem, mmu, map };
}

describe('Mmu and TLB', () => {
  it('translates through the page tables and then serves hits from the TLB', () => {
    const { mem, mmu, map } = setup();
    map(0x5000, 0x9000);
    mem.write32(0x9010, 0xcafebabe);
    expect(mmu.read32(0x5010)).toBe(0xcafebabe);
    const walks = mmu.walks;
    expect(mmu.read32(0x5014)).toBe(0);
    expect(mmu.walks).toBe(walks);
    expect(mmu.tlb[5]! & TlbFlag.readSup).toBeTruthy();
  });

  it('a stale entry is still used after the PTE changes without INVLPG, as on hardware (SDM §4.10.4)', () => {
    const { mem, mmu, map } = setup();
    map(0x5000, 0x9000);
    mem.write8(0x9000, 1);
    mem.write8(0xa000, 2);
    expect(mmu.read8(0x5000)).toBe(1);
    map(0x5000, 0xa000);
    expect(mmu.read8(0x5000)).toBe(1);
    mmu.invlpg(0x5000);
    expect(mmu.read8(0x5000)).toBe(2);
  });

  it('a CR3 reload drops non-global entries; global pages survive it with CR4.PGE', () => {
    const { mem, mmu, map } = setup();
    mmu.setCr4(CR4_PGE);
    map(0x5000, 0x9000, 0x107); // global
    map(0x6000, 0xb000, 0x007);
    mem.write8(0x9000, 1);
    mem.write8(0xb000, 3);
    mmu.read8(0x5000);
    mmu.read8(0x6000);
    map(0x5000, 0xa000, 0x107);
    map(0x6000, 0xc000, 0x007);
    mem.write8(0xa000, 2);
    mem.write8(0xc000, 4);
    mmu.setCr3(0x1000);
    expect(mmu.read8(0x5000)).toBe(1); // global: kept
    expect(mmu.read8(0x6000)).toBe(4); // re-walked
    mmu.setCr4(0); // PGE change flushes everything
    expect(mmu.read8(0x5000)).toBe(2);
  });

  it('a page fault carries the linear address (for CR2) and the error code', () => {
    const { mmu } = setup();
    let caught: unknown;
    try {
      mmu.read32(0x0030_0004);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(PageFault);
    expect((caught as PageFault).linear).toBe(0x0030_0004);
    expect((caught as PageFault).errorCode).toBe(0);
    mmu.cpl = 3;
    expect(() => mmu.write8(0x0030_0000, 1)).toThrow(PageFault);
    expect(mmu.fault.errorCode).toBe(6);
  });

  it('user writes to a read-only page fault, supervisor writes obey CR0.WP', () => {
    const { mem, mmu, map } = setup();
    map(0x7000, 0xd000, 0x45); // present, user, read-only, dirty
    mmu.cpl = 3;
    expect(() => mmu.write32(0x7000, 1)).toThrow(PageFault);
    expect(mmu.fault.errorCode).toBe(7);
    mmu.cpl = 0;
    expect(() => mmu.write32(0x7000, 1)).toThrow(PageFault);
    mmu.setCr0(CR0_PG | 1); // WP off
    mmu.write32(0x7000, 0x55);
    expect(mem.read32(0xd000)).toBe(0x55);
  });

  it('the first write through a clean page sets its dirty bit; later writes hit the TLB', () => {
    const { mem, mmu, map } = setup();
    map(0x8000, 0xe000, 0x07);
    mmu.read8(0x8000);
    expect(mmu.tlb[8]! & TlbFlag.writeSup).toBe(0); // D clear: writes must walk
    mmu.write8(0x8000, 1);
    expect(mem.read32(0x2000 + 8 * 4) & 0x60).toBe(0x60);
    expect(mmu.tlb[8]! & TlbFlag.writeSup).toBeTruthy();
  });

  it('writes through the TLB to a page that becomes watched are caught by the code-page watch', () => {
    const { mem, mmu, map } = setup();
    map(0x5000, 0x9000, 0x67);
    mmu.write8(0x5000, 1);
    const hits: number[] = [];
    mem.onCodeWrite((page) => hits.push(page));
    mem.watchPage(9);
    mmu.write8(0x5001, 2);
    expect(hits).toEqual([9]);
    expect(mem.read8(0x9001)).toBe(2);
  });

  it('a write crossing into a non-present page faults without changing the first page', () => {
    const { mem, mmu, map } = setup();
    map(0x5000, 0x9000, 0x67);
    mem.write32(0x9ffc, 0x11111111);
    expect(() => mmu.write32(0x5ffe, 0x22222222)).toThrow(PageFault);
    expect(mmu.fault.linear).toBe(0x6000);
    expect(mem.read32(0x9ffc)).toBe(0x11111111);
  });

  it('fetch checks use execute rights; reads and fetches of MMIO pages go to the slow path', () => {
    const { mem, mmu, map } = setup();
    mem.addMmio(0xfee0_0000, 0x1000, { read: () => 0x42, write: () => {} });
    mem.write32(0x1000 + (0xfee0_0000 >>> 22) * 4, 0x3000 | 7);
    mem.write32(0x3000 + 0x200 * 4, 0xfee0_0000 | 7);
    expect(mmu.read8(0xfee0_0000)).toBe(0x42);
    expect(mmu.tlb[0xfee00]! & TlbFlag.ram).toBe(0);
    map(0x5000, 0x9000);
    mem.write8(0x9000, 0x90);
    expect(mmu.fetch8(0x5000)).toBe(0x90);
    expect(mmu.translate(0x5000, Access.fetch)).toBe(0x9000);
  });

  it('state round-trips through saveState/restoreState', () => {
    const { mmu } = setup();
    const s = mmu.saveState();
    const other = new Mmu(new PhysicalMemory(4 << 20));
    other.restoreState(s);
    expect(other.control).toEqual(mmu.control);
  });
});
