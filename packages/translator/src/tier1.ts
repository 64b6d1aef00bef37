import {
  CODE_COUNT,
  CODE_NAMES,
  Code,
  Decoder,
  FlowControl,
  flowControl,
  Instruction,
  OpKind,
  PrefixBit,
} from '@ringzero/decoder';
import { alu, imul2, neg, shift } from './alu';
import type { CpuState } from './cpu-state';
import { HANDLERS, type Handler } from './handlers';
import { CLASS_OF, Sensitivity } from './policy';
import type { Tier0 } from './tier0';
import { emitTemplate, type FlagKind } from './tier1-templates';

/**
 * Tier 1: hot straight-line code translated into one JavaScript function per block, which V8
 * then compiles to machine code. A block starts at a physical address, runs up to the next
 * control transfer, sensitive instruction, segment load, REP string instruction or page end,
 * and is entered only in 32-bit protected mode with a flat code segment (the mode Linux and the
 * demo kernel run in). Each instruction is either emitted inline from a template (the common
 * moves, ALU operations, pushes and pops, with constant register numbers and displacements and
 * the TLB hit path of the memory access) or as a call of its tier-0 handler, so the semantics
 * have one source of truth. See the package README for the design.
 */

/** Longest block, in instructions. */
export const MAX_BLOCK = 48;
/** Executions of an address in tier 0 before it is translated. */
export const HOT_THRESHOLD = 64;
/** Distinct compiled block functions kept for sharing. */
const FUNCTION_CACHE = 1 << 16;

/** The compiled function of a block. */
export type BlockFn = (
  c: Tier0,
  s: CpuState,
  r: Int32Array,
  I: readonly Instruction[],
  H: readonly Handler[],
  X: BlockHelpers,
) => void;

/** Semantics shared with tier 0 that templates call directly. */
export interface BlockHelpers {
  readonly shift: typeof shift;
  readonly alu: typeof alu;
  readonly imul2: typeof imul2;
  readonly neg: typeof neg;
}

export const BLOCK_HELPERS: BlockHelpers = { shift, alu, imul2, neg };

export interface Block {
  readonly fn: BlockFn;
  /**
   * Links to the blocks that followed this one (up to two: a branch's two ways), valid while
   * neither code nor translations changed: `linkCode`/`linkTlb` are `Tier0.codeWrites` and
   * `Mmu.epoch` when the links were made.
   */
  linkEip0: number;
  link0: Block | undefined;
  linkEip1: number;
  link1: Block | undefined;
  linkCode: number;
  linkTlb: number;
  readonly ins: readonly Instruction[];
  readonly handlers: readonly Handler[];
  /** Offset of each instruction from the block's first byte. */
  readonly offsets: readonly number[];
  readonly count: number;
  /** Mode bits the block was compiled for (`Tier1.modeKey`). */
  readonly mode: number;
  /** The emitted JavaScript (for tests and `--trace`). */
  readonly source: string;
  /** The last instruction loads a segment register (the mode must be recomputed). */
  readonly endsInSegmentLoad: boolean;
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
  blockRuns: number;
  invalidations: number;
  compileMs: number;
}

/** Translation cache and compiler. Owned by a `Tier0` (`new Tier0({ jit: true })`). */
export class Tier1 {
  readonly stats: Tier1Stats = {
    blocksCompiled: 0,
    chained: 0,
    shared: 0,
    instructionsCompiled: 0,
    blockRuns: 0,
    invalidations: 0,
    compileMs: 0,
  };
  private readonly dec = new Decoder(32);
  /** Compiled functions by source text (bounded: cleared when full). */
  private readonly functions = new Map<string, BlockFn>();
  /** The sources of the most recently compiled blocks (for tests and inspection). */
  private readonly recent: string[] = [];

  /** Emitted JavaScript of up to the last 64 compiled blocks, oldest first. */
  sources(): string[] {
    return this.recent.slice();
  }

  /**
   * The mode a block may run in, or -1 when blocks may not run: 32-bit protected mode, no
   * virtual-8086 mode, a flat 4 GiB code segment at base 0, no instruction breakpoints. Bit 0:
   * CPL 3 (user accesses); bit 1: DS, ES and SS are flat writable data segments.
   */
  modeKey(s: CpuState): number {
    if ((s.cr0 & 1) === 0 || (s.flags & 0x20000) !== 0) return -1;
    const csAcc = s.segAccess[1] ?? 0;
    if ((csAcc & 0x4000) === 0 || (s.segBase[1] ?? 0) !== 0 || (s.segLimit[1] ?? 0) !== 0xffffffff) return -1;
    if (((s.dr[7] ?? 0) & 0xff) !== 0) return -1;
    let flat = 2;
    for (const seg of [0, 2, 3]) {
      const acc = s.segAccess[seg] ?? 0;
      if (
        (s.segBase[seg] ?? 0) !== 0 ||
        (s.segLimit[seg] ?? 0) !== 0xffffffff ||
        (acc & 0x9e) !== 0x92 || // present, data, writable, not expand-down
        (seg === 2 && (acc & 0x4000) === 0) // a 32-bit stack
      ) {
        flat = 0;
        break;
      }
    }
    return (s.cpl === 3 ? 1 : 0) | flat;
  }

  /**
   * Translates the block at physical address `phys` (the current EIP), or returns undefined
   * when its first instruction must run in tier 0 (sensitive, undecodable, crossing a page).
   */
  compile(c: Tier0, phys: number, mode: number, ram: Uint8Array): Block | undefined {
    const t0 = performance.now();
    const pageEnd = (phys | 0xfff) + 1;
    const pageStart = pageEnd - 4096;
    if (pageEnd > ram.length) return undefined;
    const ins: Instruction[] = [];
    const offsets: number[] = [];
    const visited = new Set<number>();
    let off = 0;
    while (ins.length < MAX_BLOCK) {
      const at = phys + off;
      if (at >= pageEnd || at < pageStart || visited.has(off)) break;
      visited.add(off);
      const i = new Instruction();
      this.dec.decodeOut(ram.subarray(at, Math.min(pageEnd, at + 15)), 0, (c.state.eip + off) | 0, i);
      // Undecodable here (or running into the next page): tier 0 takes it from there.
      if (i.code === 0) break;
      const cls = CLASS_OF[i.code] ?? 0;
      if (cls !== Sensitivity.innocuous) break;
      ins.push(i);
      offsets.push(off);
      off += i.length;
      // A conditional branch does not end the block: its taken way leaves the block, the
      // fall-through way goes on (a superblock along the not-taken path).
      const flow = flowControl(i.code);
      if (flow === FlowControl.branch && isFollowableJump(i)) {
        // A direct JMP within the page: the block goes on at its target.
        off = (off - i.length + (i.nearBranchTarget - i.ip)) | 0;
        continue;
      }
      if (flow !== FlowControl.next && flow !== FlowControl.conditionalBranch) break;
      if (IS_SEGMENT_LOAD[i.code] === 1) break;
      if ((i.prefixes & STRING_PREFIXES) !== 0 && IS_STRING[i.code] === 1) break;
    }
    if (ins.length === 0) return undefined;
    const handlers = ins.map((i) => HANDLERS[i.code] as Handler);
    // Without comments: less for V8 to parse (the expect tests show the commented form).
    const source = emitBlock(ins, offsets, mode, false);
    // The source holds only integers taken from decoded instructions (checked by `emitBlock`)
    // and names of this module's parameters; nothing from guest memory is pasted in as text.
    // Identical code (the same instructions with the same registers and displacements, anywhere)
    // gives identical source: compile it once and share the function.
    let fn = this.functions.get(source);
    if (fn === undefined) {
      fn = new Function('c', 's', 'r', 'I', 'H', 'X', source) as BlockFn;
      if (this.functions.size >= FUNCTION_CACHE) this.functions.clear();
      this.functions.set(source, fn);
    } else this.stats.shared++;
    this.recent.push(source);
    if (this.recent.length > 64) this.recent.shift();
    this.stats.blocksCompiled++;
    this.stats.instructionsCompiled += ins.length;
    this.stats.compileMs += performance.now() - t0;
    const endsInSegmentLoad = IS_SEGMENT_LOAD[(ins[ins.length - 1] as Instruction).code] === 1;
    return newBlock({ fn, ins, handlers, offsets, count: ins.length, mode, source, endsInSegmentLoad });
  }
}

type BlockLinks = 'linkEip0' | 'link0' | 'linkEip1' | 'link1' | 'linkCode' | 'linkTlb';

/** A block with no links yet. */
function newBlock(fields: Omit<Block, BlockLinks>): Block {
  return {
    ...fields,
    linkEip0: 0,
    link0: undefined,
    linkEip1: 0,
    link1: undefined,
    linkCode: -1,
    linkTlb: -1,
  };
}

/** Marks an address whose block cannot be translated (its first instruction needs tier 0). */
export const NO_BLOCK: Block = newBlock({
  fn: () => {},
  ins: [],
  handlers: [],
  offsets: [],
  count: 0,
  mode: -2,
  source: '',
  endsInSegmentLoad: false,
});

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
 * The body of a block function. Per instruction: the fault bookkeeping (`c.startEip`), EIP past
 * the instruction, then the template or the handler call; after any instruction that may store,
 * a check that no write hit translated code (then the block stops at the next instruction, so a
 * write into the running block takes effect as on hardware).
 */
export function emitBlock(
  ins: readonly Instruction[],
  offsets: readonly number[],
  mode: number,
  comments = true,
): string {
  const lines: string[] = [];
  lines.push(
    'const e0 = s.eip;',
    'const w0 = c.codeWrites;',
    'let fa = 0;',
    'let fb = 0;',
    'let fv = 0;',
    's.interruptShadow = false;',
  );
  // A block whose last instruction branches back to its own start (a hot loop) runs its body in
  // a loop while the branch goes back and the dispatcher's budget (`c.blockEnd`) allows another
  // whole iteration; every iteration retires its instructions, so exits and faults count right.
  const lastIns = ins[ins.length - 1] as Instruction;
  const lastFlow = flowControl(lastIns.code);
  const selfLoop =
    (lastFlow === FlowControl.branch || lastFlow === FlowControl.conditionalBranch) &&
    lastIns.op0Kind === OpKind.nearBranch &&
    (offsets[ins.length - 1] as number) + (lastIns.nearBranchTarget - lastIns.ip) === 0;
  if (selfLoop) lines.push('for (;;) {');
  let prevFlags: FlagKind | undefined;
  for (let k = 0; k < ins.length; k++) {
    const i = ins[k] as Instruction;
    const off = offsets[k] as number;
    const next = off + i.length;
    const last = k === ins.length - 1;
    if (!last && flowControl(i.code) === FlowControl.branch) {
      // A followed JMP: the block's next instruction is its target. Flags are unchanged.
      if (comments) lines.push(`// jmp (${int(i.code)}), followed`);
      continue;
    }
    const t = emitTemplate(i, mode, `(e0 + ${int(next)}) | 0`, prevFlags);
    // The flag locals describe the flags only up to the next instruction that is not a fusible template.
    prevFlags = t?.flags;
    if (comments) lines.push(`// ${i.mnemonic} (${int(i.code)})`);
    if (t !== undefined && !t.mayFault) {
      lines.push(t.code);
    } else {
      lines.push(`c.startEip = (e0 + ${int(off)}) | 0;`);
      if (t !== undefined) lines.push(t.code);
      else lines.push(`s.eip = (e0 + ${int(next)}) | 0;`, `H[${int(k)}](c, I[${int(k)}]);`);
    }
    const stores = t === undefined || t.stores;
    if (!last && flowControl(i.code) === FlowControl.conditionalBranch) {
      // Taken (EIP is not the next instruction): leave the block here.
      lines.push(`if (s.eip !== ((e0 + ${int(next)}) | 0)) { c.instructions += ${int(k + 1)}; return; }`);
      if (stores) {
        lines.push(
          `if (c.codeWrites !== w0) { s.eip = (e0 + ${int(next)}) | 0; c.instructions += ${int(k + 1)}; return; }`,
        );
      }
      continue;
    }
    if (last) {
      if (t !== undefined && !t.setsEip) lines.push(`s.eip = (e0 + ${int(next)}) | 0;`);
      lines.push(`c.instructions += ${int(ins.length)};`);
      if (selfLoop) {
        lines.push(
          `if (s.eip !== e0 || c.instructions + ${int(ins.length)} > c.blockEnd || c.codeWrites !== w0) return;`,
          '}',
        );
      }
    } else if (stores) {
      lines.push(
        `if (c.codeWrites !== w0) { s.eip = (e0 + ${int(next)}) | 0; c.instructions += ${int(k + 1)}; return; }`,
      );
    }
  }
  return lines.join('\n');
}
