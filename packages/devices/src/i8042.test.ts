import { describe, expect, it } from 'vitest';
import { I8042, I8042_QUEUE_LIMIT } from './i8042';

function setup() {
  const events: string[] = [];
  const kbd = new I8042({
    keyboardIrq: { set: (l) => l && events.push('irq1') },
    mouseIrq: { set: (l) => l && events.push('irq12') },
    onA20: (on) => events.push(`a20:${on}`),
    onReset: () => events.push('reset'),
  });
  const drain = () => {
    const out: number[] = [];
    while (kbd.read(4) & 1) out.push(kbd.read(0));
    return out;
  };
  return { kbd, events, drain };
}

describe('i8042 controller and PS/2 keyboard', () => {
  it('controller self-test answers 0x55 and interface test 0x00', () => {
    const { kbd, drain } = setup();
    kbd.write(4, 1, 0xaa);
    kbd.write(4, 1, 0xab);
    expect(drain()).toEqual([0x55, 0x00]);
  });

  it('reads and writes the command byte (0x20 / 0x60)', () => {
    const { kbd, drain } = setup();
    kbd.write(4, 1, 0x60);
    kbd.write(0, 1, 0x47);
    kbd.write(4, 1, 0x20);
    expect(drain()).toEqual([0x47]);
  });

  it('keyboard reset and identify answer as a PS/2 MF2 keyboard', () => {
    const { kbd, drain } = setup();
    kbd.write(0, 1, 0xff);
    kbd.write(0, 1, 0xf2);
    expect(drain()).toEqual([0xfa, 0xaa, 0xfa, 0xab, 0x83]);
  });

  it('translates set 2 make/break codes to set 1 and raises IRQ1', () => {
    const { kbd, events, drain } = setup();
    kbd.keyboardInput([0x1c, 0xf0, 0x1c]); // "A" press and release
    expect(drain()).toEqual([0x1e, 0x9e]);
    expect(events.filter((e) => e === 'irq1').length).toBeGreaterThan(0);
  });

  it('the output port drives A20 and reset (commands 0xD1, 0xFE)', () => {
    const { kbd, events } = setup();
    kbd.write(4, 1, 0xd1);
    kbd.write(0, 1, 0x01); // A20 off, reset line high
    kbd.write(4, 1, 0xfe);
    expect(events).toEqual(['a20:false', 'reset']);
  });

  it('the mouse answers reset, id and streams packets on IRQ12 once enabled', () => {
    const { kbd, events, drain } = setup();
    kbd.write(4, 1, 0x60);
    kbd.write(0, 1, 0x47 | 0x02);
    for (const c of [0xff, 0xf2, 0xf4]) {
      kbd.write(4, 1, 0xd4);
      kbd.write(0, 1, c);
    }
    expect(drain()).toEqual([0xfa, 0xaa, 0x00, 0xfa, 0x00, 0xfa]);
    kbd.mouseInput(5, -3, 1);
    expect(drain()).toEqual([0x08 | 0x01 | 0x20, 5, 0xfd]);
    expect(events).toContain('irq12');
  });

  it('threat model: host input beyond the output queue is dropped and counted', () => {
    const { kbd } = setup();
    for (let i = 0; i < I8042_QUEUE_LIMIT + 10; i++) kbd.keyboardInput([0x1c]);
    expect(kbd.dropped).toBe(10);
  });

  it('state round-trips', () => {
    const { kbd } = setup();
    kbd.keyboardInput([0x1c]);
    const b = setup();
    b.kbd.restoreState(kbd.saveState());
    expect(b.drain()).toEqual([0x1e]);
    expect(() => b.kbd.restoreState({ device: 'i8042', version: 1, out: [1], outAux: [] })).toThrow();
  });
});
