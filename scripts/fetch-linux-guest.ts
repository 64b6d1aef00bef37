/**
 * Obtains the Linux guest the boot tests and benchmarks use: Debian's stock i386 kernel
 * (`linux-image-6.1.0-*-686`) and a busybox initramfs built here from `busybox-static:i386`.
 * Everything comes through apt (`dpkg --add-architecture i386`, `apt-get download`, `dpkg -x`);
 * the result is cached in `.cache/guests/linux-i386/` (git-ignored). Idempotent.
 *
 *   pnpm fetch-linux-guest            # fetch (or report the cache)
 *   pnpm fetch-linux-guest --force    # fetch again
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const GUEST_DIR = join(root, '.cache', 'guests', 'linux-i386');

export interface LinuxGuest {
  readonly kernel: string;
  readonly initrd: string;
  readonly kernelPackage: string;
  readonly busyboxPackage: string;
}

class FetchError extends Error {}

function say(msg: string): void {
  process.stderr.write(`fetch-linux-guest: ${msg}\n`);
}

function run(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.error) throw new FetchError(`${cmd} could not be run: ${r.error.message}`);
  if (r.status !== 0)
    throw new FetchError(`${cmd} ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

/** One cpio "newc" archive entry. */
interface CpioEntry {
  readonly name: string;
  readonly mode: number;
  readonly data?: Uint8Array;
  readonly rdevMajor?: number;
  readonly rdevMinor?: number;
}

/** Writes a cpio archive in the "newc" format the kernel's initramfs unpacker reads. */
export function cpioNewc(entries: readonly CpioEntry[]): Uint8Array {
  const parts: Buffer[] = [];
  let ino = 1;
  const pad4 = (n: number) => (4 - (n % 4)) % 4;
  const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
  const push = (e: CpioEntry) => {
    const data = e.data ?? new Uint8Array(0);
    const name = Buffer.from(`${e.name}\0`, 'latin1');
    const header =
      '070701' +
      hex8(e.name === 'TRAILER!!!' ? 0 : ino++) +
      hex8(e.mode) +
      hex8(0) + // uid
      hex8(0) + // gid
      hex8(1) + // nlink
      hex8(0) + // mtime: fixed, so the archive is reproducible
      hex8(data.length) +
      hex8(0) + // devmajor
      hex8(0) + // devminor
      hex8(e.rdevMajor ?? 0) +
      hex8(e.rdevMinor ?? 0) +
      hex8(name.length) +
      hex8(0); // check
    const head = Buffer.concat([Buffer.from(header, 'latin1'), name]);
    parts.push(head, Buffer.alloc(pad4(head.length)));
    parts.push(Buffer.from(data), Buffer.alloc(pad4(data.length)));
  };
  for (const e of entries) push(e);
  push({ name: 'TRAILER!!!', mode: 0 });
  return new Uint8Array(Buffer.concat(parts));
}

/** The guest's /init: mount the kernel filesystems, install the applets, start a shell. */
export const INIT_SCRIPT = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /root /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
cd /root
echo "ringzero: busybox initramfs ready"
exec setsid cttyhack sh
`;

export function buildInitramfs(busybox: Uint8Array): Uint8Array {
  const dir = 0o040755;
  const entries: CpioEntry[] = [
    { name: 'bin', mode: dir },
    { name: 'dev', mode: dir },
    { name: 'dev/console', mode: 0o020600, rdevMajor: 5, rdevMinor: 1 },
    { name: 'etc', mode: dir },
    { name: 'proc', mode: dir },
    { name: 'root', mode: dir },
    { name: 'sbin', mode: dir },
    { name: 'sys', mode: dir },
    { name: 'tmp', mode: 0o041777 },
    { name: 'usr', mode: dir },
    { name: 'bin/busybox', mode: 0o100755, data: busybox },
    { name: 'init', mode: 0o100755, data: new TextEncoder().encode(INIT_SCRIPT) },
  ];
  return gzipSync(cpioNewc(entries), { level: 9 });
}

/** The cached guest, or undefined when it has not been fetched on this machine. */
export function cachedLinuxGuest(): LinuxGuest | undefined {
  const manifest = join(GUEST_DIR, 'manifest.json');
  if (!existsSync(manifest)) return undefined;
  const m = JSON.parse(readFileSync(manifest, 'utf8')) as LinuxGuest;
  if (!existsSync(m.kernel) || !existsSync(m.initrd)) return undefined;
  return m;
}

function newestKernelPackage(): string {
  const out = run('apt-cache', ['search', '--names-only', '^linux-image-6\\.1\\.0-[0-9]+-686$']);
  const names = out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => /^linux-image-6\.1\.0-\d+-686$/.test(n));
  if (names.length === 0)
    throw new FetchError('apt knows no linux-image-6.1.0-*-686 package (is i386 enabled?)');
  names.sort((a, b) => Number(a.split('-')[3]) - Number(b.split('-')[3]));
  return names[names.length - 1]!;
}

export function fetchLinuxGuest(force = false): LinuxGuest {
  const cached = cachedLinuxGuest();
  if (cached && !force) {
    say(`cached: ${cached.kernel} (${cached.kernelPackage}), ${cached.initrd}`);
    return cached;
  }
  if (!have('apt-get') || !have('dpkg')) {
    throw new FetchError(
      "needs Debian's apt-get and dpkg; on other systems place a 686 kernel and initramfs by hand",
    );
  }
  if (process.getuid?.() !== 0)
    throw new FetchError('needs root for dpkg --add-architecture and apt-get update');
  const archs = run('dpkg', ['--print-foreign-architectures']).split('\n');
  if (!archs.includes('i386')) {
    say('enabling the i386 architecture (dpkg --add-architecture i386)');
    run('dpkg', ['--add-architecture', 'i386']);
  }
  say('apt-get update (a failing i386 security index is tolerated)');
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
  const kernelPkg = newestKernelPackage();
  const work = join(GUEST_DIR, 'work');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  for (const pkg of [`${kernelPkg}:i386`, 'busybox-static:i386']) {
    say(`apt-get download ${pkg}`);
    run('apt-get', ['download', '-qq', pkg], work);
  }
  const debs = readdirSync(work).filter((f) => f.endsWith('.deb'));
  for (const deb of debs) execFileSync('dpkg', ['-x', deb, 'root'], { cwd: work });
  const bootDir = join(work, 'root', 'boot');
  const vmlinuz = readdirSync(bootDir).find((f) => f.startsWith('vmlinuz-'));
  if (vmlinuz === undefined) throw new FetchError(`${kernelPkg} has no /boot/vmlinuz-*`);
  const kernel = join(GUEST_DIR, vmlinuz);
  writeFileSync(kernel, readFileSync(join(bootDir, vmlinuz)));
  const busybox = new Uint8Array(readFileSync(join(work, 'root', 'bin', 'busybox')));
  const initrd = join(GUEST_DIR, 'initramfs-busybox.cpio.gz');
  writeFileSync(initrd, buildInitramfs(busybox));
  const busyboxDeb = debs.find((d) => d.startsWith('busybox')) ?? 'busybox-static';
  const guest: LinuxGuest = { kernel, initrd, kernelPackage: kernelPkg, busyboxPackage: busyboxDeb };
  writeFileSync(join(GUEST_DIR, 'manifest.json'), `${JSON.stringify(guest, null, 2)}\n`);
  rmSync(work, { recursive: true, force: true });
  say(`kernel ${kernel} (${kernelPkg})`);
  say(`initrd ${initrd} (${busyboxDeb})`);
  return guest;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    mkdirSync(GUEST_DIR, { recursive: true });
    fetchLinuxGuest(process.argv.includes('--force'));
  } catch (e) {
    say(e instanceof FetchError ? e.message : `unexpected failure: ${(e as Error).message}`);
    process.exit(1);
  }
}
