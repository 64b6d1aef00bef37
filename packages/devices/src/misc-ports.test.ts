import { describe, expect, it } from 'vitest';
import { DebugExitPort, PostCodePort, SystemControlPortA } from './misc-ports';
import { VgaText } from './vga-text';

describe('small PC ports', () => {
  it('port 0x92 bit 1 gates A20 and a 0→1 edge on bit 0 resets', () => {
    const ev: string[] = [];
    const p = new SystemControlPortA({ onA20: (a) => ev.push(`a20:${a}`), onReset: () => ev.push('reset') });
    p.write(0, 1, 0x00);
    p.write(0, 1, 0x03);
    expect(ev).toEqual(['a20:false', 'a20:true', 'reset']);
    expect(p.read()).toBe(0x03);
  });

  it('port 0x80 records POST codes (bounded to the last 64)', () => {
    const p = new PostCodePort();
    for (let i = 0; i < 100; i++) p.write(0, 1, i);
    expect(p.last).toBe(99);
    expect(p.codes.length).toBe(64);
    expect(p.writes).toBe(100);
  });

  it('the debug-exit port reports (value << 1) | 1 as QEMU isa-debug-exit does', () => {
    const seen: number[] = [];
    const p = new DebugExitPort((s) => seen.push(s));
    p.write(0, 1, 0x10);
    p.write(0, 4, 0);
    expect(seen).toEqual([0x21, 1]);
  });
});

describe('VGA text mode', () => {
  it('text memory holds character/attribute pairs shown from the CRTC start address', () => {
    const v = new VgaText();
    v.mmio.write(0, 2, 0x1f48); // 'H' white on blue
    v.mmio.write(2, 1, 0x69); // 'i'
    expect(v.cell(0, 0)).toEqual({ char: 0x48, attr: 0x1f });
    expect(v.text()[0]).toBe('Hi');
    v.crtcPorts.write(0, 1, 0x0d);
    v.crtcPorts.write(1, 1, 80); // start at line 1
    expect(v.text()[0]).toBe('');
  });

  it('the cursor location comes from CRTC registers 0x0E/0x0F', () => {
    const v = new VgaText();
    v.crtcPorts.write(0, 1, 0x0e);
    v.crtcPorts.write(1, 1, 0x00);
    v.crtcPorts.write(0, 1, 0x0f);
    v.crtcPorts.write(1, 1, 163);
    expect(v.cursor).toMatchObject({ row: 2, column: 3 });
    const before = v.version;
    v.mmio.write(10, 1, 0x41);
    expect(v.version).toBeGreaterThan(before);
  });

  it('threat model: offsets beyond the 32 KiB window wrap inside it', () => {
    const v = new VgaText();
    v.mmio.write(0x8000 + 4, 1, 0x41);
    expect(v.mmio.read(4, 1)).toBe(0x41);
  });
});
