/**
 * Real machine code for the differential tests and the benchmark: the `.text` sections of
 * Debian's statically linked busybox for i386 (32-bit) and amd64 (64-bit), obtained with
 * `apt-get download` and `dpkg -x` and cached under `<repo>/.cache/decoder/`, and the `.text` of
 * the running Node executable (a large x86-64 binary).
 *
 *   pnpm --filter @ringzero/decoder fetch-real-code
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const CACHE_DIR = join(here, '..', '..', '..', '.cache', 'decoder');

export interface CodeSample {
  readonly name: string;
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

/** Downloads and caches the samples (needs apt and dpkg); returns what it did. */
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
    return { name: 'node-x86-64', bitness: 64, bytes: text.bytes, address: text.address };
  } catch {
    return undefined;
  }
}

/** The cached samples (empty when `fetchRealCode` has not run on this machine), then `nodeText()`. */
export function loadRealCode(): CodeSample[] {
  const out: CodeSample[] = [];
  for (const s of SAMPLES) {
    const target = join(CACHE_DIR, `${s.name}.text`);
    if (!existsSync(target)) continue;
    out.push({
      name: s.name,
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
  try {
    for (const line of fetchRealCode()) console.log(line);
  } catch (e) {
    console.error(`fetch-real-code: ${(e as Error).message} (needs Debian's apt-get and dpkg, run as root)`);
    process.exit(1);
  }
}
