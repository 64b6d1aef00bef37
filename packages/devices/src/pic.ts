import { type IrqLine, type PortDevice, stateInt, stateObject } from './device';

/** Conventional PC ports of the 8259A pair and the ELCR. */
export const PIC_PORTS = { master: 0x20, slave: 0xa0, elcr: 0x4d0 } as const;

/**
 * One 8259A (Intel 8259A datasheet). Registers IRR, ISR, IMR; ICW1–4 initialisation; OCW2
 * EOI/rotation; OCW3 read select, poll and special mask mode; edge or level inputs (ELCR).
 */
class Chip {
  irr = 0;
  isr = 0;
  imr = 0xff;
  /** Current input levels (for edge detection and level mode). */
  lines = 0;
  /** Level-triggered inputs (from the ELCR). */
  elcr = 0;
  vectorBase = 0;
  /** ICW3: cascade mask (master) or slave id. */
  icw3 = 0;
  icw4 = 0;
  initStep = 0; // 0: operational; 2..4: expecting ICW2..ICW4
  needIcw4 = false;
  single = false;
  readIsr = false;
  poll = false;
  specialMask = false;
  autoEoi = false;
  rotateOnAutoEoi = false;
  /** Lowest-priority IR (priority rotates so that lowest+1 is highest). */
  lowest = 7;
  specialFullyNested = false;

  constructor(readonly isMaster: boolean) {}

  setLine(n: number, level: boolean): void {
    const bit = 1 << n;
    if ((this.elcr & bit) !== 0) {
      // Level mode: IRR follows the input.
      if (level) this.irr |= bit;
      else this.irr &= ~bit;
    } else if (level && (this.lines & bit) === 0) {
      this.irr |= bit; // rising edge
    } else if (!level) {
      // Edge mode: a request withdrawn before acknowledge is lost (datasheet: "IR input must
      // remain high until the first INTA pulse").
      this.irr &= ~bit;
    }
    if (level) this.lines |= bit;
    else this.lines &= ~bit;
  }

  private priority(n: number): number {
    return (n - this.lowest - 1 + 8) & 7; // 0 is highest
  }

  /** The highest-priority pending request that may interrupt now, or -1. */
  pending(): number {
    const req = this.irr & ~this.imr;
    if (req === 0) return -1;
    let best = -1;
    for (let p = 0; p < 8; p++) {
      const n = (this.lowest + 1 + p) & 7;
      if ((req & (1 << n)) !== 0) {
        best = n;
        break;
      }
    }
    if (best < 0) return -1;
    // Fully nested mode: a request must have higher priority than any in service. In special
    // mask mode, only masked-out in-service levels block (they are ignored here).
    let inService = this.isr;
    if (this.specialMask) inService &= ~this.imr;
    if (this.specialFullyNested && this.isMaster) inService &= ~this.icw3;
    for (let p = 0; p < 8; p++) {
      const n = (this.lowest + 1 + p) & 7;
      if ((inService & (1 << n)) !== 0) {
        if (this.priority(n) <= this.priority(best)) return -1;
        break;
      }
    }
    return best;
  }

  /** INTA: moves the request to service and returns its IR number (7 when spurious). */
  acknowledge(): { ir: number; spurious: boolean } {
    const n = this.pending();
    if (n < 0) return { ir: 7, spurious: true }; // spurious IRQ: IR7 vector, ISR unchanged
    const bit = 1 << n;
    if ((this.elcr & bit) === 0) this.irr &= ~bit;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.lowest = n;
    } else this.isr |= bit;
    return { ir: n, spurious: false };
  }

  private highestInService(): number {
    for (let p = 0; p < 8; p++) {
      const n = (this.lowest + 1 + p) & 7;
      if ((this.isr & (1 << n)) !== 0) return n;
    }
    return -1;
  }

  writeCommand(v: number): void {
    if ((v & 0x10) !== 0) {
      // ICW1: start initialisation.
      this.initStep = 2;
      this.needIcw4 = (v & 1) !== 0;
      this.single = (v & 2) !== 0;
      if ((v & 8) !== 0) this.elcr = 0xff; // LTIM: all inputs level-triggered
      this.imr = 0;
      this.isr = 0;
      this.irr = 0;
      this.lowest = 7;
      this.specialMask = false;
      this.readIsr = false;
      this.autoEoi = false;
      this.icw4 = 0;
      return;
    }
    if ((v & 0x08) === 0) {
      // OCW2: EOI and rotation commands (bits 7..5: R, SL, EOI).
      const cmd = v >> 5;
      const level = v & 7;
      switch (cmd) {
        case 1: {
          // non-specific EOI
          const n = this.highestInService();
          if (n >= 0) this.isr &= ~(1 << n);
          break;
        }
        case 3:
          this.isr &= ~(1 << level);
          break;
        case 5: {
          // rotate on non-specific EOI
          const n = this.highestInService();
          if (n >= 0) {
            this.isr &= ~(1 << n);
            this.lowest = n;
          }
          break;
        }
        case 4:
          this.rotateOnAutoEoi = true;
          break;
        case 0:
          this.rotateOnAutoEoi = false;
          break;
        case 6:
          this.lowest = level; // set priority
          break;
        case 7:
          this.isr &= ~(1 << level);
          this.lowest = level;
          break;
      }
      return;
    }
    // OCW3.
    if ((v & 0x04) !== 0) this.poll = true;
    if ((v & 0x02) !== 0) this.readIsr = (v & 1) !== 0;
    if ((v & 0x40) !== 0) this.specialMask = (v & 0x20) !== 0;
  }

  writeData(v: number): void {
    switch (this.initStep) {
      case 2:
        this.vectorBase = v & 0xf8;
        this.initStep = this.single ? (this.needIcw4 ? 4 : 0) : 3;
        return;
      case 3:
        this.icw3 = v;
        this.initStep = this.needIcw4 ? 4 : 0;
        return;
      case 4:
        this.icw4 = v;
        this.autoEoi = (v & 2) !== 0;
        this.specialFullyNested = (v & 0x10) !== 0;
        this.initStep = 0;
        return;
      default:
        this.imr = v;
    }
  }

  readCommand(): number {
    if (this.poll) {
      // Poll command: the next read acknowledges the highest request (bit 7 = request present).
      this.poll = false;
      const n = this.pending();
      if (n < 0) return 0;
      this.acknowledge();
      return 0x80 | n;
    }
    return this.readIsr ? this.isr : this.irr;
  }
}

/**
 * The PC's cascaded 8259A pair (master IRQ 0–7, slave IRQ 8–15 on master IR2) with the ELCR
 * edge/level registers at 0x4D0/0x4D1. Ports are handled by offset through three views:
 * `master` (0x20–0x21), `slave` (0xA0–0xA1) and `elcr` (0x4D0–0x4D1).
 *
 * ```ts
 * const pic = new PicPair((level) => cpu.setIntr(level));
 * pic.irq(4).set(true);          // COM1 raises its line
 * if (pic.hasInterrupt()) cpu.deliver(pic.acknowledge()); // vector = base + 4
 * ```
 */
export class PicPair {
  private readonly m = new Chip(true);
  private readonly s = new Chip(false);
  private intr = false;
  /** Spurious interrupts delivered (IRQ7/IRQ15 without a request). */
  spurious = 0;

  readonly master: PortDevice;
  readonly slave: PortDevice;
  readonly elcr: PortDevice;

  constructor(private readonly onIntr: (level: boolean) => void = () => {}) {
    const view = (c: Chip): PortDevice => ({
      read: (off) => (off & 1 ? c.imr : c.readCommand()),
      write: (off, _size, v) => {
        if (off & 1) c.writeData(v & 0xff);
        else c.writeCommand(v & 0xff);
        this.update();
      },
    });
    this.master = view(this.m);
    this.slave = view(this.s);
    this.elcr = {
      read: (off) => (off & 1 ? this.s.elcr : this.m.elcr),
      // IRQ 0, 1, 2, 8 and 13 are always edge-triggered (their ELCR bits are reserved).
      write: (off, _size, v) => {
        if (off & 1) this.s.elcr = v & 0xde;
        else this.m.elcr = v & 0xf8;
        this.update();
      },
    };
  }

  /** The input line for IRQ `n` (0–15), for devices to drive. */
  irq(n: number): IrqLine {
    const chip = n < 8 ? this.m : this.s;
    const ir = n & 7;
    return {
      set: (level: boolean) => {
        chip.setLine(ir, level);
        this.update();
      },
    };
  }

  private update(): void {
    // The slave's INT output drives master IR2.
    this.m.setLine(2, this.s.pending() >= 0);
    const level = this.m.pending() >= 0;
    if (level !== this.intr) {
      this.intr = level;
      this.onIntr(level);
    }
  }

  /** Whether the pair asserts INTR to the CPU. */
  hasInterrupt(): boolean {
    return this.m.pending() >= 0;
  }

  /** The CPU's interrupt-acknowledge cycle: returns the vector to deliver. */
  acknowledge(): number {
    const a = this.m.acknowledge();
    let vector: number;
    if (!a.spurious && a.ir === 2 && (this.m.icw3 & 4) !== 0) {
      const b = this.s.acknowledge();
      if (b.spurious) this.spurious++;
      vector = this.s.vectorBase + b.ir;
    } else {
      if (a.spurious) this.spurious++;
      vector = this.m.vectorBase + a.ir;
    }
    this.update();
    return vector;
  }

  saveState(): Record<string, unknown> {
    const chip = (c: Chip) => ({
      irr: c.irr,
      isr: c.isr,
      imr: c.imr,
      lines: c.lines,
      elcr: c.elcr,
      base: c.vectorBase,
      icw3: c.icw3,
      icw4: c.icw4,
      step: c.initStep,
      flags:
        (c.needIcw4 ? 1 : 0) |
        (c.single ? 2 : 0) |
        (c.readIsr ? 4 : 0) |
        (c.specialMask ? 8 : 0) |
        (c.autoEoi ? 16 : 0) |
        (c.rotateOnAutoEoi ? 32 : 0) |
        (c.specialFullyNested ? 64 : 0),
      lowest: c.lowest,
    });
    return { device: 'pic8259', version: 1, master: chip(this.m), slave: chip(this.s) };
  }

  restoreState(state: unknown): void {
    const s = stateObject('pic8259', state, 1);
    const load = (c: Chip, v: unknown) => {
      const o = stateObject('pic8259', { device: 'pic8259', version: 1, ...(v as object) }, 1);
      const byte = (k: string) => stateInt('pic8259', o, k, 0, 255);
      const vals = {
        irr: byte('irr'),
        isr: byte('isr'),
        imr: byte('imr'),
        lines: byte('lines'),
        elcr: byte('elcr'),
        base: byte('base'),
        icw3: byte('icw3'),
        icw4: byte('icw4'),
        step: stateInt('pic8259', o, 'step', 0, 4),
        flags: byte('flags'),
        lowest: stateInt('pic8259', o, 'lowest', 0, 7),
      };
      c.irr = vals.irr;
      c.isr = vals.isr;
      c.imr = vals.imr;
      c.lines = vals.lines;
      c.elcr = vals.elcr;
      c.vectorBase = vals.base;
      c.icw3 = vals.icw3;
      c.icw4 = vals.icw4;
      c.initStep = vals.step;
      c.needIcw4 = (vals.flags & 1) !== 0;
      c.single = (vals.flags & 2) !== 0;
      c.readIsr = (vals.flags & 4) !== 0;
      c.specialMask = (vals.flags & 8) !== 0;
      c.autoEoi = (vals.flags & 16) !== 0;
      c.rotateOnAutoEoi = (vals.flags & 32) !== 0;
      c.specialFullyNested = (vals.flags & 64) !== 0;
      c.lowest = vals.lowest;
    };
    if (
      typeof s.master !== 'object' ||
      s.master === null ||
      typeof s.slave !== 'object' ||
      s.slave === null
    ) {
      stateInt('pic8259', s, 'master', 0, 0);
    }
    load(this.m, s.master);
    load(this.s, s.slave);
    this.update();
  }
}
