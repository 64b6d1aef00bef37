import {
  CODE_COUNT,
  CODE_NAMES,
  Code,
  Decoder,
  FlowControl,
  flowControl,
  type Instruction,
  OpKind,
  PrefixBit,
} from '@ringzero/decoder';
import { TlbFlag } from '@ringzero/memory';
import { alu, imul2, neg, shift } from './alu';
import { type WasmArena, Xfer } from './arena';
import { type CpuState, isFlatDataSegment, LazyOp, Seg } from './cpu-state';
import { Decoded } from './decoded';
import { HANDLERS, type Handler } from './handlers';
import type { ModuleCompiler } from './module-compiler';
import { CLASS_OF, Sensitivity } from './policy';
import type { Tier0 } from './tier0';
import {
  BYTE_LAZY,
  emitTemplate,
  isTemplateJcc,
  lazyBits,
  SLOW_FAULT_EXPR,
  SLOW_FAULT_STMT,
  SLOW_STORED,
} from './tier1-templates';
import { emitModule, instantiateWasmRegion } from './tier1-wasm';
import { WasmChain } from './wasm-chain';

/**
 * Tier 1: hot code translated into JavaScript that V8 compiles to machine code. The unit is a
 * *region*: the basic blocks reachable from a hot address through direct branches inside one
 * 4 KiB page (up to `MAX_REGION` instructions), compiled into one function whose body is a
 * `switch` over the blocks in a loop, so branches between them (loops above all) stay inside
 * the function with the guest's registers and flags in locals. A region is entered at any of its
 * blocks, only in 32-bit protected mode with a flat code segment (the mode Linux and the demo
 * kernel run in). Each instruction is either emitted inline from a template (the common moves,
 * ALU operations, pushes and pops, branches, with constant register numbers and displacements
 * and the TLB hit path of the memory access) or as a call of its tier-0 handler, so the
 * semantics have one source of truth. See the package README for the design.
 */

/** Longest basic block, in instructions. */
export const MAX_BLOCK = 64;
/**
 * A region's fault index `kk` is the instruction's index in the region shifted by this, ORed
 * with its position in its block (below `MAX_BLOCK`).
 */
const FAULT_INDEX_SHIFT = 6;
if (MAX_BLOCK > 1 << FAULT_INDEX_SHIFT) throw new Error('tier 1: MAX_BLOCK does not fit the fault index');
/** Most instructions in one region. */
export const MAX_REGION = 128;
/**
 * Page offset where a region's second page starts. A region may go on into the next physical
 * page (a loop that straddles a page end, a call into the next page): its blocks there are
 * guarded, at run time, by the next linear page mapping to that physical page with the rights
 * the region's privilege needs (the dispatcher's own test of the entry's page).
 */
export const SPAN_OFFSET = 4096;
/** `Tier1.modeKey`'s bit for paging off with the A20 gate open (linear addresses are physical). */
export const MODE_UNPAGED = 8;
/**
 * `Tier1.modeKey`'s bit for GS a 4 GiB expand-up writable data segment, whatever its base (the C
 * library's thread pointer in i386 user space: the stack protector's canary, `errno`, TLS).
 */
export const MODE_GS = 16;
/** Executions of an address in tier 0 before it is translated (the README has the measurements). */
export const HOT_THRESHOLD = 2048;
/**
 * `HOT_THRESHOLD` when a `ModuleCompiler` compiles WebAssembly off the guest's thread: a compile
 * then costs the guest only its discovery, emission and instantiation, so code is translated
 * sooner (the Linux boot measured 512 best, 1,024 close, 2,048 and 256 slower).
 */
export const OFF_THREAD_HOT_THRESHOLD = 512;
/** Distinct compiled region functions kept for sharing. */
const FUNCTION_CACHE = 1 << 16;

/**
 * The compiled function of a region, entered at the block that starts at page offset `pc`
 * (which also gives the page's linear address from EIP). Returns 1 when the last instruction
 * loaded a segment register (the dispatcher recomputes the mode), else 0.
 */
export type BlockFn = (c: Tier0, s: CpuState, r: Int32Array, pc: number) => number;

/**
 * Makes a region's function from its instructions (`I`), their tier-0 handlers (`H`), the
 * shared helpers (`X`) and the processor's MMU (`M`, whose TLB tables and RAM views the factory
 * binds once), which the function closes over: the dispatcher passes four arguments per call,
 * a call reads no MMU property, and regions with the same source share one factory and so V8's
 * compiled code.
 */
type RegionFactory = (
  I: readonly Decoded[],
  H: readonly Handler[],
  X: BlockHelpers,
  M: Tier0['mmu'],
) => BlockFn;

/** Semantics shared with tier 0 that templates call directly. */
export interface BlockHelpers {
  readonly shift: typeof shift;
  readonly alu: typeof alu;
  readonly imul2: typeof imul2;
  readonly neg: typeof neg;
}

export const BLOCK_HELPERS: BlockHelpers = { shift, alu, imul2, neg };

/** One entry into a compiled region: what the dispatcher finds at a physical address. */
export interface Block {
  readonly fn: BlockFn;
  /** Physical address of the entry's first instruction. */
  readonly phys: number;
  /** The block's page offset: the region function's `case` for it (its `pc` argument). */
  readonly entry: number;
  /**
   * Links to the entries that followed this one (up to two: a branch's two ways), valid while
   * neither code nor translations changed: `linkCode`/`linkTlb` are `Tier0.codeWrites` and
   * `Mmu.epoch` when the links were made.
   */
  linkEip0: number;
  link0: Block | undefined;
  linkEip1: number;
  link1: Block | undefined;
  linkCode: number;
  linkTlb: number;
  /** The region's instructions and their handlers (indexed by the emitted code). */
  readonly ins: readonly Decoded[];
  readonly handlers: readonly Handler[];
  /** Instructions in the entry's basic block: the budget the dispatcher checks before entering. */
  readonly count: number;
  /** Mode bits the region was compiled for (`Tier1.modeKey`). */
  readonly mode: number;
  /** The emitted JavaScript (for tests and `--trace`). */
  readonly source: string;
  /**
   * The region also holds code of the next physical page (`SPAN_OFFSET` on): a write there
   * drops this entry too. Blocks in that page are not entries of their own.
   */
  readonly spans: boolean;
}

/** How a basic block ends. */
export type BlockEnd =
  /** Goes on at `next` (fall-through, a direct JMP, or the block limit). */
  | { readonly kind: 'goto'; readonly next: number }
  /** A conditional branch with a template: `taken` (a page offset, or -1 outside the page), else `next`. */
  | { readonly kind: 'branch'; readonly taken: number; readonly next: number }
  /** A conditional branch run by its handler (LOOP, JECXZ): leaves when taken, else `next`. */
  | { readonly kind: 'handler-branch'; readonly next: number }
  /** Leaves the region at page offset `at` (an instruction tier 0 must run, or the page's end). */
  | { readonly kind: 'exit'; readonly at: number }
  /** The last instruction set EIP itself (JMP/CALL/RET, a REP string instruction). */
  | { readonly kind: 'transfer' }
  /** The last instruction loaded a segment register: leave, the mode must be recomputed. */
  | { readonly kind: 'segment-load' };

export interface BasicBlock {
  /** Page offset of the first instruction. */
  readonly start: number;
  readonly ins: Decoded[];
  /** Page offset of each instruction. */
  readonly offsets: number[];
  end: BlockEnd;
}

/** The basic blocks of a region, in address order. */
export interface Region {
  readonly blocks: readonly BasicBlock[];
}

/** Forms that load a segment register: they end a block (the mode may change after them). */
export const IS_SEGMENT_LOAD = new Uint8Array(CODE_COUNT);
for (const name of [
  'mov_sreg_rm16',
  'mov_sreg_r32m16',
  'popw_es',
  'popd_es',
  'popw_ss',
  'popd_ss',
  'popw_ds',
  'popd_ds',
  'popw_fs',
  'popd_fs',
  'popw_gs',
  'popd_gs',
  'lds_r16_m1616',
  'lds_r32_m1632',
  'les_r16_m1616',
  'les_r32_m1632',
  'lss_r16_m1616',
  'lss_r32_m1632',
  'lfs_r16_m1616',
  'lfs_r32_m1632',
  'lgs_r16_m1616',
  'lgs_r32_m1632',
]) {
  const code = (Code as Record<string, number>)[name];
  if (code === undefined) throw new Error(`tier 1: the decoder has no form ${name}`);
  IS_SEGMENT_LOAD[code] = 1;
}

/**
 * Forms a region hands to tier 0 through `Tier0.execSensitive` and goes on after, unless that
 * ends the run: sensitive forms that neither transfer control nor change anything the mode key
 * depends on (the policy decides at every execution, as in tier 0) — RDTSC above all, which Linux
 * reads in its delay loops and scheduler clock — and PAUSE, which can end the run through
 * PAUSE-loop exiting.
 */
export const IN_REGION_SENSITIVE = new Uint8Array(CODE_COUNT);
for (const name of ['rdtsc', 'cpuid', 'pushfd', 'pause']) {
  const code = (Code as Record<string, number>)[name];
  if (code === undefined) throw new Error(`tier 1: the decoder has no form ${name}`);
  IN_REGION_SENSITIVE[code] = 1;
}

const STRING_PREFIXES = PrefixBit.rep | PrefixBit.repne;

/** String instruction forms (MOVS/CMPS/STOS/LODS/SCAS/INS/OUTS, not SSE's MOVSD/CMPSD). */
const IS_STRING = new Uint8Array(CODE_COUNT);
CODE_NAMES.forEach((name, code) => {
  if (/^(movs|cmps|stos|lods|scas|ins|outs)[bwdq]_(m|al|ax|eax|rax|dx)/.test(name)) IS_STRING[code] = 1;
});

export interface Tier1Stats {
  blocksCompiled: number;
  /** Block entries that followed a link instead of going through the dispatcher. */
  chained: number;
  /** Blocks that reused the compiled function of an identical block. */
  shared: number;
  instructionsCompiled: number;
  /** Calls of region functions (entries from the dispatcher or through a link). */
  blockRuns: number;
  /** Instructions retired inside region functions (the rest ran in tier 0). */
  instructionsTranslated: number;
  invalidations: number;
  compileMs: number;
  /** Regions compiled to WebAssembly (with an arena), and those that fell back to JavaScript. */
  wasmRegions: number;
  wasmFallbacks: number;
  /** WebAssembly regions compiled again as JavaScript once hot. */
  promoted: number;
  /** Region-to-region tail calls inside WebAssembly (also counted in `chained` and `blockRuns`). */
  wasmChained: number;
  /**
   * With a `ModuleCompiler`: modules handed to it, those installed when they came back, and
   * those dropped because their page's code was written (or all code flushed) meanwhile.
   */
  wasmSubmitted: number;
  wasmInstalled: number;
  wasmDropped: number;
}

/** A region whose module a `ModuleCompiler` is compiling. */
interface PendingRegion {
  readonly id: number;
  readonly phys: number;
  readonly mode: number;
  readonly region: Region;
  readonly ins: readonly Decoded[];
  readonly handlers: readonly Handler[];
  readonly bytes: number;
  /** Page offsets of its instructions: an address among them waits for it. */
  readonly covers: ReadonlySet<number>;
}

/** A flat writable data segment (`isFlatDataSegment`), and 32-bit if it is SS. */
function isFlatData(s: CpuState, seg: number): boolean {
  return isFlatDataSegment(s, seg, true) && (seg !== Seg.ss || ((s.segAccess[seg] ?? 0) & 0x4000) !== 0);
}

/**
 * Whether segment `seg` is a 4 GiB expand-up writable data segment, present, whatever its base
 * (WebAssembly regions add the base to its operands).
 */
function isWideData(s: CpuState, seg: number): boolean {
  return (s.segLimit[seg] ?? 0) === 0xffffffff && ((s.segAccess[seg] ?? 0) & 0x9e) === 0x92;
}

/** Translation cache and compiler. Owned by a `Tier0` (`new Tier0({ jit: true })`). */
export class Tier1 {
  readonly stats: Tier1Stats = {
    blocksCompiled: 0,
    chained: 0,
    shared: 0,
    instructionsCompiled: 0,
    blockRuns: 0,
    instructionsTranslated: 0,
    invalidations: 0,
    compileMs: 0,
    wasmRegions: 0,
    wasmFallbacks: 0,
    promoted: 0,
    wasmChained: 0,
    wasmSubmitted: 0,
    wasmInstalled: 0,
    wasmDropped: 0,
  };
  /**
   * Compiles WebAssembly modules off the guest's thread (`createWorkerCompiler`); without one,
   * `new WebAssembly.Module` compiles them where the guest runs.
   */
  readonly compiler: ModuleCompiler | undefined;
  /** Regions being compiled by `compiler`, by request id and by physical page number. */
  private readonly pending = new Map<number, PendingRegion>();
  private readonly pendingPages = new Map<number, PendingRegion[]>();
  private nextRequest = 1;
  private readonly dec = new Decoder(32);
  /** With an arena, regions are compiled to WebAssembly there (`tier1-wasm.ts`). */
  readonly arena: WasmArena | undefined;

  /** With an arena: the table and map by which WebAssembly regions chain to each other. */
  readonly chain: WasmChain | undefined;

  constructor(arena?: WasmArena, compiler?: ModuleCompiler) {
    this.arena = arena;
    this.chain = arena === undefined ? undefined : new WasmChain(arena);
    this.compiler = arena === undefined ? undefined : compiler;
  }

  /**
   * Drops what the chain knows of physical page `page` (a page number: its code was written),
   * and the regions of that page still being compiled (they were made from the old code).
   */
  dropPage(page: number): void {
    this.chain?.dropPage(page);
    const list = this.pendingPages.get(page);
    if (list === undefined) return;
    this.pendingPages.delete(page);
    for (const p of list) this.pending.delete(p.id);
    this.stats.wasmDropped += list.length;
  }

  /** Drops the whole chain map (every cached instruction went), and every region being compiled. */
  flushChains(): void {
    this.chain?.flush();
    this.dropAllPending();
  }

  /** Forgets every region still being compiled (counted as dropped). */
  private dropAllPending(): void {
    this.stats.wasmDropped += this.pending.size;
    this.pending.clear();
    this.pendingPages.clear();
  }

  /** Regions handed to the compiler that have not come back yet. */
  get pendingRegions(): number {
    return this.pending.size;
  }

  /**
   * @internal Installs the regions whose modules came back from the compiler: instantiated, with
   * every entry registered through `register` (the dispatcher finds them at its next lookup).
   * A module that did not come back compiled leaves its region to tier 0; its address is
   * translated again when next hot, compiled on this thread (and as JavaScript if that fails).
   */
  poll(c: Tier0, register: (phys: number, entry: Block) => void): void {
    const compiler = this.compiler;
    if (compiler === undefined || this.compilerBroken) return;
    if (!compiler.alive()) {
      this.abandonCompiler(new Error('module compiler stopped (closed, or its thread failed)'));
      return;
    }
    if (!compiler.ready()) return;
    for (const r of compiler.take()) {
      const p = this.pending.get(r.id);
      if (p === undefined) continue;
      this.pending.delete(r.id);
      const page = p.phys >>> 12;
      const rest = (this.pendingPages.get(page) ?? []).filter((q) => q !== p);
      if (rest.length === 0) this.pendingPages.delete(page);
      else this.pendingPages.set(page, rest);
      const t0 = performance.now();
      if (r.module === undefined) {
        this.stats.wasmFallbacks++;
        this.lastWasmError = new Error(r.error ?? 'module did not compile');
        this.failed.add(p.phys * 8 + p.mode);
        continue;
      }
      const first = this.install(c, p, r.module, register);
      if (first !== undefined) {
        register(p.phys, first);
        this.stats.wasmInstalled++;
      }
      this.stats.compileMs += performance.now() - t0;
    }
  }

  /** Set when the compiler stopped or `submit` failed: modules compile on this thread from then on. */
  private compilerBroken = false;

  /** The compiler is gone: modules compile here from now on, and the regions still out are made again when next hot. */
  private abandonCompiler(err: unknown): void {
    this.compilerBroken = true;
    this.lastWasmError = err;
    this.dropAllPending();
  }

  /**
   * Entries whose module did not come back compiled, or did not instantiate (by `phys * 8 +
   * mode`): compiled on this thread next time, and as JavaScript if that fails too.
   */
  private readonly failed = new Set<number>();

  /** Adds the region-to-region calls made inside WebAssembly to `stats` (at the end of a burst). */
  foldStats(): void {
    const a = this.arena;
    if (a === undefined) return;
    const n = a.xfer[Xfer.chains] as number;
    if (n === 0) return;
    a.xfer[Xfer.chains] = 0;
    this.stats.chained += n;
    this.stats.blockRuns += n;
    this.stats.wasmChained += n;
  }
  /** Compiled functions by source text (bounded: cleared when full). */
  private readonly functions = new Map<string, RegionFactory>();
  /** The sources of the most recently compiled blocks (for tests and inspection). */
  private readonly recent: string[] = [];

  /** Emitted JavaScript of up to the last 64 compiled blocks, oldest first. */
  sources(): string[] {
    return this.recent.slice();
  }

  /**
   * The mode a block may run in, or -1 when blocks may not run: 32-bit protected mode, no
   * virtual-8086 mode, a flat 4 GiB code segment at base 0, no instruction breakpoints. Bit 0:
   * CPL 3 (user accesses); bit 1: DS, ES and SS are flat writable data segments; bit 2: FS is a
   * 4 GiB expand-up writable data segment (any base: WebAssembly regions add it to FS operands);
   * bit 3: paging is off and the A20 gate open (`a20Mask` is the MMU's), so a linear address is
   * its physical one (WebAssembly regions read RAM above 1 MiB without the TLB); bit 4
   * (`MODE_GS`): at CPL 3, GS is as bit 2 says of FS.
   */
  modeKey(s: CpuState, a20Mask = 0): number {
    if ((s.cr0 & 1) === 0 || (s.flags & 0x20000) !== 0) return -1;
    const csAcc = s.segAccess[1] ?? 0;
    if ((csAcc & 0x4000) === 0 || (s.segBase[1] ?? 0) !== 0 || (s.segLimit[1] ?? 0) !== 0xffffffff) return -1;
    if (((s.dr[7] ?? 0) & 0xff) !== 0) return -1;
    // ES, SS, DS (no array to iterate: this runs at every dispatcher entry and segment load).
    const flat = isFlatData(s, 0) && isFlatData(s, 2) && isFlatData(s, 3) ? 2 : 0;
    // FS whatever its base (Linux's per-CPU data).
    const fs = isWideData(s, Seg.fs) ? 4 : 0;
    // GS at CPL 3 only: Linux's i386 kernel runs with the user's GS still loaded (lazy GS) and
    // does not use it, so kernel code keeps one mode whichever process it runs for.
    const gs = s.cpl === 3 && isWideData(s, Seg.gs) ? MODE_GS : 0;
    const direct = (s.cr0 & 0x80000000) === 0 && a20Mask === -1 ? MODE_UNPAGED : 0;
    return (s.cpl === 3 ? 1 : 0) | flat | fs | gs | direct;
  }

  /**
   * Translates the region around physical address `phys` (the current EIP) and returns the
   * entry for it, registering an entry for each of its other blocks through `register`; or
   * returns undefined when the first instruction must run in tier 0 (sensitive, undecodable,
   * crossing a page).
   */
  compile(
    c: Tier0,
    phys: number,
    mode: number,
    ram: Uint8Array,
    register: (phys: number, entry: Block) => void,
  ): Block | undefined {
    const pageStart = phys & ~0xfff;
    if (pageStart + 4096 > ram.length) return undefined;
    if (this.compiler !== undefined) {
      // A region being compiled that holds this address: tier 0 runs it meanwhile (or the region
      // just came back, and the dispatcher finds its entry).
      this.poll(c, register);
      if (c.hasEntry(phys, mode)) return PENDING;
      const list = this.pendingPages.get(phys >>> 12);
      if (list !== undefined) {
        for (const p of list) if (p.mode === mode && p.covers.has(phys & 0xfff)) return PENDING;
      }
    }
    const t0 = performance.now();
    const eipPage = (c.state.eip - (phys & 0xfff)) | 0;
    // The next physical page joins when it is RAM and the next linear page's code is there, for
    // JavaScript regions. WebAssembly regions stay in their page: the next page's code is a
    // region of its own, reached by a tail call (a two-page JavaScript region there broke the
    // chains; the Linux boot's initialisation ran 0.5 s faster without them).
    const span = this.arena === undefined && pageStart + 2 * 4096 <= ram.length && eipPage !== -4096;
    const region = discoverRegion(
      ram.subarray(pageStart, pageStart + (span ? 2 : 1) * 4096),
      phys & 0xfff,
      eipPage,
      this.dec,
      (off) =>
        // Code another region already holds is left to it: the dispatcher links the two. In
        // the next page the region keeps its own copy (those blocks are not entries).
        c.isWarm(pageStart + off) && (off >= SPAN_OFFSET || !c.hasEntry(pageStart + off, mode)),
    );
    if (region === undefined) return undefined;
    const spans = spansPages(region);
    // With an arena, regions within one page become WebAssembly; one that goes on into the next
    // page stays JavaScript (its second page's guard is the JavaScript back end's).
    if (this.arena !== undefined && !spans) {
      const b = this.compileWasm(c, phys, mode, region, register, t0);
      if (b !== null) return b;
    }
    const ins: Decoded[] = [];
    for (const b of region.blocks) ins.push(...b.ins);
    const handlers = ins.map((i) => HANDLERS[i.code] as Handler);
    const { fn, source } = this.jsFunction(c, region, mode, ins, handlers);
    this.recent.push(source);
    if (this.recent.length > 64) this.recent.shift();
    this.stats.blocksCompiled++;
    this.stats.instructionsCompiled += ins.length;
    const first = this.entries(c, region, phys, mode, ins, handlers, source, spans, () => fn, register);
    this.stats.compileMs += performance.now() - t0;
    return first;
  }

  /**
   * Makes an entry for each block of `region` in its first page (settling their instructions),
   * registers all but the one at `phys` and returns that one.
   */
  private entries(
    c: Tier0,
    region: Region,
    phys: number,
    mode: number,
    ins: readonly Decoded[],
    handlers: readonly Handler[],
    source: string,
    spans: boolean,
    fnOf: (start: number) => BlockFn,
    register: (phys: number, entry: Block) => void,
  ): Block | undefined {
    const pageStart = phys & ~0xfff;
    let first: Block | undefined;
    for (const b of region.blocks) {
      if (b.start >= SPAN_OFFSET) continue;
      for (const off of b.offsets) c.settle(pageStart + off);
      const entry = newBlock({
        fn: fnOf(b.start),
        phys: pageStart + b.start,
        entry: b.start,
        ins,
        handlers,
        count: b.ins.length,
        mode,
        source,
        spans,
      });
      if (pageStart + b.start === phys) first = entry;
      else register(pageStart + b.start, entry);
    }
    return first;
  }

  /** The JavaScript function of a region, and its source. */
  private jsFunction(
    c: Tier0,
    region: Region,
    mode: number,
    ins: readonly Decoded[],
    handlers: readonly Handler[],
  ): { fn: BlockFn; source: string } {
    // Without comments: less for V8 to parse (the expect tests show the commented form).
    const source = emitRegion(region, mode, false);
    // The source holds only integers taken from decoded instructions (checked by `int`) and
    // names of this module's parameters; nothing from guest memory is pasted in as text.
    // Identical code (the same instructions with the same registers and displacements, in any
    // page) gives identical source: compile it once and share the function.
    let make = this.functions.get(source);
    if (make === undefined) {
      make = new Function('I', 'H', 'X', 'M', regionFactorySource(source)) as RegionFactory;
      if (this.functions.size >= FUNCTION_CACHE) this.functions.clear();
      this.functions.set(source, make);
    } else this.stats.shared++;
    return { fn: make(ins, handlers, BLOCK_HELPERS, c.mmu), source };
  }

  /**
   * `compile` into WebAssembly, for a region within one page. Returns null when the module
   * cannot be made (the caller compiles JavaScript instead).
   */
  private compileWasm(
    c: Tier0,
    phys: number,
    mode: number,
    region: Region,
    register: (phys: number, entry: Block) => void,
    t0: number,
  ): Block | null {
    const arena = this.arena as WasmArena;
    const ins: Decoded[] = [];
    for (const b of region.blocks) ins.push(...b.ins);
    const handlers = ins.map((i) => HANDLERS[i.code] as Handler);
    const compiler = this.compilerBroken ? undefined : this.compiler;
    let background = compiler !== undefined && !this.failed.has(phys * 8 + mode);
    let bytes: Uint8Array;
    try {
      bytes = emitModule(region, mode, IN_REGION_SENSITIVE, arena.ram.length);
    } catch (err) {
      this.stats.wasmFallbacks++;
      this.lastWasmError = err;
      return null;
    }
    if (background && compiler !== undefined) {
      const covers = new Set<number>();
      for (const b of region.blocks) for (const off of b.offsets) if (off < SPAN_OFFSET) covers.add(off);
      const p: PendingRegion = {
        id: this.nextRequest++,
        phys,
        mode,
        region,
        ins,
        handlers,
        bytes: bytes.length,
        covers,
      };
      try {
        compiler.submit(p.id, bytes);
      } catch (err) {
        this.abandonCompiler(err);
        background = false;
      }
      if (background) {
        this.pending.set(p.id, p);
        const list = this.pendingPages.get(phys >>> 12);
        if (list === undefined) this.pendingPages.set(phys >>> 12, [p]);
        else list.push(p);
        this.stats.wasmSubmitted++;
        this.stats.compileMs += performance.now() - t0;
        return PENDING;
      }
    }
    let module: WebAssembly.Module;
    try {
      module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    } catch (err) {
      this.stats.wasmFallbacks++;
      this.lastWasmError = err;
      return null;
    }
    const first = this.install(
      c,
      { phys, mode, region, ins, handlers, bytes: bytes.length },
      module,
      register,
    );
    this.stats.compileMs += performance.now() - t0;
    return first ?? null;
  }

  /**
   * Instantiates a region's compiled module and makes its entries (registering all but the one
   * at `p.phys`, which it returns); undefined when instantiation failed (JavaScript then).
   */
  private install(
    c: Tier0,
    p: Pick<PendingRegion, 'phys' | 'mode' | 'region' | 'ins' | 'handlers' | 'bytes'>,
    module: WebAssembly.Module,
    register: (phys: number, entry: Block) => void,
  ): Block | undefined {
    const { region, mode, ins, handlers } = p;
    let compiled: ReturnType<typeof instantiateWasmRegion>;
    try {
      // A region that turns out hot (`PROMOTE_RUNS` calls) is compiled again as JavaScript,
      // which V8's optimising compiler makes faster than WebAssembly's code for this shape.
      compiled = instantiateWasmRegion(
        c,
        region,
        p.phys & ~0xfff,
        mode,
        this.arena as WasmArena,
        this.chain as WasmChain,
        ins,
        handlers,
        module,
        p.bytes,
        () => {
          this.stats.promoted++;
          return this.jsFunction(c, region, mode, ins, handlers).fn;
        },
      );
    } catch (err) {
      this.stats.wasmFallbacks++;
      this.lastWasmError = err;
      this.failed.add(p.phys * 8 + mode);
      return undefined;
    }
    const source = `wasm region: ${ins.length} instructions, ${compiled.bytes} bytes`;
    this.stats.blocksCompiled++;
    this.stats.wasmRegions++;
    this.stats.instructionsCompiled += ins.length;
    const fnOf = (start: number) => compiled.entries.get(start) as BlockFn;
    return this.entries(c, region, p.phys, mode, ins, handlers, source, false, fnOf, register);
  }

  /** Why the last WebAssembly compile fell back to JavaScript (for tests and inspection). */
  lastWasmError: unknown = undefined;
}

/** A string instruction with a REP prefix (its handler runs the iterations and sets EIP). */
export function isRepString(i: Instruction): boolean {
  return (i.prefixes & STRING_PREFIXES) !== 0 && IS_STRING[i.code] === 1;
}

/**
 * The region of `page` (4 KiB of code) reachable from page offset `entry` through direct
 * branches, as basic blocks in address order; undefined when the entry instruction itself must
 * run in tier 0. `eipPage` is the linear address of the page (instruction addresses are
 * `eipPage + offset`). Instructions that cross the page end are left to tier 0. Only blocks for
 * which `warm` holds (tier 0 has run them often enough) join the region: cold paths stay out of the
 * compiled code and leave the region when taken.
 */
export function discoverRegion(
  page: Uint8Array,
  entry: number,
  eipPage: number,
  dec: Decoder = new Decoder(32),
  warm: (offset: number) => boolean = () => true,
): Region | undefined {
  const blocks = new Map<number, BasicBlock>();
  const work = [entry];
  let total = 0;
  const limit = page.length;
  const inPage = (off: number): boolean => off >= 0 && off < limit;
  /** Queues a successor inside the page; returns its offset. */
  const want = (off: number): number => {
    if (inPage(off) && !blocks.has(off) && !work.includes(off) && warm(off)) work.push(off);
    return off;
  };
  while (work.length > 0) {
    const start = work.shift() as number;
    if (blocks.has(start)) continue;
    const b: BasicBlock = { start, ins: [], offsets: [], end: { kind: 'exit', at: start } };
    let off = start;
    for (;;) {
      if (b.ins.length > 0 && blocks.has(off)) {
        b.end = { kind: 'goto', next: off };
        break;
      }
      // A block ends at the page end: one in the next page starts with that page's guard.
      const pageEnd = start < SPAN_OFFSET ? SPAN_OFFSET : limit;
      if (b.ins.length >= MAX_BLOCK || total >= MAX_REGION || off >= pageEnd) {
        b.end =
          inPage(off) && total < MAX_REGION ? { kind: 'goto', next: want(off) } : { kind: 'exit', at: off };
        break;
      }
      const i = new Decoded();
      dec.decodeOut(page.subarray(off, Math.min(pageEnd, off + 15)), 0, (eipPage + off) | 0, i);
      i.prepare();
      // Undecodable here (or running into the next page), or sensitive: tier 0 takes it.
      if (
        i.code === 0 ||
        ((CLASS_OF[i.code] ?? 0) !== Sensitivity.innocuous && IN_REGION_SENSITIVE[i.code] !== 1)
      ) {
        b.end = { kind: 'exit', at: off };
        break;
      }
      b.ins.push(i);
      b.offsets.push(off);
      total++;
      const next = off + i.length;
      const flow = flowControl(i.code);
      if (flow === FlowControl.conditionalBranch) {
        if (isTemplateJcc(i)) {
          const t = branchOffset(i, next);
          b.end = { kind: 'branch', taken: inPage(t) ? want(t) : -1, next: want(next) };
        } else b.end = { kind: 'handler-branch', next: want(next) };
        break;
      }
      if (flow === FlowControl.branch && isFollowableJump(i)) {
        const t = branchOffset(i, next);
        b.end = inPage(t) ? { kind: 'goto', next: want(t) } : { kind: 'transfer' };
        break;
      }
      if (flow !== FlowControl.next) {
        if (flow === FlowControl.call && i.op0Kind === OpKind.nearBranch) {
          // A direct call: the callee and the return address join the region when they are
          // in the page, so a call and its RET stay inside the function.
          want(branchOffset(i, next));
          want(next);
        }
        b.end = { kind: 'transfer' };
        break;
      }
      if (IS_SEGMENT_LOAD[i.code] === 1) {
        b.end = { kind: 'segment-load' };
        break;
      }
      if (isRepString(i)) {
        b.end = { kind: 'transfer' };
        break;
      }
      off = next;
    }
    if (b.ins.length === 0 && start === entry) return undefined;
    if (b.ins.length > 0) blocks.set(start, b);
  }
  // Successors that turned out empty (their first instruction needs tier 0) are exits.
  for (const b of blocks.values()) {
    const e = b.end;
    if (e.kind === 'goto' && !blocks.has(e.next)) b.end = { kind: 'exit', at: e.next };
    else if (e.kind === 'branch' && e.taken >= 0 && !blocks.has(e.taken))
      b.end = { kind: 'branch', taken: -1, next: e.next };
  }
  return { blocks: [...blocks.values()].sort((x, y) => x.start - y.start) };
}

type BlockLinks = 'linkEip0' | 'link0' | 'linkEip1' | 'link1' | 'linkCode' | 'linkTlb';

/**
 * The one class of every entry: all entries share one hidden class, so the dispatcher's
 * property loads stay monomorphic (objects built by spreading a literal got a map each).
 */
class Entry implements Block {
  readonly fn: BlockFn;
  readonly phys: number;
  readonly entry: number;
  linkEip0 = 0;
  link0: Block | undefined = undefined;
  linkEip1 = 0;
  link1: Block | undefined = undefined;
  linkCode = -1;
  linkTlb = -1;
  readonly ins: readonly Decoded[];
  readonly handlers: readonly Handler[];
  readonly count: number;
  readonly mode: number;
  readonly source: string;
  readonly spans: boolean;

  constructor(f: Omit<Block, BlockLinks>) {
    this.fn = f.fn;
    this.phys = f.phys;
    this.entry = f.entry;
    this.ins = f.ins;
    this.handlers = f.handlers;
    this.count = f.count;
    this.mode = f.mode;
    this.source = f.source;
    this.spans = f.spans;
  }
}

/** An entry with no links yet. */
function newBlock(fields: Omit<Block, BlockLinks>): Block {
  return new Entry(fields);
}

/** A marker entry that never runs (told apart by its `mode`). */
function marker(mode: number): Block {
  return newBlock({
    fn: () => 0,
    phys: -1,
    entry: 0,
    ins: [],
    handlers: [],
    count: 0,
    mode,
    source: '',
    spans: false,
  });
}

/**
 * What `Tier1.compile` returns while the region at that address is being compiled by the
 * `ModuleCompiler`, or when it has just been installed: the dispatcher stores nothing and looks
 * the address up again.
 */
export const PENDING: Block = marker(-3);

/** Marks an address whose code cannot be translated (its first instruction needs tier 0). */
export const NO_BLOCK: Block = marker(-2);

/**
 * Page offset of a relative branch's target, from `next`, the page offset after the branch (the
 * target may lie outside the page: below 0 or from 4096 on).
 */
export function branchOffset(i: Instruction, next: number): number {
  return (next + (i.nearBranchTarget - i.ip - i.length)) | 0;
}

/** JMP rel8/rel32 in 32-bit code: a block may continue at its target. */
function isFollowableJump(i: Instruction): boolean {
  return i.mnemonic === 'jmp' && i.opCount === 1 && i.op0Kind === OpKind.nearBranch && i.operandSize === 32;
}

/** An integer for emitted source: refuses anything that is not a safe integer. */
export function int(v: number): string {
  if (!Number.isSafeInteger(v)) throw new Error(`tier 1: refusing to emit non-integer ${String(v)}`);
  return String(v);
}

/**
 * Flag liveness across one instruction: whether `next` (the next instruction of the block)
 * writes all six status flags from its own operands and cannot fault, so the flags of the
 * instruction before it are never read (no reader, no exception and no exit sees them): a
 * 32-bit register ALU operation, NEG or shift by a non-zero immediate with deferred flags.
 */
function overwritesFlags(next: Instruction | undefined, mode: number): boolean {
  if (next === undefined) return false;
  const t = emitTemplate(next, mode, '0');
  return (
    t !== undefined &&
    t.deferred !== undefined &&
    !isIncDec(t.deferred) &&
    !t.mayFault &&
    t.stateFlags !== true &&
    t.maybeDeferred !== true &&
    t.branch === undefined
  );
}

/** INC and DEC leave CF as it was: a pending other operation must reach the state first. */
function isIncDec(op: number | undefined): boolean {
  return op === LazyOp.inc || op === LazyOp.dec;
}

/** Writes the deferred flags `fo` says are pending (a `LazyOp`, `BYTE_LAZY` added at 8 bits). */
const STORE_PENDING = `s.setLazy(fo & ${~BYTE_LAZY}, fa, fb, fv, fo > ${BYTE_LAZY} ? 8 : 32);`;

/**
 * The body of a region's factory (`RegionFactory`) for the region function's body `source`
 * (`emitRegion`): the MMU views the source uses, bound once per region from `M`, and the
 * function, parenthesised so V8 compiles it with the factory (one full parse, not a pre-parse
 * here and a second parse at its first call).
 */
export function regionFactorySource(source: string): string {
  const views = MMU_VIEWS.filter((v) => v.used.test(source)).map((v) => v.binding);
  return `${views.length > 0 ? `const ${views.join(', ')};\n` : ''}return (function region(c, s, r, pc) {\n${source}\n});`;
}

/**
 * The MMU's TLB tables and RAM views a region's factory binds by local name (the MMU's fields
 * are read-only, so once per region is enough); only those its code uses are bound. They used to
 * be read at every call: a property load each, an inline-cache call while V8 runs the region in
 * its interpreter or baseline tier.
 */
const MMU_VIEWS = (
  [
    ['T', 'tlbRead'],
    ['TW', 'tlbWrite'],
    ['B', 'ram'],
    ['W', 'ram16'],
    ['D', 'ram32'],
    ['NB', 'ramBytes'],
    ['NW', 'ramWords'],
    ['ND', 'ramDwords'],
  ] as const
).map(([name, field]) => ({ binding: `${name} = M.${field}`, used: new RegExp(`\\b${name}\\b`) }));

/** Whether a region holds blocks of the next page (from `SPAN_OFFSET` on). */
function spansPages(region: Region): boolean {
  return region.blocks.some((b) => b.start >= SPAN_OFFSET);
}

/** Names of the locals that hold EAX…EDI inside a block. */
const REG_LOCAL = /\br([0-7])\b/g;
const REG_ASSIGN = /\br([0-7]) =(?!=)/g;

/**
 * The body of a region function.
 *
 * - `for (;;) switch (pc)`: one `case` per basic block in address order, labelled with its page
 *   offset, so a block falls through into the next one and a branch to another block is
 *   `pc = offset; continue`. A CALL, RET or indirect jump goes on with `pc = EIP - page`: a
 *   target that starts a block of the region stays in the function, any other leaves through
 *   the `default` case with EIP already set. Each block first checks that it fits in the
 *   dispatcher's budget (`c.blockEnd`), else the region is left at that block: the count of
 *   retired instructions is exact, as in tier 0.
 * - Guest registers live in locals (`r0`…`r7`) for the whole call: loaded once at entry, stored
 *   back at the exit, around tier-0 handler calls and when an exception leaves.
 * - Status flags of 32-bit ALU templates stay in `fa`, `fb`, `fv` (the lazy operation's inputs
 *   and result) and are written to the `CpuState` only where something needs them there: a
 *   handler or helper that reads or writes flags, a condition the locals cannot answer, the exit
 *   and exceptions (`fo` holds the pending lazy operation at run time, 0 when the state is
 *   current). Flags overwritten before they are needed are never stored.
 * - Per instruction that can fault: `kk`, its index in the region and its position in its block
 *   (`FAULT_INDEX_SHIFT`), from which the exception path sets `c.startEip` (the instruction's
 *   page offset is `I[index].ip & 4095`) and counts the retired instructions; handler calls also
 *   set `c.startEip` before the call. After any instruction that may store, a check that no
 *   write hit translated code (then the region is left at the next instruction, so a write into
 *   the running code takes effect as on hardware). A template sets `kk` and checks for code
 *   writes on its MMU calls' slow way only (`SLOW_FAULT_EXPR`, `SLOW_STORED`), the only way
 *   that can fault or reach translated code.
 * - Every exit goes through one epilogue, which stores registers and flags and counts the
 *   retired instructions (`ic` for the finished blocks, `n` in the current one). An exit that
 *   knows where EIP goes sets `xo`, the page offset of EIP, and leaves with `break x`: the one
 *   `s.eip = e0 + xo` after the loop sets it. Exits after a handler or a template that set EIP
 *   itself leave with `break y`. So the rare exits (the budget, a code write, a cold successor)
 *   hold only constant assignments: code V8 optimises before they ever ran has no arithmetic or
 *   property store there without type feedback, which would deoptimise the region when taken.
 */
export function emitRegion(region: Region, mode: number, comments = true): string {
  const body: string[] = [];
  const starts = new Set<number>(region.blocks.map((b) => b.start));
  /** The lazy operation pending in the locals: 0 none, -1 unknown (`fo` says at run time). */
  let pending = 0;
  const flush = (): void => {
    if (pending === 0) return;
    if (pending > 0)
      body.push(`s.setLazy(${int(pending & ~BYTE_LAZY)}, fa, fb, fv, ${int(lazyBits(pending))}); fo = 0;`);
    else body.push(`if (fo !== 0) { ${STORE_PENDING} fo = 0; }`);
    pending = 0;
  };
  let index = 0;
  region.blocks.forEach((blk, k) => {
    const len = blk.ins.length;
    const nextCase = region.blocks[k + 1]?.start;
    /**
     * Source going on at page offset `off` after this block: a case of the region (nothing when
     * it is the next case and `fall` allows falling through to it), or the exit.
     */
    const goTo = (off: number, fall = true): string => {
      if (!starts.has(off)) return `xo = ${int(off)}; break x;`;
      return fall && off === nextCase ? '' : `pc = ${int(off)}; continue;`;
    };
    body.push(`case ${int(blk.start)}:`);
    if (comments) body.push(`// block at ${int(blk.start)}`);
    if (blk.start >= SPAN_OFFSET) body.push(`if (g === 0) { xo = ${int(blk.start)}; break x; }`);
    body.push(`if (ic + ${int(len)} > lim) { xo = ${int(blk.start)}; break x; }`);
    pending = -1;
    for (let j = 0; j < len; j++, index++) {
      const i = blk.ins[j] as Instruction;
      const off = blk.offsets[j] as number;
      const next = off + i.length;
      const nextEip = `(e0 + ${int(next)}) | 0`;
      const last = j === len - 1;
      if (last && blk.end.kind === 'goto' && flowControl(i.code) === FlowControl.branch) {
        // A direct JMP to another block of the region: nothing to execute.
        if (comments) body.push(`// jmp (${int(i.code)}) to block at ${int(blk.end.next)}`);
        body.push(`ic += ${int(len)};`, goTo(blk.end.next));
        continue;
      }
      const sensitive = IN_REGION_SENSITIVE[i.code] === 1;
      const t = sensitive
        ? undefined
        : emitTemplate(i, mode, nextEip, pending, overwritesFlags(blk.ins[j + 1], mode));
      if (comments) body.push(`// ${i.mnemonic} (${int(i.code)})`);
      // What can fault records its index (the catch finds EIP and the count from it); a handler
      // also gets `startEip` (string instructions and x87 read it).
      const at = int((index << FAULT_INDEX_SHIFT) | j);
      const end = blk.end;
      const stores = t === undefined || t.stores === true;
      const leaves = last && (end.kind === 'transfer' || end.kind === 'segment-load');
      // A template whose only faults are its MMU calls sets the fault index on their slow way
      // (`SLOW_FAULT_EXPR`); one with a segment check (`c.linear`, which raises too) before it.
      const slowFaults = t?.mayFault === true && !t.code.includes('c.linear(');
      if (t === undefined) body.push(`c.startEip = (e0 + ${int(off)}) | 0; kk = ${at};`);
      else if (t.mayFault && !slowFaults) body.push(`kk = ${at};`);
      // A store that hit translated code leaves the region at the next instruction. When the
      // store is the template's last effect, the check sits on its slow way (`SLOW_STORED`), the
      // only way that can hit code; otherwise it follows the instruction. A block that ends in a
      // segment load leaves anyway; a transfer (a CALL's push) leaves with EIP at the target.
      let checked = false;
      let code = t?.code ?? '';
      if (t !== undefined) {
        code = code
          .replaceAll(SLOW_FAULT_EXPR, slowFaults ? `kk = ${at}, ` : '')
          .replaceAll(SLOW_FAULT_STMT, slowFaults ? `kk = ${at}; ` : '');
        const k = code.indexOf(SLOW_STORED);
        const lastEffect =
          t.stores &&
          t.maybeDeferred !== true &&
          k >= 0 &&
          code.lastIndexOf(SLOW_STORED) === k &&
          /^[\s}]*$/.test(code.slice(k + SLOW_STORED.length));
        let exit = '';
        if (lastEffect && !leaves) {
          const fo = t.deferred !== undefined ? `fo = ${int(t.deferred)}; ` : '';
          exit = ` if (c.codeWrites !== w0) { ${fo}xo = ${int(next)}; n = ${int(j + 1)}; break x; }`;
        } else if (lastEffect && end.kind === 'transfer' && t.setsEip && !isRepString(i)) {
          exit = ` if (c.codeWrites !== w0) { n = ${int(j + 1)}; break y; }`;
        }
        checked = exit !== '';
        code = code.replace(SLOW_STORED, exit).replaceAll(SLOW_STORED, '');
      }
      if (t === undefined) {
        // Tier 0 runs it on the CpuState: registers and flags go there first, and registers
        // come back after (it may change any of them). While it runs, the state's registers are
        // the current ones (`q = 0`): a REP string instruction that faults mid-way leaves them
        // at the faulting iteration. A sensitive instruction goes through the policy's decision
        // (`execSensitive`) with the retired-instruction count brought up to date first, this
        // one included, as in tier 0 (RDTSC reads virtual time from it; `ic` and `lim` move by
        // what was added), and the region is left after it when that ends the run (an exit to
        // the VMM, a stop request, a trap).
        flush();
        body.push(`s.eip = ${nextEip};`);
        if (sensitive) body.push(`rt = ic + ${int(j + 1)}; c.instructions += rt; ic -= rt; lim -= rt;`);
        body.push(
          '/*store*/ q = 0;',
          sensitive
            ? `if (!c.execSensitive(I[${int(index)}])) { /*load*/ q = 1; n = ${int(j + 1)}; break y; }`
            : `H[${int(index)}](c, I[${int(index)}]);`,
          '/*load*/ q = 1;',
        );
      } else {
        if (t.stateFlags === true || t.maybeDeferred === true) flush();
        else if (isIncDec(t.deferred) && !isIncDec(pending)) flush(); // they keep the state's CF
        if (code !== '') body.push(code);
        if (t.stateFlags === true) pending = 0;
        if (t.maybeDeferred === true) pending = -1;
        if (t.deferred !== undefined) {
          if (pending !== t.deferred) body.push(`fo = ${int(t.deferred)};`);
          pending = t.deferred;
        }
      }
      if (stores && !leaves && !checked) {
        body.push(`if (c.codeWrites !== w0) { xo = ${int(next)}; n = ${int(j + 1)}; break x; }`);
      }
      if (!last) continue;
      // The block's end.
      body.push(`ic += ${int(len)};`);
      if (end.kind === 'branch' && t?.branch !== undefined) {
        const taken =
          end.taken >= 0
            ? goTo(end.taken, false)
            : `xo = ${int((next + t.branch.displacement) | 0)}; break x;`;
        body.push(`if (${t.branch.condition}) { ${taken} }`);
        body.push(goTo(end.next));
      } else if (end.kind === 'handler-branch') {
        body.push(`if (s.eip !== (${nextEip})) { pc = (s.eip - e0) | 0; continue; }`, goTo(end.next));
      } else if (end.kind === 'goto') {
        body.push(goTo(end.next));
      } else if (end.kind === 'exit') {
        body.push(goTo(end.at));
      } else if (end.kind === 'segment-load') {
        body.push('rv = 1; break y;');
      } else {
        // 'transfer': the template or handler set EIP. A target in this page goes on at its
        // block when the region has one (the switch's default leaves with EIP there), unless
        // the instruction's store (a CALL's return address) hit translated code. A REP string
        // instruction leaves: its handler counted its iterations, so `lim` no longer holds.
        if (t !== undefined && !t.setsEip) body.push(`s.eip = ${nextEip};`);
        if (isRepString(i)) body.push('break y;');
        else
          body.push(
            `pc = (s.eip - e0) | 0; ${stores && !checked ? 'if (c.codeWrites !== w0) break y; ' : ''}continue;`,
          );
      }
    }
  });
  // Registers the region uses are loaded at entry; those it assigns are stored at its exit.
  let code = body.filter((l) => l !== '').join('\n');
  const used = new Set<number>();
  const assigned = new Set<number>();
  for (const m of code.matchAll(REG_LOCAL)) used.add(Number(m[1]));
  for (const m of code.matchAll(REG_ASSIGN)) assigned.add(Number(m[1]));
  // A handler can change any register: every local is reloaded after it.
  const usedList = [...used].sort();
  const store = [...assigned]
    .sort()
    .map((k) => `r[${k}] = r${k};`)
    .join(' ');
  const load = usedList.map((k) => `r${k} = r[${k}];`).join(' ');
  code = code.replaceAll('/*store*/', store).replaceAll('/*load*/', load);
  const spans = spansPages(region);
  const first = region.blocks[0]?.offsets[0] ?? 0;
  // The faulting instruction's EIP: its page offset, or its distance from the region's first
  // instruction when the region has two pages (the function may run at another linear page
  // with the same physical one, so `e0` and not the decoded address is the base).
  const faultEip = spans
    ? `(e0 + ((I[kk >> ${FAULT_INDEX_SHIFT}].ip - I[0].ip) | 0) + ${int(first)}) | 0`
    : `(e0 + (I[kk >> ${FAULT_INDEX_SHIFT}].ip & 4095)) | 0`;
  // The second page's guard: the next linear page maps to the physical page after the entry's.
  const flag = (mode & 1) !== 0 ? TlbFlag.readUser : TlbFlag.readSup;
  const guard = spans
    ? `const ga = M.tlb[e0 >>> 12] | 0, gb = M.tlb[(e0 >>> 12) + 1] | 0, g = (gb & ${int(flag)}) !== 0 && (gb & -4096) === (((ga & -4096) + 4096) | 0) ? 1 : 0;`
    : '';
  const lines: string[] = [
    'const e0 = (s.eip - pc) | 0;',
    'const w0 = c.codeWrites;',
    'let lim = c.blockEnd - c.instructions;',
    ...(usedList.length > 0 ? [`let ${usedList.map((k) => `r${k} = r[${k}]`).join(', ')};`] : []),
    guard,
    'let fa = 0, fb = 0, fv = 0, fo = 0, n = 0, q = 1, ic = 0, kk = 0, rv = 0, L = 0, e = 0, rt = 0, xo = 0;',
    's.interruptShadow = false;',
    'try {',
    'y: {',
    'x: for (;;) {',
    'switch (pc) {',
    code,
    'default: break y;',
    '}',
    '}',
    's.eip = (e0 + xo) | 0;',
    '}',
    `} catch (z) { if (q !== 0) { ${store} } if (fo !== 0) ${STORE_PENDING} c.startEip = ${faultEip}; c.instructions += ic + (kk & ${(1 << FAULT_INDEX_SHIFT) - 1}); throw z; }`,
    `${store} if (fo !== 0) ${STORE_PENDING}`,
    'c.instructions += ic + n;',
    'return rv;',
  ];
  return lines.filter((l) => l !== '').join('\n');
}
