/**
 * The small interfaces every device is written against. A device knows nothing of the bus or
 * the CPU: it is read and written by register offset, raises interrupt lines, and reads time
 * from a clock the hypervisor provides (virtual time, possibly derived from the instruction
 * count, never the host clock directly).
 */

/** An interrupt request line into an interrupt controller. */
export interface IrqLine {
  /** Drives the line: true is asserted. Edge-triggered inputs latch on the rising edge. */
  set(level: boolean): void;
}

/** A line that goes nowhere (for devices whose interrupt is not wired). */
export const NO_IRQ: IrqLine = { set: () => {} };

/** Virtual time in nanoseconds since the machine started. */
export interface Clock {
  now(): number;
}

/** A device on the I/O port bus: `offset` is relative to the device's first port. */
export interface PortDevice {
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
}

/** A device with timed events (timers, the RTC): the hypervisor advances it. */
export interface TimedDevice {
  /** Virtual time (ns) of the next event that changes the device's outputs, or Infinity. */
  nextEventTime(): number;
  /** Brings the device up to `now`, raising the interrupts that fell due. */
  advance(now: number): void;
}

/** What went wrong restoring a device: a stable code and the offending value. */
export class DeviceStateError extends Error {
  readonly code = 'bad-state';
  readonly value: unknown;

  constructor(device: string, message: string, value: unknown) {
    super(`${device}: ${message}`);
    this.name = 'DeviceStateError';
    this.value = value;
  }
}

/** Reads an integer field of a saved state, checking its range. */
export function stateInt(
  device: string,
  s: Record<string, unknown>,
  key: string,
  min: number,
  max: number,
): number {
  const v = s[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new DeviceStateError(device, `field ${key} must be an integer in ${min}..${max}`, v);
  }
  return v;
}

/** Reads a byte array field of a saved state, checking its length bound. */
export function stateBytes(
  device: string,
  s: Record<string, unknown>,
  key: string,
  maxLength: number,
): number[] {
  const v = s[key];
  if (
    !Array.isArray(v) ||
    v.length > maxLength ||
    !v.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)
  ) {
    throw new DeviceStateError(device, `field ${key} must be at most ${maxLength} bytes`, v);
  }
  return v as number[];
}

/** Checks the envelope of a saved state: an object with the expected device name and version. */
export function stateObject(device: string, s: unknown, version: number): Record<string, unknown> {
  if (s === null || typeof s !== 'object') throw new DeviceStateError(device, 'state is not an object', s);
  const o = s as Record<string, unknown>;
  if (o.device !== device) throw new DeviceStateError(device, `state is for ${String(o.device)}`, o.device);
  if (o.version !== version)
    throw new DeviceStateError(device, `unsupported state version ${String(o.version)}`, o.version);
  return o;
}
