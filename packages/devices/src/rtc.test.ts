import { describe, expect, it } from 'vitest';
import { Rtc } from './rtc';

const EPOCH = Date.UTC(2026, 10, 24, 13, 45, 30); // 2026-11-24 13:45:30 UTC

function setup(memory = 128 << 20) {
  let t = 0;
  const irq: boolean[] = [];
  const rtc = new Rtc({ now: () => t }, EPOCH, { set: (l) => irq.push(l) }, memory);
  const get = (reg: number) => {
    rtc.write(0, 1, reg);
    return rtc.read(1);
  };
  const set = (reg: number, v: number) => {
    rtc.write(0, 1, reg);
    rtc.write(1, 1, v);
  };
  return { rtc, irq, get, set, at: (ns: number) => (t = ns) };
}

describe('MC146818 RTC / CMOS', () => {
  it('reads the time and date in BCD by default (data sheet: registers 0–9, DM = 0)', () => {
    const { get } = setup();
    expect([get(4), get(2), get(0)]).toEqual([0x13, 0x45, 0x30]);
    expect([get(7), get(8), get(9), get(0x32)]).toEqual([0x24, 0x11, 0x26, 0x20]);
    expect(get(6)).toBe(0x03); // Tuesday = 3 (Sunday = 1)
  });

  it('binary mode and 12-hour mode change the encoding (register B bits 2 and 1)', () => {
    const { get, set } = setup();
    set(0x0b, 0x04); // binary, 12-hour
    expect(get(4)).toBe(0x80 | 1); // 1 PM
    expect(get(2)).toBe(45);
  });

  it('time advances with virtual time, and writes set the clock', () => {
    const { get, set, at } = setup();
    at(5e9);
    expect(get(0)).toBe(0x35);
    set(0x0b, 0x82); // SET
    set(4, 0x08);
    set(0x0b, 0x02);
    expect(get(4)).toBe(0x08);
    expect(get(2)).toBe(0x45);
  });

  it('UIP is set only in the 244 µs before each update (Linux waits for it to clear)', () => {
    const { get, at } = setup();
    at(0.5e9);
    expect(get(0x0a) & 0x80).toBe(0);
    at(1e9 - 100_000);
    expect(get(0x0a) & 0x80).toBe(0x80);
  });

  it('periodic interrupts at the register A rate set PF/IRQF, and reading C clears them', () => {
    const { rtc, irq, get, set, at } = setup();
    set(0x0a, 0x26); // 1024 Hz
    set(0x0b, 0x42); // PIE
    const next = rtc.nextEventTime();
    expect(next).toBeCloseTo(1e9 / 1024, 0);
    at(next);
    rtc.advance(next);
    expect(irq.at(-1)).toBe(true);
    expect(get(0x0c) & 0xc0).toBe(0xc0);
    expect(irq.at(-1)).toBe(false);
    expect(get(0x0c)).toBe(0);
  });

  it('reports memory size in the CMOS bytes a BIOS or kernel reads', () => {
    const { get } = setup(128 << 20);
    expect(get(0x15) | (get(0x16) << 8)).toBe(640);
    expect(get(0x17) | (get(0x18) << 8)).toBe(0xffff); // KiB above 1 MiB, capped at 64 MiB - 1 KiB
    expect(get(0x34) | (get(0x35) << 8)).toBe((112 << 20) / 65536);
  });

  it('bit 7 of the index write masks NMI and CMOS RAM keeps other bytes', () => {
    const { rtc, get, set } = setup();
    rtc.write(0, 1, 0x80 | 0x40);
    expect(rtc.nmiMasked).toBe(true);
    set(0x40, 0x5a);
    expect(get(0x40)).toBe(0x5a);
  });

  it('state round-trips; corrupt state is rejected', () => {
    const { rtc, set } = setup();
    set(0x41, 7);
    const s = rtc.saveState();
    const b = setup();
    b.rtc.restoreState(s);
    expect(b.get(0x41)).toBe(7);
    expect(() => b.rtc.restoreState({ ...s, cmos: [1, 2] })).toThrow();
  });
});
