import { createArena } from './arena';
import { CpuState, Reg, Seg } from './cpu-state';
import { TranslatorError } from './errors';
import type { PhysicalBus } from './mmu';
import type { ModuleCompiler } from './module-compiler';
import type { Callouts, Policy } from './policy';
import { type StopReason, Tier0 } from './tier0';

/** Flat guest RAM with no devices: reads past the end return all ones, writes there are dropped. */
export class FlatMemory implements PhysicalBus {
  readonly ram: Uint8Array;
  readonly size: number;

  /** `ram`, when given, is the RAM to use (`size` bytes: an arena's, for WebAssembly regions). */
  constructor(size: number, ram?: Uint8Array) {
    if (ram !== undefined && ram.length !== size) {
      throw new TranslatorError(
        'bad-argument',
        `FlatMemory: ram has ${ram.length} bytes, not ${size}`,
        ram.length,
      );
    }
    this.ram = ram ?? new Uint8Array(size);
    this.size = size;
  }

  read8(addr: number): number {
    return addr >>> 0 < this.size ? (this.ram[addr >>> 0] ?? 0) : 0xff;
  }
  read16(addr: number): number {
    return this.read8(addr) | (this.read8(addr + 1) << 8);
  }
  read32(addr: number): number {
    return (this.read16(addr) | (this.read16(addr + 2) << 16)) >>> 0;
  }
  write8(addr: number, value: number): void {
    if (addr >>> 0 < this.size) this.ram[addr >>> 0] = value;
  }
  write16(addr: number, value: number): void {
    this.write8(addr, value);
    this.write8(addr + 1, value >> 8);
  }
  write32(addr: number, value: number): void {
    this.write16(addr, value);
    this.write16(addr + 2, value >> 16);
  }
  read64(addr: number): bigint {
    return (BigInt(this.read32(addr + 4)) << 32n) | BigInt(this.read32(addr));
  }
  write64(addr: number, value: bigint): void {
    this.write32(addr, Number(value & 0xffffffffn));
    this.write32(addr + 4, Number((value >> 32n) & 0xffffffffn));
  }
  readBytes(addr: number, length: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, Math.min(length, 1 << 24)));
    for (let i = 0; i < out.length; i++) out[i] = this.read8(addr + i);
    return out;
  }
  writeBytes(addr: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) this.write8(addr + i, data[i] ?? 0);
  }
}

/**
 * The tier harness processors use when a test does not say: 1 when the global
 * `RINGZERO_HARNESS_TIER` is 1 (set by `tier1-suite.test.ts` to run the tier-0 suites again
 * through tier 1, translating every address the first time it runs), 2 for the same through
 * tier 1's WebAssembly back end (`tier1-wasm-suite.test.ts`), else 0.
 */
function harnessTier(): number {
  const tier = (globalThis as { RINGZERO_HARNESS_TIER?: number }).RINGZERO_HARNESS_TIER;
  return tier === 1 || tier === 2 ? tier : 0;
}

/** Processor modes the harness can start a snippet in. */
export type HarnessMode = 'real' | 'flat32' | 'flat32-user';

export interface HarnessOptions {
  mode?: HarnessMode;
  /** Where the code is loaded and EIP starts (default 0x1000). */
  origin?: number;
  /** Guest RAM size in bytes (default 1 MiB). */
  memorySize?: number;
  /** Initial ESP (default: top of RAM in flat modes, 0xfffe in real mode). */
  stack?: number;
  callouts?: Partial<Callouts>;
  policy?: Policy;
  /** Run hot code through tier 1. */
  jit?: boolean;
  /** Executions before tier 1 translates an address (1: translate everything at once). */
  jitThreshold?: number;
  /** Tier 1 emits WebAssembly (RAM and registers in an arena) instead of JavaScript. */
  wasm?: boolean;
  /** With `wasm`: compiles tier 1's modules through this (`Tier0Options.moduleCompiler`). */
  moduleCompiler?: ModuleCompiler;
}

/** GDT the flat modes install at 0x500: null, ring-0 code/data, ring-3 code/data, a 32-bit TSS. */
export const HARNESS_GDT = 0x500;
export const HARNESS_TSS = 0x600;
export const HARNESS_IDT = 0x800;

function descriptor(base: number, limit: number, access: number, flags: number): [number, number] {
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi =
    (base & 0xff000000) |
    ((flags & 0xf) << 20) |
    (limit & 0xf0000) |
    ((access & 0xff) << 8) |
    ((base >>> 16) & 0xff);
  return [lo >>> 0, hi >>> 0];
}

/**
 * A processor with flat RAM and `code` loaded at `origin`, ready to run. Flat modes build a
 * real GDT (selectors 0x08/0x10 ring 0, 0x1b/0x23 ring 3, TSS 0x28 with ESP0 = top of RAM) and
 * an empty IDT at 0x800 (limit 0x7ff), so faults are delivered to whatever the test installs.
 */
export function createHarness(
  code: Uint8Array,
  options: HarnessOptions = {},
): { cpu: Tier0; memory: FlatMemory } {
  const size = options.memorySize ?? 1 << 20;
  const origin = options.origin ?? 0x1000;
  if (!Number.isInteger(size) || size < 0x2000 || size > 0x4000_0000) {
    throw new TranslatorError('bad-argument', 'harness memory must be 8 KiB to 1 GiB', size);
  }
  if (!Number.isInteger(origin) || origin < 0 || origin + code.length > size) {
    throw new TranslatorError('bad-argument', 'code does not fit in harness memory at origin', origin);
  }
  const wasm = options.wasm ?? harnessTier() === 2;
  const arena = wasm ? createArena(size) : undefined;
  const memory = new FlatMemory(size, arena?.ram);
  memory.ram.set(code, origin);
  const state = new CpuState(arena?.regs);
  const cpu = new Tier0({
    memory,
    state,
    ...(arena !== undefined ? { arena } : {}),
    ...(options.moduleCompiler !== undefined ? { moduleCompiler: options.moduleCompiler } : {}),
    callouts: options.callouts,
    policy: options.policy,
    jit: options.jit ?? (harnessTier() !== 0 || wasm),
    jitThreshold: options.jitThreshold ?? (harnessTier() !== 0 ? 1 : undefined),
  });
  const mode = options.mode ?? 'flat32';
  if (mode === 'real') {
    state.loadRealSegment(Seg.cs, 0);
    for (const seg of [Seg.ds, Seg.es, Seg.ss, Seg.fs, Seg.gs]) state.loadRealSegment(seg, 0);
    state.eip = origin;
    state.regs[Reg.esp] = options.stack ?? 0xfffe;
    state.idtrBase = 0;
    state.idtrLimit = 0x3ff;
    return { cpu, memory };
  }
  const gdt = [
    [0, 0],
    descriptor(0, 0xfffff, 0x9b, 0xc),
    descriptor(0, 0xfffff, 0x93, 0xc),
    descriptor(0, 0xfffff, 0xfb, 0xc),
    descriptor(0, 0xfffff, 0xf3, 0xc),
    descriptor(HARNESS_TSS, 0x67, 0x89, 0),
  ];
  gdt.forEach(([lo, hi], i) => {
    memory.write32(HARNESS_GDT + i * 8, lo ?? 0);
    memory.write32(HARNESS_GDT + i * 8 + 4, hi ?? 0);
  });
  memory.write32(HARNESS_TSS + 4, size - 16);
  memory.write32(HARNESS_TSS + 8, 0x10);
  memory.write16(HARNESS_TSS + 0x66, 0x68);
  state.gdtrBase = HARNESS_GDT;
  state.gdtrLimit = gdt.length * 8 - 1;
  state.idtrBase = HARNESS_IDT;
  state.idtrLimit = 0x7ff;
  state.setFlat32();
  state.tr.selector = 0x28;
  state.tr.base = HARNESS_TSS;
  state.tr.limit = 0x67;
  state.tr.access = 0x8b;
  if (mode === 'flat32-user') {
    state.segSel[Seg.cs] = 0x1b;
    state.segAccess[Seg.cs] = 0xc0fb;
    for (const seg of [Seg.ds, Seg.es, Seg.ss, Seg.fs, Seg.gs]) {
      state.segSel[seg] = 0x23;
      state.segAccess[seg] = 0xc0f3;
    }
    state.cpl = 3;
  }
  state.eip = origin;
  state.regs[Reg.esp] = options.stack ?? size - 0x1000;
  return { cpu, memory };
}

/** Installs a 32-bit interrupt gate for `vector` pointing at `handler` (ring-0 code selector 0x08). */
export function setGate(memory: FlatMemory, vector: number, handler: number, dpl = 0, trap = false): void {
  const at = HARNESS_IDT + vector * 8;
  memory.write32(at, ((0x08 << 16) | (handler & 0xffff)) >>> 0);
  memory.write32(at + 4, ((handler & 0xffff0000) | 0x8000 | (dpl << 13) | (trap ? 0x0f00 : 0x0e00)) >>> 0);
}

/** Runs a code snippet until HLT (or `limit` instructions) and returns the processor. */
export function runSnippet(
  code: Uint8Array,
  options: HarnessOptions & { limit?: number } = {},
): { cpu: Tier0; memory: FlatMemory; reason: StopReason } {
  const { cpu, memory } = createHarness(code, options);
  const reason = cpu.run(options.limit ?? 1_000_000);
  return { cpu, memory, reason };
}
