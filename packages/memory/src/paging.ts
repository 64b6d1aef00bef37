import type { GuestMemory } from './physical';

/** Kind of memory access, for permission checks and the page-fault error code. */
export const Access = { read: 0, write: 1, fetch: 2 } as const;
export type Access = (typeof Access)[keyof typeof Access];

/** Paging mode, chosen by CR0.PG, CR4.PAE and EFER.LMA (SDM Vol. 3A §4.1.1). */
export const PagingMode = { none: 0, bits32: 1, pae: 2, level4: 3 } as const;
export type PagingMode = (typeof PagingMode)[keyof typeof PagingMode];

/** Page-fault error code bits (SDM Vol. 3A §4.7, figure 4-12). */
export const PfError = { present: 1, write: 2, user: 4, reserved: 8, fetch: 16 } as const;

export const CR0_WP = 1 << 16;
export const CR0_PG = 1 << 31;
export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;
export const CR4_PGE = 1 << 7;
export const CR4_SMEP = 1 << 20;
export const CR4_SMAP = 1 << 21;
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
export const EFER_NXE = 1 << 11;

/** The control-register state the walker needs. */
export interface PagingControl {
  cr0: number;
  cr3: number;
  cr4: number;
  efer: number;
}

/** Physical address width assumed for reserved-bit checks (a 36-bit-address P6-class CPU). */
export const MAX_PHYS_BITS = 36;
/** Reserved high bits of a 64-bit entry's upper half below bit 63 (bits 62..MAX_PHYS_BITS). */
const HI_RESERVED = (0x7fff_ffff & ~((1 << (MAX_PHYS_BITS - 32)) - 1)) >>> 0;

/** The outcome of one walk, written into a reused object. */
export class WalkResult {
  /** Whether the access is allowed. */
  ok = false;
  /** Physical address (when ok). */
  physical = 0;
  /** Page-fault error code (when not ok). */
  errorCode = 0;
  /** Size of the mapping page: 4 KiB, 2 MiB, 4 MiB or 1 GiB. */
  pageSize = 4096;
  /** Effective rights of the whole walk. */
  userPage = false;
  writable = false;
  noExecute = false;
  global = false;
  /** Whether the final entry already has D set (so later writes need no walk). */
  dirty = false;
}

function pfCode(present: boolean, access: Access, user: boolean, rsvd: boolean, fetchBit: boolean): number {
  return (
    (present ? PfError.present : 0) |
    (access === Access.write ? PfError.write : 0) |
    (user ? PfError.user : 0) |
    (rsvd ? PfError.reserved : 0) |
    (access === Access.fetch && fetchBit ? PfError.fetch : 0)
  );
}

/** The paging mode for a control state. */
export function pagingMode(c: PagingControl): PagingMode {
  if ((c.cr0 & CR0_PG) === 0) return PagingMode.none;
  if ((c.cr4 & CR4_PAE) === 0) return PagingMode.bits32;
  return (c.efer & EFER_LMA) !== 0 ? PagingMode.level4 : PagingMode.pae;
}

/** Two to the 32nd: splits a 64-bit linear address held in a number into its halves. */
const TWO32 = 4294967296;

/**
 * Translates a linear address by walking the paging structures in `mem`, checking rights and
 * setting accessed/dirty bits exactly as SDM Vol. 3A §4.3–4.8 describe. A/D bits are written
 * only when the access succeeds. `user` is a CPL-3 access; `ac` is EFLAGS.AC (for SMAP).
 * `pdpte` holds the four PAE PDPTE registers (lo, hi pairs) loaded at CR3 write time.
 *
 * `linear` is a 32-bit address (taken modulo 2^32) with 32-bit and PAE paging; with 4-level
 * paging it is the 64-bit address as a signed number (canonical addresses are exactly the
 * integers in [-2^47, 2^47)), of which bits 47:0 are translated (the canonical check belongs to
 * the caller, SDM Vol. 3A §3.3.7.1). The walk allocates nothing.
 */
export function walk(
  mem: GuestMemory,
  c: PagingControl,
  linear: number,
  access: Access,
  user: boolean,
  ac: boolean,
  out: WalkResult,
  pdpte?: Uint32Array,
): WalkResult {
  const mode = pagingMode(c);
  out.ok = false;
  out.errorCode = 0;
  out.global = false;
  out.dirty = true;
  const lo = linear >>> 0;
  if (mode === PagingMode.none) {
    out.ok = true;
    out.physical = lo;
    out.pageSize = 4096;
    out.userPage = true;
    out.writable = true;
    out.noExecute = false;
    return out;
  }
  const nxe = mode !== PagingMode.bits32 && (c.efer & EFER_NXE) !== 0;
  const fetchBit = (c.cr4 & CR4_SMEP) !== 0 || nxe;
  // Entries used, for the A/D updates once the access is known to succeed (at most four).
  let used = 0;
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  let us = true;
  let rw = true;
  let xd = false;
  let phys = 0;
  let size = 4096;
  let finalAddr = 0;
  let finalLo = 0;
  let notPresent = false;
  let reserved = false;

  if (mode === PagingMode.bits32) {
    const pdeAddr = (c.cr3 & 0xfffff000) + ((lo >>> 22) << 2);
    const pde = mem.read32(pdeAddr);
    if ((pde & 1) === 0) notPresent = true;
    else {
      us = (pde & 4) !== 0;
      rw = (pde & 2) !== 0;
      a0 = pdeAddr;
      used = 1;
      if ((pde & 0x80) !== 0 && (c.cr4 & CR4_PSE) !== 0) {
        // 4 MiB page; bits 21:13 reserved (no PSE-36 address bits are modelled).
        if ((pde & 0x003fe000) !== 0) reserved = true;
        size = 4 << 20;
        phys = ((pde & 0xffc00000) >>> 0) + (lo & 0x3fffff);
        finalAddr = pdeAddr;
        finalLo = pde;
      } else {
        const pteAddr = (pde & 0xfffff000) + (((lo >>> 12) & 0x3ff) << 2);
        const pte = mem.read32(pteAddr);
        if ((pte & 1) === 0) notPresent = true;
        else {
          us &&= (pte & 4) !== 0;
          rw &&= (pte & 2) !== 0;
          a1 = pteAddr;
          used = 2;
          phys = ((pte & 0xfffff000) >>> 0) + (lo & 0xfff);
          finalAddr = pteAddr;
          finalLo = pte;
        }
      }
    }
  } else {
    // PAE (3 levels, the first from the PDPTE registers) or 4-level paging; 8-byte entries.
    // Bits 47:32 of the linear address (4-level paging only).
    const hi = mode === PagingMode.level4 ? Math.floor(linear / TWO32) & 0xffff : 0;
    let table = 0;
    let level: number;
    if (mode === PagingMode.pae) {
      const i = lo >>> 30;
      const plo = pdpte ? pdpte[i * 2]! : mem.read32((c.cr3 & 0xffffffe0) + i * 8);
      const phi = pdpte ? pdpte[i * 2 + 1]! : mem.read32((c.cr3 & 0xffffffe0) + i * 8 + 4);
      if ((plo & 1) === 0) notPresent = true;
      table = (phi & 0xf) * TWO32 + ((plo & 0xfffff000) >>> 0);
      level = 2;
    } else {
      table = Math.floor(c.cr3 / 4096) * 4096;
      level = 4;
    }
    while (!notPresent) {
      const index =
        level === 4
          ? (hi >>> 7) & 511
          : level === 3
            ? ((hi & 0x7f) << 2) | (lo >>> 30)
            : level === 2
              ? (lo >>> 21) & 511
              : (lo >>> 12) & 511;
      const addr = table + index * 8;
      const elo = mem.read32(addr);
      const ehi = mem.read32(addr + 4);
      if ((elo & 1) === 0) {
        notPresent = true;
        break;
      }
      // Reserved: physical-address bits above the width; XD without NXE; PS where not allowed;
      // the low bits of a large page's address field (SDM Vol. 3A §4.4.2, §4.5.4).
      const ps = (elo & 0x80) !== 0;
      if (
        (ehi & HI_RESERVED) !== 0 ||
        (!nxe && (ehi & 0x8000_0000) !== 0) ||
        (level === 4 && ps) ||
        (level === 3 && ps && (elo & 0x3fffe000) !== 0) ||
        (level === 2 && ps && (elo & 0x001fe000) !== 0)
      ) {
        reserved = true;
        break;
      }
      us &&= (elo & 4) !== 0;
      rw &&= (elo & 2) !== 0;
      if (nxe && (ehi & 0x8000_0000) !== 0) xd = true;
      if (used === 0) a0 = addr;
      else if (used === 1) a1 = addr;
      else if (used === 2) a2 = addr;
      else a3 = addr;
      used++;
      const frameHi = (ehi & 0xfffff) * TWO32;
      if (level === 1) {
        phys = frameHi + ((elo & 0xfffff000) >>> 0) + (lo & 0xfff);
      } else if (level === 2 && ps) {
        size = 2 << 20;
        phys = frameHi + ((elo & 0xffe00000) >>> 0) + (lo & 0x1fffff);
      } else if (level === 3 && ps) {
        size = 1 << 30;
        phys = frameHi + ((elo & 0xc0000000) >>> 0) + (lo & 0x3fffffff);
      } else {
        table = frameHi + ((elo & 0xfffff000) >>> 0);
        level--;
        continue;
      }
      finalAddr = addr;
      finalLo = elo;
      break;
    }
  }
  if (notPresent || reserved) {
    out.errorCode = pfCode(!notPresent, access, user, reserved, fetchBit);
    return out;
  }

  // Access rights (SDM Vol. 3A §4.6).
  const wp = (c.cr0 & CR0_WP) !== 0;
  const smep = (c.cr4 & CR4_SMEP) !== 0;
  const smap = (c.cr4 & CR4_SMAP) !== 0;
  let allowed: boolean;
  if (user) {
    if (access === Access.read) allowed = us;
    else if (access === Access.write) allowed = us && rw;
    else allowed = us && !xd;
  } else if (access === Access.fetch) {
    allowed = !xd && !(smep && us);
  } else {
    const smapBlocks = smap && us && !ac;
    allowed = !smapBlocks && (access === Access.read || rw || !wp);
  }
  if (!allowed) {
    out.errorCode = pfCode(true, access, user, false, fetchBit);
    return out;
  }

  // Accessed flags on every entry used; dirty on the final entry for writes (§4.8).
  setAccessed(mem, a0);
  if (used > 1) setAccessed(mem, a1);
  if (used > 2) setAccessed(mem, a2);
  if (used > 3) setAccessed(mem, a3);
  let d = (finalLo & 0x40) !== 0;
  if (access === Access.write && !d) {
    const v = mem.read32(finalAddr);
    mem.write32(finalAddr, v | 0x40);
    d = true;
  }
  out.ok = true;
  out.physical = phys;
  out.pageSize = size;
  out.userPage = us;
  out.writable = rw;
  out.noExecute = xd;
  out.global = (finalLo & 0x100) !== 0 && (c.cr4 & CR4_PGE) !== 0;
  out.dirty = d;
  return out;
}

function setAccessed(mem: GuestMemory, addr: number): void {
  const v = mem.read32(addr);
  if ((v & 0x20) === 0) mem.write32(addr, v | 0x20);
}

/**
 * Loads the four PAE PDPTE registers from CR3 (SDM Vol. 3A §4.4.1). Returns false when a present
 * PDPTE has reserved bits set, in which case the CPU raises #GP(0) for the MOV to CR3.
 */
export function loadPdptes(mem: GuestMemory, cr3: number, out: Uint32Array): boolean {
  const base = cr3 & 0xffffffe0;
  for (let i = 0; i < 4; i++) {
    const lo = mem.read32(base + i * 8);
    const hi = mem.read32(base + i * 8 + 4);
    if ((lo & 1) !== 0) {
      if ((lo & 0x1e6) !== 0 || (hi & (HI_RESERVED | 0x8000_0000)) !== 0) return false;
    }
    out[i * 2] = lo;
    out[i * 2 + 1] = hi;
  }
  return true;
}
