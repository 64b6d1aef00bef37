import { describe, expect, it } from 'vitest';
import { PIT_HZ, Pit8254 } from './pit';

function setup() {
  let t = 0;
  const edges: number[] = [];
  const clock = { now: () => t };
  const pit = new Pit8254(clock, { set: (l) => l && edges.push(t) });
  return { pit, edges, at: (ns: number) => (t = ns) };
}

const tick = 1e9 / PIT_HZ;

describe('8254 PIT', () => {
  it('mode 2 on channel 0 raises IRQ0 once per period (Linux programs LATCH for HZ)', () => {
    const { pit, edges, at } = setup();
    const latch = Math.round(PIT_HZ / 250);
    pit.write(3, 1, 0x34); // channel 0, LSB/MSB, mode 2
    pit.write(0, 1, latch & 0xff);
    pit.write(0, 1, latch >> 8);
    expect(pit.channel0Hz).toBeCloseTo(250, 0);
    for (let i = 1; i <= 5; i++) {
      const next = pit.nextEventTime();
      expect(next).toBeGreaterThan(0);
      at(next);
      pit.advance(next);
    }
    expect(edges.length).toBe(5);
    const period = (edges[4]! - edges[3]!) / 1e6;
    expect(period).toBeCloseTo(4, 1); // 4 ms
  });

  it('mode 4 on channel 0 raises IRQ0 once per loaded count (one-shot clockevents)', () => {
    const { pit, edges, at } = setup();
    pit.write(3, 1, 0x38); // channel 0, LSB/MSB, mode 4
    pit.write(0, 1, 100);
    pit.write(0, 1, 0);
    const first = pit.nextEventTime();
    // Loaded on the next tick, out low at count 0 (100 ticks later), rising one tick after.
    expect(first).toBeCloseTo(102 * tick, -1);
    at(first);
    pit.advance(first);
    expect(edges.length).toBe(1);
    // No further edge until the guest loads a new count.
    expect(pit.nextEventTime()).toBe(Number.POSITIVE_INFINITY);
    at(first + 1e6);
    pit.advance(first + 1e6);
    expect(edges.length).toBe(1);
    pit.write(0, 1, 50);
    pit.write(0, 1, 0);
    const second = pit.nextEventTime();
    expect(second - (first + 1e6)).toBeGreaterThan(51 * tick);
    expect(second - (first + 1e6)).toBeLessThanOrEqual(52 * tick);
    at(second);
    pit.advance(second);
    expect(edges.length).toBe(2);
  });

  it('the counter latch command freezes the count for a two-byte read', () => {
    const { pit, at } = setup();
    pit.write(3, 1, 0x34);
    pit.write(0, 1, 0x00);
    pit.write(0, 1, 0x10); // 0x1000
    at(100 * tick);
    pit.write(3, 1, 0x00); // latch channel 0
    at(1000 * tick);
    const lo = pit.read(0);
    const hi = pit.read(0);
    const v = lo | (hi << 8);
    expect(v).toBeGreaterThan(0x1000 - 101);
    expect(v).toBeLessThanOrEqual(0x1000 - 98);
  });

  it('mode 0 on channel 2 drives OUT2 high at terminal count, seen in port 0x61 bit 5 (calibration)', () => {
    const { pit, at } = setup();
    pit.portB.write(0, 1, 0x01); // gate 2 on, speaker off
    pit.write(3, 1, 0xb0); // channel 2, LSB/MSB, mode 0
    pit.write(2, 1, 0xff);
    pit.write(2, 1, 0x00); // 255 ticks
    at(100 * tick);
    expect(pit.portB.read(0, 1) & 0x20).toBe(0);
    at(300 * tick);
    expect(pit.portB.read(0, 1) & 0x20).toBe(0x20);
  });

  it('read-back returns status (output, null count, access, mode, BCD) then the count', () => {
    const { pit } = setup();
    pit.write(3, 1, 0x76); // channel 1, LSB/MSB, mode 3
    expect(pit.write(3, 1, 0xe4)).toBeUndefined(); // read-back status of channel 1
    expect(pit.read(1) & 0x7f).toBe(0x40 | 0x30 | 0x06);
  });

  it('BCD counting loads decimal counts', () => {
    const { pit, at } = setup();
    pit.write(3, 1, 0x31); // channel 0, LSB/MSB, mode 0, BCD
    pit.write(0, 1, 0x00);
    pit.write(0, 1, 0x10); // BCD 1000
    at(11 * tick);
    pit.write(3, 1, 0x00);
    const v = pit.read(0) | (pit.read(0) << 8);
    expect(v).toBe(0x0990);
  });

  it('threat model: reprogramming at absurd rates never delivers more than one edge per advance', () => {
    const { pit, edges, at } = setup();
    pit.write(3, 1, 0x34);
    pit.write(0, 1, 2);
    pit.write(0, 1, 0); // period of 2 ticks (~600 kHz)
    at(1e9); // one second later
    pit.advance(1e9);
    expect(edges.length).toBe(1);
  });

  it('state round-trips', () => {
    const { pit } = setup();
    pit.write(3, 1, 0x34);
    pit.write(0, 1, 0x9c);
    pit.write(0, 1, 0x2e);
    const s = pit.saveState();
    const b = setup();
    b.pit.restoreState(s);
    expect(b.pit.channel0Hz).toBeCloseTo(pit.channel0Hz, 6);
    expect(() => b.pit.restoreState({ ...s, channels: [] })).toThrow();
  });
});
