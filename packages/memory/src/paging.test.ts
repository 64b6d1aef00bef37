import { describe, expect, it } from 'vitest';
import {
  Access,
  CR0_PG,
  CR0_WP,
  CR4_PAE,
  CR4_PSE,
  CR4_SMAP,
  CR4_SMEP,
  EFER_LMA,
  EFER_NXE,
  loadPdptes,
  type PagingControl,
  WalkResult,
  walk,
} from './paging';
import { PhysicalMemory } from './physical';

/*
 * The permission test, in the spirit of KVM's `access` test: every combination of the bits of
 * the last two paging levels × access kind × CPL × CR0.WP × EFER.NXE × CR4.SMEP × CR4.SMAP ×
 * EFLAGS.AC, in each paging mode. The expected outcome comes from `EXPECT` below: the rules of
 * SDM Vol. 3A §4.6 (access rights), §4.7 (error code) and §4.8 (A/D bits) written as a table of
 * its own, not computed by the walker under test.
 */

type Kind = 'read' | 'write' | 'fetch';
const KINDS: readonly Kind[] = ['read', 'write', 'fetch'];
const ACCESS: Record<Kind, Access> = { read: Access.read, write: Access.write, fetch: Access.fetch };

interface Ctx {
  user: boolean;
  wp: boolean;
  nxe: boolean;
  smep: boolean;
  smap: boolean;
  ac: boolean;
}

/** Rights of the whole walk: U = U/S set at every level, W = R/W at every level, X = no XD. */
type Rule = (U: boolean, W: boolean, X: boolean, c: Ctx) => boolean;

/** SDM Vol. 3A §4.6.1: who may do what, by mode of the access. */
const EXPECT: Record<`${'user' | 'supervisor'}-${Kind}`, Rule> = {
  'user-read': (U) => U,
  'user-write': (U, W) => U && W,
  'user-fetch': (U, _W, X) => U && X,
  // Supervisor data accesses to user pages are blocked by SMAP unless EFLAGS.AC = 1.
  'supervisor-read': (U, _W, _X, c) => !(c.smap && U && !c.ac),
  // With CR0.WP = 0, supervisor writes ignore R/W.
  'supervisor-write': (U, W, _X, c) => !(c.smap && U && !c.ac) && (W || !c.wp),
  // SMEP forbids supervisor fetches from user pages; XD forbids all fetches.
  'supervisor-fetch': (U, _W, X, c) => X && !(c.smep && U),
};

interface Entry {
  p: boolean;
  rw: boolean;
  us: boolean;
  a: boolean;
  d: boolean;
  nx: boolean;
  /** PS: the entry maps a large page (PDE only). */
  ps: boolean;
  /** One reserved bit set: bit 21 of a 4 MiB PDE, bit 40 (above the 36-bit physical width) otherwise. */
  rsvd: boolean;
}

function bitsOf(n: number): Entry {
  return {
    p: !!(n & 1),
    rw: !!(n & 2),
    us: !!(n & 4),
    a: !!(n & 8),
    d: !!(n & 16),
    nx: !!(n & 32),
    rsvd: !!(n & 64),
    ps: !!(n & 128),
  };
}

function contexts(withNxe: boolean): Ctx[] {
  const out: Ctx[] = [];
  for (let i = 0; i < 64; i++) {
    const nxe = !!(i & 4);
    if (nxe && !withNxe) continue;
    out.push({ user: !!(i & 1), wp: !!(i & 2), nxe, smep: !!(i & 8), smap: !!(i & 16), ac: !!(i & 32) });
  }
  return out;
}

/** Expected error code (§4.7): P, W/R, U/S, RSVD, I/D. */
function errorCode(present: boolean, kind: Kind, c: Ctx, rsvd: boolean, pae: boolean): number {
  const id = kind === 'fetch' && (c.smep || (pae && c.nxe));
  return (present ? 1 : 0) | (kind === 'write' ? 2 : 0) | (c.user ? 4 : 0) | (rsvd ? 8 : 0) | (id ? 16 : 0);
}

function control(mode: '32' | 'pae' | '4l', c: Ctx, cr3: number): PagingControl {
  return {
    cr0: CR0_PG | (c.wp ? CR0_WP : 0) | 1,
    cr3,
    cr4: (mode === '32' ? CR4_PSE : CR4_PAE) | (c.smep ? CR4_SMEP : 0) | (c.smap ? CR4_SMAP : 0),
    efer: (c.nxe ? EFER_NXE : 0) | (mode === '4l' ? EFER_LMA : 0),
  };
}

const LIN = 0x0040_5123; // PDE index 1 (32-bit) / PDPT 0, PD 2, PT 5 (PAE, 4-level)
const PAGE = 0x8000; // the 4 KiB page a PTE maps
const LARGE = 0x40_0000; // the 4 MiB or 2 MiB page a PDE with PS = 1 maps

type Mode = '32' | 'pae' | '4l';

/** Fixed tables: the root (and PML4E/PDPTE) at 0x1000/0x4000, the PD at 0x3000, the PT at 0x2000. */
function layout(mem: PhysicalMemory, mode: Mode) {
  mem.writeBytes(0, new Uint8Array(0x10000));
  if (mode === '32')
    return { cr3: 0x1000, pde: 0x1000 + (LIN >>> 22) * 4, pte: 0x2000 + ((LIN >>> 12) & 0x3ff) * 4 };
  if (mode === 'pae')
    mem.write32(0x1000, 0x3000 | 1); // PDPTE 0 (no R/W, U/S in PAE PDPTEs)
  else {
    mem.write32(0x1000, 0x4000 | 0x27); // PML4E 0: P, R/W, U/S, A
    mem.write32(0x4000, 0x3000 | 0x27); // PDPTE 0
  }
  return { cr3: 0x1000, pde: 0x3000 + ((LIN >>> 21) & 511) * 8, pte: 0x2000 + ((LIN >>> 12) & 511) * 8 };
}

/** Writes one entry: the low and (for 8-byte entries) high words. */
function put(
  mem: PhysicalMemory,
  mode: Mode,
  addr: number,
  e: Entry,
  target: number,
  leafLarge: boolean,
): void {
  let lo = (e.p ? 1 : 0) | (e.rw ? 2 : 0) | (e.us ? 4 : 0) | (e.a ? 0x20 : 0) | (e.d ? 0x40 : 0) | target;
  if (e.ps) lo |= 0x80;
  if (mode === '32') {
    if (e.rsvd && leafLarge) lo |= 1 << 21;
    mem.write32(addr, lo >>> 0);
    return;
  }
  mem.write32(addr, lo >>> 0);
  mem.write32(addr + 4, (e.nx ? 0x8000_0000 : 0) | (e.rsvd ? 1 << 8 : 0));
}

/** The cases of one mode: upper (PDE) × lower (PTE, absent when the PDE maps a large page). */
function* cases(mode: Mode): Generator<[Entry, Entry | undefined]> {
  const wide = mode !== '32';
  for (let u = 0; u < 256; u++) {
    const upper = bitsOf(u);
    if (!wide && upper.nx) continue; // 4-byte entries have no XD bit
    if (!upper.ps && upper.d) continue; // D is ignored in a PDE that references a page table
    if (!wide && !upper.ps && upper.rsvd) continue; // a 32-bit PDE for a page table has no reserved bits
    if (upper.ps) {
      yield [upper, undefined];
      continue;
    }
    for (let l = 0; l < 128; l++) {
      const lower = bitsOf(l);
      if (!wide && (lower.nx || lower.rsvd)) continue; // 32-bit PTEs: no XD, no reserved bits
      yield [upper, lower];
    }
  }
}

function runMode(mode: Mode): { checked: number; failures: string[] } {
  const mem = new PhysicalMemory(8 << 20);
  const out = new WalkResult();
  const failures: string[] = [];
  const pdpte = new Uint32Array(8);
  const wide = mode !== '32';
  const { cr3, pde, pte } = layout(mem, mode);
  if (mode === 'pae') loadPdptes(mem, cr3, pdpte);
  const PTE_CANARY = 0x0bad_0000 | 0x67; // what a PTE holds when a large page makes it unused
  let checked = 0;
  for (const [upper, lower] of cases(mode)) {
    for (const c of contexts(wide)) {
      for (const kind of KINDS) {
        put(mem, mode, pde, upper, upper.ps ? LARGE : 0x2000, upper.ps);
        if (lower) put(mem, mode, pte, lower, PAGE, false);
        else mem.write32(pte, PTE_CANARY);
        walk(
          mem,
          control(mode, c, cr3),
          LIN,
          ACCESS[kind],
          c.user,
          c.ac,
          out,
          mode === 'pae' ? pdpte : undefined,
        );
        checked++;
        // Expected, from the SDM rules. The walk goes top-down: at each level a clear P bit is
        // a not-present fault, then a reserved bit (XD while EFER.NXE = 0 counts) is a
        // reserved-bit fault (§4.7); a PDE with PS = 1 ends the walk.
        const used = lower ? [upper, lower] : [upper];
        let stop: 'np' | 'rsvd' | undefined;
        for (const e of used) {
          if (!e.p) stop = 'np';
          else if (e.rsvd || (wide && !c.nxe && e.nx)) stop = 'rsvd';
          if (stop) break;
        }
        let expOk: boolean;
        let expCode = 0;
        if (stop !== undefined) {
          expOk = false;
          expCode = errorCode(stop === 'rsvd', kind, c, stop === 'rsvd', wide);
        } else {
          const U = used.every((e) => e.us);
          const W = used.every((e) => e.rw);
          const X = !(wide && c.nxe && used.some((e) => e.nx));
          expOk = EXPECT[`${c.user ? 'user' : 'supervisor'}-${kind}`](U, W, X, c);
          if (!expOk) expCode = errorCode(true, kind, c, false, wide);
        }
        const leaf = lower ?? upper;
        const expPhys = lower ? PAGE + (LIN & 0xfff) : LARGE + (LIN & (wide ? 0x1f_ffff : 0x3f_ffff));
        const upperAfter = mem.read32(pde);
        const lowerAfter = mem.read32(pte);
        const bad = (why: string) =>
          failures.push(
            `${mode} pde=${JSON.stringify(upper)} pte=${JSON.stringify(lower)} ${kind} ${JSON.stringify(c)}: ${why}`,
          );
        if (out.ok !== expOk) bad(`ok ${out.ok}, expected ${expOk}`);
        else if (!expOk && out.errorCode !== expCode) bad(`error ${out.errorCode}, expected ${expCode}`);
        else if (expOk && out.physical !== expPhys) bad(`physical ${out.physical.toString(16)}`);
        else if (!!(upperAfter & 0x20) !== (expOk || upper.a)) bad(`PDE accessed bit ${upperAfter & 0x20}`);
        else if (lower && !!(lowerAfter & 0x20) !== (expOk || lower.a))
          bad(`PTE accessed bit ${lowerAfter & 0x20}`);
        else if (!!((lower ? lowerAfter : upperAfter) & 0x40) !== ((expOk && kind === 'write') || leaf.d))
          bad('dirty bit');
        else if (!lower && lowerAfter !== PTE_CANARY) bad('the unused PTE changed');
        else if (lower && !!(upperAfter & 0x40) !== upper.d) bad('dirty bit set in a non-leaf PDE');
        if (failures.length > 10) return { checked, failures };
      }
    }
  }
  return { checked, failures };
}

describe('page walker: exhaustive permission test (SDM Vol. 3A §4.6–4.8)', () => {
  for (const mode of ['32', 'pae', '4l'] as const) {
    it(`${mode === '32' ? '32-bit' : mode === 'pae' ? 'PAE' : '4-level'} paging: every PDE/PTE combination of P, R/W, U/S, A, D, PS, XD and a reserved bit × access × CPL × WP × NXE × SMEP × SMAP × AC`, () => {
      const { checked, failures } = runMode(mode);
      expect(failures).toEqual([]);
      expect(checked).toBe(mode === '32' ? 55_296 : 1_597_440);
    }, 300_000);
  }
});

describe('page walker: page sizes, reserved bits and modes', () => {
  const mem = new PhysicalMemory(1 << 22);
  const out = new WalkResult();
  const sup = { cr0: CR0_PG | 1, cr3: 0x1000, cr4: CR4_PSE, efer: 0 };

  it('paging off: linear equals physical', () => {
    walk(mem, { cr0: 1, cr3: 0, cr4: 0, efer: 0 }, 0x12345678, Access.write, true, false, out);
    expect(out.ok).toBe(true);
    expect(out.physical).toBe(0x12345678);
  });

  it('32-bit paging with CR4.PSE maps 4 MiB pages from a PDE with PS = 1', () => {
    mem.writeBytes(0, new Uint8Array(0x3000));
    mem.write32(0x1000 + 1 * 4, 0x0040_0000 | 0x87);
    walk(mem, sup, 0x0041_2345, Access.read, true, false, out);
    expect(out.ok).toBe(true);
    expect(out.physical).toBe(0x0041_2345);
    expect(out.pageSize).toBe(4 << 20);
  });

  it('a 4 MiB PDE with bits 21:13 set faults with RSVD (error code 0x9 for a supervisor read)', () => {
    mem.write32(0x1000 + 1 * 4, 0x0040_2000 | 0x87);
    walk(mem, sup, 0x0041_2345, Access.read, false, false, out);
    expect(out.ok).toBe(false);
    expect(out.errorCode).toBe(0x9);
  });

  it('without CR4.PSE the PS bit is ignored and the PDE points to a page table', () => {
    mem.write32(0x1000 + 1 * 4, 0x2000 | 0x87);
    mem.write32(0x2000 + 0x12 * 4, 0x5000 | 0x07);
    walk(mem, { ...sup, cr4: 0 }, 0x0041_2345, Access.read, false, false, out);
    expect(out.ok).toBe(true);
    expect(out.physical).toBe(0x5345);
  });

  it('PAE: a PDPTE with reserved bits is rejected when CR3 is loaded (the CPU raises #GP)', () => {
    mem.writeBytes(0, new Uint8Array(0x3000));
    mem.write32(0x1000, 0x3000 | 1 | 0x2); // bit 1 reserved in PAE PDPTEs
    expect(loadPdptes(mem, 0x1000, new Uint32Array(8))).toBe(false);
    mem.write32(0x1000, 0x3000 | 1);
    expect(loadPdptes(mem, 0x1000, new Uint32Array(8))).toBe(true);
  });

  it('4-level paging maps 1 GiB pages and rejects PS in a PML4E', () => {
    mem.writeBytes(0, new Uint8Array(0x6000));
    const ctl = { cr0: CR0_PG | 1, cr3: 0x1000, cr4: CR4_PAE, efer: EFER_LMA };
    mem.write32(0x1000, 0x4000 | 7);
    mem.write32(0x4000 + 1 * 8, 0x4000_0000 | 0x87); // PDPTE 1: 1 GiB page at 1 GiB
    walk(mem, ctl, 0x4012_3456, Access.read, false, false, out);
    expect(out.ok).toBe(true);
    expect(out.physical).toBe(0x4012_3456);
    expect(out.pageSize).toBe(1 << 30);
    mem.write32(0x1000, 0x4000 | 0x87);
    walk(mem, ctl, 0x4012_3456, Access.read, false, false, out);
    expect(out.errorCode).toBe(0x9);
  });
});
