import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { bzImagePayload, elfText, guestKernelPath, KernelImageError, kernelElf } from './real-code';

/** A bzImage shell: setup header fields of boot protocol 2.08+, payload after the setup sectors. */
function bzImage(
  payload: Uint8Array,
  { setupSects = 1, version = 0x20f, magic = 0x53726448 } = {},
): Uint8Array {
  const pm = (setupSects + 1) * 512;
  const image = new Uint8Array(pm + 0x10 + payload.length);
  const dv = new DataView(image.buffer);
  image[0x1f1] = setupSects;
  dv.setUint32(0x202, magic, true);
  dv.setUint16(0x206, version, true);
  dv.setUint32(0x248, 0x10, true);
  dv.setUint32(0x24c, payload.length, true);
  image.set(payload, pm + 0x10);
  return image;
}

const fakeElf = Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0, 9, 9, 9]);

describe('taking the kernel out of a bzImage', () => {
  it('finds the payload from setup_sects and payload_offset/length and names its compression', () => {
    const p = bzImagePayload(bzImage(gzipSync(fakeElf), { setupSects: 3 }));
    expect(p.format).toBe('gzip');
    expect(p.bytes[0]).toBe(0x1f);
  });

  it('decompresses a gzip payload to the ELF inside', async () => {
    expect(await kernelElf(bzImage(gzipSync(fakeElf)))).toEqual(fakeElf);
  });

  it('rejects images that are not bzImages, too old, or compressed with a method it cannot read', async () => {
    expect(() => bzImagePayload(new Uint8Array(100))).toThrow(KernelImageError);
    expect(() => bzImagePayload(bzImage(fakeElf, { magic: 0x12345678 }))).toThrow(/HdrS/);
    expect(() => bzImagePayload(bzImage(fakeElf, { version: 0x206 }))).toThrow(/2\.08/);
    const zstd = Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]);
    await expect(kernelElf(bzImage(zstd))).rejects.toThrow(/zstd/);
    await expect(kernelElf(bzImage(gzipSync(Uint8Array.from([1, 2, 3]))))).rejects.toThrow(/not an ELF/);
    const truncated = bzImage(fakeElf);
    new DataView(truncated.buffer).setUint32(0x24c, 1 << 20, true);
    expect(() => bzImagePayload(truncated)).toThrow(/runs past/);
  });

  const kernel = guestKernelPath();
  it.skipIf(kernel === undefined)(
    "Debian's i386 kernel: an xz payload whose appended size matches, an ELF32 with .text at 0xc1000000",
    async () => {
      const image = new Uint8Array(readFileSync(kernel!));
      expect(bzImagePayload(image).format).toBe('xz');
      const elf = await kernelElf(image);
      expect([elf[4], elf[0x12]]).toEqual([1, 3]); // ELFCLASS32, EM_386
      const text = elfText(elf);
      expect(text.address).toBe(0xc1000000);
      expect(text.bytes.length).toBeGreaterThan(1 << 20);
    },
  );
});
