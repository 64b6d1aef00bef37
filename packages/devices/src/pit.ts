import {
  type Clock,
  type IrqLine,
  NO_IRQ,
  type PortDevice,
  stateInt,
  stateObject,
  type TimedDevice,
} from './device';

/** The PIT input clock: 1.193182 MHz. */
export const PIT_HZ = 1_193_182;
export const PIT_PORTS = { base: 0x40, control: 0x43, portB: 0x61, irq: 0 } as const;

const NS = 1e9;

/** Ticks of the PIT clock elapsed at virtual time `t` (ns). */
function ticksAt(t: number): number {
  return Math.floor((t * PIT_HZ) / NS);
}

/** Virtual time (ns) of PIT tick `n`: the first time at which `ticksAt` reaches `n`. */
function timeOfTick(n: number): number {
  return Math.ceil((n * NS) / PIT_HZ);
}

class Channel {
  mode = 0;
  access = 3; // 1 LSB, 2 MSB, 3 LSB then MSB
  bcd = false;
  /** The programmed reload value (0 means 65536, or 10000 in BCD). */
  reload = 0;
  /** Tick at which counting started (after the count was loaded). */
  start = 0;
  armed = false;
  gate = true;
  writeLow = true;
  pendingLow = 0;
  readLow = true;
  latched = false;
  latch = 0;
  statusLatched = false;
  status = 0;
  nullCount = true;

  period(): number {
    return this.reload === 0 ? (this.bcd ? 10000 : 65536) : this.reload;
  }

  /** Counter value and output at tick `t` (8254 datasheet, "Mode definitions"). */
  state(t: number): { count: number; out: boolean } {
    const n = this.period();
    if (!this.armed) return { count: this.reload, out: this.mode !== 0 };
    const e = Math.max(0, t - this.start);
    switch (this.mode) {
      case 0: // interrupt on terminal count: out goes high when the count reaches 0
      case 4: {
        // software-triggered strobe: out low for one tick at terminal count
        const c = e < n ? n - e : (65536 - ((e - n) % 65536)) % 65536;
        if (this.mode === 0) return { count: c, out: e >= n };
        return { count: c, out: e !== n };
      }
      case 2:
      case 6: {
        // rate generator: out low for one tick when the count reaches 1
        const c = n - (e % n);
        return { count: c, out: c !== 1 };
      }
      case 3:
      case 7: {
        // square wave: high for ceil(n/2), low for floor(n/2); the count decrements by 2
        const phase = e % n;
        const high = Math.ceil(n / 2);
        const out = phase < high;
        const c = out ? n - 2 * phase : n - 2 * (phase - high);
        return { count: Math.max(0, c) & 0xffff, out };
      }
      default: {
        // modes 1 and 5 need a gate trigger; without one they hold
        return { count: n, out: true };
      }
    }
  }

  /** The next tick after `t` at which the output rises (for IRQ0), or Infinity. */
  nextRise(t: number): number {
    if (!this.armed) return Number.POSITIVE_INFINITY;
    const n = this.period();
    const e = t - this.start;
    switch (this.mode) {
      case 0:
        return e < n ? this.start + n : Number.POSITIVE_INFINITY;
      case 4:
        // Out dips for the one tick at terminal count and rises after it: one edge per load
        // (Linux's one-shot clockevent programs this mode for every timer event).
        return e < n + 1 ? this.start + n + 1 : Number.POSITIVE_INFINITY;
      case 2:
      case 6: {
        // Rises one tick after the count reaches 1: at start + k*n for k ≥ 1.
        const k = Math.floor(e / n) + 1;
        return this.start + k * n;
      }
      case 3:
      case 7: {
        const k = Math.floor(e / n) + 1;
        return this.start + k * n;
      }
      default:
        return Number.POSITIVE_INFINITY;
    }
  }
}

/**
 * The 8254 programmable interval timer: three channels, modes 0–5, latch and read-back
 * commands, BCD, LSB/MSB access orders, channel 2's gate and output through port 0x61 (`portB`
 * view), and IRQ0 from channel 0. Time comes from the clock; the hypervisor calls `advance`
 * (and asks `nextEventTime`) so HLT can sleep until the next tick.
 */
export class Pit8254 implements PortDevice, TimedDevice {
  private readonly ch = [new Channel(), new Channel(), new Channel()];
  private readonly irq: IrqLine;
  /** Tick up to which IRQ0 edges were delivered. */
  private delivered = 0;
  private speakerData = false;
  /** IRQ0 edges raised so far. */
  interrupts = 0;
  readonly portB: PortDevice;

  constructor(
    private readonly clock: Clock,
    irq: IrqLine = NO_IRQ,
  ) {
    this.irq = irq;
    this.portB = {
      read: () => {
        const t = ticksAt(this.clock.now());
        const c2 = this.ch[2]!;
        const out2 = c2.gate ? c2.state(t).out : c2.mode !== 0;
        // Bit 4 toggles with memory refresh (about every 15 µs); bit 5 is OUT2.
        const refresh = Math.floor(this.clock.now() / 15_085) & 1;
        return (c2.gate ? 1 : 0) | (this.speakerData ? 2 : 0) | (refresh << 4) | (out2 ? 0x20 : 0);
      },
      write: (_off, _size, v) => {
        const c2 = this.ch[2]!;
        const gate = (v & 1) !== 0;
        if (gate && !c2.gate && (c2.mode === 1 || c2.mode === 5)) {
          // Rising gate re-triggers modes 1 and 5; behave like mode 0/4 counting from now.
          c2.start = ticksAt(this.clock.now());
          c2.armed = true;
        }
        c2.gate = gate;
        this.speakerData = (v & 2) !== 0;
      },
    };
  }

  private now(): number {
    return ticksAt(this.clock.now());
  }

  read(offset: number): number {
    const i = offset & 3;
    if (i === 3) return 0xff; // control word register is write-only
    const c = this.ch[i]!;
    if (c.statusLatched) {
      c.statusLatched = false;
      return c.status;
    }
    let value: number;
    if (c.latched) value = c.latch;
    else value = toBcd(c.state(this.now()).count, c.bcd);
    let byte: number;
    if (c.access === 1) byte = value & 0xff;
    else if (c.access === 2) byte = (value >> 8) & 0xff;
    else {
      byte = c.readLow ? value & 0xff : (value >> 8) & 0xff;
      c.readLow = !c.readLow;
      if (c.readLow) c.latched = false;
      return byte;
    }
    c.latched = false;
    return byte;
  }

  write(offset: number, _size: 1 | 2 | 4, value: number): void {
    value &= 0xff;
    const i = offset & 3;
    if (i === 3) {
      this.control(value);
      return;
    }
    const c = this.ch[i]!;
    const load = (count: number) => {
      this.catchUp();
      c.reload = c.bcd ? fromBcd(count) : count;
      c.start = this.now() + 1; // the count is loaded on the next clock edge
      c.armed = true;
      c.nullCount = false;
      if (i === 0) this.delivered = Math.max(this.delivered, c.start);
    };
    if (c.access === 1) load(value);
    else if (c.access === 2) load(value << 8);
    else if (c.writeLow) {
      c.pendingLow = value;
      c.writeLow = false;
      if (c.mode === 0) c.armed = false; // writing the first byte stops a mode-0 count
    } else {
      c.writeLow = true;
      load(c.pendingLow | (value << 8));
    }
  }

  private control(v: number): void {
    const sc = v >> 6;
    if (sc === 3) {
      // Read-back command (8254 datasheet): bit 5 = 0 latches counts, bit 4 = 0 latches status.
      for (let i = 0; i < 3; i++) {
        if ((v & (2 << i)) === 0) continue;
        const c = this.ch[i]!;
        const st = c.state(this.now());
        if ((v & 0x20) === 0 && !c.latched) {
          c.latched = true;
          c.latch = toBcd(st.count, c.bcd);
          c.readLow = true;
        }
        if ((v & 0x10) === 0 && !c.statusLatched) {
          c.statusLatched = true;
          c.status =
            (st.out ? 0x80 : 0) |
            (c.nullCount ? 0x40 : 0) |
            (c.access << 4) |
            (c.mode << 1) |
            (c.bcd ? 1 : 0);
        }
      }
      return;
    }
    const c = this.ch[sc]!;
    const access = (v >> 4) & 3;
    if (access === 0) {
      // Counter latch command.
      if (!c.latched) {
        c.latched = true;
        c.latch = toBcd(c.state(this.now()).count, c.bcd);
        c.readLow = true;
      }
      return;
    }
    if (sc === 0) this.catchUp();
    c.access = access;
    c.mode = (v >> 1) & 7;
    if (c.mode > 5) c.mode -= 4; // 6 and 7 are aliases of 2 and 3
    c.bcd = (v & 1) !== 0;
    c.writeLow = true;
    c.readLow = true;
    c.latched = false;
    c.armed = false;
    c.nullCount = true;
  }

  /** Delivers IRQ0 edges that fell due up to now. */
  private catchUp(): void {
    this.advance(this.clock.now());
  }

  nextEventTime(): number {
    const c0 = this.ch[0]!;
    const t = c0.nextRise(Math.max(this.delivered, this.now()));
    return Number.isFinite(t) ? timeOfTick(t) : Number.POSITIVE_INFINITY;
  }

  advance(now: number): void {
    const t = ticksAt(now);
    // At most one IRQ0 edge per call: rises missed during a long sleep collapse into one, as a
    // real PIC latches only one pending edge.
    if (this.ch[0]!.nextRise(this.delivered) <= t) {
      // OUT0 dips for one clock and rises again: the PIC latches the rising edge, and the line
      // then stays high for the rest of the period (so the request is not withdrawn).
      this.interrupts++;
      this.irq.set(false);
      this.irq.set(true);
    }
    if (t > this.delivered) this.delivered = t;
  }

  /** The programmed frequency of channel 0's output in Hz (0 when not running). */
  get channel0Hz(): number {
    const c = this.ch[0]!;
    return c.armed ? PIT_HZ / c.period() : 0;
  }

  saveState(): Record<string, unknown> {
    return {
      device: 'pit8254',
      version: 1,
      delivered: this.delivered,
      speaker: this.speakerData ? 1 : 0,
      channels: this.ch.map((c) => ({
        mode: c.mode,
        access: c.access,
        bcd: c.bcd ? 1 : 0,
        reload: c.reload,
        start: c.start,
        armed: c.armed ? 1 : 0,
        gate: c.gate ? 1 : 0,
      })),
    };
  }

  restoreState(state: unknown): void {
    const d = 'pit8254';
    const s = stateObject(d, state, 1);
    const delivered = stateInt(d, s, 'delivered', 0, Number.MAX_SAFE_INTEGER);
    const speaker = stateInt(d, s, 'speaker', 0, 1);
    if (!Array.isArray(s.channels) || s.channels.length !== 3) stateInt(d, s, 'channels', 0, -1);
    const chans = (s.channels as unknown[]).map((raw) => {
      const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
      return {
        mode: stateInt(d, o, 'mode', 0, 5),
        access: stateInt(d, o, 'access', 1, 3),
        bcd: stateInt(d, o, 'bcd', 0, 1),
        reload: stateInt(d, o, 'reload', 0, 0xffff),
        start: stateInt(d, o, 'start', 0, Number.MAX_SAFE_INTEGER),
        armed: stateInt(d, o, 'armed', 0, 1),
        gate: stateInt(d, o, 'gate', 0, 1),
      };
    });
    this.delivered = delivered;
    this.speakerData = speaker === 1;
    chans.forEach((v, i) => {
      const c = this.ch[i]!;
      c.mode = v.mode;
      c.access = v.access;
      c.bcd = v.bcd === 1;
      c.reload = v.reload;
      c.start = v.start;
      c.armed = v.armed === 1;
      c.gate = v.gate === 1;
      c.latched = false;
      c.statusLatched = false;
      c.readLow = true;
      c.writeLow = true;
    });
  }
}

function toBcd(v: number, bcd: boolean): number {
  if (!bcd) return v & 0xffff;
  v %= 10000;
  return (
    (Math.floor(v / 1000) << 12) |
    (Math.floor((v / 100) % 10) << 8) |
    (Math.floor((v / 10) % 10) << 4) |
    (v % 10)
  );
}

function fromBcd(v: number): number {
  return ((v >> 12) & 15) * 1000 + ((v >> 8) & 15) * 100 + ((v >> 4) & 15) * 10 + (v & 15);
}
