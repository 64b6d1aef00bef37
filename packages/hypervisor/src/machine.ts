import {
  type Clock,
  COM_PORTS,
  DebugExitPort,
  I8042,
  PicPair,
  Pit8254,
  PostCodePort,
  Rtc,
  SystemControlPortA,
  Uart16550,
} from '@ringzero/devices';
import { PhysicalMemory } from '@ringzero/memory';
import {
  CpuState,
  createArena,
  defaultCallouts,
  Eflags,
  type ModuleCompiler,
  type PauseLoopExiting,
  Reg,
  Seg,
  StopReason,
  Tier0,
} from '@ringzero/translator';
import { BOOT_CS, BOOT_DS, BOOT_GDT_LIMIT, writeBootGdt } from './boot-common';
import { HypervisorError } from './errors';
import { LINUX_LAYOUT, type LinuxBootInfo, loadLinux, parseBzImage } from './linux-boot';
import {
  loadMultiboot,
  MULTIBOOT_BOOTLOADER_MAGIC,
  type MultibootBootInfo,
  type MultibootModule,
  parseMultiboot,
} from './multiboot';
import { PortBus } from './port-bus';
import { type GuestProfile, I686_PROFILE, Msr } from './profile';

export interface MachineOptions {
  /** Guest RAM in bytes (16 MiB – 3.5 GiB). */
  readonly memory: number;
  /** Virtual time from the instruction count, idle time skipped, a fixed RTC epoch: same inputs, same run. */
  readonly deterministic?: boolean;
  /** Bytes the guest writes to COM1. */
  readonly onSerial?: (byte: number) => void;
  readonly profile?: GuestProfile;
  /** Virtual nanoseconds per executed instruction (default 1: a 1 GHz guest clock). */
  readonly nsPerInstruction?: number;
  /** Translate hot code with tier 1 (default true); false runs tier 0 only. */
  readonly jit?: boolean;
  /**
   * What tier 1 emits: `'js'` (default) JavaScript functions, `'wasm'` WebAssembly functions,
   * with guest RAM, the registers and the TLB tables in one `WebAssembly.Memory`.
   */
  readonly jitBackend?: 'js' | 'wasm';
  /**
   * With `jitBackend: 'wasm'`: compiles tier 1's modules off the guest's thread
   * (`createWorkerCompiler` from `@ringzero/translator/node`). The caller owns it: it does not
   * keep the process alive, and `close()` stops it.
   */
  readonly moduleCompiler?: ModuleCompiler;
  /**
   * PAUSE-loop exiting (default `DEFAULT_PAUSE_LOOP_EXITING`): a spin-wait that has gone on for
   * the window lets virtual time pass instead of running on (see `VirtualMachine`). False runs
   * every spin-wait out instruction by instruction.
   */
  readonly pauseLoopExiting?: PauseLoopExiting | false;
}

/**
 * PAUSE-loop exiting's default: PAUSEs up to 128 instructions apart are one spin (Linux's
 * `delay_tsc` loop is about 20), and a spin exits every 1,024 instructions.
 */
export const DEFAULT_PAUSE_LOOP_EXITING: PauseLoopExiting = { gap: 128, window: 1024 };

/**
 * The most virtual time one PAUSE-loop exit skips, in ns. It bounds how much longer than asked a
 * wait can take when the guest's waits follow each other closely enough to form one spin (the
 * ISA PnP scan: 128 `udelay(250)` per read port with an IN between).
 */
const MAX_PAUSE_SKIP_NS = 64_000;

/** How a run ended. */
export type Outcome =
  | { readonly kind: 'limit' }
  | { readonly kind: 'halted' }
  | { readonly kind: 'idle'; readonly untilNs: number }
  | { readonly kind: 'debug-exit'; readonly status: number }
  | { readonly kind: 'reset' }
  | { readonly kind: 'triple-fault'; readonly eip: number; readonly vector: number };

/**
 * Instructions per CPU slice while an interrupt is requested but the guest has interrupts
 * disabled: how soon it is taken after STI/POPF/IRET enable them.
 */
const SLICE = 4096;
/**
 * The longest slice. Without a pending request a slice runs to the next timer event (PIT or
 * RTC), at least `SLICE` and at most this; a device that raises its line during the slice (an
 * I/O callout: the UART's transmitter, the PIC's mask) ends the slice at once through the PIC's
 * INTR output. Fewer slices mean fewer dispatcher entries and fewer region runs cut short by a
 * slice's end.
 */
const MAX_SLICE = 1 << 16;

/**
 * A PC-compatible virtual machine: guest memory, the tier-0 CPU, the PC platform devices on a
 * port bus, interrupt injection at slice boundaries, and virtual time. `run(n)` executes up to
 * `n` instructions and reports why it stopped; HLT skips idle time to the next device event in
 * deterministic mode, and reports `idle` otherwise so the caller can wait in real time.
 */
export class VirtualMachine {
  readonly memory: PhysicalMemory;
  readonly cpu: Tier0;
  readonly bus = new PortBus();
  readonly pic: PicPair;
  readonly pit: Pit8254;
  readonly rtc: Rtc;
  readonly uart: Uart16550;
  readonly keyboard: I8042;
  readonly postCodes = new PostCodePort();
  readonly profile: GuestProfile;
  readonly deterministic: boolean;
  private idleNs = 0;
  private readonly hostStart = performance.now();
  private readonly nsPerInstruction: number;
  private pendingStop: Outcome | undefined;
  /** Statistics. */
  readonly stats = {
    interrupts: 0,
    idleSkips: 0,
    exceptions: new Map<number, number>(),
    /** PAUSE-loop exits, and the virtual time they skipped (ns). */
    pauseLoopExits: 0,
    pauseSkippedNs: 0,
  };

  readonly clock: Clock;

  constructor(opts: MachineOptions) {
    if (!Number.isInteger(opts.memory) || opts.memory < 16 << 20 || opts.memory > 0xe000_0000) {
      throw new HypervisorError(
        'bad-memory-size',
        `memory must be 16 MiB – 3.5 GiB (got ${opts.memory} bytes)`,
        opts.memory,
      );
    }
    this.deterministic = opts.deterministic ?? false;
    this.nsPerInstruction = opts.nsPerInstruction ?? 1;
    this.profile = opts.profile ?? I686_PROFILE;
    const backend = opts.jitBackend ?? 'js';
    if (backend !== 'js' && backend !== 'wasm') {
      throw new HypervisorError(
        'bad-option',
        `jitBackend must be 'js' or 'wasm' (got ${String(backend)})`,
        backend,
      );
    }
    const arena = backend === 'wasm' && (opts.jit ?? true) ? createArena(opts.memory) : undefined;
    this.memory = new PhysicalMemory(arena?.ram ?? opts.memory);
    this.clock = { now: () => this.now() };
    // INTR rising mid-slice (a device raised its line from an I/O callout) ends the CPU's slice
    // so the request is taken at the next instruction boundary the loop in `run` reaches.
    this.pic = new PicPair((level) => {
      if (level) this.cpu?.requestStop();
    });
    this.pit = new Pit8254(this.clock, this.pic.irq(0));
    const epoch = this.deterministic ? Date.UTC(2026, 0, 1) : Date.now();
    this.rtc = new Rtc(this.clock, epoch, this.pic.irq(8), opts.memory);
    this.uart = new Uart16550({
      irq: this.pic.irq(COM_PORTS[0].irq),
      onTransmit: opts.onSerial ?? (() => {}),
    });
    const reset = () => this.stop({ kind: 'reset' });
    const a20 = (on: boolean) => this.memory.setA20(on);
    this.keyboard = new I8042({
      keyboardIrq: this.pic.irq(1),
      mouseIrq: this.pic.irq(12),
      onA20: a20,
      onReset: reset,
    });
    const state = new CpuState(arena?.regs);
    const msrs = new Set(this.profile.msrs);
    const stateMsrs = defaultCallouts();
    this.cpu = new Tier0({
      memory: this.memory,
      state,
      jit: opts.jit ?? true,
      ...(arena !== undefined ? { arena } : {}),
      // Tier 1 uses it only with the arena (`jitBackend: 'wasm'`).
      ...(opts.moduleCompiler !== undefined ? { moduleCompiler: opts.moduleCompiler } : {}),
      pauseLoopExiting:
        opts.pauseLoopExiting === false ? undefined : (opts.pauseLoopExiting ?? DEFAULT_PAUSE_LOOP_EXITING),
      callouts: {
        ioRead: (port, size) => this.bus.read(port, size),
        ioWrite: (port, size, value) => this.bus.write(port, size, value),
        cpuid: (leaf, sub, out) => this.profile.cpuid(leaf, sub, out),
        rdtsc: () => this.tscFast(),
        rdmsr: (index, s) => {
          if (!msrs.has(index)) return undefined;
          return index === Msr.tsc ? this.tsc() : stateMsrs.rdmsr(index, s);
        },
        wrmsr: (index, value, s) => {
          if (!msrs.has(index)) return false;
          if (index === Msr.tsc) {
            // Writing the TSC moves it relative to virtual time.
            this.tscOffset = BigInt.asUintN(64, value) - BigInt(Math.floor(this.now()));
            const small = Number(this.tscOffset);
            this.tscOffsetNumber = Number.isSafeInteger(small) ? small : Number.NaN;
            return true;
          }
          return stateMsrs.wrmsr(index, value, s);
        },
        exception: (vector) => {
          this.stats.exceptions.set(vector, (this.stats.exceptions.get(vector) ?? 0) + 1);
          return false;
        },
      },
    });
    const b = this.bus;
    b.map(0x20, 2, this.pic.master);
    b.map(0xa0, 2, this.pic.slave);
    b.map(0x4d0, 2, this.pic.elcr);
    b.map(0x40, 4, this.pit);
    b.map(0x61, 1, this.pit.portB);
    b.map(0x70, 2, this.rtc);
    b.map(COM_PORTS[0].port, 8, this.uart);
    const kbd = this.keyboard;
    b.map(0x60, 1, kbd);
    b.map(0x64, 1, { read: () => kbd.read(4), write: (_o, size, v) => kbd.write(4, size, v) });
    b.map(0x92, 1, new SystemControlPortA({ onA20: a20, onReset: reset }));
    b.map(0x80, 1, this.postCodes);
    b.map(0xf4, 1, new DebugExitPort((status) => this.stop({ kind: 'debug-exit', status })));
  }

  /** TSC = virtual time in ns (a 1 GHz clock) plus what WRMSR 0x10 moved it by. */
  private tscOffset = 0n;
  /** `tscOffset` as a number while it is a safe integer (the usual 0), else NaN. */
  private tscOffsetNumber = 0;
  private tsc(): bigint {
    return BigInt.asUintN(64, BigInt(Math.floor(this.now())) + this.tscOffset);
  }
  /** The TSC as a number while it is below 2^53 (RDTSC's fast path), else as a bigint. */
  private tscFast(): number | bigint {
    const t = Math.floor(this.now()) + this.tscOffsetNumber;
    return t >= 0 && t <= Number.MAX_SAFE_INTEGER ? t : this.tsc();
  }

  /** Virtual time in nanoseconds. */
  now(): number {
    const busy = this.cpu.instructions * this.nsPerInstruction;
    return busy + this.idleNs;
  }

  private stop(o: Outcome): void {
    this.pendingStop = o;
    this.cpu.requestStop();
  }

  /** Loads a bzImage (and initrd) and puts the CPU at the kernel's 32-bit entry point. */
  bootLinux(kernel: Uint8Array, opts: { initrd?: Uint8Array; cmdline: string }): LinuxBootInfo {
    const img = parseBzImage(kernel);
    const info = loadLinux(this.memory, img, {
      memorySize: this.memory.size,
      cmdline: opts.cmdline,
      initrd: opts.initrd,
    });
    const s = this.enterFlat32(info.gdt, info.entry);
    s.regs[Reg.esi] = info.zeroPage;
    s.regs[Reg.esp] = 0x9000;
    return info;
  }

  /**
   * The 32-bit boot state both loaders hand over: protected mode, paging off, flat `BOOT_CS`
   * and `BOOT_DS` segments from the boot GDT at `gdt`, interrupts disabled, EIP at `entry`.
   */
  private enterFlat32(gdt: number, entry: number): CpuState {
    const s = this.cpu.state;
    s.setFlat32();
    s.segSel[Seg.cs] = BOOT_CS;
    for (const seg of [Seg.ds, Seg.es, Seg.ss, Seg.fs, Seg.gs]) s.segSel[seg] = BOOT_DS;
    s.gdtrBase = gdt;
    s.gdtrLimit = BOOT_GDT_LIMIT;
    s.flags &= ~Eflags.if;
    s.eip = entry;
    return s;
  }

  /**
   * Loads a Multiboot v1 kernel (ELF or a.out kludge) with its modules and enters it as the
   * specification says: protected mode, paging off, flat segments, EAX = 0x2BADB002, EBX = the
   * information structure, interrupts disabled.
   */
  bootMultiboot(
    kernel: Uint8Array,
    opts: { cmdline: string; modules?: readonly MultibootModule[] },
  ): MultibootBootInfo {
    const img = parseMultiboot(kernel);
    const info = loadMultiboot(this.memory, img, {
      memorySize: this.memory.size,
      cmdline: opts.cmdline,
      modules: opts.modules,
    });
    // The same flat boot GDT the Linux loader uses, so a kernel that reloads a segment register
    // before installing its own GDT still finds a descriptor.
    writeBootGdt(this.memory, LINUX_LAYOUT.gdt);
    this.memory.setA20(true);
    const s = this.enterFlat32(LINUX_LAYOUT.gdt, info.entry);
    s.regs[Reg.eax] = MULTIBOOT_BOOTLOADER_MAGIC;
    s.regs[Reg.ebx] = info.info;
    s.regs[Reg.esp] = 0x7c00;
    return info;
  }

  /** Keyboard or serial input from the host goes to COM1. */
  serialInput(bytes: Uint8Array): void {
    this.uart.receive(bytes);
  }

  /** Runs up to `budget` instructions. */
  run(budget: number): Outcome {
    const cpu = this.cpu;
    const s = cpu.state;
    const end = cpu.instructions + budget;
    // Idle skips without any interrupt being delivered: a guest that halts with every source
    // masked would otherwise keep the host spinning.
    let idleSpins = 0;
    let stalls = 0;
    while (cpu.instructions < end) {
      // The STI/MOV SS shadow covers one instruction; a CPU halted right after STI (the idle
      // loop's `sti; hlt`) takes interrupts.
      if (s.halted) s.interruptShadow = false;
      if (this.pic.hasInterrupt() && (s.flags & Eflags.if) !== 0 && !s.interruptShadow) {
        const vector = this.pic.acknowledge();
        if (cpu.injectInterrupt(vector)) {
          this.stats.interrupts++;
          idleSpins = 0;
        }
      }
      const before = cpu.instructions;
      const reason = cpu.run(Math.min(this.sliceLength(), end - cpu.instructions));
      // Never spin the host: a loop that makes no progress at all ends the run as idle.
      if (cpu.instructions === before && reason !== StopReason.halt && ++stalls > 1000) {
        return { kind: 'idle', untilNs: Number.POSITIVE_INFINITY };
      }
      if (reason === StopReason.pauseLoop) this.pauseLoopExit();
      const now = this.now();
      this.pit.advance(now);
      this.rtc.advance(now);
      if (this.pendingStop) {
        const o = this.pendingStop;
        this.pendingStop = undefined;
        return o;
      }
      if (reason === StopReason.tripleFault)
        return { kind: 'triple-fault', eip: s.eip >>> 0, vector: cpu.lastVector };
      if (reason === StopReason.halt) {
        if ((s.flags & Eflags.if) === 0) return { kind: 'halted' };
        if (this.pic.hasInterrupt()) continue;
        const next = Math.min(this.pit.nextEventTime(), this.rtc.nextEventTime());
        if (!Number.isFinite(next)) {
          if (this.uart.pendingInput > 0) continue;
          return { kind: 'idle', untilNs: Number.POSITIVE_INFINITY };
        }
        if (!this.deterministic) return { kind: 'idle', untilNs: next };
        if (++idleSpins > 10_000) return { kind: 'idle', untilNs: Number.POSITIVE_INFINITY };
        this.skipTo(next);
      }
    }
    return { kind: 'limit' };
  }

  /**
   * A PAUSE-loop exit: the guest is spin-waiting (for the TSC to reach a deadline, or for memory
   * that nothing but an interrupt can change). Virtual time moves on as if the virtual CPU had
   * been descheduled, as a guest under a hypervisor with PLE sees it: by the window's length at
   * first, twice as much at each further exit of the same spin (`Tier0.pauseLoopRepeats`), at
   * most `MAX_PAUSE_SKIP_NS` and never past the next timer event. A delay loop of any length so
   * ends after a few windows and waits at most about twice as long as it asked for; the run goes
   * on at once, and the timers deliver what fell due.
   */
  private pauseLoopExit(): void {
    const ple = this.cpu.pauseLoopExiting;
    if (ple === null) return;
    const backoff = 2 ** Math.min(this.cpu.pauseLoopRepeats, 30);
    const quantum = Math.min(ple.window * this.nsPerInstruction * backoff, MAX_PAUSE_SKIP_NS);
    const now = this.now();
    const next = Math.min(this.pit.nextEventTime(), this.rtc.nextEventTime());
    const skip = Math.max(0, Math.min(quantum, next - now));
    this.idleNs += skip;
    this.stats.pauseLoopExits++;
    this.stats.pauseSkippedNs += skip;
  }

  /** Instructions the next CPU slice may run (see `SLICE` and `MAX_SLICE`). */
  private sliceLength(): number {
    if (this.pic.hasInterrupt()) return SLICE;
    const next = Math.min(this.pit.nextEventTime(), this.rtc.nextEventTime());
    if (!Number.isFinite(next)) return MAX_SLICE;
    const until = Math.ceil((next - this.now()) / this.nsPerInstruction);
    return Math.max(SLICE, Math.min(MAX_SLICE, until));
  }

  /** Advances virtual time while the CPU is halted (idle time), then delivers what fell due. */
  skipTo(ns: number): void {
    const now = this.now();
    if (ns > now) {
      this.idleNs += ns - now;
      this.stats.idleSkips++;
    }
    this.pit.advance(this.now());
    this.rtc.advance(this.now());
    // The CPU leaves HLT when an interrupt is delivered.
    void this.hostStart;
  }
}
