import type { PortDevice } from './device';

export const MISC_PORTS = { systemControlA: 0x92, postCode: 0x80, debugExit: 0xf4 } as const;

/**
 * Port 0x92, "system control port A": bit 1 is the fast A20 gate, bit 0 a fast CPU reset
 * (a 0→1 transition resets).
 */
export class SystemControlPortA implements PortDevice {
  private value = 0x02;

  constructor(private readonly opts: { onA20?: (enabled: boolean) => void; onReset?: () => void } = {}) {}

  read(): number {
    return this.value;
  }

  write(_offset: number, _size: 1 | 2 | 4, v: number): void {
    const old = this.value;
    this.value = v & 0x03;
    if (((old ^ v) & 2) !== 0) this.opts.onA20?.((v & 2) !== 0);
    if ((old & 1) === 0 && (v & 1) !== 0) this.opts.onReset?.();
  }
}

/** Port 0x80: the POST-code port. Writes are recorded (the last 64) and otherwise ignored. */
export class PostCodePort implements PortDevice {
  readonly codes: number[] = [];
  last = 0;
  writes = 0;

  read(): number {
    return this.last;
  }

  write(_offset: number, _size: 1 | 2 | 4, v: number): void {
    this.last = v & 0xff;
    this.writes++;
    this.codes.push(this.last);
    if (this.codes.length > 64) this.codes.shift();
  }
}

/**
 * A debug-exit port in the style of QEMU's isa-debug-exit: writing `v` ends the run with exit
 * status `(v << 1) | 1`, so a test guest can report success or failure.
 */
export class DebugExitPort implements PortDevice {
  constructor(private readonly onExit: (status: number) => void) {}

  read(): number {
    return 0xff;
  }

  write(_offset: number, size: 1 | 2 | 4, v: number): void {
    const mask = size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    this.onExit((((v & mask) << 1) | 1) >>> 0);
  }
}
