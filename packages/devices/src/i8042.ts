import { type IrqLine, NO_IRQ, type PortDevice, stateBytes, stateInt, stateObject } from './device';

export const I8042_PORTS = { data: 0x60, command: 0x64, keyboardIrq: 1, mouseIrq: 12 } as const;

/** Output bytes waiting for the guest; beyond this, host input is dropped (threat model). */
export const I8042_QUEUE_LIMIT = 256;

const ST_OBF = 0x01;
const ST_SYS = 0x04;
const ST_CMD = 0x08;
const ST_AUX = 0x20;
const CB_KBD_INT = 0x01;
const CB_AUX_INT = 0x02;
const CB_SYS = 0x04;
const CB_KBD_OFF = 0x10;
const CB_AUX_OFF = 0x20;
const CB_XLATE = 0x40;

/** Scan-code set 2 → set 1 translation table (the controller's translation, bit 6 of the command byte). */
const XLATE: readonly number[] = (() => {
  const t = new Array<number>(256).fill(0);
  // Set 2 make codes for the common keys and their set 1 equivalents.
  const pairs: [number, number][] = [
    [0x76, 0x01],
    [0x16, 0x02],
    [0x1e, 0x03],
    [0x26, 0x04],
    [0x25, 0x05],
    [0x2e, 0x06],
    [0x36, 0x07],
    [0x3d, 0x08],
    [0x3e, 0x09],
    [0x46, 0x0a],
    [0x45, 0x0b],
    [0x4e, 0x0c],
    [0x55, 0x0d],
    [0x66, 0x0e],
    [0x0d, 0x0f],
    [0x15, 0x10],
    [0x1d, 0x11],
    [0x24, 0x12],
    [0x2d, 0x13],
    [0x2c, 0x14],
    [0x35, 0x15],
    [0x3c, 0x16],
    [0x43, 0x17],
    [0x44, 0x18],
    [0x4d, 0x19],
    [0x54, 0x1a],
    [0x5b, 0x1b],
    [0x5a, 0x1c],
    [0x14, 0x1d],
    [0x1c, 0x1e],
    [0x1b, 0x1f],
    [0x23, 0x20],
    [0x2b, 0x21],
    [0x34, 0x22],
    [0x33, 0x23],
    [0x3b, 0x24],
    [0x42, 0x25],
    [0x4b, 0x26],
    [0x4c, 0x27],
    [0x52, 0x28],
    [0x0e, 0x29],
    [0x12, 0x2a],
    [0x5d, 0x2b],
    [0x1a, 0x2c],
    [0x22, 0x2d],
    [0x21, 0x2e],
    [0x2a, 0x2f],
    [0x32, 0x30],
    [0x31, 0x31],
    [0x3a, 0x32],
    [0x41, 0x33],
    [0x49, 0x34],
    [0x4a, 0x35],
    [0x59, 0x36],
    [0x7c, 0x37],
    [0x11, 0x38],
    [0x29, 0x39],
    [0x58, 0x3a],
    [0x05, 0x3b],
    [0x06, 0x3c],
    [0x04, 0x3d],
    [0x0c, 0x3e],
    [0x03, 0x3f],
    [0x0b, 0x40],
    [0x83, 0x41],
    [0x0a, 0x42],
    [0x01, 0x43],
    [0x09, 0x44],
    [0x77, 0x45],
    [0x7e, 0x46],
    [0x6c, 0x47],
    [0x75, 0x48],
    [0x7d, 0x49],
    [0x7b, 0x4a],
    [0x6b, 0x4b],
    [0x73, 0x4c],
    [0x74, 0x4d],
    [0x79, 0x4e],
    [0x69, 0x4f],
    [0x72, 0x50],
    [0x7a, 0x51],
    [0x70, 0x52],
    [0x71, 0x53],
    [0x78, 0x57],
    [0x07, 0x58],
  ];
  for (const [s2, s1] of pairs) t[s2] = s1;
  return t;
})();

/**
 * The i8042 keyboard controller with a PS/2 keyboard (scan-code set 2, translated to set 1 when
 * the command byte asks) and a basic PS/2 mouse. Ports by offset: 0 = data (0x60), 4 = status /
 * command (0x64). The output port drives A20 (bit 1) and CPU reset (bit 0 low), reported
 * through callbacks.
 */
export class I8042 implements PortDevice {
  private readonly out: { byte: number; aux: boolean }[] = [];
  private commandByte = CB_KBD_INT | CB_SYS | CB_XLATE;
  private pendingCommand = 0;
  private kbdPending = 0;
  private auxPending = 0;
  private outputPort = 0x03;
  private scanSet = 2;
  private breakPrefix = false;
  private kbdEnabled = true;
  private auxStreaming = false;
  private sampleRate = 100;
  /** Host input dropped because the guest did not read it. */
  dropped = 0;

  constructor(
    private readonly opts: {
      keyboardIrq?: IrqLine;
      mouseIrq?: IrqLine;
      onA20?: (enabled: boolean) => void;
      onReset?: () => void;
    } = {},
  ) {}

  private get kbdIrq(): IrqLine {
    return this.opts.keyboardIrq ?? NO_IRQ;
  }

  private get auxIrq(): IrqLine {
    return this.opts.mouseIrq ?? NO_IRQ;
  }

  private push(byte: number, aux: boolean): boolean {
    if (this.out.length >= I8042_QUEUE_LIMIT) {
      this.dropped++;
      return false;
    }
    this.out.push({ byte: byte & 0xff, aux });
    this.raise();
    return true;
  }

  private raise(): void {
    const head = this.out[0];
    if (head === undefined) return;
    // The controller holds IRQ1/IRQ12 high while its output buffer is full; each new byte is a
    // fresh rising edge for the edge-triggered PIC input.
    if (head.aux) {
      if ((this.commandByte & CB_AUX_INT) !== 0) {
        this.auxIrq.set(false);
        this.auxIrq.set(true);
      }
    } else if ((this.commandByte & CB_KBD_INT) !== 0) {
      this.kbdIrq.set(false);
      this.kbdIrq.set(true);
    }
  }

  /** A key event from the host, as set-2 scan codes (e.g. [0x1c] for "A", [0xf0, 0x1c] to release). */
  keyboardInput(scanCodes: readonly number[]): void {
    if (!this.kbdEnabled || (this.commandByte & CB_KBD_OFF) !== 0) return;
    for (const code of scanCodes) {
      if ((this.commandByte & CB_XLATE) === 0) {
        this.push(code, false);
        continue;
      }
      if (code === 0xf0) {
        this.breakPrefix = true;
        continue;
      }
      if (code === 0xe0 || code === 0xe1) {
        this.push(code, false);
        continue;
      }
      const s1 = XLATE[code & 0xff] ?? 0;
      this.push(this.breakPrefix ? s1 | 0x80 : s1, false);
      this.breakPrefix = false;
    }
  }

  /** Mouse movement from the host: a 3-byte PS/2 packet when the guest enabled streaming. */
  mouseInput(dx: number, dy: number, buttons: number): void {
    if (!this.auxStreaming || (this.commandByte & CB_AUX_OFF) !== 0) return;
    const cx = Math.max(-255, Math.min(255, Math.trunc(dx)));
    const cy = Math.max(-255, Math.min(255, Math.trunc(dy)));
    const b0 = 0x08 | (buttons & 7) | (cx < 0 ? 0x10 : 0) | (cy < 0 ? 0x20 : 0);
    if (this.out.length + 3 > I8042_QUEUE_LIMIT) {
      this.dropped += 3;
      return;
    }
    this.push(b0, true);
    this.push(cx & 0xff, true);
    this.push(cy & 0xff, true);
  }

  read(offset: number): number {
    if ((offset & 4) !== 0) {
      const head = this.out[0];
      return (head ? ST_OBF : 0) | (head?.aux ? ST_AUX : 0) | ST_SYS | (this.pendingCommand ? ST_CMD : 0);
    }
    const item = this.out.shift();
    if (item) (item.aux ? this.auxIrq : this.kbdIrq).set(false);
    if (this.out.length > 0) this.raise();
    return item ? item.byte : 0;
  }

  write(offset: number, _size: 1 | 2 | 4, value: number): void {
    value &= 0xff;
    if ((offset & 4) !== 0) this.controllerCommand(value);
    else this.dataWrite(value);
  }

  private controllerCommand(c: number): void {
    switch (c) {
      case 0x20:
        this.push(this.commandByte, false);
        return;
      case 0x60:
      case 0xd1:
      case 0xd2:
      case 0xd3:
      case 0xd4:
        this.pendingCommand = c;
        return;
      case 0xa7:
        this.commandByte |= CB_AUX_OFF;
        return;
      case 0xa8:
        this.commandByte &= ~CB_AUX_OFF;
        return;
      case 0xa9:
        this.push(0x00, false); // aux interface test passed
        return;
      case 0xaa:
        this.push(0x55, false); // self-test passed
        return;
      case 0xab:
        this.push(0x00, false);
        return;
      case 0xad:
        this.commandByte |= CB_KBD_OFF;
        return;
      case 0xae:
        this.commandByte &= ~CB_KBD_OFF;
        return;
      case 0xc0:
        // Input port: bit 7 set means the keyboard is not inhibited (no keylock).
        this.push(0x80, false);
        return;
      case 0xd0:
        this.push(this.outputPort, false);
        return;
      default:
        if ((c & 0xf0) === 0xf0) {
          // Pulse output lines: bit 0 low pulses CPU reset.
          if ((c & 1) === 0) this.opts.onReset?.();
        }
    }
  }

  private dataWrite(v: number): void {
    const cmd = this.pendingCommand;
    this.pendingCommand = 0;
    switch (cmd) {
      case 0x60:
        this.commandByte = v;
        return;
      case 0xd1: {
        const old = this.outputPort;
        this.outputPort = v;
        if (((old ^ v) & 2) !== 0) this.opts.onA20?.((v & 2) !== 0);
        if ((v & 1) === 0) this.opts.onReset?.();
        return;
      }
      case 0xd2:
        this.push(v, false);
        return;
      case 0xd3:
        this.push(v, true);
        return;
      case 0xd4:
        this.mouseCommand(v);
        return;
      default:
        this.keyboardCommand(v);
    }
  }

  private keyboardCommand(v: number): void {
    if (this.kbdPending !== 0) {
      const c = this.kbdPending;
      this.kbdPending = 0;
      this.push(0xfa, false);
      if (c === 0xf0) {
        if (v === 0) this.push(this.scanSet, false);
        else if (v >= 1 && v <= 3) this.scanSet = v;
      }
      return;
    }
    switch (v) {
      case 0xed: // LEDs
      case 0xf0: // scan-code set
      case 0xf3: // typematic rate
        this.kbdPending = v;
        this.push(0xfa, false);
        return;
      case 0xee:
        this.push(0xee, false);
        return;
      case 0xf2:
        this.push(0xfa, false);
        this.push(0xab, false);
        this.push(0x83, false);
        return;
      case 0xf4:
        this.kbdEnabled = true;
        this.push(0xfa, false);
        return;
      case 0xf5:
        this.kbdEnabled = false;
        this.push(0xfa, false);
        return;
      case 0xf6:
        this.push(0xfa, false);
        return;
      case 0xff:
        this.kbdEnabled = true;
        this.scanSet = 2;
        this.push(0xfa, false);
        this.push(0xaa, false);
        return;
      default:
        this.push(0xfe, false); // resend: unknown command
    }
  }

  private mouseCommand(v: number): void {
    if (this.auxPending !== 0) {
      const c = this.auxPending;
      this.auxPending = 0;
      if (c === 0xf3) this.sampleRate = v;
      this.push(0xfa, true);
      return;
    }
    switch (v) {
      case 0xe8:
      case 0xf3:
        this.auxPending = v;
        this.push(0xfa, true);
        return;
      case 0xe6:
      case 0xe7:
      case 0xea:
      case 0xf6:
        this.push(0xfa, true);
        return;
      case 0xe9:
        this.push(0xfa, true);
        this.push(this.auxStreaming ? 0x20 : 0, true);
        this.push(0x02, true);
        this.push(this.sampleRate, true);
        return;
      case 0xf2:
        this.push(0xfa, true);
        this.push(0x00, true);
        return;
      case 0xf4:
        this.auxStreaming = true;
        this.push(0xfa, true);
        return;
      case 0xf5:
        this.auxStreaming = false;
        this.push(0xfa, true);
        return;
      case 0xff:
        this.auxStreaming = false;
        this.push(0xfa, true);
        this.push(0xaa, true);
        this.push(0x00, true);
        return;
      default:
        this.push(0xfe, true);
    }
  }

  saveState(): Record<string, unknown> {
    return {
      device: 'i8042',
      version: 1,
      out: this.out.map((o) => o.byte),
      outAux: this.out.map((o) => (o.aux ? 1 : 0)),
      commandByte: this.commandByte,
      pending: this.pendingCommand,
      outputPort: this.outputPort,
      scanSet: this.scanSet,
      flags: (this.kbdEnabled ? 1 : 0) | (this.auxStreaming ? 2 : 0),
    };
  }

  restoreState(state: unknown): void {
    const d = 'i8042';
    const s = stateObject(d, state, 1);
    const out = stateBytes(d, s, 'out', I8042_QUEUE_LIMIT);
    const outAux = stateBytes(d, s, 'outAux', I8042_QUEUE_LIMIT);
    if (outAux.length !== out.length) stateInt(d, s, 'outAux', 0, -1);
    const v = {
      cb: stateInt(d, s, 'commandByte', 0, 255),
      pending: stateInt(d, s, 'pending', 0, 255),
      port: stateInt(d, s, 'outputPort', 0, 255),
      set: stateInt(d, s, 'scanSet', 1, 3),
      flags: stateInt(d, s, 'flags', 0, 3),
    };
    this.out.length = 0;
    out.forEach((b, i) => {
      this.out.push({ byte: b, aux: outAux[i] === 1 });
    });
    this.commandByte = v.cb;
    this.pendingCommand = v.pending;
    this.outputPort = v.port;
    this.scanSet = v.set;
    this.kbdEnabled = (v.flags & 1) !== 0;
    this.auxStreaming = (v.flags & 2) !== 0;
  }
}
