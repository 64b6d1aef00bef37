import { readFileSync, statSync } from 'node:fs';
import { DEMO_COMMAND_LINE, demoKernel } from '@ringzero/guests';
import {
  findMultibootHeader,
  HypervisorError,
  type Outcome,
  parseMemorySize,
  VirtualMachine,
} from '@ringzero/hypervisor';
import { ARENA_MAX_RAM, type ModuleCompiler } from '@ringzero/translator';
import { createWorkerCompiler, tuneWasmTiering } from '@ringzero/translator/node';

/**
 * The machine's options for tier 1's back end as the CLI runs it: with WebAssembly (and tier 1
 * on), V8 optimises tier 1's modules later than by default (`WASM_TIERING_BUDGET`, set for the
 * process) and they compile on a worker thread while the guest runs on.
 */
export function backendOptions(
  backend: 'js' | 'wasm',
  jit = true,
): { jitBackend: 'js' | 'wasm'; moduleCompiler?: ModuleCompiler } {
  if (!jit || backend === 'js') return { jitBackend: backend };
  tuneWasmTiering();
  return { jitBackend: backend, moduleCompiler: createWorkerCompiler() };
}

export interface RunOptions {
  /** A Linux bzImage or a Multiboot kernel; absent: the bundled demo kernel. */
  kernel?: string;
  initrd?: string;
  append?: string;
  memory: string;
  deterministic: boolean;
  maxInstructions?: string;
  stats: boolean;
  /** False with `--no-jit`: tier 0 only. */
  jit?: boolean;
  /**
   * `--jit-backend`: what tier 1 emits, `wasm` (default when the guest RAM fits a WebAssembly
   * arena, `ARENA_MAX_RAM`) or `js`.
   */
  jitBackend?: string;
}

/** A user-facing problem: printed as `ringzero: <message>`, exit status 1. */
export class UsageError extends Error {}

function readInput(path: string, what: string): Uint8Array {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new UsageError(`cannot read the ${what} "${path}": no such file`);
  }
  if (size === 0) throw new UsageError(`the ${what} "${path}" is empty`);
  return new Uint8Array(readFileSync(path));
}

/** Builds the machine for `ringzero run` and validates every option first. */
export function prepare(
  opts: RunOptions,
  onSerial: (b: number) => void,
): { vm: VirtualMachine; limit: number } {
  let memory: number;
  try {
    memory = parseMemorySize(opts.memory);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  let limit = Number.POSITIVE_INFINITY;
  if (opts.maxInstructions !== undefined) {
    limit = Number(opts.maxInstructions);
    if (!Number.isSafeInteger(limit) || limit <= 0) {
      throw new UsageError(
        `--max-instructions needs a positive whole number (got "${opts.maxInstructions}")`,
      );
    }
  }
  const kernel = opts.kernel === undefined ? demoKernel() : readInput(opts.kernel, 'kernel');
  const initrd = opts.initrd === undefined ? undefined : readInput(opts.initrd, 'initrd');
  const name = opts.kernel ?? 'the demo kernel';
  const kind = kernelKind(kernel);
  if (kind === undefined) {
    throw new UsageError(
      `${name}: not a kernel ringzero can boot (neither a Linux bzImage with a "HdrS" header nor a Multiboot image)`,
    );
  }
  const backend = opts.jitBackend ?? (memory <= ARENA_MAX_RAM ? 'wasm' : 'js');
  if (backend !== 'js' && backend !== 'wasm') {
    throw new UsageError(`--jit-backend must be js or wasm (got ${backend})`);
  }
  const jit = opts.jit ?? true;
  const vm = new VirtualMachine({
    memory,
    deterministic: opts.deterministic,
    onSerial,
    jit,
    ...backendOptions(backend, jit),
  });
  try {
    if (kind === 'linux') {
      vm.bootLinux(kernel, { initrd, cmdline: opts.append ?? 'console=ttyS0' });
    } else {
      // A Multiboot kernel gets the initrd, if any, as its one module.
      const modules = initrd ? [{ data: initrd, string: opts.initrd ?? 'initrd' }] : [];
      vm.bootMultiboot(kernel, {
        cmdline: opts.append ?? (opts.kernel === undefined ? DEMO_COMMAND_LINE : ''),
        modules,
      });
    }
  } catch (e) {
    if (e instanceof HypervisorError) throw new UsageError(`${name}: ${e.message}`);
    throw e;
  }
  return { vm, limit };
}

/** Which boot protocol an image speaks: Linux's setup header wins over a Multiboot header. */
export function kernelKind(image: Uint8Array): 'linux' | 'multiboot' | undefined {
  const hdrs = image.length > 0x206 && String.fromCharCode(...image.subarray(0x202, 0x206)) === 'HdrS';
  if (hdrs) return 'linux';
  if (findMultibootHeader(image) >= 0) return 'multiboot';
  return undefined;
}

function jitText(vm: VirtualMachine): string {
  const j = vm.cpu.jit;
  if (!j) return 'tier 1 off (--no-jit): every instruction ran in tier 0';
  const t = j.stats;
  const wasm =
    j.arena !== undefined
      ? ` (${t.wasmRegions} WebAssembly, ${t.promoted} of them compiled again as JavaScript once hot${
          t.wasmSubmitted > 0
            ? `; ${t.wasmSubmitted} modules compiled off-thread, ${t.wasmDropped} dropped by code writes`
            : ''
        })`
      : '';
  return `tier 1: ${t.blocksCompiled} blocks${wasm} (${t.instructionsCompiled} instructions) translated in ${t.compileMs.toFixed(0)} ms, ${t.blockRuns} block runs, ${t.invalidations} code-page invalidations`;
}

/** The live status line: guest speed and virtual time, for stderr. */
export function statusLine(vm: VirtualMachine, instructionsBefore: number, ms: number): string {
  const mips = (vm.cpu.instructions - instructionsBefore) / Math.max(ms, 1) / 1000;
  const g = vm.cpu.instructions / 1e9;
  return `ringzero: ${mips.toFixed(1)} MIPS, virtual ${(vm.now() / 1e9).toFixed(3)} s, ${g.toFixed(2)}G instructions`;
}

/** A one-paragraph report of how the run ended, for stderr. */
export function describeOutcome(o: Outcome, vm: VirtualMachine): string {
  const s = vm.cpu.state;
  switch (o.kind) {
    case 'halted':
      return 'guest halted with interrupts disabled (powered off)';
    case 'debug-exit':
      return `guest wrote to the debug-exit port: status ${o.status}`;
    case 'reset':
      return 'guest requested a reset';
    case 'triple-fault': {
      const r = Array.from(
        s.regs,
        (v, i) =>
          `${['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'][i]}=${(v >>> 0).toString(16).padStart(8, '0')}`,
      );
      const blocks = vm.cpu.recentBlocks();
      const last =
        blocks.length > 0
          ? `; last blocks ${blocks.map((e) => e.toString(16)).join(' ')}`
          : vm.cpu.jit
            ? ''
            : '; (last blocks are recorded by tier 1, off with --no-jit)';
      return `triple fault at eip=${o.eip.toString(16)} (last vector ${o.vector}); ${r.join(' ')} cr0=${(s.cr0 >>> 0).toString(16)} cr3=${(s.cr3 >>> 0).toString(16)}${last}`;
    }
    case 'limit':
      return `instruction limit reached (${vm.cpu.instructions})`;
    default:
      return 'guest idle with no interrupt source left';
  }
}

/** Exit status for an outcome: 0 when the guest powered off or halted, non-zero otherwise. */
export function exitStatus(o: Outcome): number {
  if (o.kind === 'halted') return 0;
  if (o.kind === 'debug-exit') return o.status & 0xff;
  if (o.kind === 'triple-fault') return 2;
  if (o.kind === 'limit') return 3;
  return 0;
}

export function statsText(vm: VirtualMachine, ms: number): string {
  const n = vm.cpu.instructions;
  const exc = [...vm.stats.exceptions].map(([v, c]) => `#${v}×${c}`).join(' ') || 'none';
  const ports = [...vm.bus.unclaimed].map(([p, c]) => `0x${p.toString(16)}×${c}`).join(' ') || 'none';
  const busiest =
    [...vm.bus.counts]
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, 12)
      .map(([p, c]) => `0x${p.toString(16)}×${c}`)
      .join(' ') || 'not counted (use --stats)';
  return [
    `instructions ${n}, ${(n / Math.max(ms, 1) / 1000).toFixed(1)} MIPS over ${(ms / 1000).toFixed(1)} s`,
    `virtual time ${(vm.now() / 1e9).toFixed(3)} s, interrupts ${vm.stats.interrupts}, idle skips ${vm.stats.idleSkips}`,
    jitText(vm),
    `exceptions ${exc}`,
    `I/O by port ${busiest}`,
    `unclaimed ports ${ports}`,
  ].join('\n');
}
