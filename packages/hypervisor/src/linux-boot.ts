import type { GuestMemory } from '@ringzero/memory';
import { pcMemoryMap, writeBootGdt } from './boot-common';
import { HypervisorError } from './errors';

/**
 * The Linux x86 boot protocol (Documentation/arch/x86/boot.rst in the kernel tree): validate a
 * bzImage's setup header, place the protected-mode kernel at 1 MiB, build the zero page
 * (`boot_params`) with an e820 map and the command line, place the initrd as high as the kernel
 * allows, and describe the 32-bit entry state.
 */

/** Where the loader puts its structures in low memory. */
export const LINUX_LAYOUT = {
  gdt: 0x6000,
  zeroPage: 0x7000,
  cmdline: 0x20000,
  kernel: 0x100000,
} as const;

/** The oldest protocol we load: 2.05 (relocatable kernels, `initrd_addr_max`, `cmdline_size` from 2.06). */
export const MIN_PROTOCOL = 0x0205;

export interface LinuxImage {
  readonly protocol: number;
  readonly setupSects: number;
  /** The 32-bit protected-mode kernel (everything after the real-mode setup code). */
  readonly kernel: Uint8Array;
  readonly header: Uint8Array;
  readonly initrdAddrMax: number;
  readonly cmdlineSize: number;
  readonly kernelAlignment: number;
  readonly relocatable: boolean;
  readonly prefAddress: number;
  readonly initSize: number;
  readonly version: string;
}

function u16(b: Uint8Array, o: number): number {
  return (b[o] ?? 0) | ((b[o + 1] ?? 0) << 8);
}
function u32(b: Uint8Array, o: number): number {
  return (u16(b, o) | (u16(b, o + 2) << 16)) >>> 0;
}

/** Parses and validates a bzImage. Every malformed input is a `HypervisorError`. */
export function parseBzImage(image: Uint8Array): LinuxImage {
  if (image.length < 0x1000)
    throw new HypervisorError(
      'bad-kernel',
      `kernel image is too small (${image.length} bytes)`,
      image.length,
    );
  if (u16(image, 0x1fe) !== 0xaa55)
    throw new HypervisorError(
      'bad-kernel',
      'kernel image lacks the 0xAA55 boot signature',
      u16(image, 0x1fe),
    );
  if (u32(image, 0x202) !== 0x53726448) {
    throw new HypervisorError(
      'bad-kernel',
      'not a bzImage: the "HdrS" setup header magic is missing',
      u32(image, 0x202),
    );
  }
  const protocol = u16(image, 0x206);
  if (protocol < MIN_PROTOCOL) {
    throw new HypervisorError(
      'unsupported-protocol',
      `boot protocol ${protocol >> 8}.${String(protocol & 0xff).padStart(2, '0')} is older than the 2.05 this loader needs`,
      protocol,
    );
  }
  const loadflags = image[0x211] ?? 0;
  if ((loadflags & 1) === 0)
    throw new HypervisorError('bad-kernel', 'zImage kernels (not loaded high) are not supported', loadflags);
  const setupSects = image[0x1f1] || 4;
  const kernelOffset = (setupSects + 1) * 512;
  if (kernelOffset >= image.length) {
    throw new HypervisorError(
      'bad-kernel',
      `setup_sects (${setupSects}) points past the end of the image`,
      setupSects,
    );
  }
  const syssize = u32(image, 0x1f4) * 16;
  const kernel = image.subarray(kernelOffset);
  if (syssize > 0 && syssize > kernel.length + 16) {
    throw new HypervisorError(
      'bad-kernel',
      `kernel image is truncated (${kernel.length} of ${syssize} bytes)`,
      kernel.length,
    );
  }
  const headerEnd = 0x202 + (image[0x201] ?? 0);
  const versionPtr = u16(image, 0x20e);
  let version = '';
  if (versionPtr !== 0 && versionPtr + 0x200 < image.length) {
    for (let i = versionPtr + 0x200; i < image.length && image[i] !== 0 && version.length < 200; i++) {
      version += String.fromCharCode(image[i]!);
    }
  }
  return {
    protocol,
    setupSects,
    kernel,
    header: image.subarray(0x1f1, Math.min(headerEnd, image.length)),
    initrdAddrMax: protocol >= 0x0203 ? u32(image, 0x22c) : 0x37ffffff,
    cmdlineSize: protocol >= 0x0206 ? u32(image, 0x238) : 255,
    kernelAlignment: u32(image, 0x230),
    relocatable: (image[0x234] ?? 0) !== 0,
    prefAddress: protocol >= 0x020a ? u32(image, 0x258) : LINUX_LAYOUT.kernel,
    initSize: protocol >= 0x020a ? u32(image, 0x260) : 0,
    version,
  };
}

export interface LinuxBootOptions {
  readonly memorySize: number;
  readonly cmdline: string;
  readonly initrd?: Uint8Array;
}

/** What the loader set up: where things are and the CPU state to start in. */
export interface LinuxBootInfo {
  readonly entry: number;
  readonly zeroPage: number;
  readonly gdt: number;
  readonly initrdAddress: number;
  readonly initrdSize: number;
  readonly e820: readonly { base: number; size: number; type: number }[];
}

/** Loads a parsed kernel (and initrd) into guest memory following the 32-bit boot protocol. */
export function loadLinux(mem: GuestMemory, img: LinuxImage, opts: LinuxBootOptions): LinuxBootInfo {
  const ramEnd = opts.memorySize;
  const kernelEnd = LINUX_LAYOUT.kernel + Math.max(img.kernel.length, img.initSize);
  if (kernelEnd + (1 << 20) > ramEnd) {
    throw new HypervisorError(
      'memory-too-small',
      `${ramEnd >> 20} MiB of RAM is too small for this kernel (needs more than ${Math.ceil((kernelEnd + (1 << 20)) / (1 << 20))} MiB)`,
      ramEnd,
    );
  }
  const cmdBytes = new TextEncoder().encode(opts.cmdline);
  if (cmdBytes.length > img.cmdlineSize) {
    throw new HypervisorError(
      'bad-cmdline',
      `command line is ${cmdBytes.length} bytes; the kernel accepts ${img.cmdlineSize}`,
      cmdBytes.length,
    );
  }
  mem.writeBytes(LINUX_LAYOUT.kernel, img.kernel);

  // The zero page: zeroed, with the setup header copied in at its own offset.
  const zp = LINUX_LAYOUT.zeroPage;
  mem.writeBytes(zp, new Uint8Array(4096));
  mem.writeBytes(zp + 0x1f1, img.header);
  mem.write8(zp + 0x210, 0xff); // type_of_loader: undefined boot loader
  const loadflags = mem.read8(zp + 0x211);
  mem.write8(zp + 0x211, (loadflags | 0x80) & ~0x20); // CAN_USE_HEAP; keep early messages
  mem.write16(zp + 0x224, 0xde00); // heap_end_ptr
  mem.write32(zp + 0x228, LINUX_LAYOUT.cmdline); // cmd_line_ptr
  mem.writeBytes(LINUX_LAYOUT.cmdline, new Uint8Array([...cmdBytes, 0]));
  // screen_info: an 80×25 VGA text console (orig_video_cols/lines, isVGA).
  mem.write8(zp + 0x07, 80);
  mem.write8(zp + 0x0e, 25);
  mem.write8(zp + 0x0f, 1);

  // Initrd: as high as possible below initrd_addr_max and the end of RAM, page aligned.
  let initrdAddress = 0;
  const initrdSize = opts.initrd?.length ?? 0;
  if (opts.initrd && initrdSize > 0) {
    const top = Math.min(img.initrdAddrMax + 1, ramEnd);
    initrdAddress = Math.floor((top - initrdSize) / 4096) * 4096;
    if (initrdAddress < kernelEnd) {
      throw new HypervisorError(
        'memory-too-small',
        `the initrd (${initrdSize} bytes) does not fit above the kernel in ${ramEnd >> 20} MiB`,
        initrdSize,
      );
    }
    mem.writeBytes(initrdAddress, opts.initrd);
    mem.write32(zp + 0x218, initrdAddress);
    mem.write32(zp + 0x21c, initrdSize);
  }

  // e820 map: low RAM, the legacy hole (VGA, option ROMs, BIOS), RAM above 1 MiB.
  const e820 = pcMemoryMap(ramEnd);
  e820.forEach((e, i) => {
    const at = zp + 0x2d0 + i * 20;
    mem.write32(at, e.base);
    mem.write32(at + 4, 0);
    mem.write32(at + 8, e.size);
    mem.write32(at + 12, 0);
    mem.write32(at + 16, e.type);
  });
  mem.write8(zp + 0x1e8, e820.length);
  // alt_mem_k: KiB of memory above 1 MiB.
  mem.write32(zp + 0x1e0, Math.floor((ramEnd - 0x100000) / 1024));

  // A GDT with __BOOT_CS (0x10) and __BOOT_DS (0x18): flat 4 GiB code and data.
  const g = LINUX_LAYOUT.gdt;
  writeBootGdt(mem, g);
  return {
    entry: u32(img.header, 0x214 - 0x1f1) || LINUX_LAYOUT.kernel,
    zeroPage: zp,
    gdt: g,
    initrdAddress,
    initrdSize,
    e820,
  };
}
