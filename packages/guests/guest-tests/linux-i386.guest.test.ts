import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CpuidEdx, I686_PROFILE } from '@ringzero/hypervisor';
import { beforeAll, describe, expect, it } from 'vitest';
import { type LinuxSessionResult, linuxGuestFiles } from './linux-session';

const files = linuxGuestFiles();
const run = promisify(execFile);

/** Runs the session in a child process (so two runs use both cores), returning its result. */
async function session(out: string): Promise<LinuxSessionResult> {
  await run(
    process.execPath,
    ['--conditions=@ringzero/source', '--import', 'tsx', join(import.meta.dirname, 'linux-session.ts'), out],
    { maxBuffer: 1 << 26 },
  );
  return JSON.parse(readFileSync(out, 'utf8')) as LinuxSessionResult;
}

describe.skipIf(!files)('Debian i686 Linux with a busybox initramfs (guest-boot suite)', () => {
  let first: LinuxSessionResult;
  let second: LinuxSessionResult;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringzero-linux-'));
    [first, second] = await Promise.all([session(join(dir, 'a.json')), session(join(dir, 'b.json'))]);
    console.log(
      `linux session: prompt after ${first.marks[0]} instructions (${first.hostSecondsToPrompt.toFixed(1)} s), ` +
        `end after ${first.instructions} instructions, ${first.hostSeconds.toFixed(1)} s host, ` +
        `${first.virtualSeconds.toFixed(2)} s virtual, ${(first.instructions / first.hostSeconds / 1e6).toFixed(1)} MIPS`,
    );
  });

  /** The output of the command typed after prompt `n` (up to the next prompt). */
  const output = (n: number) => {
    const parts = first.transcript.split('/root # ');
    return parts[n + 1] ?? '';
  };

  it('boots to the busybox shell prompt and runs every scripted command', () => {
    expect(first.failure).toBeUndefined();
    expect(first.transcript).toContain('Run /init as init process');
    expect(first.transcript).toContain('ringzero: busybox initramfs ready');
  });

  it('uname -a names the Debian 686 kernel on i686', () => {
    expect(output(0)).toMatch(/Linux \(none\) 6\.1\.0-\d+-686 #1 SMP .* i686 GNU\/Linux/);
  });

  it('/proc/cpuinfo shows exactly the features of the guest profile', () => {
    const flags = /flags\s*: (.*)/.exec(output(1))?.[1]?.trim().split(' ') ?? [];
    const regs = new Int32Array(4);
    I686_PROFILE.cpuid(1, 0, regs);
    const edx = regs[3] ?? 0;
    for (const [name, bit] of Object.entries(CpuidEdx)) {
      expect(flags.includes(name), name).toBe((edx & bit) !== 0);
    }
    expect(flags).not.toContain('sse');
    expect(flags).not.toContain('apic');
    expect(output(1)).toMatch(/vendor_id\s*: GenuineIntel/);
  });

  it('sha256sum of a file generated in the guest equals the host computation', () => {
    let text = '';
    for (let i = 1; i <= 20000; i++) text += `${i}\n`;
    const expected = createHash('sha256').update(text).digest('hex');
    expect(output(2)).toContain(`${expected}  /tmp/f`);
  });

  it('awk computes in floating point (x87) and prints the host-computed value', () => {
    let s = 0;
    for (let i = 1; i <= 1000; i++) s += 1 / (i * i);
    const expected = `${s.toFixed(12)} ${(s * 6).toExponential(6).replace(/e([+-])(\d)$/, 'e$10$2')}`;
    expect(output(3)).toContain(expected);
  });

  it('poweroff -f ends the run with the CPU halted', () => {
    expect(first.transcript).toMatch(/reboot: (System halted|Power down)/);
    expect(first.outcome).toEqual({ kind: 'halted' });
  });

  it('a second deterministic run prints byte-identical serial output', () => {
    expect(second.transcript).toBe(first.transcript);
    expect(second.instructions).toBe(first.instructions);
  });
});
