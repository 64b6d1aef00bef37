import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble } from '@ringzero/assembler';
import { describe, expect, it } from 'vitest';
import { describeOutcome, exitStatus, prepare, UsageError } from './run';

const base = { append: 'console=ttyS0', memory: '128M', deterministic: true, stats: false };

describe('ringzero run: option and input checks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ringzero-cli-'));
  const junk = join(dir, 'junk.bin');
  writeFileSync(junk, new Uint8Array(8192).fill(0x90));
  const empty = join(dir, 'empty.bin');
  writeFileSync(empty, new Uint8Array(0));

  it('a missing kernel file is a clear error naming the path', () => {
    expect(() => prepare({ ...base, kernel: join(dir, 'nope') }, () => {})).toThrow(
      /cannot read the kernel ".*nope": no such file/,
    );
  });
  it('an empty initrd is an error', () => {
    expect(() => prepare({ ...base, kernel: junk, initrd: empty }, () => {})).toThrow(/initrd .* is empty/);
  });
  it('a file that is no kernel at all names the file and the formats it could have been', () => {
    expect(() => prepare({ ...base, kernel: junk }, () => {})).toThrow(UsageError);
    expect(() => prepare({ ...base, kernel: junk }, () => {})).toThrow(
      /junk\.bin: not a kernel ringzero can boot \(neither a Linux bzImage .* nor a Multiboot image\)/,
    );
  });
  it('a corrupt bzImage names the file and what is wrong', () => {
    const bad = join(dir, 'bad-bzimage');
    const img = new Uint8Array(8192);
    img.set([0x48, 0x64, 0x72, 0x53], 0x202); // "HdrS" without the 0xAA55 signature
    writeFileSync(bad, img);
    expect(() => prepare({ ...base, kernel: bad }, () => {})).toThrow(
      /bad-bzimage: kernel image lacks the 0xAA55 boot signature/,
    );
  });
  it('without --kernel the bundled demo kernel boots to its shell prompt', () => {
    let out = '';
    const { vm } = prepare({ memory: '32M', deterministic: true, stats: false }, (b) => {
      out += String.fromCharCode(b);
    });
    for (let i = 0; i < 100 && !out.endsWith('demo> '); i++) vm.run(1_000_000);
    expect(out).toContain('ringzero demo kernel');
    expect(out).toContain('command line: "demo"');
    expect(out.endsWith('demo> ')).toBe(true);
  });
  it('with --jit-backend wasm the demo kernel boots to the same prompt after the same instructions', () => {
    const boot = (jitBackend: string) => {
      let out = '';
      const { vm } = prepare({ memory: '32M', deterministic: true, stats: false, jitBackend }, (b) => {
        out += String.fromCharCode(b);
      });
      for (let i = 0; i < 100 && !out.endsWith('demo> '); i++) vm.run(1_000_000);
      return { out, vm };
    };
    const js = boot('js');
    const wasm = boot('wasm');
    expect(wasm.out.endsWith('demo> ')).toBe(true);
    expect(wasm.out).toBe(js.out);
    expect(wasm.vm.cpu.instructions).toBe(js.vm.cpu.instructions);
    expect(wasm.vm.cpu.jit?.stats.wasmRegions).toBeGreaterThan(0);
    expect(() => prepare({ ...base, jitBackend: 'wasm2' }, () => {})).toThrow(
      '--jit-backend must be js or wasm (got wasm2)',
    );
  });
  it('impossible memory sizes and instruction limits are refused before anything is read', () => {
    expect(() => prepare({ ...base, kernel: junk, memory: '1T' }, () => {})).toThrow(/1T/);
    expect(() => prepare({ ...base, kernel: junk, memory: 'lots' }, () => {})).toThrow(/"lots"/);
    expect(() => prepare({ ...base, kernel: junk, maxInstructions: '-5' }, () => {})).toThrow(
      /positive whole number/,
    );
  });
  it('a triple fault is reported with the registers and the last translated blocks', () => {
    // A Multiboot kernel that spins in a loop (hot enough for tier 1), then loads an empty IDT
    // and raises an exception: #BP cannot be delivered, nor can the #DF: triple fault.
    const image = assemble(`bits 32
org 0x100000
hdr: dd 0x1BADB002, 0x00010000, -(0x1BADB002 + 0x00010000)
     dd hdr, hdr, 0, 0, start
start:
    mov ecx, 5000
spin:
    add eax, ecx
    dec ecx
    jnz spin
    lidt [empty]
    int3
empty: dw 0
       dd 0
`).bytes;
    const file = join(dir, 'triple.bin');
    writeFileSync(file, image);
    const { vm } = prepare({ ...base, kernel: file, memory: '16M' }, () => {});
    const o = vm.run(1_000_000);
    expect(o.kind).toBe('triple-fault');
    expect(exitStatus(o)).toBe(2);
    const text = describeOutcome(o, vm);
    expect(text).toMatch(/^triple fault at eip=[0-9a-f]+ \(last vector \d+\); eax=[0-9a-f]{8} /);
    expect(text).toMatch(/; last blocks( 10[0-9a-f]{4})+$/);
  });

  it('exit status: 0 for a powered-off guest, the debug-exit status, 2 for a triple fault', () => {
    expect(exitStatus({ kind: 'halted' })).toBe(0);
    expect(exitStatus({ kind: 'debug-exit', status: 3 })).toBe(3);
    expect(exitStatus({ kind: 'triple-fault', eip: 0, vector: 8 })).toBe(2);
  });
});
