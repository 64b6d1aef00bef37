import { assemble } from '@ringzero/assembler';
import { describe, expect, it } from 'vitest';
import { chainEntry, createArena, Xfer } from './arena';
import { Seg } from './cpu-state';
import { createHarness } from './harness';
import { StopReason } from './tier0';
import { type RunFn, WasmChain } from './wasm-chain';
import { FunctionBuilder, ModuleBuilder, ValType } from './wasm-encoder';

const I32 = ValType.i32;

/**
 * Two functions in different pages that call each other in a loop: every exit of one region is
 * an entry of the other, so after warm-up the loop runs as WebAssembly tail calls.
 */
const MAIN = `bits 32
org 0x1000
  mov ecx, 3000
top:
  add eax, 3
  call 0x3000
  dec ecx
  jnz top
  mov dword [0x3010], 0x90909090
  mov ecx, 500
again:
  call 0x3000
  dec ecx
  jnz again
  hlt`;
const OTHER = `bits 32
org 0x3000
  add ebx, eax
  xor edx, ebx
  ret
  nop
  nop
  nop
  nop
  nop
  nop
  nop
  nop`;

type Harness = ReturnType<typeof createHarness>;

/** Runs in slices of `slice` instructions until the processor stops or 2 M instructions ran. */
function runToStop(h: Harness, slice: number): number {
  let reason: number = StopReason.limit;
  while (reason === StopReason.limit && h.cpu.instructions < 2_000_000) reason = h.cpu.run(slice);
  return reason;
}

/** Tier 1 (`b`) ended with tier 0's (`a`) registers, flags and count. */
function expectSame(a: Harness, b: Harness): void {
  expect(Array.from(b.cpu.state.regs)).toEqual(Array.from(a.cpu.state.regs));
  expect(b.cpu.state.getFlags()).toBe(a.cpu.state.getFlags());
  expect(b.cpu.instructions).toBe(a.cpu.instructions);
}

function run(jit: boolean) {
  const h = createHarness(assemble(MAIN).bytes, { jit, wasm: jit, jitThreshold: 64 });
  h.memory.ram.set(assemble(OTHER).bytes, 0x3000);
  return { h, reason: runToStop(h, 4096) };
}

describe('WasmChain', () => {
  it('runs region-to-region exits as tail calls, with the state and count tier 0 gives', () => {
    const a = run(false);
    const b = run(true);
    expect(b.reason).toBe(StopReason.halt);
    expectSame(a.h, b.h);
    const stats = b.h.cpu.jit?.stats;
    // Most of the 3,500 calls and returns went through the chain, not the dispatcher.
    expect(stats?.wasmChained).toBeGreaterThan(3000);
    expect(stats?.chained).toBeGreaterThanOrEqual(stats?.wasmChained ?? 0);
  });

  it('forgets a page whose code is written (by the guest or by the host)', () => {
    const b = run(true);
    const chain = b.h.cpu.jit?.chain as WasmChain;
    // The guest's store into 0x3010 dropped the page; the second loop translated it again (in
    // whichever mode: the harness runs without paging, with flat segments).
    const at3000 = [0x3000, 0x3001, 0x3002, 0x3003, 0x3004, 0x3005, 0x3006, 0x3007].some((p) =>
      Array.from({ length: 32 }, (_, m) => m).some((m) => chain.lookup(p, m) !== undefined),
    );
    expect(b.h.cpu.jit?.stats.invalidations).toBeGreaterThan(0);
    expect(at3000).toBe(true);
    b.h.cpu.invalidateCode(0x3000, 1);
    for (let p = 0x3000; p < 0x3010; p++) {
      for (let m = 0; m < 32; m++) expect(chain.lookup(p, m)).toBeUndefined();
    }
    expect(chain.size).toBeGreaterThan(0);
    b.h.cpu.flushCode();
    expect(chain.size).toBe(0);
  });

  it('hands out table elements, maps entries by physical address and mode, and starts over at a flush', () => {
    const arena = createArena(1 << 16);
    const chain = new WasmChain(arena);
    // A stand-in region function with run's type that returns its `lim`.
    const mb = new ModuleBuilder();
    const body = new FunctionBuilder(4);
    body.get(2);
    mb.exportFunction('run', mb.addFunction([I32, I32, I32, I32], [I32], body));
    const run0 = new WebAssembly.Instance(new WebAssembly.Module(mb.build()), {}).exports.run as RunFn;
    const k = chain.add(run0);
    expect(k).toBe(0);
    expect(chain.add(run0)).toBe(1);
    // The trampoline calls element k with run's arguments.
    expect(chain.enter(k, 0, 0, 1234, 0)).toBe(1234);
    chain.insert(0x5123, 3, k, 7);
    expect(chain.lookup(0x5123, 3)).toEqual({ fn: 0, block: 7 });
    expect(chain.lookup(0x5123, 1)).toBeUndefined();
    const e = chainEntry(0x5123);
    expect(arena.chain[4 * e]).toBe(0x5123);
    chain.dropFunction(5, 1);
    expect(chain.lookup(0x5123, 3)).toBeDefined();
    chain.dropFunction(5, 0);
    expect(chain.lookup(0x5123, 3)).toBeUndefined();
    const g = chain.generation;
    chain.flush();
    expect(chain.generation).toBe(g + 1);
    expect(chain.add(run0)).toBe(0);
    expect(arena.xfer[Xfer.chains]).toBe(0);
  });

  it('FS-relative operands with a nonzero FS base run in WebAssembly with the results of tier 0', () => {
    const src = `bits 32
org 0x1000
  mov ecx, 2000
  xor ebx, ebx
top:
  inc dword [fs:0x10]
  mov eax, [fs:0x10]
  add [fs:ebx*4+0x20], eax
  sub eax, [fs:ebx*4+0x20]
  mov [fs:0x14], eax
  inc ebx
  and ebx, 7
  dec ecx
  jnz top
  hlt`;
    const go = (jit: boolean) => {
      const h = createHarness(assemble(src).bytes, { jit, wasm: jit, jitThreshold: 64 });
      // A 4 GiB writable FS at base 0x8000 (the descriptor cache, as a segment load leaves it).
      h.cpu.state.segBase[Seg.fs] = 0x8000;
      expect(runToStop(h, 1000)).toBe(StopReason.halt);
      return h;
    };
    const a = go(false);
    const b = go(true);
    expect(b.cpu.state.segAccess[Seg.fs]! & 0x9e).toBe(0x92);
    expect(b.cpu.jit?.modeKey(b.cpu.state)).toBe(6);
    expectSame(a, b);
    expect(Array.from(b.memory.ram.subarray(0x8000, 0x8040))).toEqual(
      Array.from(a.memory.ram.subarray(0x8000, 0x8040)),
    );
    expect(a.memory.ram[0x8010]).not.toBe(0);
    expect(b.cpu.jit?.stats.wasmRegions).toBeGreaterThan(0);
  });

  it('LODSB and SCASB loops, forwards and with DF set, match tier 0', () => {
    const src = `bits 32
org 0x1000
  mov ebp, 300
outer:
  mov esi, 0x6000
  mov edi, 0x7000
  mov ecx, 40
fwd:
  lodsb
  add bl, al
  scasb
  jne skip
  inc edx
skip:
  dec ecx
  jnz fwd
  std
  mov ecx, 40
back:
  lodsb
  xor bh, al
  scasb
  adc edx, 0
  dec ecx
  jnz back
  cld
  dec ebp
  jnz outer
  hlt`;
    const go = (jit: boolean) => {
      const h = createHarness(assemble(src).bytes, { jit, wasm: jit, jitThreshold: 64 });
      for (let k = 0; k < 64; k++) {
        h.memory.ram[0x6000 + k] = (k * 37) & 0xff;
        h.memory.ram[0x7000 + k] = k % 3 === 0 ? (k * 37) & 0xff : k;
      }
      expect(runToStop(h, 997)).toBe(StopReason.halt);
      return h;
    };
    expectSame(go(false), go(true));
  });
});
