import type { GuestMemory } from '@ringzero/memory';
import { pcMemoryMap } from './boot-common';
import { HypervisorError } from './errors';

/**
 * Multiboot v1 (the GNU Multiboot Specification 0.6.96): find and validate the header in the
 * first 8 KiB of an image, load an ELF32 executable or an "a.out kludge" image by the header's
 * address fields, place modules and build the information structure the kernel receives in EBX.
 */

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/** EAX at the kernel's entry. */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;

/** Header flag bits. */
export const MultibootFlag = {
  pageAlignModules: 1 << 0,
  memoryInfo: 1 << 1,
  videoMode: 1 << 2,
  addressFields: 1 << 16,
} as const;

/** Information-structure flag bits (what the loader filled in). */
export const MultibootInfoFlag = {
  memory: 1 << 0,
  bootDevice: 1 << 1,
  cmdline: 1 << 2,
  modules: 1 << 3,
  memoryMap: 1 << 6,
  bootLoaderName: 1 << 9,
} as const;

/** Where the loader puts the information structure, strings and memory map. */
export const MULTIBOOT_LAYOUT = { info: 0x9000, scratch: 0x9100, scratchEnd: 0x9f000 } as const;

const SUPPORTED_REQUIREMENTS = 0xffff & ~(MultibootFlag.pageAlignModules | MultibootFlag.memoryInfo);

export interface MultibootSegment {
  /** Physical load address. */
  readonly address: number;
  /** Bytes copied from the file. */
  readonly data: Uint8Array;
  /** Total size in memory; the rest after `data` is zeroed (BSS). */
  readonly memorySize: number;
}

export interface MultibootImage {
  readonly flags: number;
  readonly headerOffset: number;
  readonly format: 'elf' | 'aout-kludge';
  readonly entry: number;
  readonly segments: readonly MultibootSegment[];
}

function u16(b: Uint8Array, o: number): number {
  return (b[o] ?? 0) | ((b[o + 1] ?? 0) << 8);
}
function u32(b: Uint8Array, o: number): number {
  return (u16(b, o) | (u16(b, o + 2) << 16)) >>> 0;
}

function bad(message: string, value: unknown): HypervisorError {
  return new HypervisorError('bad-kernel', message, value);
}

/** Finds the Multiboot header: 32-bit aligned within the first 8192 bytes, or -1. */
export function findMultibootHeader(image: Uint8Array): number {
  const end = Math.min(image.length, 8192) - 12;
  for (let o = 0; o <= end; o += 4) {
    if (u32(image, o) !== MULTIBOOT_HEADER_MAGIC) continue;
    if (((u32(image, o) + u32(image, o + 4) + u32(image, o + 8)) | 0) === 0) return o;
  }
  return -1;
}

/** Parses and validates a Multiboot v1 kernel. Every malformed input is a `HypervisorError`. */
export function parseMultiboot(image: Uint8Array): MultibootImage {
  const h = findMultibootHeader(image);
  if (h < 0)
    throw bad(
      'no Multiboot header (magic 0x1BADB002 with a valid checksum) in the first 8 KiB',
      image.length,
    );
  const flags = u32(image, h + 4);
  const unsupported = flags & SUPPORTED_REQUIREMENTS;
  if (unsupported !== 0) {
    throw new HypervisorError(
      'unsupported-protocol',
      `the Multiboot header requires features this loader lacks (flags 0x${unsupported.toString(16)}${unsupported & MultibootFlag.videoMode ? ': a video mode' : ''})`,
      flags,
    );
  }
  if (flags & MultibootFlag.addressFields) return parseAoutKludge(image, h, flags);
  return parseElf(image, h, flags);
}

function parseAoutKludge(image: Uint8Array, h: number, flags: number): MultibootImage {
  if (h + 32 > image.length) throw bad('the Multiboot header is truncated (address fields missing)', h);
  const headerAddr = u32(image, h + 12);
  const loadAddr = u32(image, h + 16);
  const loadEndAddr = u32(image, h + 20);
  const bssEndAddr = u32(image, h + 24);
  const entry = u32(image, h + 28);
  if (loadAddr > headerAddr)
    throw bad(
      `load_addr 0x${loadAddr.toString(16)} is above header_addr 0x${headerAddr.toString(16)}`,
      loadAddr,
    );
  const fileStart = h - (headerAddr - loadAddr);
  if (fileStart < 0) throw bad('load_addr lies before the start of the file', loadAddr);
  const loadEnd = loadEndAddr === 0 ? loadAddr + (image.length - fileStart) : loadEndAddr;
  if (loadEnd < loadAddr) throw bad('load_end_addr is below load_addr', loadEndAddr);
  const fileSize = loadEnd - loadAddr;
  if (fileStart + fileSize > image.length) {
    throw bad(
      `kernel image is truncated (${image.length - fileStart} of ${fileSize} bytes to load)`,
      image.length,
    );
  }
  const memEnd = bssEndAddr === 0 ? loadEnd : bssEndAddr;
  if (memEnd < loadEnd) throw bad('bss_end_addr is below load_end_addr', bssEndAddr);
  if (entry < loadAddr || entry >= memEnd)
    throw bad(`entry_addr 0x${entry.toString(16)} is outside the loaded image`, entry);
  return {
    flags,
    headerOffset: h,
    format: 'aout-kludge',
    entry,
    segments: [
      {
        address: loadAddr,
        data: image.subarray(fileStart, fileStart + fileSize),
        memorySize: memEnd - loadAddr,
      },
    ],
  };
}

function parseElf(image: Uint8Array, h: number, flags: number): MultibootImage {
  if (u32(image, 0) !== 0x464c457f) {
    throw bad('the Multiboot kernel is neither ELF nor marked with address fields (flag 16)', u32(image, 0));
  }
  if (image[4] !== 1) throw bad('only 32-bit ELF (ELFCLASS32) Multiboot kernels are loaded', image[4]);
  if (image[5] !== 1) throw bad('the ELF kernel is not little-endian', image[5]);
  if (u16(image, 18) !== 3)
    throw bad(`the ELF kernel is not for i386 (e_machine ${u16(image, 18)})`, u16(image, 18));
  if (u16(image, 16) !== 2) throw bad('the ELF file is not an executable (ET_EXEC)', u16(image, 16));
  const entry = u32(image, 24);
  const phoff = u32(image, 28);
  const phentsize = u16(image, 42);
  const phnum = u16(image, 44);
  if (phnum === 0) throw bad('the ELF kernel has no program headers', phnum);
  if (phentsize < 32 || phoff + phnum * phentsize > image.length)
    throw bad('the ELF program headers are truncated', phoff);
  const segments: MultibootSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (u32(image, p) !== 1) continue; // PT_LOAD only
    const offset = u32(image, p + 4);
    const paddr = u32(image, p + 12);
    const filesz = u32(image, p + 16);
    const memsz = u32(image, p + 20);
    if (offset + filesz > image.length) throw bad(`ELF segment ${i} lies past the end of the file`, offset);
    if (memsz < filesz) throw bad(`ELF segment ${i} has p_memsz below p_filesz`, memsz);
    if (memsz === 0) continue;
    segments.push({ address: paddr, data: image.subarray(offset, offset + filesz), memorySize: memsz });
  }
  if (segments.length === 0) throw bad('the ELF kernel has no loadable segment', phnum);
  return { flags, headerOffset: h, format: 'elf', entry, segments };
}

export interface MultibootModule {
  readonly data: Uint8Array;
  /** The module's string (usually its path and arguments). */
  readonly string: string;
}

export interface MultibootBootOptions {
  readonly memorySize: number;
  readonly cmdline: string;
  readonly modules?: readonly MultibootModule[];
  readonly bootLoaderName?: string;
}

export interface MultibootBootInfo {
  readonly entry: number;
  /** Physical address of the information structure (EBX at entry). */
  readonly info: number;
  readonly modules: readonly { start: number; end: number }[];
  /** First free byte above the kernel and modules. */
  readonly end: number;
}

/** Loads a parsed Multiboot kernel, its modules and the information structure into memory. */
export function loadMultiboot(
  mem: GuestMemory,
  img: MultibootImage,
  opts: MultibootBootOptions,
): MultibootBootInfo {
  const ramEnd = opts.memorySize;
  let end = 0;
  for (const s of img.segments) {
    if (s.address < 0x100000 && s.address + s.memorySize > MULTIBOOT_LAYOUT.info) {
      throw bad(
        `a segment at 0x${s.address.toString(16)} overlaps low memory the loader uses (load kernels at 1 MiB or above)`,
        s.address,
      );
    }
    if (s.address + s.memorySize > ramEnd) {
      throw new HypervisorError(
        'memory-too-small',
        `${ramEnd >> 20} MiB of RAM is too small for this kernel (a segment ends at 0x${(s.address + s.memorySize).toString(16)})`,
        ramEnd,
      );
    }
    mem.writeBytes(s.address, s.data);
    if (s.memorySize > s.data.length)
      mem.writeBytes(s.address + s.data.length, new Uint8Array(s.memorySize - s.data.length));
    end = Math.max(end, s.address + s.memorySize);
  }

  // Low-memory scratch area for strings and tables.
  let scratch: number = MULTIBOOT_LAYOUT.scratch;
  const put = (bytes: Uint8Array): number => {
    const at = scratch;
    if (at + bytes.length > MULTIBOOT_LAYOUT.scratchEnd)
      throw new HypervisorError(
        'bad-cmdline',
        'command line and module strings exceed the loader area',
        bytes.length,
      );
    mem.writeBytes(at, bytes);
    scratch = (at + bytes.length + 3) & ~3;
    return at;
  };
  const cstring = (s: string) => put(new Uint8Array([...new TextEncoder().encode(s), 0]));

  const info = MULTIBOOT_LAYOUT.info;
  mem.writeBytes(info, new Uint8Array(0x100));
  let flags =
    MultibootInfoFlag.memory |
    MultibootInfoFlag.cmdline |
    MultibootInfoFlag.memoryMap |
    MultibootInfoFlag.bootLoaderName;
  mem.write32(info + 4, 639); // mem_lower: KiB below 640 KiB usable
  mem.write32(info + 8, Math.floor((ramEnd - 0x100000) / 1024)); // mem_upper
  mem.write32(info + 16, cstring(opts.cmdline));

  // Modules: page aligned above the kernel.
  const modules: { start: number; end: number }[] = [];
  const mods = opts.modules ?? [];
  if (mods.length > 0) {
    flags |= MultibootInfoFlag.modules;
    const table = put(new Uint8Array(16 * mods.length));
    let at = (end + 0xfff) & ~0xfff;
    mods.forEach((m, i) => {
      const start = at;
      if (start + m.data.length > ramEnd) {
        throw new HypervisorError(
          'memory-too-small',
          `module ${i} (${m.data.length} bytes) does not fit in ${ramEnd >> 20} MiB`,
          m.data.length,
        );
      }
      mem.writeBytes(start, m.data);
      const stop = start + m.data.length;
      mem.write32(table + i * 16, start);
      mem.write32(table + i * 16 + 4, stop);
      mem.write32(table + i * 16 + 8, cstring(m.string));
      mem.write32(table + i * 16 + 12, 0);
      modules.push({ start, end: stop });
      at = (stop + 0xfff) & ~0xfff;
      end = Math.max(end, stop);
    });
    mem.write32(info + 20, mods.length);
    mem.write32(info + 24, table);
  }

  // Memory map: entries of {size=20, base u64, length u64, type}.
  const map = pcMemoryMap(ramEnd);
  const mmap = new Uint8Array(24 * map.length);
  const dv = new DataView(mmap.buffer);
  map.forEach((e, i) => {
    dv.setUint32(i * 24, 20, true);
    dv.setUint32(i * 24 + 4, e.base, true);
    dv.setUint32(i * 24 + 12, e.size, true);
    dv.setUint32(i * 24 + 20, e.type, true);
  });
  mem.write32(info + 44, mmap.length);
  mem.write32(info + 48, put(mmap));
  mem.write32(info + 64, cstring(opts.bootLoaderName ?? 'ringzero'));
  mem.write32(info, flags);
  return { entry: img.entry, info, modules, end };
}
