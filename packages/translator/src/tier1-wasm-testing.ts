/**
 * Test helpers shared by the WebAssembly back end's differential tests (not exported by the
 * package): a harness for a program, with identity paging and missing pages when asked, run to
 * its stop, and the comparison of tier 1's end state with tier 0's.
 */
import { assemble } from '@ringzero/assembler';
import { expect } from 'vitest';
import { createHarness, type HarnessMode } from './harness';
import { StopReason } from './tier0';

export type WasmHarness = ReturnType<typeof createHarness>;

export interface WasmRunOptions {
  /** Ring 3 instead of ring 0. */
  readonly mode?: HarnessMode;
  /** Identity paging (page directory at 0xf0000) with these 4 KiB pages not present. */
  readonly missingPages?: readonly number[];
  /** Fills memory before the run. */
  readonly setup?: (h: WasmHarness) => void;
}

/**
 * Assembles `source` and runs it, in tier 0 alone or with tier 1's WebAssembly back end (threshold
 * 16), until it stops (exceptions stop the run); returns the harness and why it stopped.
 */
export function runProgram(
  source: string,
  jit: boolean,
  opts: WasmRunOptions = {},
): { h: WasmHarness; reason: number } {
  const h = createHarness(assemble(source).bytes, {
    jit,
    wasm: jit,
    jitThreshold: 16,
    memorySize: 1 << 20,
    ...(opts.mode !== undefined ? { mode: opts.mode } : {}),
    callouts: { exception: () => true },
  });
  const missing = opts.missingPages;
  if (missing !== undefined) {
    const pd = 0xf0000;
    const pt = 0xf1000;
    h.memory.write32(pd, pt | 7);
    for (let k = 0; k < 256; k++) h.memory.write32(pt + k * 4, missing.includes(k) ? 0 : (k << 12) | 7);
    h.cpu.state.cr3 = pd;
    h.cpu.state.cr0 |= 0x80000000;
    h.cpu.mmu.flush();
    h.cpu.flushCode();
  }
  opts.setup?.(h);
  let reason: number = StopReason.limit;
  while (reason === StopReason.limit && h.cpu.instructions < 1_000_000) reason = h.cpu.run(1009);
  return { h, reason };
}

/** Tier 1 (`b`) ended as tier 0 (`a`) did: registers, flags, EIP, CR2 and the count. */
export function expectSameEnd(a: WasmHarness, b: WasmHarness): void {
  expect(Array.from(b.cpu.state.regs)).toEqual(Array.from(a.cpu.state.regs));
  expect(b.cpu.state.getFlags()).toBe(a.cpu.state.getFlags());
  expect(b.cpu.state.eip).toBe(a.cpu.state.eip);
  expect(b.cpu.state.cr2).toBe(a.cpu.state.cr2);
  expect(b.cpu.instructions).toBe(a.cpu.instructions);
}

/** The same bytes of guest memory in both runs. */
export function expectSameBytes(a: WasmHarness, b: WasmHarness, from: number, to: number): void {
  expect(Array.from(b.memory.ram.subarray(from, to))).toEqual(Array.from(a.memory.ram.subarray(from, to)));
}
