import { assemble } from '@ringzero/assembler';
import { describe, expect, it } from 'vitest';
import { Reg } from './cpu-state';
import { createHarness } from './harness';
import type { CompiledModule, ModuleCompiler } from './module-compiler';
import { createWorkerCompiler } from './node/worker-compiler';
import { StopReason } from './tier0';

/**
 * A compiler the test releases by hand: it compiles at `submit` (or fails, with `fail`), and
 * hands results out only after `release()`, so every step of a region's way from submission to
 * installation is deterministic.
 */
function heldCompiler(fail = false) {
  const held: CompiledModule[] = [];
  const out: CompiledModule[] = [];
  let alive = true;
  const compiler: ModuleCompiler = {
    submit(id, bytes) {
      held.push(
        fail ? { id, error: 'refused by the test' } : { id, module: new WebAssembly.Module(bytes.slice()) },
      );
    },
    ready: () => out.length > 0,
    take: () => out.splice(0),
    alive: () => alive,
    close() {
      alive = false;
    },
  };
  return {
    compiler,
    get held() {
      return held.length;
    },
    release() {
      out.push(...held.splice(0));
    },
  };
}

const LOOP = `bits 32
org 0x1000
  mov esp, 0x8000
  mov ecx, 20000
top:
  add eax, ecx
  xor ebx, eax
  dec ecx
  jnz top
  hlt`;

type Harness = ReturnType<typeof createHarness>;

function harness(
  src: string,
  compiler?: ModuleCompiler,
  extra: readonly (readonly [number, Uint8Array])[] = [],
) {
  const h = createHarness(assemble(src).bytes, {
    jit: compiler !== undefined,
    wasm: compiler !== undefined,
    jitThreshold: 64,
    memorySize: 4 << 20,
    ...(compiler !== undefined ? { moduleCompiler: compiler } : {}),
  });
  for (const [at, bytes] of extra) h.memory.ram.set(bytes, at);
  return h;
}

function runToHalt(h: Harness, slice = 1000, each?: () => void): void {
  let reason: number = StopReason.limit;
  while (reason === StopReason.limit && h.cpu.instructions < 20_000_000) {
    reason = h.cpu.run(slice);
    each?.();
  }
  expect(reason).toBe(StopReason.halt);
}

function expectSame(a: Harness, b: Harness): void {
  expect(Array.from(b.cpu.state.regs)).toEqual(Array.from(a.cpu.state.regs));
  expect(b.cpu.state.eip).toBe(a.cpu.state.eip);
  expect(b.cpu.state.getFlags()).toBe(a.cpu.state.getFlags());
  expect(b.cpu.instructions).toBe(a.cpu.instructions);
}

/** Most of `b`'s run was translated, and it ended as tier 0 alone ends `src`. */
function expectTranslatedAsTier0(b: Harness, src = LOOP): void {
  expect(b.cpu.jit?.stats.instructionsTranslated ?? 0).toBeGreaterThan(b.cpu.instructions / 2);
  const a = harness(src);
  runToHalt(a);
  expectSame(a, b);
}

describe('ModuleCompiler: regions compiled off the guest thread', () => {
  it('runs a hot loop in tier 0 while its module is out, and translated once it is back', () => {
    const c = heldCompiler();
    const b = harness(LOOP, c.compiler);
    b.cpu.run(5000);
    const st = b.cpu.jit?.stats;
    expect(st?.wasmSubmitted).toBe(1);
    expect(b.cpu.jit?.pendingRegions).toBe(1);
    // Still hot, still out: no second submission for the same code, nothing translated.
    b.cpu.run(5000);
    expect(st?.wasmSubmitted).toBe(1);
    expect(st?.instructionsTranslated).toBe(0);
    c.release();
    runToHalt(b);
    expect(st?.wasmInstalled).toBe(1);
    expect(b.cpu.jit?.pendingRegions).toBe(0);
    expectTranslatedAsTier0(b);
  });

  it('drops a region whose page is written while its module is out, and runs the new code', () => {
    // The loop's ADD becomes a SUB (same length) after the region was submitted.
    const c = heldCompiler();
    const b = harness(LOOP, c.compiler);
    const a = harness(LOOP);
    for (const h of [a, b]) h.cpu.run(5000);
    expect(b.cpu.jit?.stats.wasmSubmitted).toBe(1);
    const at = assemble(LOOP).bytes.indexOf(0x01) + 0x1000; // add eax, ecx: 01 c8
    for (const h of [a, b]) {
      expect(h.memory.ram[at + 1]).toBe(0xc8);
      h.memory.ram[at] = 0x29; // sub eax, ecx
      h.cpu.invalidateCode(at, 1);
    }
    expect(b.cpu.jit?.stats.wasmDropped).toBe(1);
    expect(b.cpu.jit?.pendingRegions).toBe(0);
    c.release();
    runToHalt(a);
    runToHalt(b);
    expectSame(a, b);
    // The dropped module was never installed; the new code was translated again.
    expect(b.cpu.jit?.stats.wasmSubmitted).toBe(2);
  });

  it('an entry installed into a cache slot another address holds (1 MiB away) does not run there', () => {
    // A's region is submitted; then B, 1 MiB above A, a sled of one-byte INCs, runs and takes
    // the cache slots of A's instructions. A's module comes back: its entries go into slots
    // that hold B's instructions. B runs again and must run its own.
    const a0 = 0x2000;
    const b0 = a0 + (1 << 20);
    const fnA = assemble(`bits 32
org ${a0}
  mov ecx, 50
l1:
  add eax, ecx
  test ecx, 1
  jz l2
  inc ebx
l2:
  dec ecx
  jnz l1
  ret`).bytes;
    const fnB = assemble(`bits 32\norg ${b0}\n${'  inc edx\n'.repeat(64)}  ret`).bytes;
    const main = `bits 32
org 0x1000
  mov esp, 0x8000
  xor edx, edx
  mov esi, 40
hot:
  call ${a0}
  dec esi
  jnz hot
  call ${b0}
  int3
  call ${b0}
  hlt`;
    const c = heldCompiler();
    const extra = [
      [a0, fnA],
      [b0, fnB],
    ] as const;
    const b = harness(main, c.compiler, extra);
    const a = harness(main, undefined, extra);
    // Up to the INT3 (a breakpoint stop in both): A hot and submitted, then B ran once.
    const toBreak = (h: Harness) => {
      while (h.cpu.instructions < 1_000_000 && h.memory.ram[h.cpu.state.eip] !== 0xcc) h.cpu.run(1);
      h.cpu.state.eip += 1;
    };
    toBreak(a);
    toBreak(b);
    expect(b.cpu.jit?.pendingRegions).toBe(1);
    c.release();
    runToHalt(a);
    runToHalt(b);
    expect(b.cpu.jit?.stats.wasmInstalled).toBe(1);
    expect(b.cpu.state.regs[Reg.edx]).toBe(128);
    expectSame(a, b);
  });

  it('a module that does not come back compiled leaves its code to tier 0, then is compiled on the guest thread', () => {
    const c = heldCompiler(true);
    const b = harness(LOOP, c.compiler);
    runToHalt(b, 1000, () => c.release());
    const st = b.cpu.jit?.stats;
    expect(st?.wasmFallbacks).toBeGreaterThan(0);
    expect(st?.wasmInstalled).toBe(0);
    expect(String(b.cpu.jit?.lastWasmError)).toMatch(/refused by the test/);
    // The failed address got its region from `new WebAssembly.Module` where the guest runs.
    expect(st?.wasmRegions).toBeGreaterThan(0);
    expectTranslatedAsTier0(b);
  });

  it('a compiler that stops while a module is out: modules compile on the guest thread from then on', () => {
    const c = heldCompiler();
    const b = harness(LOOP, c.compiler);
    b.cpu.run(3000);
    expect(b.cpu.jit?.pendingRegions).toBe(1);
    c.compiler.close();
    runToHalt(b);
    const st = b.cpu.jit?.stats;
    expect(String(b.cpu.jit?.lastWasmError)).toMatch(/module compiler stopped/);
    expect(st?.wasmDropped).toBe(1);
    expect(st?.wasmSubmitted).toBe(1);
    expect(st?.wasmRegions).toBeGreaterThan(0);
    expectTranslatedAsTier0(b);
  });

  it('the worker compiler answers bytes that are not a module with the reason', () => {
    const compiler = createWorkerCompiler();
    try {
      compiler.submit(7, new Uint8Array([0, 0x61, 0x73, 0x6d, 9, 9, 9, 9]));
      const wait = new Int32Array(new SharedArrayBuffer(4));
      const got: CompiledModule[] = [];
      for (let k = 0; k < 5000 && got.length === 0; k++) {
        if (compiler.ready()) got.push(...compiler.take());
        else Atomics.wait(wait, 0, 0, 1);
      }
      expect(got).toHaveLength(1);
      expect(got[0]?.id).toBe(7);
      expect(got[0]?.module).toBeUndefined();
      expect(got[0]?.error).toMatch(/version|magic|Wasm|WebAssembly/i);
    } finally {
      compiler.close();
    }
  });

  it('the worker compiler compiles on another thread, and the run ends as tier 0 ends it', () => {
    const compiler = createWorkerCompiler();
    try {
      const src = LOOP.replace('mov ecx, 20000', 'mov ecx, 400000');
      const b = harness(src, compiler);
      // Slices give the worker time; the result does not depend on when the module arrives.
      runToHalt(b, 1000, () => {
        if ((b.cpu.jit?.pendingRegions ?? 0) > 0)
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      });
      expect(b.cpu.jit?.stats.wasmInstalled).toBeGreaterThan(0);
      const a = harness(src);
      runToHalt(a);
      expectSame(a, b);
      expect(compiler.alive()).toBe(true);
    } finally {
      compiler.close();
    }
    expect(compiler.alive()).toBe(false);
    expect(compiler.ready()).toBe(false);
    expect(compiler.take()).toEqual([]);
    expect(() => compiler.submit(2, new Uint8Array(8))).toThrow(/closed/);
  });
});
