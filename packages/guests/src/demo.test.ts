import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble } from '@ringzero/assembler';
import { runSession, SerialCollector, VirtualMachine } from '@ringzero/hypervisor';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO_COMMAND_LINE, DEMO_KERNEL_SOURCE, DEMO_KERNEL_SYMBOLS, DEMO_PROMPT, demoKernel } from './demo';

const here = import.meta.dirname;
const expectedPath = join(here, 'demo/session.expected.txt');

/** The scripted session: every command of the shell, an unknown one, then halt. */
const SCRIPT = ['help', 'rings', 'tasks', 'fault', 'frobnicate', 'tasks', 'halt'];

function session() {
  const serial = new SerialCollector();
  const vm = new VirtualMachine({ memory: 32 << 20, deterministic: true, onSerial: serial.push });
  vm.bootMultiboot(demoKernel(), { cmdline: DEMO_COMMAND_LINE });
  const steps = [
    ...SCRIPT.map((cmd) => ({ expect: DEMO_PROMPT, send: `${cmd}\r` })),
    { expect: 'System halted.\r\n' },
  ];
  const result = runSession(vm, serial, steps, { stepBudget: 500_000_000 });
  // After `halt` the kernel stops with interrupts off: the run ends as halted.
  const end = vm.run(10_000_000);
  return { result, end, vm };
}

describe('demo kernel', () => {
  // One scripted session shared by the assertions below (each takes tens of millions of
  // instructions), and a second one for the determinism check.
  let first: ReturnType<typeof session>;
  beforeAll(() => {
    first = session();
  });

  it('the embedded image is the assembly of the committed source', () => {
    const fresh = assemble(DEMO_KERNEL_SOURCE, { fileName: 'kernel.asm' }).bytes;
    expect(demoKernel()).toEqual(fresh);
    expect(readFileSync(join(here, 'demo/kernel.asm'), 'utf8')).toBe(DEMO_KERNEL_SOURCE);
    expect(DEMO_KERNEL_SYMBOLS.start).toBeGreaterThan(0x100000);
  });

  it.skipIf(!existsSync('/usr/bin/nasm'))('NASM assembles the same source to the same bytes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringzero-demo-'));
    writeFileSync(join(dir, 'kernel.asm'), DEMO_KERNEL_SOURCE);
    execFileSync('/usr/bin/nasm', ['-f', 'bin', '-o', join(dir, 'kernel.bin'), join(dir, 'kernel.asm')]);
    expect(new Uint8Array(readFileSync(join(dir, 'kernel.bin')))).toEqual(demoKernel());
  });

  it('boots in deterministic mode and a scripted session matches the committed transcript', () => {
    const { result, end } = first;
    expect(result.failure).toBeUndefined();
    expect(end).toEqual({ kind: 'halted' });
    if (process.env.RINGZERO_UPDATE_TRANSCRIPTS === '1') writeFileSync(expectedPath, result.transcript);
    expect(result.transcript).toBe(readFileSync(expectedPath, 'latin1'));
  });

  it('the session shows the teaching points: ring 3, a handled #GP, demand paging, a halt', () => {
    const { result, vm } = first;
    const t = result.transcript;
    expect(t).toContain('so it runs in ring 3');
    expect(t).toMatch(/\[#GP\] shell in ring 3 at 0x[0-9a-f]{8} executed CLI/);
    expect(t).toContain('[page fault] worker-a touched 0x00800000');
    expect(t).toContain('unknown command: frobnicate');
    expect(vm.stats.exceptions.get(13)).toBe(1);
    expect(vm.stats.exceptions.get(14)).toBe(2);
    // Idle time was skipped, not spun: far fewer instructions than virtual nanoseconds.
    expect(vm.cpu.instructions).toBeLessThan(vm.now() / 4);
  });

  it('a second deterministic run prints a byte-identical transcript', () => {
    const second = session();
    expect(second.result.transcript).toBe(first.result.transcript);
    expect(second.vm.cpu.instructions).toBe(first.vm.cpu.instructions);
  });
});
