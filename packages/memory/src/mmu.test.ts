import { describe, expect, it } from 'vitest';
import { MemoryError } from './errors';
import {
  CanonicalFault,
  HIGH_PATH_CONSTANTS,
  isCanonical,
  linear64,
  Mmu,
  PageFault,
  type Privilege,
  TLB_CPL,
  TLB_HIGH_ENTRIES,
  TLB_MISS_PAGE,
  TLB_TABLE_LENGTH,
  TLB_USER,
  TlbFlag,
  tlbMiss,
} from './mmu';
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
  WalkResult,
  walk,
} from './paging';
import { PAGE_SIZE, PhysicalMemory } from './physical';

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
    mmu.write32(0x5004, 3); // the refilled entry must not grant fast writes either
    mmu.write16(0x5008, 4);
    expect(hits).toEqual([9, 9, 9]);
    expect(mem.read8(0x9001)).toBe(2);
    mem.unwatchPage(9);
    mmu.write8(0x5001, 5);
    expect(hits).toEqual([9, 9, 9]);
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

/*
 * The same TLB rules in every paging mode. Each fixture builds its own paging structures (the
 * test's own index arithmetic, not the walker's) and accesses through the methods a CPU in that
 * mode would use: the 32-bit ones below 4 GiB, the `…Long` ones in the upper half.
 */
type ModeName = '32-bit' | 'PAE' | '4-level' | '4-level upper half';
const MODES: readonly ModeName[] = ['32-bit', 'PAE', '4-level', '4-level upper half'];
const P = 1;
const RW = 2;
const US = 4;
const A = 0x20;
const D = 0x40;
const PS = 0x80;
const G = 0x100;
const UPPER = -(2 ** 47); // 0xffff_8000_0000_0000

function fixture(mode: ModeName) {
  const mem = new PhysicalMemory(16 << 20);
  const mmu = new Mmu(mem);
  const wide = mode !== '32-bit';
  let next = 0x10_0000; // page-table allocator
  const alloc = () => {
    const a = next;
    next += 0x1000;
    return a;
  };
  const root = alloc();
  const entry = (addr: number) => mem.read32(addr);
  /** Address of the entry for `lin` at `level` (1 = PTE), creating the tables above it. */
  const slot = (lin: number, level: number): number => {
    const lo = lin >>> 0;
    const hi = Math.floor(lin / 2 ** 32) & 0xffff;
    if (!wide) {
      const pde = root + (lo >>> 22) * 4;
      if (level === 2) return pde;
      if ((entry(pde) & P) === 0 || (entry(pde) & PS) !== 0) mem.write32(pde, alloc() | P | RW | US);
      return (entry(pde) & ~0xfff) + ((lo >>> 12) & 1023) * 4;
    }
    const indexes =
      mode === 'PAE'
        ? [lo >>> 30, (lo >>> 21) & 511, (lo >>> 12) & 511]
        : [(hi >>> 7) & 511, ((hi & 0x7f) << 2) | (lo >>> 30), (lo >>> 21) & 511, (lo >>> 12) & 511];
    let table = root;
    for (let i = 0; i < indexes.length; i++) {
      const addr = table + indexes[i]! * 8;
      if (indexes.length - i === level) return addr;
      if ((entry(addr) & P) === 0 || (entry(addr) & PS) !== 0) {
        // PAE PDPTEs have no R/W or U/S bits (they are reserved there).
        mem.write32(addr, alloc() | (mode === 'PAE' && i === 0 ? P : P | RW | US));
        mem.write32(addr + 4, 0);
      }
      table = entry(addr) & ~0xfff;
    }
    throw new Error('unreachable');
  };
  const map = (lin: number, phys: number, flags: number, opts: { nx?: boolean; level?: number } = {}) => {
    const addr = slot(lin, opts.level ?? 1);
    mem.write32(addr, phys | flags);
    if (wide) mem.write32(addr + 4, opts.nx ? 0x8000_0000 : 0);
  };
  const base = mode === '4-level upper half' ? UPPER + 0x40_0000 : 0x40_0000;
  // PAE: the four PDPTEs exist before CR3 is loaded (they are read into registers then).
  if (mode === 'PAE') for (let i = 0; i < 4; i++) slot(i * 2 ** 30, 2);
  if (mode !== '32-bit') {
    mmu.setEfer(mode === 'PAE' ? EFER_NXE : EFER_NXE | EFER_LME);
    mmu.setCr4(CR4_PAE | CR4_PGE);
  } else mmu.setCr4(CR4_PSE | CR4_PGE);
  expect(mmu.setCr3(root)).toBe(true);
  mmu.setCr0(CR0_PG | CR0_WP | 1);
  const upper = mode === '4-level upper half';
  return {
    mem,
    mmu,
    map,
    slot,
    base,
    root,
    r8: (lin: number) => (upper ? mmu.read8Long(lin) : mmu.read8(lin)),
    r32: (lin: number) => (upper ? mmu.read32Long(lin) : mmu.read32(lin)),
    w8: (lin: number, v: number) => (upper ? mmu.write8Long(lin, v) : mmu.write8(lin, v)),
    w32: (lin: number, v: number) => (upper ? mmu.write32Long(lin, v) : mmu.write32(lin, v)),
    f8: (lin: number) => (upper ? mmu.fetch8Long(lin) : mmu.fetch8(lin)),
    invlpg: (lin: number) => (upper ? mmu.invlpgLong(lin) : mmu.invlpg(lin)),
  };
}

function faultOf(fn: () => unknown): { linear: number; errorCode: number } | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof PageFault) return { linear: e.linear, errorCode: e.errorCode };
    throw e;
  }
  return undefined;
}

describe.each(MODES)('TLB with %s paging', (mode) => {
  it('serves repeated accesses to a page from the TLB, without walking again', () => {
    const { mem, mmu, map, base, r32, w32 } = fixture(mode);
    map(base, 0x9000, P | RW | A | D);
    mem.write32(0x9010, 0xcafebabe);
    expect(r32(base + 0x10)).toBe(0xcafebabe);
    const walks = mmu.walks;
    w32(base + 0x20, 0x1234_5678);
    expect(r32(base + 0x20)).toBe(0x1234_5678);
    expect(mem.read32(0x9020)).toBe(0x1234_5678);
    expect(mmu.walks).toBe(walks);
  });

  it('uses a stale translation after a PTE change until INVLPG, as hardware may (SDM Vol. 3A §4.10.4.2)', () => {
    const { mem, map, base, r8, invlpg } = fixture(mode);
    map(base, 0x9000, P | RW | A | D);
    mem.write8(0x9000, 1);
    mem.write8(0xa000, 2);
    expect(r8(base)).toBe(1);
    map(base, 0xa000, P | RW | A | D);
    expect(r8(base)).toBe(1);
    invlpg(base + 0x123); // any address in the page
    expect(r8(base)).toBe(2);
    map(base, 0, 0); // not present, still cached
    expect(r8(base)).toBe(2);
    invlpg(base);
    expect(faultOf(() => r8(base))?.errorCode).toBe(0);
  });

  it('drops non-global entries on a CR3 reload and keeps global ones with CR4.PGE; a PGE change drops all', () => {
    const { mem, mmu, map, base, root, r8 } = fixture(mode);
    map(base, 0x9000, P | RW | A | D | G);
    map(base + 0x1000, 0xb000, P | RW | A | D);
    mem.write8(0x9000, 1);
    mem.write8(0xb000, 3);
    r8(base);
    r8(base + 0x1000);
    map(base, 0xa000, P | RW | A | D | G);
    map(base + 0x1000, 0xc000, P | RW | A | D);
    mem.write8(0xa000, 2);
    mem.write8(0xc000, 4);
    expect(mmu.setCr3(root)).toBe(true);
    expect(r8(base)).toBe(1); // global: kept
    expect(r8(base + 0x1000)).toBe(4); // re-walked
    mmu.setCr4(mmu.control.cr4 & ~CR4_PGE);
    expect(r8(base)).toBe(2);
  });

  it('keeps rights apart per access kind and privilege once cached', () => {
    const { mem, mmu, map, base, r8, w8, f8 } = fixture(mode);
    map(base, 0x9000, P | RW | A | D); // supervisor page
    map(base + 0x1000, 0xa000, P | US | A | D); // user, read-only
    mem.write8(0x9000, 0x11);
    mem.write8(0xa000, 0x22);
    expect(r8(base)).toBe(0x11);
    expect(f8(base)).toBe(0x11);
    mmu.cpl = 3;
    expect(faultOf(() => r8(base))?.errorCode).toBe(P | 4);
    expect(faultOf(() => w8(base, 0))?.errorCode).toBe(P | 2 | 4);
    expect(r8(base + 0x1000)).toBe(0x22);
    expect(faultOf(() => w8(base + 0x1000, 0))?.errorCode).toBe(P | 2 | 4);
    mmu.cpl = 0;
    expect(faultOf(() => w8(base + 0x1000, 0))?.errorCode).toBe(P | 2); // CR0.WP = 1
    expect(mem.read8(0xa000)).toBe(0x22);
  });

  it('sets the dirty bit on the first write through a clean page, then writes hit the TLB', () => {
    const { mem, mmu, map, slot, base, r8, w8 } = fixture(mode);
    map(base, 0x9000, P | RW | A);
    r8(base);
    const walks = mmu.walks;
    w8(base, 5);
    expect(mmu.walks).toBe(walks + 1);
    w8(base + 1, 6);
    expect(mmu.walks).toBe(walks + 1);
    expect(mem.read32(slot(base, 1)) & (A | D)).toBe(A | D);
    expect(mem.read16(0x9000)).toBe(0x0605);
  });

  it('INVLPG of one address of a large page drops the cached fragments of the whole page', () => {
    const { mem, map, base, r8, invlpg } = fixture(mode);
    // A 4 MiB (32-bit) or 2 MiB page at physical 4 MiB, then moved to physical 8 MiB.
    map(base, 0x40_0000, P | RW | A | D | PS, { level: 2 });
    mem.write8(0x40_3000, 1);
    mem.write8(0x80_3000, 3);
    expect(r8(base + 0x3000)).toBe(1);
    map(base, 0x80_0000, P | RW | A | D | PS, { level: 2 });
    expect(r8(base + 0x3000)).toBe(1); // stale fragment
    invlpg(base + 0x1000); // a different 4 KiB part of the same large page
    expect(r8(base + 0x3000)).toBe(3);
  });

  if (mode !== '32-bit') {
    it('with EFER.NXE, fetches from an XD page fault with I/D set while reads still hit', () => {
      const { mem, map, base, r8, f8 } = fixture(mode);
      map(base, 0x9000, P | RW | A | D, { nx: true });
      mem.write8(0x9000, 0x90);
      expect(r8(base)).toBe(0x90);
      expect(faultOf(() => f8(base))?.errorCode).toBe(P | 0x10);
    });
  }

  it('flushes on paging-mode changes (CR0.PG off and on, EFER.NXE)', () => {
    const { mem, mmu, map, base, r8 } = fixture(mode);
    map(base, 0x9000, P | RW | A | D);
    mem.write8(0x9000, 1);
    mem.write8(0xa000, 2);
    r8(base);
    map(base, 0xa000, P | RW | A | D);
    const flushes = mmu.flushes;
    mmu.setEfer(mmu.control.efer ^ EFER_NXE);
    expect(mmu.flushes).toBe(flushes + 1);
    expect(r8(base)).toBe(2);
  });
});

describe('TLB for the 64-bit linear space', () => {
  it('keeps apart two upper-half pages that share a tlbHigh slot', () => {
    const { mem, mmu, map } = fixture('4-level upper half');
    const a = UPPER + 0x5000;
    const b = a + 2 ** 28; // same slot: page numbers 2^16 apart
    map(a, 0x9000, P | RW | A | D);
    map(b, 0xa000, P | RW | A | D);
    mem.write32(0x9000, 0xaaaa_aaaa);
    mem.write32(0xa000, 0xbbbb_bbbb);
    expect(mmu.read32Long(a)).toBe(0xaaaa_aaaa);
    expect(mmu.read32Long(b)).toBe(0xbbbb_bbbb);
    expect(mmu.read32Long(a)).toBe(0xaaaa_aaaa);
    mmu.write32Long(b + 4, 7);
    expect(mem.read32(0xa004)).toBe(7);
    expect(mem.read32(0x9004)).toBe(0);
  });

  it('a non-canonical address throws the CanonicalFault (#GP), not a page fault', () => {
    const { mmu } = fixture('4-level upper half');
    for (const lin of [2 ** 47, -(2 ** 47) - 4096, linear64(0x0001_0000, 0), linear64(0x0fff_ffff, 0x5000)]) {
      expect(isCanonical(lin)).toBe(false);
      expect(() => mmu.read32Long(lin)).toThrow(CanonicalFault);
      expect(mmu.canonicalFault.linear).toBe(lin);
      expect(mmu.canonicalFault.vector).toBe(13);
    }
    expect(isCanonical(linear64(0xffff_8000, 0))).toBe(true);
  });

  it('linear64 builds the signed number from the address halves', () => {
    expect(linear64(0xffff_ffff, 0xffff_f000)).toBe(-4096);
    expect(linear64(0xffff_8000, 0x1234)).toBe(UPPER + 0x1234);
    expect(linear64(0, 0x8000_0000)).toBe(0x8000_0000);
  });

  it('a dword crossing 4 GiB in IA-32e mode continues at 0x1_0000_0000, not at 0', () => {
    const { mem, mmu, map } = fixture('4-level');
    map(0xffff_f000, 0x9000, P | RW | A | D);
    map(2 ** 32, 0xa000, P | RW | A | D);
    map(0, 0xb000, P | RW | A | D);
    mem.write16(0x9ffe, 0x2211);
    mem.write16(0xa000, 0x4433);
    mem.write16(0xb000, 0x6655);
    expect(mmu.read32Long(0xffff_fffe)).toBe(0x4433_2211);
    mmu.write32Long(0xffff_fffe, 0x8877_6655);
    expect(mem.read16(0xa000)).toBe(0x8877);
    expect(mem.read16(0xb000)).toBe(0x6655);
    // The 32-bit methods wrap at 4 GiB, as 32-bit addressing does.
    expect(mmu.read32(0xffff_fffe)).toBe(0x6655_6655);
  });

  it('page faults in the upper half carry the full linear address for CR2', () => {
    const { mmu } = fixture('4-level upper half');
    const lin = UPPER + 0x7_0123;
    expect(faultOf(() => mmu.read8Long(lin))).toEqual({ linear: lin, errorCode: 0 });
    mmu.cpl = 3;
    expect(faultOf(() => mmu.write32Long(lin, 1))).toEqual({ linear: lin, errorCode: 6 });
  });

  it('the `…Long` methods take addresses modulo 2^32 outside IA-32e mode', () => {
    const { mem, mmu, map } = fixture('32-bit');
    map(0x40_0000, 0x9000, P | RW | A | D);
    mem.write32(0x9000, 0x5a5a_5a5a);
    expect(mmu.read32Long(2 ** 32 + 0x40_0000)).toBe(0x5a5a_5a5a);
  });
});

describe('PAE PDPTE registers', () => {
  it('a PDPTE changed in memory is not used until CR3 is loaded again (SDM Vol. 3A §4.4.1)', () => {
    const { mem, mmu, map, base, root, r8 } = fixture('PAE');
    map(base, 0x9000, P | RW | A | D);
    mem.write8(0x9000, 1);
    const pdpte0 = mem.read32(root);
    mem.write32(root, 0); // PDPTE 0 not present in memory …
    mmu.flush(false);
    expect(r8(base)).toBe(1); // … but the register still holds it
    mmu.setCr3(root);
    expect(faultOf(() => r8(base))?.errorCode).toBe(0);
    mem.write32(root, pdpte0);
  });

  it('enabling PAE paging through CR0 or CR4 loads the PDPTEs and fails (#GP) on a bad one', () => {
    const mem = new PhysicalMemory(1 << 20);
    const mmu = new Mmu(mem);
    mem.write32(0x1000, 0x3000 | P | RW); // R/W is reserved in a PAE PDPTE
    mmu.setCr3(0x1000);
    mmu.setCr4(CR4_PAE);
    expect(mmu.setCr0(CR0_PG | 1)).toBe(false);
    expect(mmu.control.cr0).toBe(0);
    mmu.setCr4(0);
    mmu.setCr0(CR0_PG | 1); // 32-bit paging
    expect(mmu.setCr4(CR4_PAE)).toBe(false);
    expect(mmu.control.cr4).toBe(0);
    mem.write32(0x1000, 0x3000 | P);
    expect(mmu.setCr4(CR4_PAE)).toBe(true);
    expect(mmu.pdptes[0]).toBe(0x3001);
  });

  it('setting CR0.PG with EFER.LME but not CR4.PAE fails (#GP); with PAE it activates IA-32e mode', () => {
    const mmu = new Mmu(new PhysicalMemory(1 << 20));
    mmu.setEfer(EFER_LME);
    expect(mmu.setCr0(CR0_PG | 1)).toBe(false);
    expect(mmu.mode).toBe(0);
    mmu.setCr4(CR4_PAE);
    expect(mmu.setCr0(CR0_PG | 1)).toBe(true);
    expect(mmu.mode).toBe(3);
    expect(mmu.setCr4(0)).toBe(false); // PAE cannot be cleared in IA-32e mode
    mmu.setCr0(1);
    expect(mmu.mode).toBe(0);
    expect(mmu.control.efer & EFER_LMA).toBe(0);
  });

  it('loading CR3 with a PDPTE that has reserved bits fails (#GP) and keeps the old CR3', () => {
    const { mem, mmu, root } = fixture('PAE');
    const other = 0x20_0000;
    mem.write32(other, 0x3000 | P | RW); // R/W is reserved in a PAE PDPTE
    expect(mmu.setCr3(other)).toBe(false);
    expect(mmu.control.cr3).toBe(root);
  });
});

describe('the MMU never reaches outside guest memory', () => {
  it('a mapping to a physical address above 4 GiB is a hole: it never aliases low RAM', () => {
    const { mem, mmu, map, slot, base } = fixture('PAE');
    map(base, 0x9000, P | RW | A | D);
    mem.write32(slot(base, 1) + 4, 1); // physical 0x1_0000_9000
    mem.write32(0x9000, 0x1122_3344);
    const walks = mmu.walks;
    expect(mmu.read32(base)).toBe(0xffff_ffff);
    mmu.write32(base, 0);
    mmu.write8(base + 1, 0);
    expect(mem.read32(0x9000)).toBe(0x1122_3344);
    expect(mmu.walks).toBe(walks + 3); // never cached
  });

  it('paging structures beyond the end of RAM read as all ones: a reserved-bit fault, not RAM', () => {
    const { mem, mmu, slot, base } = fixture('4-level');
    const pdpte = slot(base, 3);
    mem.write32(pdpte, 0x4000_0000 | P | RW | US); // page directory in a hole
    mem.write32(pdpte + 4, 0);
    expect(faultOf(() => mmu.read8(base))?.errorCode).toBe(P | 8);
  });

  it('an MMIO handler that throws during a linear access surfaces as the package error', () => {
    const { mem, mmu, map, base } = fixture('32-bit');
    mem.addMmio(
      0xfed0_0000,
      0x1000,
      {
        read: () => {
          throw new TypeError('device gone');
        },
        write: () => {},
      },
      'hpet',
    );
    map(base, 0xfed0_0000, P | RW | A | D);
    expect(() => mmu.read32(base)).toThrow(MemoryError);
    expect(() => mmu.read32(base)).toThrow(/hpet read/);
  });
});

describe('MMU state for snapshots', () => {
  it('restores control registers, CPL, AC and the PDPTE registers, and starts with an empty TLB', () => {
    const { mem, mmu, map, base, root } = fixture('PAE');
    map(base, 0x9000, P | RW | US | A | D);
    mem.write8(0x9000, 0x77);
    mmu.cpl = 3;
    mmu.ac = true;
    expect(mmu.read8(base)).toBe(0x77);
    const state = JSON.parse(JSON.stringify(mmu.saveState())) as unknown;
    const copy = new Mmu(mem);
    copy.restoreState(state);
    expect(copy.control).toEqual(mmu.control);
    expect(copy.cpl).toBe(3);
    expect(copy.ac).toBe(true);
    expect(Array.from(copy.pdptes)).toEqual(Array.from(mmu.pdptes));
    // The PDPTE registers come from the snapshot, not from memory (as after MOV to CR3).
    const pdpte0 = mem.read32(root);
    mem.write32(root, 0);
    expect(copy.read8(base)).toBe(0x77);
    expect(copy.walks).toBe(1);
    mem.write32(root, pdpte0);
  });

  it('rejects malformed state with a bad-snapshot MemoryError and changes nothing', () => {
    const { mmu } = fixture('4-level');
    const good = mmu.saveState();
    const before = { ...mmu.control };
    for (const bad of [
      null,
      42,
      'state',
      {},
      { ...good, cr0: 'x' },
      { ...good, cr3: -1 },
      { ...good, cr3: 2 ** 60 },
      { ...good, cpl: 4 },
      { ...good, ac: 1 },
      { ...good, pdpte: [1, 2, 3] },
      { ...good, pdpte: [0, 0, 0, 0, 0, 0, 0, Number.NaN] },
      { ...good, efer: 2 ** 40 },
      { ...good, format: 'ringzero-memory' },
      { ...good, version: 2 },
    ]) {
      let caught: unknown;
      try {
        mmu.restoreState(bad);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(MemoryError);
      expect((caught as MemoryError).code).toBe('bad-snapshot');
      expect(mmu.control).toEqual(before);
    }
  });
});

describe('the TLB against the page walker (seeded random operations)', () => {
  /** A small deterministic PRNG (mulberry32). */
  function rng(seed: number) {
    let a = seed >>> 0;
    return (n: number) => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return (((t ^ (t >>> 14)) >>> 0) % n) | 0;
    };
  }

  it.each(MODES)('%s paging: every access gives what a fresh walk gives', (mode) => {
    const f = fixture(mode);
    const { mem, mmu, map } = f;
    const rand = rng(mode.length * 7919);
    const upper = mode === '4-level upper half';
    const pages = 16;
    const frames = [0x9000, 0xa000, 0xb000, 0xc000, 0xd000, 0xe000, 0xf000, 0x1f0000];
    const walkOut = new WalkResult();
    let checked = 0;
    let hooked = -1;
    mem.onCodeWrite((page) => {
      hooked = page;
    });
    for (let i = 0; i < pages; i++) map(f.base + i * 4096, frames[i % frames.length]!, P | RW | US | A | D);
    for (let step = 0; step < 20_000; step++) {
      const op = rand(100);
      if (op < 15) {
        // Change a PTE, then INVLPG it (the TLB must then agree with the walk again).
        const lin = f.base + rand(pages) * 4096;
        map(
          lin,
          frames[rand(frames.length)]!,
          (P * (rand(8) === 0 ? 0 : 1)) | (rand(2) * RW) | (rand(2) * US) | (rand(2) * A) | (rand(2) * D),
          {
            nx: mode !== '32-bit' && rand(4) === 0,
          },
        );
        f.invlpg(lin);
        continue;
      }
      if (op < 18) {
        mmu.cpl = rand(2) * 3;
        continue;
      }
      if (op < 20) {
        mmu.ac = rand(2) === 1;
        continue;
      }
      if (op < 21) {
        mmu.setCr0(mmu.control.cr0 ^ CR0_WP);
        continue;
      }
      if (op < 22) {
        mmu.setCr4(mmu.control.cr4 ^ (rand(2) === 0 ? CR4_SMAP : CR4_SMEP));
        continue;
      }
      if (op < 24) {
        const frame = frames[rand(frames.length)]! >>> 12;
        if (mem.isWatched(frame)) mem.unwatchPage(frame);
        else mem.watchPage(frame);
        continue;
      }
      // An access that stays inside its page.
      const kind = rand(3) as Access;
      const size = kind === Access.fetch ? 1 : ([1, 2, 4] as const)[rand(3)]!;
      const offset = rand(2) === 0 ? rand(1024) * 4 : rand(4097 - size);
      const lin = f.base + rand(pages) * 4096 + offset;
      const named = rand(2) === 0;
      const user: Privilege = named ? (rand(2) as Privilege) : mmu.cpl === 3 ? 1 : 0;
      const ac = mmu.ac && mmu.cpl < 3;
      const ref = walk(mem, mmu.control, lin, kind, user === 1, ac, walkOut, mmu.pdptes);
      const refOk = ref.ok;
      const refPhys = ref.physical;
      const refCode = ref.errorCode;
      const value = rand(0x1_0000) * 0x1_0001;
      let fault: PageFault | undefined;
      let got = 0;
      hooked = -1;
      try {
        const u = named ? user : undefined;
        if (kind === Access.fetch) got = upper ? mmu.fetch8Long(lin, u) : mmu.fetch8(lin, u);
        else if (kind === Access.read) {
          if (size === 1) got = upper ? mmu.read8Long(lin, u) : mmu.read8(lin, u);
          else if (size === 2) got = upper ? mmu.read16Long(lin, u) : mmu.read16(lin, u);
          else got = upper ? mmu.read32Long(lin, u) : mmu.read32(lin, u);
        } else if (size === 1)
          upper ? mmu.write8Long(lin, value & 0xff, u) : mmu.write8(lin, value & 0xff, u);
        else if (size === 2)
          upper ? mmu.write16Long(lin, value & 0xffff, u) : mmu.write16(lin, value & 0xffff, u);
        else upper ? mmu.write32Long(lin, value, u) : mmu.write32(lin, value, u);
      } catch (e) {
        if (!(e instanceof PageFault)) throw e;
        fault = e;
      }
      const where = `step ${step}: ${['read', 'write', 'fetch'][kind]}${size * 8} at ${lin} user=${user} cpl=${mmu.cpl}`;
      if (!refOk) {
        expect(fault?.errorCode, where).toBe(refCode);
        expect(fault?.linear, where).toBe(lin);
      } else {
        expect(fault, where).toBeUndefined();
        const read = size === 1 ? mem.read8(refPhys) : size === 2 ? mem.read16(refPhys) : mem.read32(refPhys);
        if (kind === Access.write) {
          expect(read, where).toBe(size === 1 ? value & 0xff : size === 2 ? value & 0xffff : value >>> 0);
          expect(hooked, `${where}: code-page watch`).toBe(
            mem.isWatched(Math.floor(refPhys / 4096)) ? Math.floor(refPhys / 4096) : -1,
          );
        } else expect(got, where).toBe(read);
      }
      checked++;
    }
    expect(checked).toBeGreaterThan(15_000);
  });
});

describe('naming the privilege of an access', () => {
  it('a named user access at CPL 0 is checked as user mode, and a supervisor one at CPL 3 as supervisor mode', () => {
    const { mem, mmu, map, base } = fixture('32-bit');
    map(base, 0x9000, P | RW | A | D); // supervisor page
    mem.write32(0x9000, 0x1234_5678);
    expect(mmu.read32(base, 0)).toBe(0x1234_5678);
    expect(faultOf(() => mmu.read32(base, 1))?.errorCode).toBe(P | 4);
    mmu.cpl = 3;
    expect(faultOf(() => mmu.read32(base))?.errorCode).toBe(P | 4);
    expect(mmu.read32(base, 0)).toBe(0x1234_5678); // e.g. a GDT read at CPL 3
    mmu.write32(base, 7, 0);
    expect(mem.read32(0x9000)).toBe(7);
  });

  it('under SMAP an implicit supervisor access (privilege 0 at CPL 3) to a user page faults even with EFLAGS.AC', () => {
    const { mem, mmu, map, base } = fixture('32-bit');
    mmu.setCr4(mmu.control.cr4 | CR4_SMAP);
    map(base, 0x9000, P | RW | US | A | D);
    mem.write8(0x9000, 0x5a);
    mmu.ac = true;
    expect(mmu.read8(base)).toBe(0x5a); // CPL 0, AC = 1: explicit access allowed
    mmu.cpl = 3;
    expect(mmu.read8(base)).toBe(0x5a); // a user access
    expect(faultOf(() => mmu.read8(base, 0))?.errorCode).toBe(P);
    mmu.ac = false;
    mmu.cpl = 0;
    expect(faultOf(() => mmu.read8(base))?.errorCode).toBe(P);
  });
});

describe('the TLB and the A20 gate', () => {
  it('translations follow the A20 gate: toggling it drops what the TLB cached', () => {
    const mem = new PhysicalMemory(4 << 20);
    const mmu = new Mmu(mem); // paging off: linear = physical, through the TLB all the same
    mem.write8(0x0_0010, 0xaa);
    mem.write8(0x10_0010, 0xbb);
    expect(mmu.read8(0x10_0010)).toBe(0xbb);
    mem.setA20(false);
    expect(mmu.read8(0x10_0010)).toBe(0xaa); // the 8086 wrap-around
    mmu.write8(0x10_0011, 0xcc);
    expect(mem.read8(0x0_0011)).toBe(0xcc);
    mem.setA20(true);
    expect(mmu.read8(0x10_0010)).toBe(0xbb);
  });
});

describe('the RAM fast-path tables (tlbRead, tlbWrite)', () => {
  it('can live in arrays the caller provides (a WebAssembly memory), which the MMU fills', () => {
    const buffer = new ArrayBuffer(2 * 4 * TLB_TABLE_LENGTH + 64);
    const tlbRead = new Int32Array(buffer, 64, TLB_TABLE_LENGTH).fill(123);
    const tlbWrite = new Int32Array(buffer, 64 + 4 * TLB_TABLE_LENGTH, TLB_TABLE_LENGTH).fill(123);
    const mem = new PhysicalMemory(1 << 20);
    const mmu = new Mmu(mem, undefined, { tlbRead, tlbWrite });
    expect(mmu.tlbRead).toBe(tlbRead);
    expect(mmu.tlbWrite).toBe(tlbWrite);
    expect(tlbRead[7]).toBe(tlbMiss(7));
    mem.write32(0x3000, 0x11223344);
    expect(mmu.read32(0x3000, 0)).toBe(0x11223344);
    // Paging off: the read filled the identity entry of page 3 in the caller's array.
    expect((0x3000 + tlbRead[3]!) >>> 0).toBe(0x3000);
    expect(() => new Mmu(mem, undefined, { tlbRead: new Int32Array(16), tlbWrite })).toThrow(
      /tlbRead must have 2097153 entries \(got 16\)/,
    );
  });

  /** The read hit path exactly as the README's inlining contract writes it. */
  function inlinedRead32(mmu: Mmu, ram32: Uint32Array, words: number, lin: number, u: Privilege): number {
    const rd = mmu.tlbRead;
    const p = (lin | 0) + rd[(lin >>> 12) | (u << 20)]!;
    const q = ((p >>> 2) | (p << 30)) >>> 0;
    return q < words ? ram32[q]! : mmu.read32(lin, u);
  }
  function inlinedWrite32(mmu: Mmu, ram32: Uint32Array, words: number, lin: number, v: number, u: Privilege) {
    const wr = mmu.tlbWrite;
    const p = (lin | 0) + wr[(lin >>> 12) | (u << 20)]!;
    const q = ((p >>> 2) | (p << 30)) >>> 0;
    if (q < words) ram32[q] = v;
    else mmu.write32(lin, v, u);
  }

  it('a miss entry leads every offset of its page to the top page of 4 GiB, beyond any RAM', () => {
    for (const page of [0, 1, 0x5, 0x7_ffff, 0x8_0000, 0xf_ffff]) {
      const e = tlbMiss(page);
      expect(Number.isInteger(e) && e >= -(2 ** 31) && e < 2 ** 31).toBe(true);
      expect((page * 4096 + e) >>> 0).toBe(TLB_MISS_PAGE);
      expect((page * 4096 + 4095 + e) >>> 0).toBe(TLB_MISS_PAGE + 4095);
    }
    const { mmu } = setup();
    // A fresh MMU: every entry of both halves of both tables is the miss entry of its page.
    for (const page of [0, 5, 0x400, 0xf_ffff]) {
      for (const t of [mmu.tlbRead, mmu.tlbWrite]) {
        expect(t[page]).toBe(tlbMiss(page));
        expect(t[page | TLB_USER]).toBe(tlbMiss(page));
      }
    }
  });

  it('a hit entry is physical minus linear; INVLPG and flushes put the miss entry back', () => {
    const { mem, mmu, map } = setup();
    map(0x5000, 0x9000, 7 | 0x60); // user, writable, accessed, dirty
    mmu.read8(0x5000);
    mmu.write8(0x5000, 1);
    for (const t of [mmu.tlbRead, mmu.tlbWrite]) {
      expect(t[5]).toBe(0x9000 - 0x5000);
      expect(t[5 | TLB_USER]).toBe(0x9000 - 0x5000);
    }
    mmu.invlpg(0x5123);
    expect(mmu.tlbRead[5]).toBe(tlbMiss(5));
    expect(mmu.tlbWrite[5 | TLB_USER]).toBe(tlbMiss(5));
    mmu.read8(0x5000);
    mmu.setCr3(0x1000);
    expect(mmu.tlbRead[5]).toBe(tlbMiss(5));
    // A page mapped below its linear address: the difference wraps modulo 2^32.
    mem.write32(0x1000 + (0xc000_0000 >>> 22) * 4, 0x3000 | 7);
    mem.write32(0x3000 + 4 * 4, 0x9000 | 0x67);
    mem.write32(0x9008, 0x1234_5678);
    expect(mmu.read32(0xc000_4008)).toBe(0x1234_5678);
    expect(mmu.tlbRead[0xc0004]).toBe((0x9000 - 0xc000_4000) | 0);
  });

  it('the TLB_CPL entry selects the half of the current privilege', () => {
    const { mem, mmu, map } = setup();
    expect(mmu.tlbRead[TLB_CPL]).toBe(0);
    mmu.cpl = 3;
    expect(mmu.tlbRead[TLB_CPL]).toBe(TLB_USER);
    expect(mmu.tlbWrite[TLB_CPL]).toBe(TLB_USER);
    mmu.cpl = 1;
    expect(mmu.tlbRead[TLB_CPL]).toBe(0);
    mmu.cpl = 3;
    map(0x5000, 0x9000, 7 | 0x60);
    map(0x6000, 0xa000, 3 | 0x60); // supervisor only
    mem.write32(0x9000, 0x11);
    mem.write32(0xa000, 0x22);
    expect(mmu.read32(0x5000)).toBe(0x11);
    expect(() => mmu.read32(0x6000)).toThrow(PageFault);
    expect(mmu.read32(0x6000, 0)).toBe(0x22); // implicit supervisor access at CPL 3
    mmu.cpl = 0;
    expect(mmu.read32(0x6000)).toBe(0x22);
    // The flushes leave it alone: it is not a page's entry.
    mmu.cpl = 3;
    mmu.setCr3(0x1000);
    mmu.setCr0(mmu.control.cr0 ^ CR0_WP);
    expect(mmu.tlbRead[TLB_CPL]).toBe(TLB_USER);
    expect(mmu.tlbWrite[TLB_CPL]).toBe(TLB_USER);
  });

  it('the inlined hit path of the README gives what read32 and write32 give, hit or not', () => {
    const { mem, mmu, map } = setup();
    mem.addMmio(0xfee0_0000, 0x1000, { read: (offset) => 0x4200 + offset, write: () => {} });
    mem.write32(0x1000 + (0xfee0_0000 >>> 22) * 4, 0x3000 | 7);
    mem.write32(0x3000 + 0x200 * 4, 0xfee0_0000 | 7);
    map(0x5000, 0x9000, 7 | 0x60);
    map(0x6000, 0xa000, 3 | 0x60); // supervisor only
    map(0x7000, 0xb000, 7 | 0x20); // clean: the first write walks to set D
    for (let i = 0; i < 3 * 1024; i++) mem.write32(0x9000 + i * 4, (i * 2654435761) >>> 0);
    const words = mem.ram32.length;
    const addrs = [0x5000, 0x5004, 0x5ffc, 0x5001, 0x5002, 0x5ffd, 0x5fff, 0x6008, 0x7010, 0xfee0_0010];
    for (const u of [0, 1] as const) {
      for (const lin of addrs) {
        for (let round = 0; round < 2; round++) {
          let expected: number | PageFault;
          try {
            expected = mmu.read32(lin, u);
          } catch (e) {
            expected = e as PageFault;
          }
          if (expected instanceof PageFault) {
            expect(() => inlinedRead32(mmu, mem.ram32, words, lin, u), `${lin} u=${u}`).toThrow(PageFault);
          } else expect(inlinedRead32(mmu, mem.ram32, words, lin, u), `${lin} u=${u}`).toBe(expected);
        }
      }
    }
    for (const lin of [0x5008, 0x5ffe, 0x7010, 0x7010]) {
      inlinedWrite32(mmu, mem.ram32, words, lin, 0xdead_beef, 0);
      expect(mmu.read32(lin, 0)).toBe(0xdead_beef);
    }
    expect(mem.read32(0xb010)).toBe(0xdead_beef);
    expect(mem.read8(0x2000 + 7 * 4) & 0x40).toBe(0x40); // the slow call set the dirty bit
    const before = mem.read32(0xa000);
    expect(() => inlinedWrite32(mmu, mem.ram32, words, 0x6000, before ^ 1, 1)).toThrow(PageFault);
    expect(mem.read32(0xa000)).toBe(before);
  });

  it("walks the caller's control registers when given them, and flush(false) drops what they change", () => {
    const mem = new PhysicalMemory(4 << 20);
    const cpu = { cr0: 0, cr3: 0, cr4: 0, efer: 0, eip: 0 };
    const mmu = new Mmu(mem, cpu);
    expect(mmu.control).toBe(cpu);
    mem.write32(0x9010, 0x1111_1111);
    mem.write32(0x5010, 0x2222_2222);
    expect(mmu.read32(0x5010, 0)).toBe(0x2222_2222); // paging off: identity
    mem.write32(0x1000, 0x2000 | 7);
    mem.write32(0x2000 + 5 * 4, 0x9000 | 7);
    cpu.cr3 = 0x1000;
    cpu.cr0 = CR0_PG | 1;
    expect(mmu.read32(0x5010, 0)).toBe(0x2222_2222); // the identity entry until a flush
    mmu.flush(false);
    expect(mmu.read32(0x5010, 0)).toBe(0x1111_1111);
    expect(mem.read32(0x2000 + 5 * 4) & 0x20).toBe(0x20); // accessed, through the shared CR3
  });

  it('PAE entered through the control registers alone reads the PDPTEs from memory at each walk', () => {
    const mem = new PhysicalMemory(4 << 20);
    const cpu = { cr0: 0, cr3: 0x3000, cr4: CR4_PAE, efer: 0 };
    const mmu = new Mmu(mem, cpu);
    mem.write32(0x3000, 0x4000 | 1); // PDPTE 0 → page directory at 0x4000
    mem.write32(0x4000, 0x83 | 0x4); // 2 MiB page at 0, user, writable
    cpu.cr0 = CR0_PG | 1;
    mmu.flush(false);
    mmu.write32(0x1_2344, 0xabcd_0123, 0);
    expect(mem.read32(0x1_2344)).toBe(0xabcd_0123);
    mem.write32(0x3000, 0); // PDPTE 0 not present: no register holds the old one
    mmu.flush(false);
    expect(() => mmu.read32(0x1_2344, 0)).toThrow(PageFault);
    // Loading CR3 through the setter loads the registers, which then stay until the next load.
    mem.write32(0x3000, 0x4000 | 1);
    expect(mmu.setCr3(0x3000)).toBe(true);
    mem.write32(0x3000, 0);
    mmu.flush(false);
    expect(mmu.read32(0x1_2344, 0)).toBe(0xabcd_0123);
  });

  it('a subclass reports denied accesses its own way, before any byte of the access changes', () => {
    class Denied extends Error {
      constructor(
        readonly linear: number,
        readonly errorCode: number,
      ) {
        super('denied');
      }
    }
    class OwnFaults extends Mmu {
      protected override pageFault(linear: number, errorCode: number): never {
        throw new Denied(linear, errorCode);
      }
    }
    const mem = new PhysicalMemory(4 << 20);
    const mmu = new OwnFaults(mem);
    mem.write32(0x1000, 0x2000 | 7);
    mem.write32(0x2000 + 5 * 4, 0x9000 | 7); // linear 0x5000 → 0x9000; 0x6000 not present
    mmu.setCr3(0x1000);
    mmu.setCr0(CR0_PG | 1);
    mem.write32(0x9ffc, 0x0102_0304);
    let caught: unknown;
    try {
      mmu.write32(0x5ffe, 0xffff_ffff, 1);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(Denied);
    expect((caught as Denied).linear).toBe(0x6000); // the second page's first byte
    expect((caught as Denied).errorCode).toBe(0b110); // not present, write, user
    expect(mem.read32(0x9ffc)).toBe(0x0102_0304);
  });
});

describe('upper-half hit path constants', () => {
  it('the private copies the 64-bit hit path uses agree with the exported constants', () => {
    expect(HIGH_PATH_CONSTANTS).toEqual([
      TLB_HIGH_ENTRIES - 1,
      1 / PAGE_SIZE,
      TlbFlag.ram,
      TlbFlag.readSup,
      TlbFlag.writeSup,
    ]);
  });
});
