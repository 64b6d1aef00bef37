import { MemoryError } from './errors';
import type { PhysicalMemory } from './physical';

/** A snapshot of guest physical memory: RAM contents and the A20 gate. */
export interface MemorySnapshot {
  readonly format: 'ringzero-memory';
  readonly version: 1;
  readonly size: number;
  readonly a20: boolean;
  readonly ram: Uint8Array;
}

/** Copies RAM and the A20 state. ROM and MMIO regions belong to their owners' snapshots. */
export function saveMemory(mem: PhysicalMemory): MemorySnapshot {
  return { format: 'ringzero-memory', version: 1, size: mem.size, a20: mem.a20Enabled, ram: mem.ram.slice() };
}

/**
 * Restores a snapshot into memory of the same size. Anything malformed (wrong format or
 * version, size mismatch, truncated RAM) is rejected before any byte of the guest changes.
 */
export function restoreMemory(mem: PhysicalMemory, snap: unknown): void {
  const s = snap as Partial<MemorySnapshot> | null;
  if (s === null || typeof s !== 'object' || s.format !== 'ringzero-memory') {
    throw new MemoryError('bad-snapshot', 'not a ringzero memory snapshot', snap);
  }
  if (s.version !== 1)
    throw new MemoryError('bad-snapshot', `unsupported snapshot version ${String(s.version)}`, s.version);
  if (s.size !== mem.size) {
    throw new MemoryError(
      'bad-snapshot',
      `snapshot has ${String(s.size)} bytes of RAM, this machine ${mem.size}`,
      s.size,
    );
  }
  if (!(s.ram instanceof Uint8Array) || s.ram.length !== mem.size) {
    throw new MemoryError(
      'bad-snapshot',
      `snapshot RAM is truncated (${s.ram?.length ?? 0} of ${mem.size} bytes)`,
      s.ram?.length,
    );
  }
  if (typeof s.a20 !== 'boolean')
    throw new MemoryError('bad-snapshot', 'snapshot lacks the A20 state', s.a20);
  mem.writeBytes(0, s.ram);
  mem.setA20(s.a20);
}
