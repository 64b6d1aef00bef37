import type { PortDevice } from '@ringzero/devices';

/**
 * The I/O port bus: maps port ranges to devices, which see offsets from their first port. Reads
 * of unmapped ports return all ones and writes are dropped; both are counted per port.
 */
export class PortBus {
  private readonly device: (PortDevice | undefined)[] = new Array(0x10000);
  private readonly base = new Uint16Array(0x10000);
  /** Accesses to ports no device claims, by port. */
  readonly unclaimed = new Map<number, number>();
  /** Accesses per port (reads + writes), for `--stats`. */
  readonly counts = new Map<number, number>();
  countAccesses = false;

  map(first: number, count: number, dev: PortDevice): void {
    for (let p = first; p < first + count && p < 0x10000; p++) {
      this.device[p] = dev;
      this.base[p] = first;
    }
  }

  read(port: number, size: 1 | 2 | 4): number {
    port &= 0xffff;
    if (this.countAccesses) this.counts.set(port, (this.counts.get(port) ?? 0) + 1);
    const d = this.device[port];
    if (d === undefined) {
      this.unclaimed.set(port, (this.unclaimed.get(port) ?? 0) + 1);
      return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    }
    return d.read(port - this.base[port]!, size);
  }

  write(port: number, size: 1 | 2 | 4, value: number): void {
    port &= 0xffff;
    if (this.countAccesses) this.counts.set(port, (this.counts.get(port) ?? 0) + 1);
    const d = this.device[port];
    if (d === undefined) {
      this.unclaimed.set(port, (this.unclaimed.get(port) ?? 0) + 1);
      return;
    }
    d.write(port - this.base[port]!, size, value);
  }
}
