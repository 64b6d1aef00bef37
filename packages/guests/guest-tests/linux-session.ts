/**
 * The scripted Linux session of the guest-boot suite: boots Debian's i686 kernel with the busybox
 * initramfs (fetched by `pnpm fetch-linux-guest` into .cache/guests/linux-i386) in deterministic
 * mode and types a few commands at the shell. Run directly, it writes the result as JSON:
 *
 *   node --conditions=@ringzero/source --import tsx guest-tests/linux-session.ts out.json
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Outcome, runSession, SerialCollector, VirtualMachine } from '@ringzero/hypervisor';

export const GUEST_MANIFEST = join(
  dirname(fileURLToPath(import.meta.url)),
  '../../../.cache/guests/linux-i386/manifest.json',
);

/** Kernel command line: the serial console, and no crypto self-tests (seconds of RSA/DH math). */
export const LINUX_CMDLINE = 'console=ttyS0 cryptomgr.notests';
export const LINUX_PROMPT = '/root # ';

/** The commands, in order; the last powers the machine off. */
export const LINUX_COMMANDS = [
  'uname -a',
  'cat /proc/cpuinfo',
  'seq 1 20000 > /tmp/f; sha256sum /tmp/f',
  'awk \'BEGIN { s = 0; for (i = 1; i <= 1000; i++) s += 1 / (i * i); printf "%.12f %.6e\\n", s, s * 6 }\'',
  'poweroff -f',
] as const;

export interface LinuxSessionResult {
  readonly transcript: string;
  readonly failure?: { step: number; reason: string };
  readonly outcome: Outcome;
  /** Instruction counts when the prompt appeared before each command. */
  readonly marks: readonly number[];
  readonly instructions: number;
  readonly virtualSeconds: number;
  readonly hostSeconds: number;
  /** Host seconds until the first shell prompt. */
  readonly hostSecondsToPrompt: number;
}

export function linuxGuestFiles(): { kernel: string; initrd: string } | undefined {
  if (!existsSync(GUEST_MANIFEST)) return undefined;
  const m = JSON.parse(readFileSync(GUEST_MANIFEST, 'utf8')) as { kernel: string; initrd: string };
  return existsSync(m.kernel) && existsSync(m.initrd) ? m : undefined;
}

export function runLinuxSession(files: { kernel: string; initrd: string }): LinuxSessionResult {
  const t0 = performance.now();
  let toPrompt = 0;
  const serial = new SerialCollector();
  const vm = new VirtualMachine({ memory: 128 << 20, deterministic: true, onSerial: serial.push });
  vm.bootLinux(new Uint8Array(readFileSync(files.kernel)), {
    initrd: new Uint8Array(readFileSync(files.initrd)),
    cmdline: LINUX_CMDLINE,
  });
  const steps = LINUX_COMMANDS.map((c) => ({ expect: LINUX_PROMPT, send: `${c}\r` }));
  const r = runSession(vm, serial, steps, {
    stepBudget: 8_000_000_000,
    onSlice: () => {
      if (toPrompt === 0 && serial.text.includes(LINUX_PROMPT)) toPrompt = performance.now() - t0;
    },
  });
  // After `poweroff -f` the kernel halts with interrupts off.
  const outcome = r.failure ? r.outcome : vm.run(2_000_000_000);
  return {
    transcript: serial.text,
    failure: r.failure,
    outcome,
    marks: r.marks,
    instructions: vm.cpu.instructions,
    virtualSeconds: vm.now() / 1e9,
    hostSeconds: (performance.now() - t0) / 1000,
    hostSecondsToPrompt: toPrompt / 1000,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = linuxGuestFiles();
  if (!files) {
    console.error(`no Linux guest at ${GUEST_MANIFEST}: run pnpm fetch-linux-guest`);
    process.exit(1);
  }
  const out = process.argv[2];
  const result = runLinuxSession(files);
  if (out) writeFileSync(out, JSON.stringify(result));
  else process.stdout.write(result.transcript);
}
