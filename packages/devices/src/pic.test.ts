import { describe, expect, it } from 'vitest';
import { PicPair } from './pic';

/** The initialisation sequence Linux's i8259 driver writes (init_8259A). */
function linuxInit(pic: PicPair) {
  pic.master.write(1, 1, 0xff);
  pic.slave.write(1, 1, 0xff);
  pic.master.write(0, 1, 0x11); // ICW1: edge, cascade, ICW4
  pic.master.write(1, 1, 0x30); // ICW2: vectors 0x30–0x37
  pic.master.write(1, 1, 0x04); // ICW3: slave on IR2
  pic.master.write(1, 1, 0x01); // ICW4: 8086 mode
  pic.slave.write(0, 1, 0x11);
  pic.slave.write(1, 1, 0x38);
  pic.slave.write(1, 1, 0x02);
  pic.slave.write(1, 1, 0x01);
  pic.master.write(1, 1, 0x00);
  pic.slave.write(1, 1, 0x00);
}

describe('8259A PIC pair', () => {
  it('delivers the programmed vector and holds lower priorities until EOI (fully nested mode)', () => {
    const intr: boolean[] = [];
    const pic = new PicPair((l) => intr.push(l));
    linuxInit(pic);
    pic.irq(4).set(true);
    expect(pic.hasInterrupt()).toBe(true);
    expect(intr.at(-1)).toBe(true);
    expect(pic.acknowledge()).toBe(0x34);
    pic.irq(4).set(false);
    pic.irq(6).set(true);
    expect(pic.hasInterrupt()).toBe(false); // IR6 < IR4 in priority while IR4 is in service
    pic.master.write(0, 1, 0x20); // non-specific EOI
    expect(pic.acknowledge()).toBe(0x36);
  });

  it('cascades the slave through master IR2', () => {
    const pic = new PicPair();
    linuxInit(pic);
    pic.irq(12).set(true);
    expect(pic.acknowledge()).toBe(0x3c);
    pic.slave.write(0, 1, 0x20);
    pic.master.write(0, 1, 0x20);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('masks requests with OCW1 and reads IRR/ISR with OCW3', () => {
    const pic = new PicPair();
    linuxInit(pic);
    pic.master.write(1, 1, 0x01);
    pic.irq(0).set(true);
    expect(pic.hasInterrupt()).toBe(false);
    pic.master.write(0, 1, 0x0a); // read IRR
    expect(pic.master.read(0, 1) & 1).toBe(1);
    pic.master.write(1, 1, 0x00);
    pic.acknowledge();
    pic.master.write(0, 1, 0x0b); // read ISR
    expect(pic.master.read(0, 1)).toBe(0x01);
  });

  it('a request withdrawn before INTA gives a spurious IRQ7 without setting ISR (datasheet)', () => {
    const pic = new PicPair();
    linuxInit(pic);
    pic.irq(3).set(true);
    pic.irq(3).set(false);
    expect(pic.acknowledge()).toBe(0x37);
    expect(pic.spurious).toBe(1);
    pic.master.write(0, 1, 0x0b);
    expect(pic.master.read(0, 1)).toBe(0);
  });

  it('ELCR makes an input level-triggered: it stays requested while asserted', () => {
    const pic = new PicPair();
    linuxInit(pic);
    pic.elcr.write(1, 1, 0x08); // IRQ 11 level
    pic.irq(11).set(true);
    expect(pic.acknowledge()).toBe(0x3b);
    pic.slave.write(0, 1, 0x20);
    pic.master.write(0, 1, 0x20);
    expect(pic.hasInterrupt()).toBe(true);
    pic.irq(11).set(false);
    expect(pic.hasInterrupt()).toBe(false);
    expect(pic.elcr.read(1, 1)).toBe(0x08);
    pic.elcr.write(0, 1, 0xff);
    expect(pic.elcr.read(0, 1)).toBe(0xf8); // IRQ 0–2 are always edge
  });

  it('automatic EOI leaves ISR clear; the poll command acknowledges by reading', () => {
    const pic = new PicPair();
    pic.master.write(0, 1, 0x13); // single, ICW4
    pic.master.write(1, 1, 0x20);
    pic.master.write(1, 1, 0x03); // AEOI
    pic.master.write(1, 1, 0x00);
    pic.irq(1).set(true);
    expect(pic.acknowledge()).toBe(0x21);
    pic.master.write(0, 1, 0x0b);
    expect(pic.master.read(0, 1)).toBe(0);
    pic.irq(1).set(false);
    pic.irq(5).set(true);
    pic.master.write(0, 1, 0x0c); // poll
    expect(pic.master.read(0, 1)).toBe(0x85);
  });

  it('specific rotation changes which input has the highest priority', () => {
    const pic = new PicPair();
    linuxInit(pic);
    pic.master.write(0, 1, 0xc4); // set priority: IR4 lowest → IR5 highest
    pic.irq(1).set(true);
    pic.irq(6).set(true);
    expect(pic.acknowledge()).toBe(0x36);
  });

  it('state round-trips and corrupt states are rejected', () => {
    const pic = new PicPair();
    linuxInit(pic);
    pic.irq(4).set(true);
    const s = pic.saveState();
    const q = new PicPair();
    q.restoreState(s);
    expect(q.acknowledge()).toBe(0x34);
    expect(() => q.restoreState({ ...s, master: { irr: 999 } })).toThrow();
    expect(() => q.restoreState({ device: 'pic8259', version: 1 })).toThrow();
  });
});
