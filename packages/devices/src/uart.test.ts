import { describe, expect, it } from 'vitest';
import { DeviceStateError } from './device';
import { UART_HOST_QUEUE_LIMIT, Uart16550 } from './uart';

function uart() {
  const out: number[] = [];
  const irq: boolean[] = [];
  const u = new Uart16550({ irq: { set: (l) => irq.push(l) }, onTransmit: (b) => out.push(b) });
  return { u, out, irq };
}

describe('16550A UART', () => {
  it('transmits THR writes to the host and keeps THRE/TEMT set (LSR bits 5 and 6)', () => {
    const { u, out } = uart();
    u.write(0, 1, 0x41);
    expect(out).toEqual([0x41]);
    expect(u.read(5) & 0x60).toBe(0x60);
  });

  it('passes the scratch, IER and loopback checks of Linux 8250 autoconfig', () => {
    const { u } = uart();
    u.write(7, 1, 0xa5);
    expect(u.read(7)).toBe(0xa5);
    u.write(1, 1, 0);
    expect(u.read(1)).toBe(0);
    u.write(1, 1, 0x0f);
    expect(u.read(1) & 0x0f).toBe(0x0f);
    u.write(1, 1, 0);
    // Loopback: MCR=0x10 → MSR high nibble 0; MCR=0x1F → MSR high nibble 0xF.
    u.write(4, 1, 0x10);
    expect(u.read(6) & 0xf0).toBe(0);
    u.write(4, 1, 0x1f);
    expect(u.read(6) & 0xf0).toBe(0xf0);
    // FIFO detection: FCR enable → IIR bits 7:6 = 11 (16550A).
    u.write(2, 1, 0x01);
    expect(u.read(2) >> 6).toBe(3);
  });

  it('loopback routes transmitted bytes into the receiver', () => {
    const { u, out } = uart();
    u.write(4, 1, 0x10);
    u.write(0, 1, 0x5a);
    expect(out).toEqual([]);
    expect(u.read(5) & 1).toBe(1);
    expect(u.read(0)).toBe(0x5a);
  });

  it('the divisor latch is reached through DLAB (LCR bit 7)', () => {
    const { u } = uart();
    u.write(3, 1, 0x80);
    u.write(0, 1, 0x01);
    u.write(1, 1, 0x00);
    u.write(3, 1, 0x03);
    expect(u.baud).toBe(115200);
  });

  it('enabling ETBEI with THR empty raises a THRE interrupt, cleared by reading IIR', () => {
    const { u, irq } = uart();
    u.write(4, 1, 0x08); // OUT2: interrupts reach the PIC
    u.write(1, 1, 0x02);
    expect(irq.at(-1)).toBe(true);
    expect(u.read(2) & 0x0f).toBe(0x02);
    expect(irq.at(-1)).toBe(false);
    expect(u.read(2) & 0x0f).toBe(0x01);
  });

  it('received data raises RDA at the FIFO trigger level and a timeout below it', () => {
    const { u, irq } = uart();
    u.write(4, 1, 0x08);
    u.write(2, 1, 0x81); // FIFO on, trigger 8
    u.write(1, 1, 0x01);
    u.receive([1, 2, 3]);
    expect(u.read(2) & 0x0f).toBe(0x0c); // below trigger, nothing more coming: timeout
    u.receive([4, 5, 6, 7, 8]);
    expect(u.read(2) & 0x0f).toBe(0x04);
    expect(irq.at(-1)).toBe(true);
    const got = [];
    while (u.read(5) & 1) got.push(u.read(0));
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(irq.at(-1)).toBe(false);
  });

  it('without OUT2 the interrupt does not reach the bus', () => {
    const { u, irq } = uart();
    u.write(1, 1, 0x02);
    expect(irq).toEqual([]);
  });

  it('threat model: host input beyond the queue limit is dropped and counted, never grows memory', () => {
    const { u } = uart();
    u.receive(new Uint8Array(UART_HOST_QUEUE_LIMIT + 100));
    expect(u.dropped).toBe(100);
    expect(u.pendingInput).toBe(UART_HOST_QUEUE_LIMIT);
  });

  it('threat model: a guest flooding THR in loopback overruns (LSR.OE) instead of buffering', () => {
    const { u } = uart();
    u.write(4, 1, 0x10);
    for (let i = 0; i < 1000; i++) u.write(0, 1, i);
    expect(u.read(5) & 0x02).toBe(0x02);
    expect(u.pendingInput).toBe(1);
  });

  it('saves and restores its state, rejecting corrupt states with DeviceStateError', () => {
    const { u } = uart();
    u.write(7, 1, 0x42);
    u.receive([9, 8]);
    const s = u.saveState();
    const { u: v } = uart();
    v.restoreState(s);
    expect(v.read(7)).toBe(0x42);
    expect(v.read(0)).toBe(9);
    expect(() => v.restoreState({ ...s, ier: 99 })).toThrow(DeviceStateError);
    expect(() => v.restoreState({ ...s, rx: new Array(100).fill(0) })).toThrow(DeviceStateError);
    expect(() => v.restoreState({ device: 'pit8254', version: 1 })).toThrow(/state is for/);
    expect(() => v.restoreState('junk')).toThrow(DeviceStateError);
  });
});
