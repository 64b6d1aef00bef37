import type { GuestMemory } from '@ringzero/memory';

/**
 * What the Linux and Multiboot loaders share: the PC memory map they report and the flat boot
 * GDT the CPU starts with.
 */

/** One range of the physical memory map (type 1: usable RAM, 2: reserved). */
export interface MemoryRange {
  readonly base: number;
  readonly size: number;
  readonly type: number;
}

/** Low RAM, the legacy hole (EBDA, VGA, option ROMs, BIOS), and RAM above 1 MiB. */
export function pcMemoryMap(ramEnd: number): MemoryRange[] {
  return [
    { base: 0, size: 0x9fc00, type: 1 },
    { base: 0x9fc00, size: 0x400, type: 2 },
    { base: 0xf0000, size: 0x10000, type: 2 },
    { base: 0x100000, size: ramEnd - 0x100000, type: 1 },
  ];
}

/** Selectors of the boot GDT: Linux's __BOOT_CS and __BOOT_DS. */
export const BOOT_CS = 0x10;
export const BOOT_DS = 0x18;
/** Limit of the boot GDT (four descriptors). */
export const BOOT_GDT_LIMIT = 0x1f;

/** Writes a GDT at `at` with flat 4 GiB code (`BOOT_CS`) and data (`BOOT_DS`) descriptors. */
export function writeBootGdt(mem: GuestMemory, at: number): void {
  mem.writeBytes(at, new Uint8Array(BOOT_GDT_LIMIT + 1));
  mem.write32(at + BOOT_CS, 0x0000ffff);
  mem.write32(at + BOOT_CS + 4, 0x00cf9b00);
  mem.write32(at + BOOT_DS, 0x0000ffff);
  mem.write32(at + BOOT_DS + 4, 0x00cf9300);
}
