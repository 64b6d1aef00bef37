import { PhysicalMemory } from '@ringzero/memory';
import { describe, expect, it } from 'vitest';
import { HypervisorError, parseMemorySize } from './errors';
import { LINUX_LAYOUT, loadLinux, parseBzImage } from './linux-boot';

/** A synthetic bzImage: 4 setup sectors, a setup header, and `kernelSize` bytes of kernel. */
function bzImage(opts: { protocol?: number; kernelSize?: number; loadflags?: number; magic?: number } = {}) {
  const setupSects = 4;
  const kernelSize = opts.kernelSize ?? 0x3000;
  const img = new Uint8Array((setupSects + 1) * 512 + kernelSize);
  const dv = new DataView(img.buffer);
  img[0x1f1] = setupSects;
  dv.setUint32(0x1f4, kernelSize / 16, true);
  dv.setUint16(0x1fe, 0xaa55, true);
  img[0x201] = 0x6a; // jump: header runs to 0x26c
  dv.setUint32(0x202, opts.magic ?? 0x53726448, true);
  dv.setUint16(0x206, opts.protocol ?? 0x020f, true);
  img[0x211] = opts.loadflags ?? 1;
  dv.setUint32(0x214, 0x100000, true);
  dv.setUint32(0x22c, 0x7fffffff, true);
  dv.setUint32(0x238, 2048, true);
  for (let i = 0; i < kernelSize; i++) img[(setupSects + 1) * 512 + i] = i & 0xff;
  return img;
}

describe('Linux boot protocol loader', () => {
  it('parses the setup header of a bzImage', () => {
    const img = parseBzImage(bzImage());
    expect(img.protocol).toBe(0x020f);
    expect(img.setupSects).toBe(4);
    expect(img.kernel.length).toBe(0x3000);
    expect(img.cmdlineSize).toBe(2048);
  });

  it('rejects images without the boot signature or HdrS magic, and old protocols, with clear errors', () => {
    const noSig = bzImage();
    noSig[0x1fe] = 0;
    expect(() => parseBzImage(noSig)).toThrow(/0xAA55/);
    expect(() => parseBzImage(bzImage({ magic: 0x12345678 }))).toThrow(/HdrS/);
    expect(() => parseBzImage(bzImage({ protocol: 0x0201 }))).toThrow(/2\.01 is older than the 2\.05/);
    expect(() => parseBzImage(bzImage({ loadflags: 0 }))).toThrow(/zImage/);
    expect(() => parseBzImage(new Uint8Array(100))).toThrow(HypervisorError);
    const truncated = bzImage({ kernelSize: 0x8000 }).subarray(0, 0xa00 + 0x1000);
    expect(() => parseBzImage(truncated)).toThrow(/truncated/);
  });

  it('places the kernel at 1 MiB, builds the zero page with command line and e820, and the initrd high', () => {
    const mem = new PhysicalMemory(32 << 20);
    const initrd = new Uint8Array(10000).fill(7);
    const info = loadLinux(mem, parseBzImage(bzImage()), {
      memorySize: 32 << 20,
      cmdline: 'console=ttyS0',
      initrd,
    });
    expect(mem.read8(LINUX_LAYOUT.kernel + 5)).toBe(5);
    const zp = info.zeroPage;
    expect(mem.read32(zp + 0x202)).toBe(0x53726448); // header copied
    expect(mem.read8(zp + 0x210)).toBe(0xff);
    const cmd = mem.read32(zp + 0x228);
    expect(new TextDecoder().decode(mem.readBytes(cmd, 13))).toBe('console=ttyS0');
    expect(mem.read8(zp + 0x1e8)).toBe(4);
    expect(mem.read32(zp + 0x2d0 + 3 * 20 + 8)).toBe((32 << 20) - 0x100000);
    expect(info.initrdAddress % 4096).toBe(0);
    expect(info.initrdAddress + initrd.length).toBeLessThanOrEqual(32 << 20);
    expect(mem.read32(zp + 0x218)).toBe(info.initrdAddress);
    expect(mem.read8(info.initrdAddress)).toBe(7);
    expect(info.entry).toBe(0x100000);
  });

  it('memory too small for the kernel, or a command line over cmdline_size, is an error naming the limit', () => {
    const img = parseBzImage(bzImage({ kernelSize: 0x3000 }));
    const mem = new PhysicalMemory(1 << 20);
    expect(() => loadLinux(mem, img, { memorySize: 1 << 20, cmdline: '' })).toThrow(/too small/);
    const big = new PhysicalMemory(16 << 20);
    expect(() => loadLinux(big, img, { memorySize: 16 << 20, cmdline: 'x'.repeat(5000) })).toThrow(
      /accepts 2048/,
    );
  });
});

describe('memory sizes', () => {
  it('reads 128M, 1G, 65536K and plain bytes', () => {
    expect(parseMemorySize('128M')).toBe(128 << 20);
    expect(parseMemorySize('1G')).toBe(1 << 30);
    expect(parseMemorySize('65536K')).toBe(64 << 20);
    expect(parseMemorySize(String(32 << 20))).toBe(32 << 20);
  });
  it('rejects nonsense and impossible sizes with the input in the message', () => {
    expect(() => parseMemorySize('abc')).toThrow(/"abc"/);
    expect(() => parseMemorySize('1T')).toThrow(HypervisorError);
    expect(() => parseMemorySize('4G')).toThrow(/3.5 GiB/);
    expect(() => parseMemorySize('1M')).toThrow(/16 MiB/);
  });
});
