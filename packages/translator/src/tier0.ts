import {
  CODE_COUNT,
  Code,
  Decoder,
  FlowControl,
  flowControl,
  type Instruction,
  OpKind,
  PrefixBit,
  Register,
} from '@ringzero/decoder';
import { TlbFlag } from '@ringzero/memory';
import { type DescriptorTables, escalate, interruptTargetOrTask, ioAllowed } from '@ringzero/rings';
import { maskOf } from './alu';
import type { WasmArena } from './arena';
import { CpuState, Eflags, Reg, Seg } from './cpu-state';
import { Decoded } from './decoded';
import { FAULT, GuestFault, hasErrorCode, raise, Vector } from './fault';
import { HANDLERS, type Handler } from './handlers';
import { Mmu, type PhysicalBus } from './mmu';
import type { ModuleCompiler } from './module-compiler';
import {
  Action,
  type Callouts,
  CLASS_OF,
  defaultCallouts,
  NATIVE_POLICY,
  type Policy,
  Sensitivity,
} from './policy';
import { switchTask } from './task-switch';
import {
  type Block,
  HOT_THRESHOLD,
  IS_SEGMENT_LOAD,
  NO_BLOCK,
  OFF_THREAD_HOT_THRESHOLD,
  PENDING,
  Tier1,
} from './tier1';

/** Why `Tier0.run` returned. */
export const StopReason = {
  /** The instruction budget was used up. */
  limit: 0,
  /** HLT with interrupts to wait for. */
  halt: 1,
  /** The policy asked to exit to the VMM; EIP points at the instruction (see `exitCode`). */
  exit: 2,
  /** A fault while delivering a double fault: the processor shuts down (SDM vol. 3 §6.15). */
  tripleFault: 3,
  /** `requestStop()` was called (from a callout). */
  stopped: 4,
  /** `Callouts.exception` took an exception out of the guest (see `lastException`). */
  exception: 5,
  /**
   * PAUSE-loop exiting (`Tier0.pauseLoopExiting`): the guest has spun in a PAUSE loop for longer
   * than the window. The PAUSE completed; EIP points past it.
   */
  pauseLoop: 6,
} as const;
export type StopReason = (typeof StopReason)[keyof typeof StopReason];

/**
 * Observers for tracing (`ringzero run --trace`). Setting `Tier0.trace` switches the processor to
 * its single-step path, so tracing costs nothing when it is off.
 */
export interface TraceHooks {
  /** Before each instruction executes: its CS:EIP, linear address and decoded form. */
  exec?(cs: number, eip: number, linear: number, ins: Instruction): void;
  /** When an instruction is decoded for the first time at a physical address (a cache miss). */
  decode?(cs: number, eip: number, phys: number, ins: Instruction): void;
  /** When an interrupt or exception is delivered (external, software or fault). */
  interrupt?(
    vector: number,
    errorCode: number,
    kind: 'external' | 'software' | 'exception',
    eip: number,
  ): void;
}

/** Options for a tier-0 processor. */
export interface Tier0Options {
  memory: PhysicalBus;
  callouts?: Partial<Callouts>;
  policy?: Policy;
  state?: CpuState;
  /** Translate hot code with tier 1 (default false: tier 0 only). */
  jit?: boolean;
  /**
   * Tier 1 emits WebAssembly into this arena (`createArena`) instead of JavaScript: the bus's RAM
   * must be the arena's `ram`, and a given `state` must keep its registers in the arena's `regs`.
   */
  arena?: WasmArena;
  /**
   * With an arena: compiles tier 1's WebAssembly modules off this thread (`createWorkerCompiler`
   * from `@ringzero/translator/node`); tier 0 runs a region's code until its module is back.
   */
  moduleCompiler?: ModuleCompiler;
  /**
   * Tier-0 executions of an address before tier 1 translates it (default `HOT_THRESHOLD`, or
   * `OFF_THREAD_HOT_THRESHOLD` with a `moduleCompiler`).
   */
  jitThreshold?: number;
  /** PAUSE-loop exiting (default off: a bare processor just runs PAUSE). */
  pauseLoopExiting?: PauseLoopExiting;
}

/**
 * PAUSE-loop exiting, after VT-x's PLE controls (SDM vol. 3C §26.1.3 "PLE_Gap", "PLE_Window"),
 * counted in retired instructions instead of cycles: PAUSEs at most `gap` instructions apart
 * form one loop, and a loop that has gone on for `window` instructions since its first PAUSE
 * ends the run with `StopReason.pauseLoop` (a new loop starts after it). A spin-wait announces
 * itself with PAUSE (Linux's `cpu_relax()` in its delay and lock loops), so the hypervisor learns
 * that the guest is only waiting and can let virtual time pass instead of running the spin.
 */
export interface PauseLoopExiting {
  readonly gap: number;
  readonly window: number;
}

/** Checks that the state's registers and the bus's RAM are the arena's own. */
function checkArena(arena: WasmArena, state: CpuState, bus: PhysicalBus): void {
  const buffer = arena.memory.buffer;
  if (state.regs.buffer !== buffer || state.regs.byteOffset !== arena.regs.byteOffset) {
    throw new RangeError("Tier0: with an arena, the CpuState must be made with the arena's regs");
  }
  const ram = bus.ram;
  if (ram === undefined || ram.buffer !== buffer || ram.byteOffset !== arena.ram.byteOffset) {
    throw new RangeError("Tier0: with an arena, the bus's RAM must be the arena's ram");
  }
}

/** Checks PLE settings: positive integers, the gap below the window. */
function checkPauseLoop(p: PauseLoopExiting): PauseLoopExiting {
  const ok = (v: number) => Number.isSafeInteger(v) && v > 0;
  if (!ok(p.gap) || !ok(p.window) || p.gap >= p.window) {
    throw new RangeError(
      `pauseLoopExiting: gap and window must be positive integers with gap < window (got gap ${p.gap}, window ${p.window})`,
    );
  }
  return { gap: p.gap, window: p.window };
}

const DATA_SEGS: readonly number[] = [Seg.es, Seg.ds, Seg.fs, Seg.gs];

const IS_CLI_STI = new Uint8Array(CODE_COUNT);
IS_CLI_STI[Code.cli] = 1;
IS_CLI_STI[Code.sti] = 1;

/**
 * Direct-mapped instruction cache: slot = physical address mod 2^20. The slot also holds the
 * tier-0 heat and the region entry of its address, so a collision costs a decode, the heat so far
 * and the entry: at 2^17 the Linux kernel's init code (megabytes of text, each part run a few
 * thousand times) kept evicting itself and ran ~7% longer.
 */
const ICACHE_SIZE = 1 << 20;
const ICACHE_MASK = ICACHE_SIZE - 1;
/**
 * A slot's tag word 1 (`slotTag[2 * slot + 1]`): the code size in the low byte (0 = empty, 16,
 * 32), then `TAG_HELD`, then the tier-0 heat.
 */
const TAG_MODE = 0xff;
/** A translated region holds the instruction (`settle`). */
const TAG_HELD = 0x100;
const HEAT_ONE = 0x200;
const HEAT_SHIFT = 9;
/**
 * A block joins a region when tier 0 has run it at least 1/64 as often as the threshold
 * (`isWarm`): rarer paths stay out, so V8 optimises less code. On the Linux boot this cut
 * TurboFan's time on regions by about 12% and the compiled instructions from 21,046 to 19,491.
 */
const WARM_SHIFT = 6;
const FETCH_MAX = 15;

/**
 * A straight run of cached instructions that tier 0 executes without going back to the
 * dispatcher between them (`burstJit`): innocuous instructions that do not load a segment
 * register, up to and including the first that may change EIP, within one page, and up to the
 * first that is a region entry (the dispatcher takes that). Built from the instruction cache
 * once its first instruction has run `RUN_AFTER` times; valid while no code was written
 * (`codeWrites` is `epoch`) and no region entry was added in its page (`pageEntries` is
 * `entries`), and, instruction by instruction, while its slot still holds that address. Each
 * instruction's address is the previous one's plus its length (no list of addresses to load).
 */
interface Run {
  readonly phys: number;
  readonly epoch: number;
  readonly entries: number;
  readonly ins: readonly Decoded[];
}

/** Tier-0 runs of the first instruction after which its `Run` is built. */
const RUN_AFTER = 4;
/** The most instructions in one `Run`. */
const RUN_MAX = 32;
/** Per-page counts of added region entries (`Tier0.pageEntries`). */
const PAGE_EPOCHS = 1 << 16;

/** Innocuous instructions that may change EIP other than by falling through (end a `Run`). */
const ENDS_RUN = new Uint8Array(CODE_COUNT);
for (let code = 0; code < CODE_COUNT; code++) {
  if (flowControl(code) !== FlowControl.next) ENDS_RUN[code] = 1;
}

/**
 * Tier 0: the reference executor. Each instruction is decoded once into a cached `Instruction`
 * (keyed by physical address and code size, dropped when its page is written), then run by the
 * handler of its form (`HANDLERS[code]`). Faults are precise: a handler raises before it
 * changes any register, and the run loop puts EIP back at the faulting instruction and delivers
 * the exception through the guest's IVT or IDT.
 */
export class Tier0 {
  readonly state: CpuState;
  readonly mmu: Mmu;
  readonly callouts: Callouts;
  policy: Policy;
  /** Retired instructions (faulting ones included; every REP iteration counts as one). */
  instructions = 0;
  /** Form code of the instruction that caused `StopReason.exit`. */
  exitCode = 0;
  /** Vector and error code (-1 for none) of the exception behind `StopReason.exception`. */
  lastVector = -1;
  lastErrorCode = -1;

  private readonly dec16 = new Decoder(16);
  private readonly dec32 = new Decoder(32);
  private readonly fetchBuf = new Uint8Array(FETCH_MAX);
  /**
   * Per slot, side by side (one cache line for what the dispatcher reads of a slot, instead of
   * one per array: tier 0's cost on cold kernel code is mostly cache misses): at `3 * slot` the
   * decoded instruction (reused in place, allocated the first time the slot is filled), at
   * `3 * slot + 1` the translated region entry (valid while the slot holds the same code), at
   * `3 * slot + 2` the `Run` starting there (see `runAt`).
   */
  private readonly slotObjs: (Decoded | Block | Run | undefined)[] = new Array(3 * ICACHE_SIZE);
  /**
   * Per slot, side by side: at `2 * slot` the physical address of the slot's instruction, at
   * `2 * slot + 1` its code size, whether a region holds it and its tier-0 heat (`TAG_MODE`,
   * `TAG_HELD`, `HEAT_SHIFT`).
   */
  private readonly slotTag = new Int32Array(2 * ICACHE_SIZE);
  /**
   * Region entries added per physical page (pages a multiple of `PAGE_EPOCHS` apart share a
   * count): a `Run` built before the latest entry in its page is built again, and stops there.
   */
  private readonly pageEntries = new Int32Array(PAGE_EPOCHS);
  private stopRequested = false;
  private stop: StopReason = StopReason.limit;
  /** The instruction being executed (for callouts; reused, do not keep it). */
  current: Decoded | null = null;
  /** EIP at the start of the current instruction. */
  startEip = 0;
  /** Set by a handler that ends the run slice after it (HLT, exit). */
  private endSlice = false;
  /** Depth of nested exception delivery (for #DF and triple fault). */
  private delivering = 0;
  /**
   * Set with the fault a task switch raises past its commit point (SDM Vol. 3A §7.3 step 13):
   * the fault belongs to the new task, so it is delivered with the new task's EIP instead of
   * rolling EIP back to the instruction that switched.
   */
  faultInNewTask = false;
  /** A switch to a TSS with T = 1 left a #DB to raise before the new task's first instruction. */
  pendingTaskTrap = false;
  /** Trap pending after the current instruction (single-step). */
  private trapAfter = false;
  readonly cpuidOut = new Int32Array(4);
  readonly desc = new Int32Array(2);
  /** Tracing observers; null (the default) for full speed. */
  trace: TraceHooks | null = null;
  /** The block translator, when enabled (`jit: true`). */
  readonly jit: Tier1 | null;
  /** Incremented whenever cached code is invalidated; a running block checks it after stores. */
  codeWrites = 0;
  private readonly hotThreshold: number;
  /** Tier-0 runs that make a block warm (`isWarm`). */
  private readonly warmRuns: number;
  /** Slot of the instruction `fetch` returned last. */
  private fetchSlot = 0;
  /** EIP's wrap mask for the code size `fetch` found (0xFFFF for 16-bit code, else -1). */
  private fetchMask = -1;
  /** Entry EIPs of the last 16 blocks tier 1 ran, oldest overwritten first (`recentBlocks()`). */
  private readonly blockHistory = new Int32Array(16);
  private blockHistoryCount = 0;
  /** The instruction budget's end in the current burst: a looping block stops before it. */
  blockEnd = 0;
  /** Set while an external interrupt is being delivered, for the trace's `kind`. */
  private injecting = false;
  private ple: PauseLoopExiting | null = null;
  /** Retired-instruction counts at the last PAUSE and at the first PAUSE of the current loop. */
  private pauseLast = Number.NEGATIVE_INFINITY;
  private pauseLoopStart = 0;
  /**
   * Earlier PAUSE-loop exits of the spin the last one ended (0 for its first): how long the guest
   * has been spinning, in windows, for a hypervisor that backs off.
   */
  pauseLoopRepeats = 0;
  private pauseLoopExitsInSpin = 0;

  constructor(options: Tier0Options) {
    const arena = options.arena;
    this.state = options.state ?? new CpuState(arena?.regs);
    if (arena !== undefined) checkArena(arena, this.state, options.memory);
    this.mmu = new Mmu(this.state, options.memory, arena);
    this.callouts = { ...defaultCallouts(), ...options.callouts };
    this.tscInState = options.callouts?.rdtsc === undefined;
    this.policy = options.policy ?? NATIVE_POLICY;
    this.jit =
      options.jit && options.memory.ram !== undefined ? new Tier1(arena, options.moduleCompiler) : null;
    const threshold = this.jit?.compiler !== undefined ? OFF_THREAD_HOT_THRESHOLD : HOT_THRESHOLD;
    this.hotThreshold = Math.min(65535, Math.max(1, Math.floor(options.jitThreshold ?? threshold)));
    this.warmRuns = Math.max(1, this.hotThreshold >> WARM_SHIFT);
    // Writes to code pages, from this processor or a device or loader, through the MMU's watch.
    this.mmu.onCodeWrite = (page) => this.invalidatePage(page);
    this.tables = new TablesView(this.state, this.mmu);
    if (options.pauseLoopExiting !== undefined) this.pauseLoopExiting = options.pauseLoopExiting;
  }

  /** PAUSE-loop exiting (see `PauseLoopExiting`), or null when PAUSE never ends a run. */
  get pauseLoopExiting(): PauseLoopExiting | null {
    return this.ple;
  }

  set pauseLoopExiting(p: PauseLoopExiting | null) {
    this.ple = p === null ? null : checkPauseLoop(p);
    this.pauseLast = Number.NEGATIVE_INFINITY;
  }

  /**
   * @internal PAUSE's handler: with PAUSE-loop exiting on, tracks the loop and ends the run
   * with `StopReason.pauseLoop` once it has lasted the window. The count includes this PAUSE.
   */
  pauseExecuted(): void {
    const ple = this.ple;
    if (ple === null) return;
    const now = this.instructions;
    if (now - this.pauseLast > ple.gap) {
      this.pauseLoopStart = now;
      this.pauseLoopExitsInSpin = 0;
    }
    this.pauseLast = now;
    if (now - this.pauseLoopStart >= ple.window) {
      // The spin goes on after the exit: the next window starts here.
      this.pauseLoopStart = now;
      this.pauseLoopRepeats = this.pauseLoopExitsInSpin++;
      this.endRun(StopReason.pauseLoop);
    }
  }

  private markCode(page: number): void {
    this.mmu.watchCode(page);
  }

  /**
   * Opens or closes the A20 gate (port 0x92 / keyboard controller): with it closed, physical
   * address bit 20 is forced to 0 for every access, as on an 8086.
   */
  setA20(enabled: boolean): void {
    if (this.mmu.setA20(enabled)) this.flushCode();
  }

  /** Drops every cached instruction (after the hypervisor rewrites memory behind the MMU). */
  flushCode(): void {
    this.jit?.flushChains();
    this.slotTag.fill(0);
    this.mmu.unwatchAllCode();
    const objs = this.slotObjs;
    for (let k = 1; k < objs.length; k += 3) objs[k] = undefined;
    this.codeWrites++;
  }

  /** Drops cached instructions on the physical pages of `[addr, addr + length)` (DMA, loaders). */
  invalidateCode(addr: number, length: number): void {
    if (length <= 0) return;
    const first = addr >>> 12;
    const last = (addr + length - 1) >>> 12;
    for (let p = first; p <= last; p++) {
      if (this.mmu.unwatchCode(p)) this.invalidatePage(p);
    }
  }

  private invalidatePage(page: number): void {
    const tag = this.slotTag;
    const objs = this.slotObjs;
    const base = (page << 12) & ICACHE_MASK;
    this.codeWrites++;
    if (this.jit) {
      this.jit.stats.invalidations++;
      this.jit.dropPage(page);
    }
    for (let i = 0; i < 4096; i++) {
      const k = 2 * (base + i);
      const o = 3 * (base + i) + 1;
      const cached = ((tag[k + 1] ?? 0) & TAG_MODE) !== 0;
      // The instruction goes, and with it its heat.
      const dropped = cached && (tag[k] ?? 0) >>> 12 === page;
      if (dropped) tag[k + 1] = 0;
      const b = objs[o] as Block | undefined;
      if (b !== undefined && (b === NO_BLOCK ? !cached || dropped : b.phys >>> 12 === page))
        objs[o] = undefined;
    }
    // Regions of the previous page that go on into this one.
    const prev = ((page - 1) << 12) & ICACHE_MASK;
    for (let i = 0; i < 4096; i++) {
      const o = 3 * (prev + i) + 1;
      const b = objs[o] as Block | undefined;
      if (b?.spans && b.phys >>> 12 === page - 1) objs[o] = undefined;
    }
    // Instructions that start at the end of the previous page and run into this one (their heat
    // stays, as the region entry there does).
    for (let i = 0xff1; i < 4096; i++) {
      const k = 2 * (prev + i);
      if (((tag[k + 1] ?? 0) & TAG_MODE) !== 0 && (tag[k] ?? 0) >>> 12 === page - 1)
        tag[k + 1] = (tag[k + 1] ?? 0) & ~TAG_MODE;
    }
  }

  /** Ends the current run after the instruction being executed. */
  requestStop(): void {
    this.stopRequested = true;
  }

  // ---- Run loop -------------------------------------------------------------------------------

  /**
   * Runs up to `limit` instructions. The time-stamp counter advances by one per retired
   * instruction (deterministic virtual time; a hypervisor may override RDTSC via its callout).
   */
  run(limit: number): StopReason {
    const reason = this.runSlice(limit);
    this.syncTsc();
    return reason;
  }

  private tscSynced = 0;
  /** RDTSC reads `state.tsc` (no `rdtsc` callout was given), so it syncs the counter first. */
  readonly tscInState: boolean;

  /** Brings `state.tsc` up to date with the retired-instruction count (one tick each). */
  syncTsc(): void {
    const n = this.instructions - this.tscSynced;
    if (n !== 0) this.state.tsc = BigInt.asUintN(64, this.state.tsc + BigInt(n));
    this.tscSynced = this.instructions;
  }

  private runSlice(limit: number): StopReason {
    const s = this.state;
    this.stop = StopReason.limit;
    this.stopRequested = false;
    // Budget in retired instructions; each REP iteration counts as one.
    const end = this.instructions + limit;
    while (this.instructions < end) {
      if (s.halted) return StopReason.halt;
      if ((s.flags & (Eflags.tf | Eflags.rf)) === 0 && !this.trapAfter && this.trace === null) {
        if (this.jit !== null) this.burstJit(end);
        else this.burst(end);
      } else this.step();
      if (this.endSlice) {
        this.endSlice = false;
        return this.stop;
      }
      if (this.stopRequested) return StopReason.stopped;
    }
    return StopReason.limit;
  }

  /**
   * The common case of `step` in a loop: no single-step, no resume flag, no pending trap.
   * Leaves the loop as soon as any of those, HLT, a stop request or a fault happens.
   */
  private burst(end: number): void {
    const s = this.state;
    try {
      while (this.instructions < end) {
        this.startEip = s.eip;
        this.instructions++;
        if (s.interruptShadow) s.interruptShadow = false;
        if (!this.execFetched(this.fetch())) return;
      }
    } catch (e) {
      if (e !== FAULT) throw e;
      this.fault();
    }
  }

  /**
   * Executes a fetched instruction in tier 0 (EIP past it, the policy's decision, the handler).
   * Returns false when the burst must end: single-step, a pending trap, HLT, a stop or an exit.
   */
  private execFetched(ins: Decoded): boolean {
    const s = this.state;
    this.current = ins;
    s.eip = (s.eip + ins.length) & this.fetchMask;
    const code = ins.code;
    const cls = (CLASS_OF[code] ?? 0) as Sensitivity;
    if (cls !== Sensitivity.innocuous && !this.allow(code, cls)) return false;
    (HANDLERS[code] as Handler)(this, ins);
    return this.goesOn();
  }

  /**
   * @internal Whether a burst may go on after an instruction: no single-step, trap, HLT, stop or
   * exit (also asked by tier 1's WebAssembly regions after a handler).
   */
  goesOn(): boolean {
    return !(
      (this.state.flags & (Eflags.tf | Eflags.rf)) !== 0 ||
      this.trapAfter ||
      this.endSlice ||
      this.stopRequested ||
      this.state.halted
    );
  }

  /**
   * @internal Tier 1's call for a sensitive instruction inside a region (`IN_REGION_SENSITIVE`):
   * the policy decides and the handler runs as in tier 0; EIP is already past the instruction
   * and `startEip` at it. Returns whether the region may go on (false after an exit to the VMM,
   * a stop request, HLT or a pending trap).
   */
  execSensitive(ins: Decoded): boolean {
    this.current = ins;
    const code = ins.code;
    const cls = (CLASS_OF[code] ?? 0) as Sensitivity;
    if (cls !== Sensitivity.innocuous && !this.allow(code, cls)) return false;
    (HANDLERS[code] as Handler)(this, ins);
    return this.goesOn();
  }

  /**
   * `burst` with tier 1: at each instruction address, run the translated region entry there
   * when there is one for the current mode and the budget allows its first block; otherwise
   * execute the instruction in tier 0 and count it towards translation. An entry is found from
   * EIP through the TLB without decoding (the code segment is flat in every tier-1 mode).
   */
  private burstJit(end: number): void {
    const s = this.state;
    const jit = this.jit as Tier1;
    const ram = this.mmu.bus.ram as Uint8Array;
    const objs = this.slotObjs;
    const tag = this.slotTag;
    const mmu = this.mmu;
    const tlb = mmu.tlb;
    const regs = s.regs;
    // Read once per burst (an imported constant is loaded through a module cell each time).
    const readUser = TlbFlag.readUser;
    const readSup = TlbFlag.readSup;
    this.blockEnd = end;
    mmu.syncPaging();
    // Regions whose modules came back from the compiler thread.
    jit.poll(this, this.registerEntry);
    let mode = jit.modeKey(s, mmu.a20Mask);
    // The entry that ran last without a link to its successor: linked once the successor is known.
    let prev: Block | null = null;
    // A fault while fetching counts as a retired instruction, as in `burst`.
    let fetching = false;
    // A region is running (for fault bookkeeping): a local, so the chain loop stores no object.
    let inRegion = false;
    // EIP was reached by stepping: tier 0 ran the instruction before it without a jump, or the
    // burst starts here (`settle`).
    let stepped = true;
    // Statistics, kept in locals and added to `jit.stats` when the burst ends.
    let runs = 0;
    let translated = 0;
    let chained = 0;
    let polls = 0;
    try {
      while (this.instructions < end) {
        this.startEip = s.eip;
        let b: Block | undefined;
        // Physical address of EIP from the TLB, when it tells (`known`).
        let phys = 0;
        let known = false;
        if (mode >= 0) {
          const e = tlb[s.eip >>> 12] ?? 0;
          if ((e & ((mode & 1) !== 0 ? readUser : readSup)) !== 0) {
            phys = (e & -4096) | (s.eip & 4095);
            known = true;
            b = this.entryAt(phys >>> 0, mode);
          }
        }
        if (b === undefined || this.instructions + b.count > end) {
          // Modules back from the compiler thread go in soon, not only at the next burst: tier 0
          // runs their code until then.
          if ((++polls & 63) === 0) jit.poll(this, this.registerEntry);
          let ins: Decoded;
          const hit = phys & ICACHE_MASK;
          // A decoded instruction at that address: what `fetch` would return, without its checks
          // (a tier-1 mode has a flat 32-bit code segment, so only breakpoints are left to check).
          if (known && this.cachedAt(hit, phys, 32) && ((s.dr[7] ?? 0) & 0xff) === 0) {
            ins = objs[3 * hit] as Decoded;
            this.fetchSlot = hit;
            this.fetchMask = -1;
          } else {
            fetching = true;
            ins = this.fetch();
            fetching = false;
          }
          b = undefined;
          if (mode >= 0) {
            const slot = this.fetchSlot;
            const at = (tag[2 * slot] ?? 0) >>> 0;
            let found = this.slotEntry(slot, at);
            if (found === undefined) {
              const w = ((tag[2 * slot + 1] ?? 0) + HEAT_ONE) | 0;
              tag[2 * slot + 1] = w;
              if (w >>> HEAT_SHIFT >= this.hotThreshold && (!stepped || (w & TAG_HELD) === 0)) {
                found = jit.compile(this, at, mode, ram, this.registerEntry) ?? NO_BLOCK;
                if (found === PENDING) {
                  // Being compiled off-thread (tier 0 runs it meanwhile), or just installed. Half
                  // the threshold's runs before asking again: the module is usually back by then,
                  // and its entry is found without asking (240,000 asks in the boot otherwise).
                  found = this.slotEntry(slot, at);
                  if (found === undefined)
                    tag[2 * slot + 1] =
                      (w & (TAG_MODE | TAG_HELD)) | ((this.hotThreshold >> 1) << HEAT_SHIFT);
                } else {
                  objs[3 * slot + 1] = found;
                  if (found !== NO_BLOCK) this.entryAdded(at);
                }
              }
            }
            if (found !== undefined && found.mode === mode && this.instructions + found.count <= end)
              b = found;
          }
          if (b === undefined) {
            prev = null;
            const run = known ? this.runAt(hit, phys, end) : undefined;
            if (run !== undefined) {
              // The run's instructions one after the other, each checked to be still the one
              // cached at its address, while no code is written (a store into the run itself
              // takes effect at the next instruction: the dispatcher decodes it anew) and until
              // one is a region entry.
              const list = run.ins;
              const epoch = this.codeWrites;
              if (s.interruptShadow) s.interruptShadow = false;
              let last = ins;
              let p = phys;
              for (let k = 0; k < list.length; k++) {
                if (k > 0) {
                  p = (p + last.length) | 0;
                  const slot = p & ICACHE_MASK;
                  if (tag[2 * slot] !== p || this.codeWrites !== epoch || (s.eip & 4095) !== (p & 4095))
                    break;
                  tag[2 * slot + 1] = ((tag[2 * slot + 1] ?? 0) + HEAT_ONE) | 0;
                  this.startEip = s.eip;
                }
                // The first is the instruction the dispatcher looked up (the same cached one).
                last = k === 0 ? ins : (list[k] as Decoded);
                this.instructions++;
                // `execFetched` without the policy check (a run holds innocuous instructions
                // only) and EIP's 16-bit wrap (tier-1 modes are 32-bit): calling it here measured
                // 5–10% slower per instruction.
                this.current = last;
                s.eip = (s.eip + last.length) | 0;
                (HANDLERS[last.code] as Handler)(this, last);
                if (!this.goesOn()) return;
              }
              stepped = s.eip === ((this.startEip + last.length) | 0);
              continue;
            }
            this.instructions++;
            if (s.interruptShadow) s.interruptShadow = false;
            if (!this.execFetched(ins)) return;
            stepped = s.eip === ((this.startEip + ins.length) | 0);
            const code = ins.code;
            if ((CLASS_OF[code] ?? 0) !== Sensitivity.innocuous || IS_SEGMENT_LOAD[code] === 1)
              mode = jit.modeKey(s, mmu.a20Mask);
            continue;
          }
        }
        if (prev !== null) this.link(prev, s.eip, b);
        prev = null;
        stepped = false;
        // Run it, then follow links from entry to entry without going through the lookup.
        for (;;) {
          inRegion = true;
          this.blockHistory[this.blockHistoryCount++ & 15] = s.eip;
          const before = this.instructions;
          const remode = b.fn(this, s, regs, b.entry);
          inRegion = false;
          runs++;
          translated += this.instructions - before;
          if (!this.goesOn()) return;
          if (remode !== 0) {
            mode = jit.modeKey(s, mmu.a20Mask);
            break;
          }
          let next: Block | undefined;
          if (b.linkCode === this.codeWrites && b.linkTlb === mmu.epoch) {
            const e = s.eip;
            if (b.linkEip0 === e) next = b.link0;
            else if (b.linkEip1 === e) next = b.link1;
          }
          if (next === undefined || this.instructions + next.count > end) {
            prev = b;
            break;
          }
          chained++;
          b = next;
        }
      }
    } catch (e) {
      if (e !== FAULT) throw e;
      if (inRegion) {
        // The region counted the instructions it retired before the faulting one, which counts
        // as retired too.
        this.instructions++;
      } else if (fetching) this.instructions++;
      this.fault();
    } finally {
      jit.stats.blockRuns += runs;
      jit.stats.instructionsTranslated += translated;
      jit.stats.chained += chained;
      jit.foldStats();
    }
  }

  /**
   * Whether the instruction at physical address `phys` is warm enough to be translated with a
   * region: since it was cached, tier 0 has run it at least `threshold / 64` times (at least once),
   * or a region holds it.
   */
  isWarm(phys: number): boolean {
    const slot = phys & ICACHE_MASK;
    const w = this.slotTag[2 * slot + 1] ?? 0;
    return (
      (w & TAG_MODE) !== 0 &&
      this.slotTag[2 * slot] === (phys | 0) &&
      ((w & TAG_HELD) !== 0 || w >>> HEAT_SHIFT >= this.warmRuns)
    );
  }

  /**
   * Marks the cached instruction at physical address `phys` as held by a translated region and
   * takes its tier-0 heat back to one run (it still counts as run). Tier 0 still runs such an
   * instruction when a burst's budget ends inside a block and the next burst goes on from there;
   * reached that way, by stepping, a held instruction is never translated as a region entry of
   * its own (each of a hot loop's instructions would be), only when a branch or a region exit
   * lands on it (`burstJit`).
   */
  settle(phys: number): void {
    const k = 2 * (phys & ICACHE_MASK);
    const w = this.slotTag[k + 1] ?? 0;
    if ((w & TAG_MODE) !== 0 && this.slotTag[k] === (phys | 0))
      this.slotTag[k + 1] = (w & TAG_MODE) | TAG_HELD | HEAT_ONE;
  }

  /**
   * The `Run` starting at the cached 32-bit instruction in `slot` (physical address `phys`),
   * built when it has run `RUN_AFTER` times; undefined when there is none yet, or it is longer
   * than the budget left before `end`.
   */
  private runAt(slot: number, phys: number, end: number): Run | undefined {
    let run = this.slotObjs[3 * slot + 2] as Run | undefined;
    if (
      run === undefined ||
      run.phys !== phys ||
      run.epoch !== this.codeWrites ||
      run.entries !== this.entriesIn(phys)
    ) {
      if ((this.slotTag[2 * slot + 1] ?? 0) >>> HEAT_SHIFT < RUN_AFTER) return undefined;
      run = this.buildRun(phys);
      this.slotObjs[3 * slot + 2] = run;
    }
    // A run of one instruction (or none: a sensitive one starts here) is left to the single path.
    return run.ins.length > 1 && this.instructions + run.ins.length <= end ? run : undefined;
  }

  private buildRun(phys: number): Run {
    const ins: Decoded[] = [];
    let p = phys;
    for (;;) {
      const slot = p & ICACHE_MASK;
      if (!this.cachedAt(slot, p, 32)) break;
      const i = this.slotObjs[3 * slot] as Decoded;
      const code = i.code;
      if ((CLASS_OF[code] ?? 0) !== Sensitivity.innocuous || IS_SEGMENT_LOAD[code] === 1) break;
      // A region entry after the first (a loop head the run falls into): the dispatcher takes it.
      if (p !== phys) {
        const b = this.slotObjs[3 * slot + 1] as Block | undefined;
        if (b !== undefined && b !== NO_BLOCK) break;
      }
      ins.push(i);
      const next = p + i.length;
      if (
        ENDS_RUN[code] === 1 ||
        (i.prefixes & (PrefixBit.rep | PrefixBit.repne)) !== 0 ||
        ins.length >= RUN_MAX ||
        next >>> 12 !== phys >>> 12
      )
        break;
      p = next;
    }
    return {
      phys,
      epoch: this.codeWrites,
      entries: this.entriesIn(phys),
      ins,
    };
  }

  /**
   * What cache slot `slot`, which holds the instruction at physical address `at`, has for it: a
   * region entry made for `at`, `NO_BLOCK`, or undefined. An entry for another address that
   * shares the slot (a multiple of 1 MiB away: a region's other entries go in whatever their
   * slots hold, and an off-thread region is installed late) is not this one's.
   */
  private slotEntry(slot: number, at: number): Block | undefined {
    const b = this.slotObjs[3 * slot + 1] as Block | undefined;
    return b === undefined || b === NO_BLOCK || b.phys === at ? b : undefined;
  }

  /** The translated region entry at physical address `phys` for `mode`, if there is one. */
  private entryAt(phys: number, mode: number): Block | undefined {
    const b = this.slotObjs[3 * (phys & ICACHE_MASK) + 1] as Block | undefined;
    return b !== undefined && b.phys === phys >>> 0 && b.mode === mode ? b : undefined;
  }

  /** Whether a translated region entry exists at physical address `phys` for `mode`. */
  hasEntry(phys: number, mode: number): boolean {
    return this.entryAt(phys, mode) !== undefined;
  }

  /** Puts a region's other entries where the dispatcher looks for them (by physical address). */
  private readonly registerEntry = (phys: number, entry: Block): void => {
    const slot = phys & ICACHE_MASK;
    const old = this.slotObjs[3 * slot + 1] as Block | undefined;
    // An entry already there for the same address and mode (from another region) stays.
    if (old === undefined || old.phys !== entry.phys || old.mode !== entry.mode) {
      this.slotObjs[3 * slot + 1] = entry;
      this.entryAdded(phys);
    }
  };

  /** A region entry was put in the cache at physical address `phys`: its page's runs are rebuilt. */
  private entryAdded(phys: number): void {
    const k = (phys >>> 12) & (PAGE_EPOCHS - 1);
    this.pageEntries[k] = ((this.pageEntries[k] ?? 0) + 1) | 0;
  }

  /** The count of region entries added in the page of physical address `phys` (`pageEntries`). */
  private entriesIn(phys: number): number {
    return this.pageEntries[(phys >>> 12) & (PAGE_EPOCHS - 1)] ?? 0;
  }

  /** Entry EIPs of the most recent translated blocks, oldest first (at most 16; empty without tier 1). */
  recentBlocks(): number[] {
    const n = Math.min(this.blockHistoryCount, 16);
    const out: number[] = [];
    for (let k = this.blockHistoryCount - n; k < this.blockHistoryCount; k++) {
      out.push((this.blockHistory[k & 15] ?? 0) >>> 0);
    }
    return out;
  }

  /** Records that `to` (entered at `eip`) followed `from`, for direct block-to-block chaining. */
  private link(from: Block, eip: number, to: Block): void {
    if (to === NO_BLOCK) return;
    if (from.linkCode !== this.codeWrites || from.linkTlb !== this.mmu.epoch) {
      from.linkCode = this.codeWrites;
      from.linkTlb = this.mmu.epoch;
      from.link0 = undefined;
      from.link1 = undefined;
    }
    // Two links: the most frequent exits of a block (its branch's two ways) settle in them; a
    // superblock with more exits keeps the first and the latest.
    if (from.link0 === undefined) {
      from.linkEip0 = eip;
      from.link0 = to;
    } else if (from.linkEip0 !== eip) {
      from.linkEip1 = eip;
      from.link1 = to;
    }
  }

  /** Rolls EIP back to the faulting instruction and delivers (or hands out) the exception. */
  private fault(): void {
    const s = this.state;
    const newTask = this.faultInNewTask;
    this.faultInNewTask = false;
    if (!newTask) s.eip = this.startEip;
    this.trapAfter = false;
    const breakpoint = this.breakpointHit;
    this.breakpointHit = false;
    if (this.callouts.exception(FAULT.vector, FAULT.errorCode, s)) {
      this.lastVector = FAULT.vector;
      this.lastErrorCode = FAULT.errorCode;
      this.endRun(StopReason.exception);
      return;
    }
    // Every fault but an instruction breakpoint pushes RF = 1, so the handler's IRET restarts the
    // instruction without its breakpoint firing again (SDM vol. 3 §17.3.1.1); delivery clears RF.
    if (!breakpoint) s.flags |= Eflags.rf;
    this.deliver(FAULT.vector, FAULT.errorCode, false, newTask ? s.eip : this.startEip);
  }

  /** Set by an instruction breakpoint just before its #DB is raised (see `fault`). */
  private breakpointHit = false;

  /** Executes one instruction (or delivers the exception it raised). */
  step(): void {
    const s = this.state;
    this.startEip = s.eip;
    const tf = (s.flags & Eflags.tf) !== 0;
    this.instructions++;
    try {
      if (s.interruptShadow) s.interruptShadow = false;
      const ins = this.fetch();
      this.current = ins;
      this.trace?.exec?.(s.segSel[Seg.cs] ?? 0, s.eip >>> 0, ((s.segBase[Seg.cs] ?? 0) + s.eip) >>> 0, ins);
      s.eip = (s.eip + ins.length) & (ins.bitness === 16 ? 0xffff : -1);
      const code = ins.code;
      const cls = (CLASS_OF[code] ?? 0) as Sensitivity;
      if (cls !== Sensitivity.innocuous && !this.allow(code, cls)) return;

      // RF is cleared at the start of the instruction, after the breakpoint check: INT n and
      // traps push it as 0, faults as 1 (`fault`) (SDM vol. 3 §17.3.1.1).
      s.flags &= ~Eflags.rf;
      (HANDLERS[code] as Handler)(this, ins);
      // A load of SS (MOV SS, POP SS: the shadow not set by STI) holds single-step and other
      // debug traps back until the boundary after the next instruction (SDM vol. 3 §6.8.3): TF,
      // still set, traps once after that instruction, and a pending trap stays pending.
      if (s.interruptShadow && IS_CLI_STI[code] !== 1) return;
      if (tf || this.trapAfter) {
        this.trapAfter = false;
        s.dr[6] = (s.dr[6] ?? 0) | (tf ? 0x4000 : 0);
        this.deliver(Vector.db, -1, false, s.eip);
      }
    } catch (e) {
      if (e !== FAULT) throw e;
      this.fault();
    }
  }

  /**
   * The policy decides first (a binary translator calls out before the processor would fault);
   * `inline` then applies the architectural privilege checks of the form's class.
   */
  private allow(code: number, cls: Sensitivity): boolean {
    const s = this.state;
    const a = this.policy.decide(code, cls, s);
    if (a === Action.inline) {
      if (cls === Sensitivity.privileged && s.cpl !== 0) raise(Vector.gp, 0);
      if (cls === Sensitivity.ioplChecked && IS_CLI_STI[code] === 1 && s.cr0 & 1) {
        if (s.flags & Eflags.vm ? ((s.flags >>> 12) & 3) < 3 : s.cpl > ((s.flags >>> 12) & 3))
          raise(Vector.gp, 0);
      }
      return true;
    }
    if (a === Action.exit) {
      this.state.eip = this.startEip;
      this.exitCode = code;
      this.stop = StopReason.exit;
      this.endSlice = true;
      return false;
    }
    if (!this.callouts.emulate(code, this.state)) raise(Vector.ud);
    return false;
  }

  /** Marks the end of the run slice after this instruction. */
  endRun(reason: StopReason): void {
    this.stop = reason;
    this.endSlice = true;
  }

  /** Requests a #DB trap after the current instruction completes. */
  trapAfterInstruction(): void {
    this.trapAfter = true;
  }

  /** Whether instruction-cache slot `slot` holds the instruction decoded at `phys` for `bits`-bit code. */
  private cachedAt(slot: number, phys: number, bits: number): boolean {
    return ((this.slotTag[2 * slot + 1] ?? 0) & TAG_MODE) === bits && this.slotTag[2 * slot] === (phys | 0);
  }

  private fetch(): Decoded {
    const s = this.state;
    const eip = s.eip;
    const bits = (s.segAccess[Seg.cs] ?? 0) & 0x4000 ? 32 : 16;
    const cr0 = s.cr0;
    if (cr0 & 1 && (s.flags & Eflags.vm) === 0 && eip >>> 0 > (s.segLimit[Seg.cs] ?? 0)) raise(Vector.gp, 0);
    const linear = ((s.segBase[Seg.cs] ?? 0) + eip) | 0;
    const user = s.cpl === 3;
    if ((s.dr[7] ?? 0) & 0xff) this.checkBreakpoints(linear);
    const phys =
      cr0 & 0x80000000 ? this.mmu.translate(linear, false, user) : (linear & this.mmu.a20Mask) >>> 0;
    const slot = phys & ICACHE_MASK;
    this.fetchSlot = slot;
    this.fetchMask = bits === 16 ? 0xffff : -1;
    if (this.cachedAt(slot, phys, bits)) return this.slotObjs[3 * slot] as Decoded;
    // Miss: fetch up to 15 bytes without faulting, decode, then fault on the bytes it needed.
    // Empty, and no heat, until the decode below succeeds.
    this.slotTag[2 * slot + 1] = 0;
    // A region entry registered for this very address stays (it was made from the same bytes;
    // writes to them invalidate it through the code-page watch).
    if ((this.slotObjs[3 * slot + 1] as Block | undefined)?.phys !== phys >>> 0)
      this.slotObjs[3 * slot + 1] = undefined;
    let ins = this.slotObjs[3 * slot] as Decoded | undefined;
    if (ins === undefined) {
      ins = new Decoded();
      this.slotObjs[3 * slot] = ins;
    }
    const saveCr2 = s.cr2;
    const got = this.mmu.fetchBytes(linear, this.fetchBuf, user);
    s.cr2 = saveCr2;
    const dec = bits === 32 ? this.dec32 : this.dec16;
    dec.decodeOut(got === FETCH_MAX ? this.fetchBuf : this.fetchBuf.subarray(0, got), 0, eip, ins);
    ins.prepare();
    if (ins.code === 0 && ins.invalidReason === 2 && got < FETCH_MAX) {
      // Truncated by an unmapped page: the fetch of the missing byte faults.
      this.mmu.translate((linear + got) | 0, false, user);
    }
    if (
      s.protectedMode &&
      (s.flags & Eflags.vm) === 0 &&
      (eip + ins.length - 1) >>> 0 > (s.segLimit[Seg.cs] ?? 0)
    ) {
      raise(Vector.gp, 0);
    }
    if (ins.code === 0) raise(Vector.ud);
    this.markCode(phys >>> 12);
    const lastPhys =
      cr0 & 0x80000000
        ? this.mmu.translate((linear + ins.length - 1) | 0, false, user)
        : ((linear + ins.length - 1) & this.mmu.a20Mask) >>> 0;
    if (lastPhys >>> 12 !== phys >>> 12) this.markCode(lastPhys >>> 12);
    this.slotTag[2 * slot] = phys | 0;
    this.slotTag[2 * slot + 1] = bits;
    this.trace?.decode?.(s.segSel[Seg.cs] ?? 0, eip >>> 0, phys >>> 0, ins);
    return ins;
  }

  private checkBreakpoints(linear: number): void {
    const s = this.state;
    if (s.flags & Eflags.rf) return;
    const dr7 = s.dr[7] ?? 0;
    for (let i = 0; i < 4; i++) {
      if (((dr7 >>> (i * 2)) & 3) === 0) continue;
      if (((dr7 >>> (16 + i * 4)) & 3) !== 0) continue; // only instruction breakpoints here
      if ((s.dr[i] ?? 0) === linear) {
        s.dr[6] = ((s.dr[6] ?? 0) & ~0xf) | (1 << i);
        this.breakpointHit = true;
        raise(Vector.db);
      }
    }
  }

  // ---- Registers ------------------------------------------------------------------------------

  /** Reads a general register by decoder register id (8/16/32-bit), zero-extended. */
  readReg(id: number): number {
    const r = this.state.regs;
    if (id >= Register.eax) return r[id - Register.eax] ?? 0;
    if (id >= Register.ax) return (r[id - Register.ax] ?? 0) & 0xffff;
    if (id >= Register.ah) return ((r[id - Register.ah] ?? 0) >> 8) & 0xff;
    return (r[id - Register.al] ?? 0) & 0xff;
  }

  writeReg(id: number, v: number): void {
    const r = this.state.regs;
    if (id >= Register.eax) r[id - Register.eax] = v;
    else if (id >= Register.ax) {
      const i = id - Register.ax;
      r[i] = ((r[i] ?? 0) & ~0xffff) | (v & 0xffff);
    } else if (id >= Register.ah) {
      const i = id - Register.ah;
      r[i] = ((r[i] ?? 0) & ~0xff00) | ((v & 0xff) << 8);
    } else {
      const i = id - Register.al;
      r[i] = ((r[i] ?? 0) & ~0xff) | (v & 0xff);
    }
  }

  // ---- Addressing -----------------------------------------------------------------------------

  /** The effective address (offset within the segment) of the memory operand. */
  offset(ins: Decoded): number {
    let a = ins.mDisp;
    if (ins.mBase !== 0) a += this.readReg(ins.mBase);
    if (ins.mIndex !== 0) a += this.readReg(ins.mIndex) * ins.mScale;
    return ins.addrBits === 16 ? a & 0xffff : a | 0;
  }

  /**
   * Checks a segment access (limit, type, presence; SDM vol. 3 §5.3–5.4) and returns the linear
   * address. Raises #SS(0) for SS and #GP(0) for other segments.
   */
  linear(seg: number, off: number, size: number, write: boolean): number {
    const s = this.state;
    const base = s.segBase[seg] ?? 0;
    if ((s.cr0 & 1) === 0 || (s.flags & Eflags.vm) !== 0) {
      if ((off >>> 0) + size - 1 > (s.segLimit[seg] ?? 0xffff))
        raise(seg === Seg.ss ? Vector.ss : Vector.gp, 0);
      return (base + off) | 0;
    }
    const acc = s.segAccess[seg] ?? 0;
    const vec = seg === Seg.ss ? Vector.ss : Vector.gp;
    if ((acc & 0x80) === 0) raise(vec, 0);
    if (write) {
      if ((acc & 0x0a) !== 0x02) raise(vec, 0);
    } else if ((acc & 0x0a) === 0x08) raise(vec, 0);
    const limit = s.segLimit[seg] ?? 0;
    const o = off >>> 0;
    if ((acc & 0x0c) === 0x04) {
      // Expand-down data segment: valid offsets are limit+1 .. 0xFFFF or 0xFFFFFFFF.
      const top = acc & 0x4000 ? 0xffffffff : 0xffff;
      if (o <= limit || o + size - 1 > top) raise(vec, 0);
    } else if (limit !== 0xffffffff && o + size - 1 > limit) raise(vec, 0);
    return (base + off) | 0;
  }

  /** Linear address of the instruction's memory operand, checked for an access of `size` bytes. */
  memLinear(ins: Decoded, size: number, write: boolean): number {
    return this.linear(ins.mSeg - Register.es, this.offset(ins), size, write);
  }

  read(lin: number, bits: number): number {
    const u = this.state.cpl === 3;
    return bits === 32
      ? this.mmu.read32(lin, u)
      : bits === 16
        ? this.mmu.read16(lin, u)
        : this.mmu.read8(lin, u);
  }

  write(lin: number, v: number, bits: number): void {
    const u = this.state.cpl === 3;
    if (bits === 32) this.mmu.write32(lin, v, u);
    else if (bits === 16) this.mmu.write16(lin, v, u);
    else this.mmu.write8(lin, v, u);
  }

  /** Reads operand `i` (register, memory or immediate) at `bits` width. */
  readOp(ins: Decoded, i: number, bits: number): number {
    const kind = i === 0 ? ins.kind0 : i === 1 ? ins.kind1 : ins.kind2;
    if (kind === OpKind.register) return this.readReg(i === 0 ? ins.reg0 : i === 1 ? ins.reg1 : ins.reg2);
    if (kind === OpKind.immediate) return ins.immValue & maskOf(bits);
    return this.read(this.memLinear(ins, bits >> 3, false), bits);
  }

  /** Writes operand 0 (register or memory). */
  writeOp0(ins: Decoded, v: number, bits: number): void {
    if (ins.kind0 === OpKind.register) this.writeReg(ins.reg0, v);
    else this.write(this.memLinear(ins, bits >> 3, true), v, bits);
  }

  // ---- Stack ----------------------------------------------------------------------------------

  /** Pushes a value of `bits` (16/32); ESP changes only after the write succeeded. */
  push(v: number, bits: number): void {
    const s = this.state;
    const size = bits >> 3;
    if (s.stackBits === 32) {
      const sp = ((s.regs[Reg.esp] ?? 0) - size) | 0;
      this.write(this.linear(Seg.ss, sp, size, true), v, bits);
      s.regs[Reg.esp] = sp;
    } else {
      const sp = ((s.regs[Reg.esp] ?? 0) - size) & 0xffff;
      this.write(this.linear(Seg.ss, sp, size, true), v, bits);
      s.regs[Reg.esp] = ((s.regs[Reg.esp] ?? 0) & ~0xffff) | sp;
    }
  }

  /** Reads the stack value at ESP + `skip` bytes without popping. */
  peek(bits: number, skip: number): number {
    const s = this.state;
    const sp =
      s.stackBits === 32 ? ((s.regs[Reg.esp] ?? 0) + skip) | 0 : ((s.regs[Reg.esp] ?? 0) + skip) & 0xffff;
    return this.read(this.linear(Seg.ss, sp, bits >> 3, false), bits);
  }

  /** Adds to ESP (or SP with a 16-bit stack). */
  adjustSp(delta: number): void {
    const s = this.state;
    if (s.stackBits === 32) s.regs[Reg.esp] = ((s.regs[Reg.esp] ?? 0) + delta) | 0;
    else s.regs[Reg.esp] = ((s.regs[Reg.esp] ?? 0) & ~0xffff) | (((s.regs[Reg.esp] ?? 0) + delta) & 0xffff);
  }

  pop(bits: number): number {
    const v = this.peek(bits, 0);
    this.adjustSp(bits >> 3);
    return v;
  }

  // ---- Segments -------------------------------------------------------------------------------

  /** Reads the descriptor for `selector` into `desc`; raises `vec`(selector) when out of the table. */
  readDescriptor(selector: number, vec: number): void {
    const s = this.state;
    const ti = selector & 4;
    const index = selector & 0xfff8;
    let base: number;
    let limit: number;
    if (ti) {
      if ((s.ldtr.access & 0x80) === 0 || s.ldtr.selector === 0) raise(vec, selector & 0xfffc);
      base = s.ldtr.base;
      limit = s.ldtr.limit;
    } else {
      base = s.gdtrBase;
      limit = s.gdtrLimit;
    }
    if (index + 7 > limit) raise(vec, selector & 0xfffc);
    this.desc[0] = this.mmu.read32((base + index) | 0, false);
    this.desc[1] = this.mmu.read32((base + index + 4) | 0, false);
  }

  /** Sets the accessed bit of the descriptor just read (SDM vol. 3 §3.4.5.1). */
  private markAccessed(selector: number): void {
    const hi = this.desc[1] ?? 0;
    if (hi & 0x100) return;
    const s = this.state;
    const base = selector & 4 ? s.ldtr.base : s.gdtrBase;
    this.mmu.write32((base + (selector & 0xfff8) + 4) | 0, hi | 0x100, false);
    this.desc[1] = hi | 0x100;
  }

  /** Installs a descriptor (in `desc`) into a segment register's cache. */
  installSegment(seg: number, selector: number): void {
    const s = this.state;
    const lo = this.desc[0] ?? 0;
    const hi = this.desc[1] ?? 0;
    let limit = (lo & 0xffff) | (hi & 0xf0000);
    if (hi & 0x800000) limit = ((limit << 12) | 0xfff) >>> 0;
    s.segSel[seg] = selector;
    s.segBase[seg] = (lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000);
    s.segLimit[seg] = limit;
    s.segAccess[seg] = ((hi >>> 8) & 0xff) | ((hi >>> 8) & 0xf000);
  }

  /**
   * Loads a data or stack segment register (MOV/POP/LxS; SDM vol. 2 "MOV" protected-mode
   * checks). Real and virtual-8086 mode: base = selector × 16.
   */
  loadSegment(seg: number, selector: number): void {
    const s = this.state;
    selector &= 0xffff;
    if ((s.cr0 & 1) === 0 || s.flags & Eflags.vm) {
      s.segSel[seg] = selector;
      s.segBase[seg] = selector << 4;
      if (s.flags & Eflags.vm) {
        s.segLimit[seg] = 0xffff;
        s.segAccess[seg] = seg === Seg.cs ? 0xfb : 0xf3;
      }
      return;
    }
    const rpl = selector & 3;
    const cpl = s.cpl;
    if ((selector & 0xfffc) === 0) {
      if (seg === Seg.ss) raise(Vector.gp, 0);
      s.segSel[seg] = selector;
      s.segBase[seg] = 0;
      s.segLimit[seg] = 0;
      s.segAccess[seg] = 0;
      return;
    }
    this.readDescriptor(selector, Vector.gp);
    const hi = this.desc[1] ?? 0;
    const type = (hi >>> 8) & 0x1f;
    const dpl = (hi >>> 13) & 3;
    const present = (hi & 0x8000) !== 0;
    if (seg === Seg.ss) {
      if (rpl !== cpl || dpl !== cpl || (type & 0x1a) !== 0x12) raise(Vector.gp, selector & 0xfffc);
      if (!present) raise(Vector.ss, selector & 0xfffc);
    } else {
      // Data segment, or readable code segment.
      if ((type & 0x10) === 0 || (type & 0x0a) === 0x08) raise(Vector.gp, selector & 0xfffc);
      const conformingCode = (type & 0x0c) === 0x0c;
      if (!conformingCode && (rpl > dpl || cpl > dpl)) raise(Vector.gp, selector & 0xfffc);
      if (!present) raise(Vector.np, selector & 0xfffc);
    }
    this.markAccessed(selector);
    this.installSegment(seg, selector);
    if (seg === Seg.ss) s.interruptShadow = true;
  }

  /**
   * Checks and loads CS for a far JMP/CALL to a code segment (no gates) or a far RET/IRET at
   * `newCpl`; returns the new CPL. Gates and task switches raise #GP (not implemented).
   */
  loadCodeSegment(selector: number, forReturn: boolean): number {
    const s = this.state;
    selector &= 0xffff;
    if ((s.cr0 & 1) === 0 || s.flags & Eflags.vm) {
      s.segSel[Seg.cs] = selector;
      s.segBase[Seg.cs] = selector << 4;
      return s.cpl;
    }
    if ((selector & 0xfffc) === 0) raise(Vector.gp, 0);
    this.readDescriptor(selector, Vector.gp);
    const hi = this.desc[1] ?? 0;
    const type = (hi >>> 8) & 0x1f;
    const dpl = (hi >>> 13) & 3;
    const rpl = selector & 3;
    if ((type & 0x18) !== 0x18) raise(Vector.gp, selector & 0xfffc);
    const conforming = (type & 4) !== 0;
    let newCpl = s.cpl;
    if (forReturn) {
      if (rpl < s.cpl) raise(Vector.gp, selector & 0xfffc);
      if (conforming ? dpl > rpl : dpl !== rpl) raise(Vector.gp, selector & 0xfffc);
      newCpl = rpl;
    } else if (conforming) {
      if (dpl > s.cpl) raise(Vector.gp, selector & 0xfffc);
    } else if (rpl > s.cpl || dpl !== s.cpl) raise(Vector.gp, selector & 0xfffc);
    if ((hi & 0x8000) === 0) raise(Vector.np, selector & 0xfffc);
    this.markAccessed(selector);
    return newCpl;
  }

  /** Commits a code segment checked by `loadCodeSegment` (descriptor still in `desc`). */
  commitCodeSegment(selector: number, cpl: number): void {
    const s = this.state;
    if ((s.cr0 & 1) === 0 || s.flags & Eflags.vm) return;
    this.installSegment(Seg.cs, (selector & 0xfffc) | cpl);
    s.cpl = cpl;
  }

  /** After a return to an outer level, data segments the new CPL may not use become null (SDM "RET"). */
  nullInaccessibleSegments(): void {
    const s = this.state;
    for (const seg of DATA_SEGS) {
      const acc = s.segAccess[seg] ?? 0;
      const dpl = (acc >>> 5) & 3;
      const conformingCode = (acc & 0x1c) === 0x1c;
      if ((acc & 0x10) !== 0 && !conformingCode && dpl < s.cpl) {
        s.segSel[seg] = 0;
        s.segAccess[seg] = 0;
      }
    }
  }

  // ---- Exceptions and interrupts --------------------------------------------------------------

  /**
   * Delivers vector `vector` (SDM vol. 3 §6.12): through the IVT in real mode, through an
   * interrupt or trap gate in protected mode (with a stack switch from the TSS when the handler
   * is more privileged). `software` marks INT n / INT3 / INTO (gate DPL checked, no error code).
   * `returnEip` is the EIP pushed. A fault during delivery becomes #DF; a fault during #DF shuts
   * the processor down (`StopReason.tripleFault`).
   */
  deliver(vector: number, errorCode: number, software: boolean, returnEip: number): void {
    const s = this.state;
    s.halted = false;
    this.trace?.interrupt?.(
      vector,
      errorCode,
      this.injecting ? 'external' : software ? 'software' : 'exception',
      (this.injecting ? s.eip : this.startEip) >>> 0,
    );
    // Table 6-5 ends every chain within four deliveries (an interrupt, a contributory fault
    // delivering it, a #PF delivering that, #DF); a fault while delivering #DF itself shuts the
    // processor down in the catch below. Deeper is a guard, not architecture.
    if (this.delivering >= 4) {
      this.delivering = 0;
      this.lastVector = vector;
      this.endRun(StopReason.tripleFault);
      return;
    }
    this.delivering++;
    try {
      if ((s.cr0 & 1) === 0) this.deliverReal(vector, returnEip);
      else this.deliverProtected(vector, errorCode, software, returnEip);
      this.delivering = 0;
    } catch (e) {
      if (!(e instanceof GuestFault)) throw e;
      // A fault past a task switch's commit point is taken in the new task, at its EIP.
      if (this.faultInNewTask) {
        this.faultInNewTask = false;
        returnEip = s.eip;
      }
      if (vector === Vector.df) {
        // A fault while delivering #DF shuts the processor down (SDM vol. 3 §6.15, interrupt 8).
        this.delivering = 0;
        this.lastVector = vector;
        this.endRun(StopReason.tripleFault);
        return;
      }
      const v = FAULT.vector;
      // The rings package's rule (SDM vol. 3 table 6-5): benign pairs deliver the second
      // exception, contributory/page-fault pairs become #DF.
      if (escalate(vector, v) === 'double-fault') this.deliver(Vector.df, 0, false, returnEip);
      else this.deliver(v, FAULT.errorCode, false, returnEip);
      return;
    }
    this.deliverTaskTrap();
  }

  /**
   * Raises the #DB a task switch to a TSS with T = 1 left pending, after the switch and before
   * the new task's first instruction (SDM Vol. 3A §7.2.1, §17.3.1.5); DR6.BT is already set.
   */
  deliverTaskTrap(): void {
    if (!this.pendingTaskTrap) return;
    this.pendingTaskTrap = false;
    this.deliver(Vector.db, -1, false, this.state.eip);
  }

  deliverReal(vector: number, returnEip: number): void {
    const s = this.state;
    const entry = vector * 4;
    if (entry + 3 > s.idtrLimit) raise(Vector.gp, 0);
    const ip = this.mmu.read16((s.idtrBase + entry) | 0, false);
    const cs = this.mmu.read16((s.idtrBase + entry + 2) | 0, false);
    const flags = s.getFlags();
    const sp0 = s.regs[Reg.esp] ?? 0;
    this.push(flags, 16);
    try {
      this.push(s.segSel[Seg.cs] ?? 0, 16);
      this.push(returnEip, 16);
    } catch (e) {
      s.regs[Reg.esp] = sp0;
      throw e;
    }
    s.setFlags(flags & ~(Eflags.if | Eflags.tf | Eflags.ac | Eflags.rf));
    s.segSel[Seg.cs] = cs;
    s.segBase[Seg.cs] = cs << 4;
    s.eip = ip;
  }

  deliverProtected(vector: number, errorCode: number, software: boolean, returnEip: number): void {
    const s = this.state;
    // Gate and target checks are the rings package's rules (SDM vol. 3 §6.12.1).
    const target = interruptTargetOrTask(this.tables, s.cpl, vector, { software, external: !software });
    if (!target.ok) raise(target.fault.vector, target.fault.errorCode);
    if (target.kind === 'task') {
      // A task gate (SDM vol. 3 §6.12.2): the handler is a task; an exception's error code is
      // pushed on its stack.
      const external = !software;
      if (errorCode >= 0 && hasErrorCode(vector) && !software)
        switchTask(this, 'int', target, returnEip, { external, errorCode });
      else switchTask(this, 'int', target, returnEip, { external });
      return;
    }
    const ext = software ? 0 : 1;
    const gate32 = target.gate.is32;
    const selector = target.gate.selector;
    const offset = target.gate.offset | 0;
    const clo = target.code.lo | 0;
    const chi = target.code.hi | 0;
    const newCpl = target.newCpl;
    const vm = (s.flags & Eflags.vm) !== 0;
    const flags = s.getFlags();
    const bits = gate32 ? 32 : 16;
    const oldCs = s.segSel[Seg.cs] ?? 0;
    const oldSs = s.segSel[Seg.ss] ?? 0;
    const oldEsp = s.regs[Reg.esp] ?? 0;
    // Save what a fault during the pushes must restore.
    const saveSel = oldSs;
    const saveBase = s.segBase[Seg.ss] ?? 0;
    const saveLimit = s.segLimit[Seg.ss] ?? 0;
    const saveAccess = s.segAccess[Seg.ss] ?? 0;
    const saveCpl = s.cpl;
    try {
      if (newCpl < s.cpl || vm) {
        if (vm && newCpl !== 0) raise(Vector.gp, (selector & 0xfffc) + ext);
        this.switchToInnerStack(newCpl, ext);
        if (vm) {
          this.push(s.segSel[Seg.gs] ?? 0, bits);
          this.push(s.segSel[Seg.fs] ?? 0, bits);
          this.push(s.segSel[Seg.ds] ?? 0, bits);
          this.push(s.segSel[Seg.es] ?? 0, bits);
        }
        this.push(oldSs, bits);
        this.push(oldEsp, bits);
      }
      this.push(flags, bits);
      this.push(oldCs, bits);
      this.push(returnEip, bits);
      if (errorCode >= 0 && hasErrorCode(vector) && !software) this.push(errorCode, bits);
    } catch (e) {
      s.segSel[Seg.ss] = saveSel;
      s.segBase[Seg.ss] = saveBase;
      s.segLimit[Seg.ss] = saveLimit;
      s.segAccess[Seg.ss] = saveAccess;
      s.cpl = saveCpl;
      s.regs[Reg.esp] = oldEsp;
      throw e;
    }
    if (vm) {
      for (const seg of DATA_SEGS) {
        s.segSel[seg] = 0;
        s.segAccess[seg] = 0;
      }
    }
    this.desc[0] = clo;
    this.desc[1] = chi;
    this.installSegment(Seg.cs, (selector & 0xfffc) | newCpl);
    s.cpl = newCpl;
    let f = flags & ~(Eflags.tf | Eflags.nt | Eflags.rf | Eflags.vm);
    if (target.clearsIf) f &= ~Eflags.if;
    s.setFlags(f);
    s.eip = offset;
  }

  /**
   * Loads SS:ESP for privilege level `newCpl` from the current TSS and makes it current, with
   * CPL = `newCpl` (SDM vol. 3 §7.2.1, §6.12.1, §5.8.5). Faults are #TS/#SS; the caller restores
   * the old SS, ESP and CPL if a later step faults.
   */
  switchToInnerStack(newCpl: number, ext: number): void {
    const s = this.state;
    const tss32 = (s.tr.access & 0x08) !== 0;
    const spOff = tss32 ? 4 + newCpl * 8 : 2 + newCpl * 4;
    if (spOff + (tss32 ? 5 : 3) > s.tr.limit) raise(Vector.ts, s.tr.selector & 0xfffc);
    const newEsp = tss32
      ? this.mmu.read32((s.tr.base + spOff) | 0, false)
      : this.mmu.read16((s.tr.base + spOff) | 0, false);
    const newSs = this.mmu.read16((s.tr.base + spOff + (tss32 ? 4 : 2)) | 0, false);
    if ((newSs & 0xfffc) === 0) raise(Vector.ts, ext);
    this.readDescriptor(newSs, Vector.ts);
    const shi = this.desc[1] ?? 0;
    if ((newSs & 3) !== newCpl || ((shi >>> 13) & 3) !== newCpl || ((shi >>> 8) & 0x1a) !== 0x12)
      raise(Vector.ts, newSs & 0xfffc);
    if ((shi & 0x8000) === 0) raise(Vector.ss, newSs & 0xfffc);
    this.markAccessed(newSs);
    s.cpl = newCpl;
    this.installSegment(Seg.ss, newSs);
    s.regs[Reg.esp] = newEsp;
  }

  /**
   * Injects an external interrupt (from the hypervisor's interrupt controller). Returns false
   * when the processor cannot take it now (IF clear or inside an interrupt shadow).
   */
  injectInterrupt(vector: number): boolean {
    const s = this.state;
    if ((s.flags & Eflags.if) === 0 || s.interruptShadow) return false;
    this.injecting = true;
    try {
      this.deliver(vector & 0xff, -1, false, s.eip);
    } finally {
      this.injecting = false;
    }
    return true;
  }

  /** I/O permission: CPL ≤ IOPL, or the TSS I/O bitmap allows every byte (SDM vol. 1 §19.5). */
  checkIo(port: number, size: number): void {
    const s = this.state;
    if ((s.cr0 & 1) === 0) return;
    const vm = (s.flags & Eflags.vm) !== 0;
    const iopl = (s.flags >>> 12) & 3;
    if (!vm && s.cpl <= iopl) return;
    const type = s.tr.access & 0x0f;
    this.tssView.limit = s.tr.limit;
    this.tssView.is32 = type === 0x09 || type === 0x0b;
    if (!ioAllowed(s.cpl, iopl, vm, port, size as 1 | 2 | 4, this.tssView)) raise(Vector.gp, 0);
  }

  /** The TSS as the rings package's I/O-permission rule reads it. */
  private readonly tssView = {
    limit: 0,
    is32: false,
    readByte: (offset: number): number => this.mmu.read8((this.state.tr.base + offset) | 0, false),
  };

  /** The descriptor tables as the rings package's rules read them (supervisor reads). */
  readonly tables: DescriptorTables;

  /** Raises a software interrupt from a handler (INT n, INT3, INTO): EIP is past the instruction. */
  softwareInterrupt(vector: number): void {
    const s = this.state;
    if (s.flags & Eflags.vm && ((s.flags >>> 12) & 3) < 3) raise(Vector.gp, 0);
    // Faults while delivering INT n are faults of the INT instruction itself: let them propagate.
    this.trace?.interrupt?.(vector, -1, 'software', this.startEip >>> 0);
    if ((s.cr0 & 1) === 0) this.deliverReal(vector, s.eip);
    else {
      this.deliverProtected(vector, -1, true, s.eip);
      this.deliverTaskTrap();
    }
  }
}

/** `DescriptorTables` over the live state: GDTR, LDTR (unusable when null) and IDTR. */
class TablesView implements DescriptorTables {
  private readonly s: CpuState;
  private readonly mmu: Mmu;
  constructor(s: CpuState, mmu: Mmu) {
    this.s = s;
    this.mmu = mmu;
  }
  get gdtBase(): number {
    return this.s.gdtrBase >>> 0;
  }
  get gdtLimit(): number {
    return this.s.gdtrLimit;
  }
  get ldtBase(): number {
    return this.s.ldtr.base >>> 0;
  }
  get ldtLimit(): number {
    return this.s.ldtr.access & 0x80 && (this.s.ldtr.selector & 0xfffc) !== 0 ? this.s.ldtr.limit : -1;
  }
  get idtBase(): number {
    return this.s.idtrBase >>> 0;
  }
  get idtLimit(): number {
    return this.s.idtrLimit;
  }
  read32(linear: number): number {
    return this.mmu.read32(linear | 0, false) >>> 0;
  }
}

/** Named export of the fault vectors for users of tier 0. */
export { Vector };
