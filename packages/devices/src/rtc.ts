import {
  type Clock,
  type IrqLine,
  NO_IRQ,
  type PortDevice,
  stateBytes,
  stateInt,
  stateObject,
  type TimedDevice,
} from './device';

export const RTC_PORTS = { index: 0x70, data: 0x71, irq: 8 } as const;

const REG_A = 0x0a;
const REG_B = 0x0b;
const REG_C = 0x0c;
const REG_D = 0x0d;
const B_SET = 0x80;
const B_PIE = 0x40;
const B_AIE = 0x20;
const B_UIE = 0x10;
const B_DM = 0x04; // binary (1) or BCD (0)
const B_24H = 0x02;
const C_IRQF = 0x80;
const C_PF = 0x40;
const C_AF = 0x20;
const C_UF = 0x10;
/** The update cycle: UIP is set for 244 µs before each once-a-second update (MC146818 data sheet). */
const UIP_NS = 244_000;
const SECOND = 1e9;

function bcd(v: number): number {
  return ((Math.floor(v / 10) % 10) << 4) | (v % 10);
}
function unbcd(v: number): number {
  return (v >> 4) * 10 + (v & 15);
}

/**
 * The MC146818 real-time clock and its 128 bytes of CMOS RAM: time and date in BCD or binary,
 * 12/24-hour mode, the update-in-progress window, periodic/alarm/update interrupts (IRQ8),
 * registers A–D, the NMI-mask bit of port 0x70, and the memory-size bytes a BIOS or kernel reads.
 * Time is `epochMs` (the wall clock at virtual time 0) plus the clock's virtual time.
 */
export class Rtc implements PortDevice, TimedDevice {
  private readonly cmos = new Uint8Array(128);
  private index = 0;
  /** NMI disabled (bit 7 of the last write to port 0x70). */
  nmiMasked = false;
  /** Offset (ms) from the guest's wall clock to `epochMs + virtual time`, changed by SET writes. */
  private offsetMs = 0;
  private lastUpdate = 0;
  private lastPeriodic = 0;
  private irqLevel = false;

  constructor(
    private readonly clock: Clock,
    private readonly epochMs: number,
    private readonly irq: IrqLine = NO_IRQ,
    memoryBytes = 0,
  ) {
    this.cmos[REG_A] = 0x26; // 32.768 kHz divider, 1024 Hz periodic rate
    this.cmos[REG_B] = B_24H;
    this.cmos[REG_D] = 0x80; // valid RAM and time
    this.setMemorySize(memoryBytes);
  }

  /** Writes the memory-size fields (base 640 KiB; extended KiB above 1 MiB; 64 KiB blocks above 16 MiB). */
  setMemorySize(bytes: number): void {
    const c = this.cmos;
    c[0x15] = 640 & 0xff;
    c[0x16] = 640 >> 8;
    const extKb = Math.min(0xffff, Math.max(0, Math.floor((bytes - (1 << 20)) / 1024)));
    c[0x17] = c[0x30] = extKb & 0xff;
    c[0x18] = c[0x31] = extKb >> 8;
    const above16 = Math.min(0xffff, Math.max(0, Math.floor((bytes - (16 << 20)) / 65536)));
    c[0x34] = above16 & 0xff;
    c[0x35] = above16 >> 8;
  }

  private wallMs(): number {
    return this.epochMs + this.offsetMs + this.clock.now() / 1e6;
  }

  private encode(v: number): number {
    return (this.cmos[REG_B]! & B_DM) !== 0 ? v : bcd(v);
  }

  private decode(v: number): number {
    return (this.cmos[REG_B]! & B_DM) !== 0 ? v : unbcd(v & 0xff);
  }

  private timeField(reg: number): number {
    const d = new Date(this.wallMs());
    switch (reg) {
      case 0:
        return this.encode(d.getUTCSeconds());
      case 2:
        return this.encode(d.getUTCMinutes());
      case 4: {
        const h = d.getUTCHours();
        if ((this.cmos[REG_B]! & B_24H) !== 0) return this.encode(h);
        const h12 = h % 12 === 0 ? 12 : h % 12;
        return this.encode(h12) | (h >= 12 ? 0x80 : 0);
      }
      case 6:
        return this.encode(d.getUTCDay() + 1);
      case 7:
        return this.encode(d.getUTCDate());
      case 8:
        return this.encode(d.getUTCMonth() + 1);
      case 9:
        return this.encode(d.getUTCFullYear() % 100);
      default:
        return this.encode(Math.floor(d.getUTCFullYear() / 100));
    }
  }

  read(offset: number): number {
    if ((offset & 1) === 0) return 0xff; // the index port is write-only
    const r = this.index;
    if ((this.cmos[REG_B]! & B_SET) === 0 && (r <= 9 || r === 0x32) && r !== 1 && r !== 3 && r !== 5) {
      return this.timeField(r === 0x32 ? 0x32 : r);
    }
    if (r === REG_A) {
      // UIP: during the last 244 µs of each second.
      const inSecond = (this.wallMs() * 1e6) % SECOND;
      const uip = (this.cmos[REG_B]! & B_SET) === 0 && inSecond >= SECOND - UIP_NS;
      return (this.cmos[REG_A]! & 0x7f) | (uip ? 0x80 : 0);
    }
    if (r === REG_C) {
      this.advance(this.clock.now());
      const v = this.cmos[REG_C]!;
      this.cmos[REG_C] = 0; // reading C clears the flags and the interrupt
      this.setIrq(false);
      return v;
    }
    return this.cmos[r]!;
  }

  write(offset: number, _size: 1 | 2 | 4, value: number): void {
    value &= 0xff;
    if ((offset & 1) === 0) {
      this.index = value & 0x7f;
      this.nmiMasked = (value & 0x80) !== 0;
      return;
    }
    const r = this.index;
    if (r === REG_C || r === REG_D) return; // read-only
    if (r <= 9 || r === 0x32) {
      // Setting the time: move the offset so the field reads back as written.
      this.setTimeField(r, value);
      return;
    }
    if (r === REG_A) {
      this.cmos[REG_A] = value & 0x7f;
      return;
    }
    if (r === REG_B && (value & B_SET) !== 0) value &= ~B_UIE; // SET clears UIE
    this.cmos[r] = value;
  }

  private setTimeField(r: number, value: number): void {
    if (r === 1 || r === 3 || r === 5) {
      this.cmos[r] = value; // alarm registers
      return;
    }
    const d = new Date(this.wallMs());
    let v = value;
    if (r === 4 && (this.cmos[REG_B]! & B_24H) === 0) {
      const pm = (v & 0x80) !== 0;
      v = (this.decode(v & 0x7f) % 12) + (pm ? 12 : 0);
    } else v = this.decode(v);
    if (r === 0) d.setUTCSeconds(v);
    else if (r === 2) d.setUTCMinutes(v);
    else if (r === 4) d.setUTCHours(v);
    else if (r === 7) d.setUTCDate(Math.max(1, v));
    else if (r === 8) d.setUTCMonth(Math.max(1, v) - 1);
    else if (r === 9) d.setUTCFullYear(Math.floor(d.getUTCFullYear() / 100) * 100 + v);
    else if (r === 0x32) d.setUTCFullYear(v * 100 + (d.getUTCFullYear() % 100));
    if (!Number.isNaN(d.getTime())) this.offsetMs += d.getTime() - this.wallMs();
  }

  private setIrq(level: boolean): void {
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  private periodNs(): number {
    const rate = this.cmos[REG_A]! & 15;
    if (rate === 0) return 0;
    const hz = rate <= 2 ? 32768 >> (rate + 6) : 32768 >> (rate - 1);
    return SECOND / hz;
  }

  nextEventTime(): number {
    const b = this.cmos[REG_B]!;
    let next = Number.POSITIVE_INFINITY;
    const p = this.periodNs();
    if ((b & B_PIE) !== 0 && p > 0) next = Math.min(next, (Math.floor(this.lastPeriodic / p) + 1) * p);
    if ((b & (B_UIE | B_AIE)) !== 0)
      next = Math.min(next, (Math.floor(this.lastUpdate / SECOND) + 1) * SECOND);
    return next;
  }

  advance(now: number): void {
    const b = this.cmos[REG_B]!;
    let flags = 0;
    const p = this.periodNs();
    if (p > 0 && Math.floor(now / p) > Math.floor(this.lastPeriodic / p)) flags |= C_PF;
    if (Math.floor(now / SECOND) > Math.floor(this.lastUpdate / SECOND) && (b & B_SET) === 0) {
      flags |= C_UF;
      const alarm = (reg: number, cur: number) => (this.cmos[reg]! & 0xc0) === 0xc0 || this.cmos[reg] === cur;
      if (alarm(1, this.timeField(0)) && alarm(3, this.timeField(2)) && alarm(5, this.timeField(4)))
        flags |= C_AF;
    }
    this.lastPeriodic = now;
    this.lastUpdate = now;
    if (flags === 0) return;
    let c = this.cmos[REG_C]! | flags;
    const enabled =
      ((flags & C_PF) !== 0 && (b & B_PIE) !== 0) ||
      ((flags & C_UF) !== 0 && (b & B_UIE) !== 0) ||
      ((flags & C_AF) !== 0 && (b & B_AIE) !== 0);
    if (enabled) c |= C_IRQF;
    this.cmos[REG_C] = c;
    if ((c & C_IRQF) !== 0) this.setIrq(true);
  }

  saveState(): Record<string, unknown> {
    return {
      device: 'rtc146818',
      version: 1,
      cmos: Array.from(this.cmos),
      index: this.index,
      nmi: this.nmiMasked ? 1 : 0,
      offsetMs: Math.round(this.offsetMs),
    };
  }

  restoreState(state: unknown): void {
    const d = 'rtc146818';
    const s = stateObject(d, state, 1);
    const cmos = stateBytes(d, s, 'cmos', 128);
    if (cmos.length !== 128) stateInt(d, s, 'cmos', 0, -1);
    const index = stateInt(d, s, 'index', 0, 127);
    const nmi = stateInt(d, s, 'nmi', 0, 1);
    const offsetMs = stateInt(d, s, 'offsetMs', -(2 ** 52), 2 ** 52);
    this.cmos.set(cmos);
    this.index = index;
    this.nmiMasked = nmi === 1;
    this.offsetMs = offsetMs;
  }
}
