import { type IrqLine, NO_IRQ, type PortDevice, stateBytes, stateInt, stateObject } from './device';

/** Conventional PC serial ports: base I/O port and IRQ. */
export const COM_PORTS = [
  { name: 'COM1', port: 0x3f8, irq: 4 },
  { name: 'COM2', port: 0x2f8, irq: 3 },
  { name: 'COM3', port: 0x3e8, irq: 4 },
  { name: 'COM4', port: 0x2e8, irq: 3 },
] as const;

const FIFO_SIZE = 16;
/** Bytes from the host waiting for room in the receive FIFO; beyond this, input is dropped. */
export const UART_HOST_QUEUE_LIMIT = 64 * 1024;

// Register bits (16550A datasheet, "Register descriptions").
const IER_RDA = 0x01;
const IER_THRE = 0x02;
const IER_RLS = 0x04;
const IER_MS = 0x08;
const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;
const LCR_DLAB = 0x80;

/**
 * A 16550A UART (one serial port): divisor latch, 16-byte FIFOs with trigger levels, the
 * IER/IIR/FCR/LCR/MCR/LSR/MSR/scratch registers, THRE interrupts as Linux's 8250 driver
 * expects them, and loopback. Transmission is instantaneous (the line runs at "infinite" baud):
 * bytes written to THR go to the host sink at once, so THR is always empty again when read.
 *
 * ```ts
 * const uart = new Uart16550({ irq: picLine(4), onTransmit: (b) => process.stdout.write(Buffer.of(b)) });
 * uart.write(0, 1, 0x41); // prints "A"
 * uart.receive(new TextEncoder().encode('ls\n')); // the guest can read it from RBR
 * ```
 */
export class Uart16550 implements PortDevice {
  private readonly irq: IrqLine;
  private readonly onTransmit: (byte: number) => void;
  private ier = 0;
  private lcr = 0x03;
  private mcr = 0;
  private lsrErrors = 0;
  private msrDelta = 0;
  private scratch = 0;
  private dll = 0x0c; // 9600 baud
  private dlm = 0;
  private fifoEnabled = false;
  private triggerLevel = 1;
  private readonly rx: number[] = [];
  private readonly hostQueue: number[] = [];
  private hostHead = 0;
  private threPending = false;
  private irqLevel = false;
  /** Host bytes dropped because the host queue was full (a guest not reading its port). */
  dropped = 0;

  constructor(opts: { irq?: IrqLine; onTransmit?: (byte: number) => void } = {}) {
    this.irq = opts.irq ?? NO_IRQ;
    this.onTransmit = opts.onTransmit ?? (() => {});
  }

  /** Bytes arriving on the line from the host (keyboard, a script). Bounded; see threat model. */
  receive(bytes: Uint8Array | readonly number[]): void {
    for (const b of bytes) {
      if (this.hostQueue.length - this.hostHead >= UART_HOST_QUEUE_LIMIT) {
        this.dropped++;
        continue;
      }
      this.hostQueue.push(b & 0xff);
    }
    this.refill();
    this.update();
  }

  /** How many host bytes wait for the guest to read them. */
  get pendingInput(): number {
    return this.hostQueue.length - this.hostHead + this.rx.length;
  }

  private get rxCapacity(): number {
    return this.fifoEnabled ? FIFO_SIZE : 1;
  }

  private refill(): void {
    // The line is back-pressured by the FIFO: host bytes never overrun it.
    if ((this.mcr & MCR_LOOP) !== 0) return;
    while (this.rx.length < this.rxCapacity && this.hostHead < this.hostQueue.length) {
      this.rx.push(this.hostQueue[this.hostHead++]!);
    }
    // Compact the queue now and then so a long input stays linear in cost.
    if (this.hostHead > 4096 && this.hostHead * 2 > this.hostQueue.length) {
      this.hostQueue.splice(0, this.hostHead);
      this.hostHead = 0;
    }
  }

  /** The interrupt source the IIR reports, by priority (datasheet table "Interrupt control functions"). */
  private pendingId(): number {
    if ((this.ier & IER_RLS) !== 0 && (this.lsrErrors & LSR_OE) !== 0) return 0x06;
    if ((this.ier & IER_RDA) !== 0 && this.rx.length > 0) {
      if (!this.fifoEnabled || this.rx.length >= this.triggerLevel) return 0x04;
      // Below the trigger level with no more bytes coming: character timeout.
      if (this.hostHead >= this.hostQueue.length) return 0x0c;
    }
    if ((this.ier & IER_THRE) !== 0 && this.threPending) return 0x02;
    if ((this.ier & IER_MS) !== 0 && this.msrDelta !== 0) return 0x00;
    return 0x01;
  }

  private update(): void {
    const pending = this.pendingId() !== 0x01;
    // On a PC, OUT2 gates the UART's interrupt onto the bus.
    const level = pending && (this.mcr & MCR_OUT2) !== 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  private transmit(byte: number): void {
    if ((this.mcr & MCR_LOOP) !== 0) {
      if (this.rx.length < this.rxCapacity) this.rx.push(byte);
      else this.lsrErrors |= LSR_OE;
    } else {
      this.onTransmit(byte);
    }
    // THR and the shift register are empty again at once.
    this.threPending = true;
  }

  private msr(): number {
    if ((this.mcr & MCR_LOOP) !== 0) {
      // Loopback: DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD (datasheet "Modem control register").
      const m = this.mcr;
      return ((m & 1) << 5) | ((m & 2) << 3) | ((m & 4) << 4) | ((m & 8) << 4) | this.msrDelta;
    }
    // A connected terminal: CTS, DSR and DCD asserted.
    return 0xb0 | this.msrDelta;
  }

  read(offset: number, _size: 1 | 2 | 4 = 1): number {
    switch (offset & 7) {
      case 0: {
        if ((this.lcr & LCR_DLAB) !== 0) return this.dll;
        const b = this.rx.length > 0 ? this.rx.shift()! : 0;
        this.refill();
        this.update();
        return b;
      }
      case 1:
        return (this.lcr & LCR_DLAB) !== 0 ? this.dlm : this.ier;
      case 2: {
        const id = this.pendingId();
        // Reading IIR while it reports THRE clears that source.
        if (id === 0x02) {
          this.threPending = false;
          this.update();
        }
        return id | (this.fifoEnabled ? 0xc0 : 0);
      }
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5: {
        const v = (this.rx.length > 0 ? LSR_DR : 0) | LSR_THRE | LSR_TEMT | this.lsrErrors;
        this.lsrErrors = 0;
        this.update();
        return v;
      }
      case 6: {
        const v = this.msr();
        this.msrDelta = 0;
        this.update();
        return v;
      }
      default:
        return this.scratch;
    }
  }

  write(offset: number, _size: 1 | 2 | 4, value: number): void {
    value &= 0xff;
    switch (offset & 7) {
      case 0:
        if ((this.lcr & LCR_DLAB) !== 0) this.dll = value;
        else {
          this.threPending = false;
          this.transmit(value);
        }
        break;
      case 1:
        if ((this.lcr & LCR_DLAB) !== 0) this.dlm = value;
        else {
          const old = this.ier;
          this.ier = value & 0x0f;
          // Enabling ETBEI while THR is empty raises a THRE interrupt at once (the behaviour
          // the 8250 driver's THRE test relies on).
          if ((old & IER_THRE) === 0 && (this.ier & IER_THRE) !== 0) this.threPending = true;
        }
        break;
      case 2:
        this.fifoEnabled = (value & 1) !== 0;
        if ((value & 2) !== 0 || !this.fifoEnabled) this.rx.length = 0;
        this.triggerLevel = [1, 4, 8, 14][(value >> 6) & 3]!;
        this.refill();
        break;
      case 3:
        this.lcr = value;
        break;
      case 4: {
        const wasLoop = (this.mcr & MCR_LOOP) !== 0;
        this.mcr = value & 0x1f;
        if (wasLoop && (this.mcr & MCR_LOOP) === 0) this.refill();
        break;
      }
      case 5:
      case 6:
        break; // LSR and MSR are read-only (factory test writes are ignored)
      default:
        this.scratch = value;
    }
    this.update();
  }

  /** The current baud rate from the divisor latch (115200 / divisor). */
  get baud(): number {
    const div = (this.dlm << 8) | this.dll;
    return div === 0 ? 0 : Math.floor(115200 / div);
  }

  saveState(): Record<string, unknown> {
    return {
      device: 'uart16550',
      version: 1,
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      lsrErrors: this.lsrErrors,
      msrDelta: this.msrDelta,
      scratch: this.scratch,
      dll: this.dll,
      dlm: this.dlm,
      fifo: this.fifoEnabled ? 1 : 0,
      trigger: this.triggerLevel,
      rx: [...this.rx],
      host: this.hostQueue.slice(this.hostHead),
      thre: this.threPending ? 1 : 0,
    };
  }

  restoreState(state: unknown): void {
    const d = 'uart16550';
    const s = stateObject(d, state, 1);
    const rx = stateBytes(d, s, 'rx', FIFO_SIZE);
    const host = stateBytes(d, s, 'host', UART_HOST_QUEUE_LIMIT);
    const fields = {
      ier: stateInt(d, s, 'ier', 0, 15),
      lcr: stateInt(d, s, 'lcr', 0, 255),
      mcr: stateInt(d, s, 'mcr', 0, 31),
      lsrErrors: stateInt(d, s, 'lsrErrors', 0, 255),
      msrDelta: stateInt(d, s, 'msrDelta', 0, 15),
      scratch: stateInt(d, s, 'scratch', 0, 255),
      dll: stateInt(d, s, 'dll', 0, 255),
      dlm: stateInt(d, s, 'dlm', 0, 255),
      fifo: stateInt(d, s, 'fifo', 0, 1),
      trigger: stateInt(d, s, 'trigger', 1, 14),
      thre: stateInt(d, s, 'thre', 0, 1),
    };
    this.ier = fields.ier;
    this.lcr = fields.lcr;
    this.mcr = fields.mcr;
    this.lsrErrors = fields.lsrErrors;
    this.msrDelta = fields.msrDelta;
    this.scratch = fields.scratch;
    this.dll = fields.dll;
    this.dlm = fields.dlm;
    this.fifoEnabled = fields.fifo === 1;
    this.triggerLevel = fields.trigger;
    this.threPending = fields.thre === 1;
    this.rx.length = 0;
    this.rx.push(...rx);
    this.hostQueue.length = 0;
    this.hostHead = 0;
    for (const b of host) this.hostQueue.push(b);
    this.update();
  }
}
