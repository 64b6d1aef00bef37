/**
 * Real machine code for the differential tests and the benchmark: the `.text` sections of
 * Debian's statically linked busybox for i386 (32-bit) and amd64 (64-bit), obtained with
 * `apt-get download` and `dpkg -x` and cached under `<repo>/.cache/decoder/`; the `.text` of
 * Debian's i386 kernel (`linux-image-6.1.0-*-686`, the guest the project boots, which
 * `scripts/fetch-linux-guest.ts` caches in `<repo>/.cache/guests/linux-i386/`), taken out of its
 * bzImage; and the `.text` of the running Node executable (a large x86-64 binary).
 *
 *   pnpm --filter @ringzero/decoder fetch-real-code
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import lzma from 'lzma-native';

const here = dirname(fileURLToPath(import.meta.url));
const REPO = join(here, '..', '..', '..');
export const CACHE_DIR = join(REPO, '.cache', 'decoder');
/** Where `scripts/fetch-linux-guest.ts` keeps the guest kernel. */
export const GUEST_DIR = join(REPO, '.cache', 'guests', 'linux-i386');
/** The cached `.text` of the i386 kernel (with `.addr` beside it). */
const KERNEL_TEXT = join(CACHE_DIR, 'linux-i386.text');

export interface CodeSample {
  readonly name: string;
  /** Where the bytes come from (package or file). */
  readonly source: string;
  readonly bitness: 32 | 64;
  readonly bytes: Uint8Array;
  readonly address: number;
}

const SAMPLES = [
  { name: 'busybox-i386', pkg: 'busybox-static:i386', bitness: 32 },
  { name: 'busybox-amd64', pkg: 'busybox-static:amd64', bitness: 64 },
] as const;

/** The `.text` section of an ELF32/ELF64 little-endian file: bytes and virtual address. */
export function elfText(file: Uint8Array): { bytes: Uint8Array; address: number } {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (dv.getUint32(0, false) !== 0x7f454c46) throw new Error('not an ELF file');
  const is64 = file[4] === 2;
  const shoff = is64 ? Number(dv.getBigUint64(0x28, true)) : dv.getUint32(0x20, true);
  const shentsize = dv.getUint16(is64 ? 0x3a : 0x2e, true);
  const shnum = dv.getUint16(is64 ? 0x3c : 0x30, true);
  const shstrndx = dv.getUint16(is64 ? 0x3e : 0x32, true);
  const sec = (i: number) => {
    const o = shoff + i * shentsize;
    return is64
      ? {
          name: dv.getUint32(o, true),
          addr: Number(dv.getBigUint64(o + 0x10, true)),
          off: Number(dv.getBigUint64(o + 0x18, true)),
          size: Number(dv.getBigUint64(o + 0x20, true)),
        }
      : {
          name: dv.getUint32(o, true),
          addr: dv.getUint32(o + 0x0c, true),
          off: dv.getUint32(o + 0x10, true),
          size: dv.getUint32(o + 0x14, true),
        };
  };
  const strtab = sec(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = sec(i);
    let name = '';
    for (let p = strtab.off + s.name; file[p] !== 0 && p < file.length; p++)
      name += String.fromCharCode(file[p] ?? 0);
    if (name === '.text') return { bytes: file.subarray(s.off, s.off + s.size), address: s.addr };
  }
  throw new Error('no .text section');
}

/** Thrown for a kernel image this script cannot take apart, with the reason. */
export class KernelImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KernelImageError';
  }
}

/** Compressions a bzImage payload may use, by magic (Linux `arch/x86/boot/compressed/Makefile`). */
const PAYLOAD_MAGIC: readonly (readonly [string, readonly number[]])[] = [
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['gzip', [0x1f, 0x8b]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['lzma', [0x5d, 0x00, 0x00]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['lz4', [0x02, 0x21, 0x4c, 0x18]],
  ['lzo', [0x89, 0x4c, 0x5a, 0x4f]],
];

/**
 * The compressed protected-mode kernel inside a bzImage (Linux boot protocol 2.08+,
 * `Documentation/arch/x86/boot.rst`): `setup_sects` at 0x1F1 (0 means 4), the "HdrS" magic at
 * 0x202, the protocol version at 0x206, `payload_offset` and `payload_length` at 0x248/0x24C,
 * relative to the protected-mode code at `(setup_sects + 1) * 512`.
 */
export function bzImagePayload(image: Uint8Array): { format: string; bytes: Uint8Array } {
  if (image.length < 0x250) throw new KernelImageError(`too short for a bzImage (${image.length} bytes)`);
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (dv.getUint32(0x202, true) !== 0x53726448) throw new KernelImageError('no "HdrS" setup header');
  const version = dv.getUint16(0x206, true);
  if (version < 0x208)
    throw new KernelImageError(`boot protocol ${version.toString(16)} has no payload_offset (needs 2.08)`);
  const setupSects = image[0x1f1] || 4;
  const start = (setupSects + 1) * 512 + dv.getUint32(0x248, true);
  const length = dv.getUint32(0x24c, true);
  if (start + length > image.length)
    throw new KernelImageError(`payload at ${start} + ${length} runs past the image (${image.length} bytes)`);
  const bytes = image.subarray(start, start + length);
  const found = PAYLOAD_MAGIC.find(([, magic]) => magic.every((m, i) => bytes[i] === m));
  return { format: found?.[0] ?? 'unknown', bytes };
}

/**
 * Decompresses a bzImage payload to the kernel ELF (`vmlinux`). xz (Debian's choice: LZMA2 with
 * the x86 BCJ filter) goes through liblzma (lzma-native), gzip through node:zlib. The kernel's
 * build appends the decompressed size as 4 little-endian bytes after the compressed stream; it
 * is removed before decoding and checked against the result.
 */
export async function kernelElf(image: Uint8Array): Promise<Uint8Array> {
  const { format, bytes } = bzImagePayload(image);
  if (format !== 'xz' && format !== 'gzip')
    throw new KernelImageError(`payload compressed with ${format}; only xz and gzip are supported here`);
  const n = bytes.length;
  const appended =
    n >= 4
      ? (bytes[n - 4]! | (bytes[n - 3]! << 8) | (bytes[n - 2]! << 16) | (bytes[n - 1]! << 24)) >>> 0
      : -1;
  // An xz stream ends with the footer magic "YZ"; if the payload does not, its last 4 bytes are the size.
  const hasSize = format === 'gzip' || bytes[n - 2] !== 0x59 || bytes[n - 1] !== 0x5a;
  const stream = hasSize && format === 'xz' ? bytes.subarray(0, n - 4) : bytes;
  const elf =
    format === 'xz' ? new Uint8Array(await lzma.decompress(stream)) : new Uint8Array(gunzipSync(stream));
  if (hasSize && format === 'xz' && appended !== elf.length)
    throw new KernelImageError(`decompressed ${elf.length} bytes, the image says ${appended}`);
  if (elf[0] !== 0x7f || elf[1] !== 0x45 || elf[2] !== 0x4c || elf[3] !== 0x46)
    throw new KernelImageError('the decompressed payload is not an ELF file');
  return elf;
}

/** The i386 guest kernel fetched by `scripts/fetch-linux-guest.ts`, or undefined when absent. */
export function guestKernelPath(): string | undefined {
  const manifest = join(GUEST_DIR, 'manifest.json');
  if (existsSync(manifest)) {
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as { kernel?: unknown };
    if (typeof m.kernel === 'string' && existsSync(m.kernel)) return m.kernel;
  }
  if (!existsSync(GUEST_DIR)) return undefined;
  const file = readdirSync(GUEST_DIR).find((f) => f.startsWith('vmlinuz-'));
  return file === undefined ? undefined : join(GUEST_DIR, file);
}

/**
 * Caches the i386 kernel's `.text`: from the guest kernel when it is there, else after running
 * the project's `fetch-linux-guest` (the same Debian package, needs apt as root). Returns what
 * it did; a kernel that cannot be had is reported, not thrown, so the other samples still count.
 */
export async function fetchKernelText(): Promise<string> {
  if (existsSync(KERNEL_TEXT)) return 'linux-i386: cached';
  let kernel = guestKernelPath();
  if (kernel === undefined) {
    const r = spawnSync('pnpm', ['--dir', REPO, '--silent', 'fetch-linux-guest'], { encoding: 'utf8' });
    kernel = guestKernelPath();
    if (kernel === undefined)
      return `linux-i386: skipped (no kernel in ${GUEST_DIR}; fetch-linux-guest: ${(r.stderr || r.error?.message || 'failed').trim()})`;
  }
  const text = elfText(await kernelElf(new Uint8Array(readFileSync(kernel))));
  mkdirSync(CACHE_DIR, { recursive: true });
  writeFileSync(KERNEL_TEXT, text.bytes);
  writeFileSync(`${KERNEL_TEXT}.addr`, String(text.address));
  return `linux-i386: ${text.bytes.length} bytes of .text at 0x${text.address.toString(16)} from ${kernel}`;
}

/** Downloads and caches the busybox samples (needs apt and dpkg); returns what it did. */
export function fetchRealCode(): string[] {
  const done: string[] = [];
  mkdirSync(CACHE_DIR, { recursive: true });
  for (const s of SAMPLES) {
    const target = join(CACHE_DIR, `${s.name}.text`);
    if (existsSync(target)) {
      done.push(`${s.name}: cached`);
      continue;
    }
    const work = join(CACHE_DIR, `${s.name}.work`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    if (s.pkg.endsWith(':i386')) {
      const archs = execFileSync('dpkg', ['--print-foreign-architectures'], { encoding: 'utf8' });
      if (!archs.split('\n').includes('i386')) {
        execFileSync('dpkg', ['--add-architecture', 'i386']);
        try {
          execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
        } catch {
          // A failing i386 security index is tolerated; the main index is what we need.
        }
      }
    }
    execFileSync('apt-get', ['download', '-qq', s.pkg], { cwd: work, stdio: 'ignore' });
    const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
    if (deb === undefined) throw new Error(`apt-get download ${s.pkg} produced no .deb`);
    execFileSync('dpkg', ['-x', deb, 'root'], { cwd: work });
    const text = elfText(new Uint8Array(readFileSync(join(work, 'root', 'bin', 'busybox'))));
    writeFileSync(target, text.bytes);
    writeFileSync(`${target}.addr`, String(text.address));
    rmSync(work, { recursive: true, force: true });
    done.push(`${s.name}: ${text.bytes.length} bytes of .text at 0x${text.address.toString(16)}`);
  }
  return done;
}

/**
 * A large x86-64 binary every machine running this code has: the Node executable itself (tens of
 * megabytes of compiled C++ and V8 builtins, with AVX2/AVX-512 paths). Undefined on other
 * architectures or when the file is not an x86-64 ELF.
 */
export function nodeText(): CodeSample | undefined {
  try {
    const file = new Uint8Array(readFileSync(process.execPath));
    // ELF64 (EI_CLASS 2), little-endian, e_machine 0x3E (x86-64).
    if (file[4] !== 2 || file[5] !== 1 || file[0x12] !== 0x3e || file[0x13] !== 0) return undefined;
    const text = elfText(file);
    return {
      name: 'node-x86-64',
      source: process.execPath,
      bitness: 64,
      bytes: text.bytes,
      address: text.address,
    };
  } catch {
    return undefined;
  }
}

/**
 * The cached samples (busybox i386 and amd64, the i386 kernel; each absent until
 * `fetch-real-code` has run on this machine), then `nodeText()`.
 */
export function loadRealCode(): CodeSample[] {
  const out: CodeSample[] = [];
  const cached = [
    ...SAMPLES.map((s) => ({ name: s.name, bitness: s.bitness, source: s.pkg })),
    { name: 'linux-i386', bitness: 32, source: 'linux-image-6.1.0-*-686:i386' },
  ] as const;
  for (const s of cached) {
    const target = join(CACHE_DIR, `${s.name}.text`);
    if (!existsSync(target)) continue;
    out.push({
      name: s.name,
      source: s.source,
      bitness: s.bitness,
      bytes: new Uint8Array(readFileSync(target)),
      address: Number(readFileSync(`${target}.addr`, 'utf8')),
    });
  }
  const node = nodeText();
  if (node !== undefined) out.push(node);
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let failed = false;
  try {
    for (const line of fetchRealCode()) console.log(line);
  } catch (e) {
    console.error(`fetch-real-code: ${(e as Error).message} (needs Debian's apt-get and dpkg, run as root)`);
    failed = true;
  }
  try {
    console.log(await fetchKernelText());
  } catch (e) {
    console.error(`fetch-real-code: linux-i386: ${(e as Error).message}`);
    failed = true;
  }
  if (failed) process.exit(1);
}
