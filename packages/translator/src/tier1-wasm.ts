import {
  FlowControl,
  flowControl,
  type Instruction,
  MemSize,
  OpKind,
  PrefixBit,
  Register,
} from '@ringzero/decoder';
import { TLB_USER } from '@ringzero/memory';
import { AluOp, alu, imul2, ShiftOp, setCfOf } from './alu';
import {
  CHAIN_BITS,
  CHAIN_HASH,
  CHAIN_OFFSET,
  RAM_OFFSET,
  REGS_OFFSET,
  TLB_READ_OFFSET,
  TLB_WRITE_OFFSET,
  type WasmArena,
  Xfer,
} from './arena';
import { Eflags, LazyOp, Seg } from './cpu-state';
import type { Decoded } from './decoded';
import { ALU_NAMES, type Handler, SHIFT_NAMES } from './handlers';
import type { Tier0 } from './tier0';
import { type BlockFn, branchOffset, isRepString, MODE_GS, MODE_UNPAGED, type Region } from './tier1';
import { BYTE_LAZY, flagKindOf, isTemplateJcc, jccCondition } from './tier1-templates';
import { RUN_PARAMS, type RunFn, type WasmChain } from './wasm-chain';
import { FunctionBuilder, ModuleBuilder, Op, ValType } from './wasm-encoder';

/**
 * Tier 1's WebAssembly back end: a region (the same blocks `discoverRegion` finds for the
 * JavaScript back end) becomes one WebAssembly function, which V8 compiles at once with its
 * baseline compiler (Liftoff), without the feedback and the long background compile JavaScript
 * needs before its code is fast. Guest RAM, the TLB fast-path tables and the general registers
 * live in the arena's memory (`createArena`), so the common forms run as plain loads and stores;
 * everything else calls back into JavaScript: tier-0 handlers, the MMU's slow way, the flags.
 *
 * The function's shape is the JavaScript region's: a loop over a `br_table` on the block index,
 * one case per block in address order, guest registers in locals, the status flags of ALU forms
 * deferred in locals (`fa`, `fb`, `fv`, with `fo` the pending lazy operation) and written to the
 * exchange slots only when JavaScript must see them. Before every call-out that can raise, the
 * registers, the pending flags, the instruction's index and the retired count go to the arena,
 * so the wrapper's `catch` finds the state exactly as tier 0 would leave it.
 */

/**
 * Local indexes: the parameters (`run(block, e0, lim, ic)`: the block to start at, the linear
 * address of the page, the budget and the instructions already retired by the regions this call
 * chained through, counted against the same budget), then the guest registers and the scratch.
 */
const P_BLOCK = 0;
const P_E0 = 1;
const P_LIM = 2;
const IC = 3;
const R0 = 4;
const FA = 12;
const FB = 13;
const FV = 14;
const FO = 15;
const N = 16;
const L = 17;
const PH = 18;
const V = 19;
const CW = 20;
const EIP = 21;
const RV = 22;
const T = 23;
/** The carry INC and DEC leave standing (valid while `fo` is `inc` or `dec`). */
const CF = 24;
const LOCALS = 21;

const I32 = ValType.i32;

/**
 * A region module's call-outs that are the same for every region of a processor (`hubOf`), in
 * import order after its own `h` and `sens`; `cfof` sets CF and OF in the state (the pending
 * flags reach it first) and keeps the rest.
 */
const HUB_FUNCTIONS = [
  ['cond', [I32], [I32]],
  ['r8', [I32], [I32]],
  ['r16', [I32], [I32]],
  ['r32', [I32], [I32]],
  ['w8', [I32, I32], [I32]],
  ['w16', [I32, I32], [I32]],
  ['w32', [I32, I32], [I32]],
  ['rmw', [I32], [I32]],
  ['imul', [I32, I32], [I32]],
  ['carry', [], [I32]],
  ['alu', [I32, I32, I32], [I32]],
  ['cfof', [I32, I32], []],
] as const satisfies readonly (readonly [string, readonly ValType[], readonly ValType[]])[];

/** The import index of hub function `name` in a region module. */
function hubImport(name: (typeof HUB_FUNCTIONS)[number][0]): number {
  return 2 + HUB_FUNCTIONS.findIndex(([n]) => n === name);
}

/** `chain`'s parameters: `run`'s, then the table element to tail-call. */
const CHAIN_PARAMS = [...RUN_PARAMS, I32] as const;

/** Imported functions, by import index: `h`, `sens`, the hub's functions, then its `chain`. */
const F = {
  handler: 0,
  sensitive: 1,
  condition: hubImport('cond'),
  read8: hubImport('r8'),
  read16: hubImport('r16'),
  read32: hubImport('r32'),
  write8: hubImport('w8'),
  write16: hubImport('w16'),
  write32: hubImport('w32'),
  rmw32: hubImport('rmw'),
  imul: hubImport('imul'),
  carry: hubImport('carry'),
  alu: hubImport('alu'),
  cfof: hubImport('cfof'),
  /** The hub's `chain`: a tail call of a table element (the next region). */
  chain: 2 + HUB_FUNCTIONS.length,
} as const;

/** Added to a deferred lazy operation on 16-bit values (as `BYTE_LAZY` marks 8-bit ones). */
const WORD_LAZY = 512;

/** `run`'s result for an exit that must not chain (the budget, a stop, a code write); 1 is a mode change. */
const RV_STAY = 2;

/** Index in `regs` of a 32-bit general register, or -1. */
function reg32(id: number): number {
  return id >= Register.eax && id <= Register.edi ? id - Register.eax : -1;
}

/** Byte offset in the arena of exchange slot `slot`. */
const slot = (k: number) => 4 * k;

interface Emit {
  readonly f: FunctionBuilder;
  readonly mode: number;
  /** Depth of the function's exit block (`FunctionBuilder.depth` inside it). */
  readonly exitLabel: number;
  /** Index of the current instruction in the region and in its block, and its page offset. */
  index: number;
  j: number;
  off: number;
  /** The lazy operation pending in the locals: 0 none, -1 unknown (`fo` at run time). */
  pending: number;
  /** Guest RAM's size in bytes: the hit path's bound. */
  readonly ramBytes: number;
  /** The next instruction overwrites every status flag before anything can read them. */
  flagsDead: boolean;
}

function br(e: Emit, label: number): void {
  e.f.br(e.f.depth - label);
}

/** EIP = e0 + offset. */
function setEip(e: Emit, offset: number): void {
  e.f.get(P_E0).i32(offset).op(Op.i32_add).set(EIP);
}

/** Leaves the region with EIP at page offset `offset` and `n` instructions of the block done. */
function exitAt(e: Emit, offset: number, n: number): void {
  setEip(e, offset);
  e.f.i32(n).set(N);
  br(e, e.exitLabel);
}

/** Leaves with EIP already in its local. */
function exitHere(e: Emit, n: number): void {
  e.f.i32(n).set(N);
  br(e, e.exitLabel);
}

/** Stores the register locals (`only`: a mask of them, bit k for R0 + k). */
function storeRegs(f: FunctionBuilder, only = 0xff): void {
  for (let k = 0; k < 8; k++) {
    if ((only & (1 << k)) === 0) continue;
    f.i32(0)
      .get(R0 + k)
      .store32(REGS_OFFSET + 4 * k);
  }
}

/**
 * Loads the register locals from the state. It leaves them equal to the state, so they do not
 * count as assigned (`FunctionBuilder.assigned`): a local the region never assigns otherwise
 * need not be stored back at its exit.
 */
function loadRegs(f: FunctionBuilder): void {
  const before = f.assigned;
  for (let k = 0; k < 8; k++)
    f.i32(0)
      .load32(REGS_OFFSET + 4 * k)
      .set(R0 + k);
  f.assigned = (f.assigned & ~(0xff << R0)) | (before & (0xff << R0));
}

/** The pending flags a chaining region left in the exchange slots (none when entered from JavaScript). */
function loadFlags(f: FunctionBuilder): void {
  f.i32(0).load32(slot(Xfer.fo)).set(FO);
  f.i32(0).load32(slot(Xfer.fa)).set(FA);
  f.i32(0).load32(slot(Xfer.fb)).set(FB);
  f.i32(0).load32(slot(Xfer.fv)).set(FV);
  f.i32(0).load32(slot(Xfer.cf)).set(CF);
}

function storeFlags(f: FunctionBuilder): void {
  f.i32(0).get(FO).store32(slot(Xfer.fo));
  f.i32(0).get(FA).store32(slot(Xfer.fa));
  f.i32(0).get(FB).store32(slot(Xfer.fb));
  f.i32(0).get(FV).store32(slot(Xfer.fv));
  f.i32(0).get(CF).store32(slot(Xfer.cf));
}

/**
 * Before a call-out that can raise: registers, flags, the instruction's index and the count of
 * instructions retired before it, where the wrapper's `catch` reads them.
 */
function spill(e: Emit): void {
  const f = e.f;
  storeRegs(f);
  storeFlags(f);
  f.i32(0);
  eipOf(e, e.off);
  f.store32(slot(Xfer.at));
  f.i32(0).get(IC).i32(e.j).op(Op.i32_add).store32(slot(Xfer.retired));
}

/**
 * Whether a memory operand's linear address is its offset (flat DS/ES/SS, 32-bit addressing), or
 * its offset plus FS's base when FS is a 4 GiB writable data segment (mode bit 2: Linux's per-CPU
 * segment), with the base in the exchange slot `fsBase`, or the same of GS (`MODE_GS`: user
 * space's thread pointer) with `gsBase`.
 */
function flatMemory(i: Instruction, mode: number): boolean {
  if (i.addressSize !== 32 || (mode & 2) === 0) return false;
  const seg = i.memSegment;
  if (
    seg === Register.fs
      ? (mode & 4) === 0
      : seg === Register.gs
        ? (mode & MODE_GS) === 0
        : seg !== Register.ds && seg !== Register.es && seg !== Register.ss
  )
    return false;
  if (i.memBase !== 0 && reg32(i.memBase) < 0) return false;
  if (i.memIndex !== 0 && reg32(i.memIndex) < 0) return false;
  return true;
}

/** Pushes the effective address of a (flat) memory operand. */
function address(e: Emit, i: Instruction): void {
  const f = e.f;
  let terms = 0;
  if (i.memBase !== 0) {
    f.get(R0 + reg32(i.memBase));
    terms++;
  }
  if (i.memIndex !== 0) {
    f.get(R0 + reg32(i.memIndex));
    const sc = i.memScale;
    if (sc !== 1) f.i32(sc === 2 ? 1 : sc === 4 ? 2 : 3).op(Op.i32_shl);
    if (terms > 0) f.op(Op.i32_add);
    terms++;
  }
  const d = i.memDisplacement | 0;
  if (terms === 0) f.i32(d);
  else if (d !== 0) f.i32(d).op(Op.i32_add);
  if (i.memSegment === Register.fs) f.i32(0).load32(slot(Xfer.fsBase)).op(Op.i32_add);
  else if (i.memSegment === Register.gs) f.i32(0).load32(slot(Xfer.gsBase)).op(Op.i32_add);
}

/**
 * The physical address of `L` through table `table` into `PH`, and leaves on the stack whether
 * the `bytes`-wide access is a RAM hit that stays in its page.
 */
function lookup(e: Emit, table: number, bytes: number): void {
  const f = e.f;
  const half = (e.mode & 1) !== 0 ? 4 * TLB_USER : 0;
  f.get(L)
    .get(L)
    .i32(12)
    .op(Op.i32_shr_u)
    .i32(2)
    .op(Op.i32_shl)
    .load32(table + half)
    .op(Op.i32_add)
    .tee(PH);
  f.i32(e.ramBytes).op(Op.i32_lt_u);
  if (bytes > 1) {
    f.get(L)
      .i32(4095)
      .op(Op.i32_and)
      .i32(4096 - bytes)
      .op(Op.i32_le_u)
      .op(Op.i32_and);
  }
}

/** RAM below this is not read directly without paging: it holds the legacy video and ROM holes. */
const DIRECT_FROM = 0x100000;

/**
 * Reads `bytes` (1, 2, 4) at the address on the stack; leaves the value (zero-extended). Without
 * paging (`MODE_UNPAGED`) an address in RAM above 1 MiB is its own physical address: one compare
 * instead of the TLB lookup (the Linux decompressor runs so); anything else takes the slow way.
 */
function read(e: Emit, bytes: number): void {
  const f = e.f;
  f.set(L);
  if ((e.mode & MODE_UNPAGED) !== 0 && e.ramBytes > DIRECT_FROM + bytes) {
    f.get(L)
      .i32(DIRECT_FROM)
      .op(Op.i32_sub)
      .i32(e.ramBytes - DIRECT_FROM - bytes + 1)
      .op(Op.i32_lt_u);
    f.if(I32);
    f.get(L);
  } else {
    lookup(e, TLB_READ_OFFSET, bytes);
    f.if(I32);
    f.get(PH);
  }
  if (bytes === 4) f.load32(RAM_OFFSET, 0);
  else if (bytes === 2) f.load16u(RAM_OFFSET, 0);
  else f.load8u(RAM_OFFSET);
  f.else();
  spill(e);
  f.get(L).call(bytes === 4 ? F.read32 : bytes === 2 ? F.read16 : F.read8);
  f.end();
}

/**
 * Writes local `value` as `bytes` at the address on the stack; a slow-way write that reached
 * translated code sets `CW`.
 */
function write(e: Emit, bytes: number, value: number): void {
  const f = e.f;
  f.set(L);
  lookup(e, TLB_WRITE_OFFSET, bytes);
  f.if();
  f.get(PH).get(value);
  if (bytes === 4) f.store32(RAM_OFFSET, 0);
  else if (bytes === 2) f.store16(RAM_OFFSET, 0);
  else f.store8(RAM_OFFSET);
  f.else();
  spill(e);
  f.get(L)
    .get(value)
    .call(bytes === 4 ? F.write32 : bytes === 2 ? F.write16 : F.write8)
    .set(CW);
  f.end();
}

/** After an instruction that may store: leave at the next instruction if it reached code. */
function checkCodeWrite(e: Emit, next: number): void {
  const f = e.f;
  f.get(CW).if();
  f.i32(0).set(CW);
  exitAt(e, next, e.j + 1);
  f.end();
}

/** A template emitted, or false when the instruction goes to its handler. */
type Emitted =
  | false
  | {
      readonly stores: boolean;
      readonly deferred?: number;
      readonly setsEip?: boolean;
      /** The flags are the state's after it (pending 0). */
      readonly stateFlags?: boolean;
      /** Whether flags are pending is known only at run time (`fo`). */
      readonly unknownFlags?: boolean;
    };

/** The width of a memory operand (8, 16, 32), or 0. */
function memBits(i: Instruction): number {
  const z = i.memSize;
  return z === MemSize.u8 ? 8 : z === MemSize.u16 ? 16 : z === MemSize.u32 ? 32 : 0;
}

/** The lazy operation of each `ShiftOp` whose flags are deferred. */
const LAZY_SHIFT: Readonly<Record<number, number>> = {
  [ShiftOp.shl]: LazyOp.shl,
  [ShiftOp.sal]: LazyOp.shl,
  [ShiftOp.shr]: LazyOp.shr,
  [ShiftOp.sar]: LazyOp.sar,
};

/** The pending operations whose carry is in the locals: FO values for SUB, ADD and logic at 32 and 8 bits. */
const CARRY_SUB: readonly number[] = [LazyOp.sub, LazyOp.sub + BYTE_LAZY];
const CARRY_ADD: readonly number[] = [LazyOp.add, LazyOp.add + BYTE_LAZY];
const CARRY_LOGIC: readonly number[] = [LazyOp.logic, LazyOp.logic + BYTE_LAZY];

/** Pushes whether local `FO` is one of `values`. */
function foIn(f: FunctionBuilder, values: readonly number[]): void {
  values.forEach((v, k) => {
    f.get(FO).i32(v).op(Op.i32_eq);
    if (k > 0) f.op(Op.i32_or);
  });
}

/**
 * Sets `CF` to the carry standing before an INC/DEC: from the locals when the pending operation
 * is a SUB, ADD or logic operation (8 or 32 bits: `fa`, `fb` and `fv` hold values of that
 * width), or INC/DEC, which keep it; else from the state after the pending flags reach it. When
 * the pending operation is known only at run time (a block's start), the choice is made there,
 * on `fo`: a loop's INC after the CMP that closed the last iteration stays in WebAssembly.
 */
function carryBefore(e: Emit): void {
  const f = e.f;
  const p = e.pending;
  const fromState = (): void => {
    storeFlags(f);
    f.call(F.carry).set(CF);
    f.i32(0).set(FO);
  };
  const sub = () => f.get(FA).get(FB).op(Op.i32_lt_u).set(CF);
  const add = () => f.get(FV).get(FA).op(Op.i32_lt_u).set(CF);
  const logic = () => f.i32(0).set(CF);
  if (p === LazyOp.inc || p === LazyOp.dec) return;
  if (CARRY_SUB.includes(p)) sub();
  else if (CARRY_ADD.includes(p)) add();
  else if (CARRY_LOGIC.includes(p)) logic();
  else if (p === -1) {
    foIn(f, CARRY_SUB);
    f.if();
    sub();
    f.else();
    foIn(f, [LazyOp.inc, LazyOp.dec]);
    f.op(Op.i32_eqz).if();
    foIn(f, CARRY_LOGIC);
    f.if();
    logic();
    f.else();
    foIn(f, CARRY_ADD);
    f.if();
    add();
    f.else();
    fromState();
    f.end();
    f.end();
    f.end();
    f.end();
  } else fromState();
}

/** Pushes the value of a 32-bit operand (register, immediate or flat memory), or returns false. */
function operand32(e: Emit, i: Instruction, k: 0 | 1): boolean {
  const kind = k === 0 ? i.op0Kind : i.op1Kind;
  if (kind === OpKind.register) {
    const r = reg32(k === 0 ? i.op0Register : i.op1Register);
    if (r < 0) return false;
    e.f.get(R0 + r);
    return true;
  }
  if (kind === OpKind.immediate) {
    e.f.i32(i.immediate | 0);
    return true;
  }
  if (kind === OpKind.memory && i.memSize === MemSize.u32 && flatMemory(i, e.mode)) {
    address(e, i);
    read(e, 4);
    return true;
  }
  return false;
}

/** Whether operand `k` can be read by `operand32` (checked before anything is emitted). */
function readable32(e: Emit, i: Instruction, k: 0 | 1): boolean {
  const kind = k === 0 ? i.op0Kind : i.op1Kind;
  if (kind === OpKind.register) return reg32(k === 0 ? i.op0Register : i.op1Register) >= 0;
  if (kind === OpKind.immediate) return true;
  return kind === OpKind.memory && i.memSize === MemSize.u32 && flatMemory(i, e.mode);
}

/** The ALU operations with templates and their lazy operations. */
const ALU_LAZY: Readonly<Record<number, number>> = {
  [AluOp.add]: LazyOp.add,
  [AluOp.sub]: LazyOp.sub,
  [AluOp.cmp]: LazyOp.sub,
  [AluOp.and]: LazyOp.logic,
  [AluOp.or]: LazyOp.logic,
  [AluOp.xor]: LazyOp.logic,
  [AluOp.test]: LazyOp.logic,
};

/** `fv` from `fa` (first) and `fb` (second) for `op`, leaving `fv` set. */
function aluCompute(f: FunctionBuilder, op: number): void {
  f.get(FA).get(FB);
  switch (op) {
    case AluOp.add:
      f.op(Op.i32_add);
      break;
    case AluOp.sub:
    case AluOp.cmp:
      f.op(Op.i32_sub);
      break;
    case AluOp.or:
      f.op(Op.i32_or);
      break;
    case AluOp.xor:
      f.op(Op.i32_xor);
      break;
    default:
      f.op(Op.i32_and);
  }
  f.set(FV);
}

/**
 * Where an 8- or 16-bit register lives: the local of its 32-bit register, its shift in it and
 * its mask; undefined for any other register.
 */
function smallRegParts(id: number): readonly [local: number, shift: number, mask: number] | undefined {
  if (id >= Register.al && id <= Register.bl) return [R0 + id - Register.al, 0, 255];
  if (id >= Register.ah && id <= Register.bh) return [R0 + id - Register.ah, 8, 255];
  if (id >= Register.ax && id <= Register.di) return [R0 + id - Register.ax, 0, 65535];
  return undefined;
}

/** Pushes the zero-extended value of an 8- or 16-bit register; false if not one. */
function smallReg(f: FunctionBuilder, id: number): boolean {
  const p = smallRegParts(id);
  if (p === undefined) return false;
  f.get(p[0]);
  if (p[1] !== 0) f.i32(p[1]).op(Op.i32_shr_u);
  f.i32(p[2]).op(Op.i32_and);
  return true;
}

/** Writes local `value` (already 0–255 or 0–65535) to an 8- or 16-bit register; false if not one. */
function writeSmallReg(f: FunctionBuilder, id: number, value: number): boolean {
  const p = smallRegParts(id);
  if (p === undefined) return false;
  const [local, shift, mask] = p;
  f.get(local)
    .i32(~(mask << shift))
    .op(Op.i32_and)
    .get(value);
  if (shift !== 0) f.i32(shift).op(Op.i32_shl);
  f.op(Op.i32_or).set(local);
  return true;
}

/** Whether an 8- or 16-bit register (`bits`) is this operand's. */
function smallBits(id: number): number {
  const p = smallRegParts(id);
  return p === undefined ? 0 : p[2] === 255 ? 8 : 16;
}

/**
 * Pops a dword from the stack top in local `top` (ESP, or EBP for LEAVE) into local `into`, then
 * sets ESP to `top` + 4 (after the read, so a fault leaves ESP as it was).
 */
function pop32(e: Emit, top: number, into: number): void {
  e.f.get(top);
  read(e, 4);
  e.f.set(into);
  e.f
    .get(top)
    .i32(4)
    .op(Op.i32_add)
    .set(R0 + 4);
}

/** Pushes local `value` as a dword: ESP changes only after the write (a fault leaves it). */
function push32(e: Emit, value: number): void {
  e.f
    .get(R0 + 4)
    .i32(4)
    .op(Op.i32_sub)
    .tee(T);
  write(e, 4, value);
  e.f.get(T).set(R0 + 4);
}

/** Shifts local `r` by `FB` with `op`: the operand to `FA`, the result to `FV` and `r`. */
function shift32(f: FunctionBuilder, r: number, op: number): void {
  f.get(r).tee(FA).get(FB).op(op).tee(FV).set(r);
}

/** Pushes `e0 + offset`. */
function eipOf(e: Emit, offset: number): void {
  e.f.get(P_E0).i32(offset).op(Op.i32_add);
}

/**
 * Pushes a string instruction's pointer step: `size` (1, 2, 4), or `-size` with DF set (bit 10
 * of the exchange slot `df`, which JavaScript writes at entry and after every call-out):
 * `size - (((df >>> 9) & 2) << log2(size))`.
 */
function stringStep(f: FunctionBuilder, size: 1 | 2 | 4): void {
  f.i32(size).i32(0).load32(slot(Xfer.df)).i32(9).op(Op.i32_shr_u).i32(2).op(Op.i32_and);
  if (size !== 1) f.i32(size === 2 ? 1 : 2).op(Op.i32_shl);
  f.op(Op.i32_sub);
}

/**
 * Emits the template of `i` (page offset of the next instruction `next`), or returns false for
 * its handler. Nothing is emitted when it returns false.
 */
function template(e: Emit, i: Instruction, next: number): Emitted {
  const f = e.f;
  const m = i.mnemonic;
  const o0 = i.op0Kind;
  const o1 = i.op1Kind;
  if (m === 'nop') return { stores: false };
  const flat = (e.mode & 2) !== 0;
  if (m === 'call' && i.opCount === 1 && o0 === OpKind.nearBranch && i.operandSize === 32 && flat) {
    eipOf(e, next);
    f.set(V);
    push32(e, V);
    eipOf(e, branchOffset(i, next));
    f.set(EIP);
    return { stores: true, setsEip: true };
  }
  if (m === 'jmp' && i.opCount === 1 && o0 === OpKind.nearBranch && i.operandSize === 32) {
    eipOf(e, branchOffset(i, next));
    f.set(EIP);
    return { stores: false, setsEip: true };
  }
  // JMP and CALL through a register or a flat dword in memory (jump tables, function pointers,
  // PLT-like stubs): the target is read first, so a fault on it, or on CALL's push, changes
  // nothing the state sees (a faulting instruction's EIP comes from `Xfer.at`, not EIP's local).
  if (
    (m === 'jmp' || (m === 'call' && flat)) &&
    i.opCount === 1 &&
    i.operandSize === 32 &&
    ((o0 === OpKind.register && reg32(i.op0Register) >= 0) ||
      (o0 === OpKind.memory && i.memSize === MemSize.u32 && flatMemory(i, e.mode)))
  ) {
    if (o0 === OpKind.register) f.get(R0 + reg32(i.op0Register));
    else {
      address(e, i);
      read(e, 4);
    }
    f.set(EIP);
    if (m === 'jmp') return { stores: false, setsEip: true };
    eipOf(e, next);
    f.set(V);
    push32(e, V);
    return { stores: true, setsEip: true };
  }
  if (m === 'ret' && i.opCount === 0 && i.operandSize === 32 && flat) {
    pop32(e, R0 + 4, EIP);
    return { stores: false, setsEip: true };
  }
  // MOV of bytes and words: registers, immediates and flat memory.
  if (m === 'mov' && i.opCount === 2) {
    const bits0 = o0 === OpKind.register ? smallBits(i.op0Register) : o0 === OpKind.memory ? memBits(i) : 0;
    const bits1 = o1 === OpKind.register ? smallBits(i.op1Register) : o1 === OpKind.memory ? memBits(i) : -1;
    const bits = bits0 === 8 || bits0 === 16 ? bits0 : 0;
    if (bits !== 0 && (bits1 === bits || o1 === OpKind.immediate)) {
      if (o0 === OpKind.memory && !flatMemory(i, e.mode)) return false;
      if (o1 === OpKind.memory && !flatMemory(i, e.mode)) return false;
      const mask = bits === 8 ? 255 : 65535;
      if (o1 === OpKind.immediate) f.i32(i.immediate & mask);
      else if (o1 === OpKind.register) smallReg(f, i.op1Register);
      else {
        address(e, i);
        read(e, bits >> 3);
      }
      f.set(V);
      if (o0 === OpKind.register) {
        writeSmallReg(f, i.op0Register, V);
        return { stores: false };
      }
      address(e, i);
      write(e, bits >> 3, V);
      return { stores: true };
    }
  }
  // LODSB and SCASB without REP over flat DS/ES (Linux's string loops): the direction from the
  // exchange slot `df`, which JavaScript writes at entry and after every call-out.
  if (
    (m === 'lodsb' || m === 'scasb') &&
    flat &&
    i.addressSize === 32 &&
    (i.prefixes & (PrefixBit.rep | PrefixBit.repne)) === 0 &&
    (m === 'scasb' || i.memSegment === Register.ds || i.memSegment === Register.none)
  ) {
    const ptr = R0 + (m === 'lodsb' ? 6 : 7);
    f.get(ptr);
    read(e, 1);
    if (m === 'lodsb') {
      f.set(V);
      f.get(R0).i32(-256).op(Op.i32_and).get(V).op(Op.i32_or).set(R0);
    } else {
      f.set(FB);
      f.get(R0).i32(255).op(Op.i32_and).set(FA);
      aluCompute(f, AluOp.cmp);
      f.get(FV).i32(255).op(Op.i32_and).set(FV);
    }
    f.get(ptr);
    stringStep(f, 1);
    f.op(Op.i32_add).set(ptr);
    return m === 'lodsb'
      ? { stores: false }
      : { stores: false, deferred: (ALU_LAZY[AluOp.cmp] as number) + BYTE_LAZY };
  }
  // MOVSB/W/D without REP over flat DS and ES (the tails of Linux's memcpy): the value goes
  // through a local, so a fault on either access leaves ESI and EDI as they were.
  const movs: 0 | 1 | 2 | 4 = m === 'movsb' ? 1 : m === 'movsw' ? 2 : m === 'movsd' ? 4 : 0;
  if (
    movs !== 0 &&
    o0 === OpKind.memoryESDI &&
    o1 === OpKind.memorySegSI &&
    flat &&
    i.addressSize === 32 &&
    (i.prefixes & (PrefixBit.rep | PrefixBit.repne)) === 0 &&
    (i.memSegment === Register.ds || i.memSegment === Register.none)
  ) {
    f.get(R0 + 6);
    read(e, movs);
    f.set(V);
    f.get(R0 + 7);
    write(e, movs, V);
    stringStep(f, movs);
    f.tee(T);
    f.get(R0 + 6)
      .op(Op.i32_add)
      .set(R0 + 6);
    f.get(T)
      .get(R0 + 7)
      .op(Op.i32_add)
      .set(R0 + 7);
    return { stores: true };
  }
  // CDQ: EDX takes EAX's sign, flags untouched.
  if (m === 'cdq' && i.opCount === 0) {
    f.get(R0)
      .i32(31)
      .op(Op.i32_shr_s)
      .set(R0 + 2);
    return { stores: false };
  }
  // BSWAP r32: the bytes reversed, flags untouched.
  if (m === 'bswap' && i.opCount === 1 && o0 === OpKind.register && reg32(i.op0Register) >= 0) {
    const r = R0 + reg32(i.op0Register);
    f.get(r)
      .i32(8)
      .op(Op.i32_rotr)
      .i32(0xff00ff00 | 0)
      .op(Op.i32_and);
    f.get(r).i32(8).op(Op.i32_rotl).i32(0x00ff00ff).op(Op.i32_and);
    f.op(Op.i32_or).set(r);
    return { stores: false };
  }
  // Byte ALU with deferred 8-bit flags: registers, an immediate, or flat memory as the source.
  const aop8 = ALU_NAMES[m];
  if (
    aop8 !== undefined &&
    ALU_LAZY[aop8] !== undefined &&
    i.opCount === 2 &&
    o0 === OpKind.register &&
    smallBits(i.op0Register) === 8 &&
    (o1 === OpKind.immediate ||
      (o1 === OpKind.register && smallBits(i.op1Register) === 8) ||
      (o1 === OpKind.memory && memBits(i) === 8 && flatMemory(i, e.mode)))
  ) {
    smallReg(f, i.op0Register);
    f.set(FA);
    if (o1 === OpKind.immediate) f.i32(i.immediate & 255);
    else if (o1 === OpKind.register) smallReg(f, i.op1Register);
    else {
      address(e, i);
      read(e, 1);
    }
    f.set(FB);
    aluCompute(f, aop8);
    f.get(FV).i32(255).op(Op.i32_and).set(FV);
    if (aop8 !== AluOp.cmp && aop8 !== AluOp.test) writeSmallReg(f, i.op0Register, FV);
    return { stores: false, deferred: (ALU_LAZY[aop8] as number) + BYTE_LAZY };
  }
  // CMP and TEST of a flat byte in memory with a register or an immediate.
  if (
    (m === 'cmp' || m === 'test') &&
    i.opCount === 2 &&
    o0 === OpKind.memory &&
    memBits(i) === 8 &&
    flatMemory(i, e.mode) &&
    (o1 === OpKind.immediate || (o1 === OpKind.register && smallBits(i.op1Register) === 8))
  ) {
    address(e, i);
    read(e, 1);
    f.set(FA);
    if (o1 === OpKind.immediate) f.i32(i.immediate & 255);
    else smallReg(f, i.op1Register);
    f.set(FB);
    const aop = m === 'cmp' ? AluOp.cmp : AluOp.test;
    aluCompute(f, aop);
    f.get(FV).i32(255).op(Op.i32_and).set(FV);
    return { stores: false, deferred: (ALU_LAZY[aop] as number) + BYTE_LAZY };
  }
  // SHL/SAL, SHR and SAR of an 8- or 16-bit register by an immediate (or 1), flags deferred at
  // that width.
  {
    const sh0 = SHIFT_NAMES[m];
    const ls = sh0 === undefined ? undefined : LAZY_SHIFT[sh0];
    const bits = o0 === OpKind.register ? smallBits(i.op0Register) : 0;
    if (ls !== undefined && bits !== 0 && i.opCount === 2 && o1 === OpKind.immediate) {
      const k = i.immediate & 31;
      if (k === 0) return { stores: false };
      const mask = bits === 8 ? 255 : 65535;
      smallReg(f, i.op0Register);
      f.tee(FA);
      if (ls === LazyOp.shl) f.i32(k).op(Op.i32_shl).i32(mask).op(Op.i32_and);
      else if (ls === LazyOp.shr) f.i32(k).op(Op.i32_shr_u);
      else
        f.i32(32 - bits)
          .op(Op.i32_shl)
          .i32(32 - bits)
          .op(Op.i32_shr_s)
          .i32(k)
          .op(Op.i32_shr_s)
          .i32(mask)
          .op(Op.i32_and);
      f.set(FV);
      f.i32(k).set(FB);
      writeSmallReg(f, i.op0Register, FV);
      return { stores: false, deferred: ls + (bits === 8 ? BYTE_LAZY : WORD_LAZY) };
    }
  }
  // SETcc r8: 1 or 0 from the condition.
  if (m.startsWith('set') && i.opCount === 1 && o0 === OpKind.register && smallBits(i.op0Register) === 8) {
    const cc = jccCondition(`j${m.slice(3)}`);
    if (cc < 0) return false;
    const state = condition(e, cc);
    f.set(V);
    writeSmallReg(f, i.op0Register, V);
    return { stores: false, ...(state ? { stateFlags: true } : {}) };
  }
  if (i.operandSize !== 32) return false;
  const d = o0 === OpKind.register ? reg32(i.op0Register) : -1;
  // CMOVcc r32, r32 or flat m32 (the memory is read, and can fault, whatever the condition).
  if (m.startsWith('cmov') && d >= 0 && o1 !== OpKind.immediate && readable32(e, i, 1)) {
    const cc = jccCondition(`j${m.slice(4)}`);
    if (cc < 0) return false;
    operand32(e, i, 1);
    f.set(V);
    f.get(V).get(R0 + d);
    const state = condition(e, cc);
    f.op(Op.select).set(R0 + d);
    return { stores: false, ...(state ? { stateFlags: true } : {}) };
  }
  // ADC and SBB of a 32-bit register with a register, an immediate or flat memory (read first:
  // a fault leaves the flags pending), through tier 0's semantics on the state.
  if ((m === 'adc' || m === 'sbb') && d >= 0 && i.opCount === 2 && readable32(e, i, 1)) {
    operand32(e, i, 1);
    f.set(V);
    storeFlags(f);
    f.i32(m === 'adc' ? AluOp.adc : AluOp.sbb)
      .get(R0 + d)
      .get(V);
    f.call(F.alu).set(R0 + d);
    return { stores: false, stateFlags: true };
  }
  // NEG r32: flags as a SUB from 0.
  if (m === 'neg' && d >= 0 && i.opCount === 1) {
    f.i32(0).set(FA);
    f.get(R0 + d).set(FB);
    f.i32(0)
      .get(FB)
      .op(Op.i32_sub)
      .tee(FV)
      .set(R0 + d);
    return { stores: false, deferred: LazyOp.sub };
  }
  // XCHG of two 32-bit registers.
  if (m === 'xchg' && d >= 0 && o1 === OpKind.register && reg32(i.op1Register) >= 0) {
    const r1 = R0 + reg32(i.op1Register);
    f.get(R0 + d).set(V);
    f.get(r1).set(R0 + d);
    f.get(V).set(r1);
    return { stores: false };
  }
  // LEAVE: ESP = EBP, then POP EBP (ESP stays as it was if the read faults).
  if (m === 'leave' && i.opCount === 0 && flat) {
    pop32(e, R0 + 5, V);
    f.get(V).set(R0 + 5);
    return { stores: false };
  }
  // ROL/ROR of a 32-bit register by an immediate: the rotation; unless the next instruction
  // overwrites them, CF and OF go to the state (ROL: CF = bit 0, OF = bit 31 ^ CF; ROR: CF =
  // bit 31, OF = bit 31 ^ bit 30, as tier 0 sets them; the other flags stay). A count of 0
  // changes nothing.
  if ((m === 'rol' || m === 'ror') && d >= 0 && o1 === OpKind.immediate && i.operandSize === 32) {
    const n = i.immediate & 31;
    if (n === 0) return { stores: false };
    f.get(R0 + d)
      .i32(n)
      .op(m === 'rol' ? Op.i32_rotl : Op.i32_rotr)
      .set(R0 + d);
    if (e.flagsDead) return { stores: false };
    storeFlags(f);
    const bit = (k: number) =>
      f
        .get(R0 + d)
        .i32(k)
        .op(Op.i32_shr_u)
        .i32(1)
        .op(Op.i32_and);
    if (m === 'rol') {
      bit(0);
      bit(31);
      bit(0);
      f.op(Op.i32_xor);
    } else {
      bit(31);
      bit(31);
      bit(30);
      f.op(Op.i32_xor);
    }
    f.call(F.cfof);
    return { stores: false, stateFlags: true };
  }
  if (m === 'not' && d >= 0) {
    f.get(R0 + d)
      .i32(-1)
      .op(Op.i32_xor)
      .set(R0 + d);
    return { stores: false };
  }
  // SHL/SAL, SHR, SAR of a 32-bit register: the operand in `fa`, the count in `fb`; a count of
  // 0 changes nothing, flags included (with CL, `fo` records at run time whether they changed).
  const sh = SHIFT_NAMES[m];
  const lazyShift = sh === undefined ? undefined : LAZY_SHIFT[sh];
  if (lazyShift !== undefined && d >= 0 && i.opCount === 2) {
    const sop =
      lazyShift === LazyOp.shl ? Op.i32_shl : lazyShift === LazyOp.shr ? Op.i32_shr_u : Op.i32_shr_s;
    if (o1 === OpKind.immediate) {
      const k = i.immediate & 31;
      if (k === 0) return { stores: false };
      f.i32(k).set(FB);
      shift32(f, R0 + d, sop);
      return { stores: false, deferred: lazyShift };
    }
    if (o1 === OpKind.register && i.op1Register === Register.cl) {
      f.get(R0 + 1)
        .i32(31)
        .op(Op.i32_and)
        .tee(T)
        .if();
      f.get(T).set(FB);
      shift32(f, R0 + d, sop);
      f.i32(lazyShift).set(FO);
      f.end();
      return { stores: false, unknownFlags: true };
    }
    return false;
  }
  // IMUL r32, r/m32 (and with an immediate): the product, with tier 0's flags unless the next
  // instruction overwrites them.
  if (
    m === 'imul' &&
    d >= 0 &&
    (i.opCount === 2 || (i.opCount === 3 && i.op2Kind === OpKind.immediate)) &&
    readable32(e, i, 1)
  ) {
    operand32(e, i, 1);
    f.set(V);
    if (i.opCount === 3) f.i32(i.immediate | 0);
    else f.get(R0 + d);
    f.set(T);
    if (e.flagsDead) {
      f.get(V)
        .get(T)
        .op(Op.i32_mul)
        .set(R0 + d);
      return { stores: false };
    }
    storeFlags(f);
    f.get(V)
      .get(T)
      .call(F.imul)
      .set(R0 + d);
    return { stores: false, stateFlags: true };
  }
  // INC and DEC of a register or a flat dword: CF stays, so the carry of the operation before
  // goes to `CF` first (from the locals when its kind is known here, else from the state).
  if ((m === 'inc' || m === 'dec') && i.opCount === 1) {
    const mem = o0 === OpKind.memory && i.memSize === MemSize.u32 && flatMemory(i, e.mode);
    if (d < 0 && !mem) return false;
    carryBefore(e);
    const aop = m === 'inc' ? Op.i32_add : Op.i32_sub;
    const lazyOp = m === 'inc' ? LazyOp.inc : LazyOp.dec;
    f.i32(1).set(FB);
    if (d >= 0) {
      f.get(R0 + d)
        .tee(FA)
        .i32(1)
        .op(aop)
        .tee(FV)
        .set(R0 + d);
      return { stores: false, deferred: lazyOp };
    }
    address(e, i);
    f.set(L);
    lookup(e, TLB_WRITE_OFFSET, 4);
    f.if();
    f.get(PH).get(PH).load32(RAM_OFFSET, 0).tee(FA).i32(1).op(aop).tee(FV).store32(RAM_OFFSET, 0);
    f.else();
    spill(e);
    f.get(L).call(F.rmw32).tee(FA).i32(1).op(aop).set(FV);
    f.get(L).get(FV).call(F.write32).set(CW);
    f.end();
    return { stores: true, deferred: lazyOp };
  }
  if (m === 'mov' && i.opCount === 2) {
    if (d >= 0 && readable32(e, i, 1)) {
      operand32(e, i, 1);
      f.set(R0 + d);
      return { stores: false };
    }
    if (o0 === OpKind.memory && i.memSize === MemSize.u32 && flatMemory(i, e.mode)) {
      if (o1 === OpKind.immediate) f.i32(i.immediate | 0).set(V);
      else if (o1 === OpKind.register && reg32(i.op1Register) >= 0) f.get(R0 + reg32(i.op1Register)).set(V);
      else return false;
      address(e, i);
      write(e, 4, V);
      return { stores: true };
    }
    return false;
  }
  if ((m === 'movzx' || m === 'movsx') && d >= 0 && i.opCount === 2) {
    const signed = m === 'movsx';
    let bits = 0;
    if (o1 === OpKind.register) {
      const id = i.op1Register;
      bits = id >= Register.al && id <= Register.bh ? 8 : id >= Register.ax && id <= Register.di ? 16 : 0;
      if (bits === 0 || !smallReg(f, id)) return false;
    } else if (o1 === OpKind.memory && flatMemory(i, e.mode)) {
      bits = i.memSize === MemSize.u8 ? 8 : i.memSize === MemSize.u16 ? 16 : 0;
      if (bits === 0) return false;
      address(e, i);
      read(e, bits >> 3);
    } else return false;
    if (signed) f.op(bits === 8 ? Op.i32_extend8_s : Op.i32_extend16_s);
    f.set(R0 + d);
    return { stores: false };
  }
  // CMPXCHG m32, r32 on flat memory: flags as CMP EAX, m32; the destination is written in
  // either case (with its old value when they differ, as tier 0 and the SDM do) and EAX gets the
  // old value (which it already holds when they are equal).
  if (
    m === 'cmpxchg' &&
    i.opCount === 2 &&
    o0 === OpKind.memory &&
    i.memSize === MemSize.u32 &&
    flatMemory(i, e.mode) &&
    o1 === OpKind.register &&
    reg32(i.op1Register) >= 0
  ) {
    const src = R0 + reg32(i.op1Register);
    const compare = () => {
      f.get(R0).set(FA);
      f.get(FA).get(FB).op(Op.i32_sub).set(FV);
      f.get(src).get(FB).get(FV).op(Op.i32_eqz).op(Op.select).set(V);
    };
    address(e, i);
    f.set(L);
    lookup(e, TLB_WRITE_OFFSET, 4);
    f.if();
    f.get(PH).load32(RAM_OFFSET, 0).set(FB);
    compare();
    f.get(PH).get(V).store32(RAM_OFFSET, 0);
    f.else();
    spill(e);
    f.get(L).call(F.rmw32).set(FB);
    compare();
    f.get(L).get(V).call(F.write32).set(CW);
    f.end();
    f.get(FB).set(R0);
    return { stores: true, deferred: LazyOp.sub };
  }
  if (m === 'lea' && d >= 0 && o1 === OpKind.memory && i.addressSize === 32) {
    if ((i.memBase !== 0 && reg32(i.memBase) < 0) || (i.memIndex !== 0 && reg32(i.memIndex) < 0))
      return false;
    address(e, i);
    f.set(R0 + d);
    return { stores: false };
  }
  if (m === 'push' && i.opCount === 1 && flat) {
    if (o0 === OpKind.register && d >= 0) f.get(R0 + d).set(V);
    else if (o0 === OpKind.immediate) f.i32(i.immediate | 0).set(V);
    else if (o0 === OpKind.memory && i.memSize === MemSize.u32 && flatMemory(i, e.mode)) {
      // PUSH m32: the operand's address uses ESP before the push, and a fault in either access
      // leaves ESP as it was.
      address(e, i);
      read(e, 4);
      f.set(V);
    } else return false;
    push32(e, V);
    return { stores: true };
  }
  if (m === 'pop' && i.opCount === 1 && flat && d >= 0) {
    pop32(e, R0 + 4, V);
    f.get(V).set(R0 + d);
    return { stores: false };
  }
  const op = ALU_NAMES[m];
  const lazy = op === undefined ? undefined : ALU_LAZY[op];
  if (op !== undefined && lazy !== undefined && i.opCount === 2) {
    const writes = op !== AluOp.cmp && op !== AluOp.test;
    if (d >= 0 && readable32(e, i, 1)) {
      f.get(R0 + d).set(FA);
      operand32(e, i, 1);
      f.set(FB);
      aluCompute(f, op);
      if (writes) f.get(FV).set(R0 + d);
      return { stores: false, deferred: lazy };
    }
    if (o0 === OpKind.memory && i.memSize === MemSize.u32 && flatMemory(i, e.mode)) {
      const src = o1 === OpKind.register ? reg32(i.op1Register) : -1;
      if (o1 !== OpKind.immediate && src < 0) return false;
      const b = () => (o1 === OpKind.immediate ? f.i32(i.immediate | 0) : f.get(R0 + src));
      if (!writes) {
        address(e, i);
        read(e, 4);
        f.set(FA);
        b().set(FB);
        aluCompute(f, op);
        return { stores: false, deferred: lazy };
      }
      // Read-modify-write: a write hit implies the read right; the slow way checks the write
      // right first (a #PF before anything changes), as tier 0 does.
      address(e, i);
      f.set(L);
      lookup(e, TLB_WRITE_OFFSET, 4);
      f.if();
      f.get(PH).load32(RAM_OFFSET, 0).set(FA);
      b().set(FB);
      aluCompute(f, op);
      f.get(PH).get(FV).store32(RAM_OFFSET, 0);
      f.else();
      spill(e);
      f.get(L).call(F.rmw32).set(FA);
      b().set(FB);
      aluCompute(f, op);
      f.get(L).get(FV).call(F.write32).set(CW);
      f.end();
      return { stores: true, deferred: lazy };
    }
  }
  return false;
}

/**
 * Whether `next` writes all six status flags from registers and constants and cannot fault, so
 * the flags before it are never read: a 32-bit register ALU operation or a shift by a non-zero
 * immediate.
 */
function overwritesFlags(next: Instruction | undefined): boolean {
  if (next === undefined || next.operandSize !== 32 || next.opCount !== 2) return false;
  if (next.op0Kind !== OpKind.register || reg32(next.op0Register) < 0) return false;
  const m = next.mnemonic;
  const op = ALU_NAMES[m];
  if (op !== undefined && ALU_LAZY[op] !== undefined) {
    return (
      next.op1Kind === OpKind.immediate || (next.op1Kind === OpKind.register && reg32(next.op1Register) >= 0)
    );
  }
  const sh = SHIFT_NAMES[m];
  return (
    sh !== undefined &&
    LAZY_SHIFT[sh] !== undefined &&
    next.op1Kind === OpKind.immediate &&
    (next.immediate & 31) !== 0
  );
}

/** A Jcc condition on the deferred flags in the locals (32- or 8-bit), pushed, or false. */
function fusedCondition(e: Emit, cc: number): boolean {
  const form = fusedForm(e.pending, cc);
  form?.(e.f);
  return form !== undefined;
}

/**
 * The code that pushes condition `cc` (1 or 0) from the locals after pending operation `pending`
 * (a deferred FO value), or undefined when there is no such form (the state's flags are needed).
 */
function fusedForm(pending: number, cc: number): ((f: FunctionBuilder) => void) | undefined {
  const kind = pending > 0 && (pending & WORD_LAZY) === 0 ? flagKindOf(pending) : undefined;
  if (kind === undefined) return undefined;
  const byte = (pending & BYTE_LAZY) !== 0;
  const pair = cc >> 1;
  const sign = (f: FunctionBuilder) =>
    byte ? f.get(FV).i32(7).op(Op.i32_shr_u).i32(1).op(Op.i32_and) : f.get(FV).i32(0).op(Op.i32_lt_s);
  const zero = (f: FunctionBuilder) => f.get(FV).op(Op.i32_eqz);
  const cmp = (a: number, b: number, o: number) => (f: FunctionBuilder) => f.get(a).get(b).op(o);
  const top = (f: FunctionBuilder, a: number) => f.get(a).i32(24).op(Op.i32_shl);
  let form: ((f: FunctionBuilder) => void) | undefined;
  if (kind === 'sub') {
    if (pair === 1) form = cmp(FA, FB, Op.i32_lt_u);
    else if (pair === 2) form = zero;
    else if (pair === 3) form = cmp(FA, FB, Op.i32_le_u);
    else if (pair === 4) form = sign;
    else if ((pair === 6 || pair === 7) && byte) {
      const o = pair === 6 ? Op.i32_lt_s : Op.i32_le_s;
      form = (f) => {
        top(f, FA);
        top(f, FB).op(o);
      };
    } else if (pair === 6) form = cmp(FA, FB, Op.i32_lt_s);
    else if (pair === 7) form = cmp(FA, FB, Op.i32_le_s);
  } else if (kind === 'logic') {
    if (pair === 0 || pair === 1) form = (f) => f.i32(0);
    else if (pair === 2 || pair === 3) form = zero;
    else if (pair === 4 || pair === 6) form = sign;
    else if (pair === 7)
      form = (f) => {
        zero(f);
        sign(f).op(Op.i32_or);
      };
  } else if (kind === 'add' && !byte) {
    if (pair === 1) form = cmp(FV, FA, Op.i32_lt_u);
    else if (pair === 2) form = zero;
    else if (pair === 4) form = sign;
  } else if (kind === 'incdec' && !byte) {
    // CF is the carry the operation before left (`CF`); OF is set when INC reached 0x80000000
    // or DEC reached 0x7fffffff, so SF != OF is SF xor that.
    const limit = (pending & 255) === LazyOp.inc ? 0x80000000 | 0 : 0x7fffffff;
    const overflow = (f: FunctionBuilder) => f.get(FV).i32(limit).op(Op.i32_eq);
    const carry = (f: FunctionBuilder) => f.get(CF).i32(1).op(Op.i32_and);
    const less = (f: FunctionBuilder) => {
      sign(f);
      overflow(f).op(Op.i32_xor);
    };
    if (pair === 0) form = overflow;
    else if (pair === 1) form = carry;
    else if (pair === 2) form = zero;
    else if (pair === 3)
      form = (f) => {
        carry(f);
        zero(f).op(Op.i32_or);
      };
    else if (pair === 4) form = sign;
    else if (pair === 6) form = less;
    else if (pair === 7)
      form = (f) => {
        less(f);
        zero(f).op(Op.i32_or);
      };
  }
  if (form === undefined || (cc & 1) === 0) return form;
  const positive = form;
  return (f) => {
    positive(f);
    f.op(Op.i32_eqz);
  };
}

/**
 * The pending operations a block's first condition is tried against at run time, most frequent
 * first in the Linux boot (DEC before a JNZ, the CMP of a loop's last iteration, TEST, INC, ADD).
 */
const RUNTIME_KINDS = [
  LazyOp.sub,
  LazyOp.dec,
  LazyOp.logic,
  LazyOp.inc,
  LazyOp.add,
  LazyOp.sub + BYTE_LAZY,
] as const;

/**
 * Pushes condition `cc` (1 or 0): fused with the deferred flags when it can be, else from the
 * state (the pending flags go there first); returns whether the flags are now the state's.
 * When the pending operation is known only at run time (`fo`, at a block's start), the fused
 * forms are chosen there on `fo` and the state is the last resort: the flags stay unknown.
 */
function condition(e: Emit, cc: number): boolean {
  if (fusedCondition(e, cc)) return false;
  const f = e.f;
  const fromState = (): void => {
    storeFlags(f);
    f.i32(cc).call(F.condition);
    f.i32(0).set(FO);
  };
  const forms: [number, (f: FunctionBuilder) => void][] = [];
  if (e.pending === -1) {
    for (const k of RUNTIME_KINDS) {
      const form = fusedForm(k, cc);
      if (form !== undefined) forms.push([k, form]);
    }
  }
  if (forms.length === 0) {
    fromState();
    return true;
  }
  for (const [k, form] of forms) {
    f.get(FO).i32(k).op(Op.i32_eq).if(I32);
    form(f);
    f.else();
  }
  fromState();
  for (let k = 0; k < forms.length; k++) f.end();
  return false;
}

/** What the caller needs of a compiled region: its function per entry block. */
export interface WasmRegion {
  /** Entry functions, by block start (page offset). */
  readonly entries: ReadonlyMap<number, BlockFn>;
  /** The module's size in bytes. */
  readonly bytes: number;
}

/** Calls of a WebAssembly region after which it is compiled again as JavaScript. */
export const PROMOTE_RUNS = Number(
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.RINGZERO_PROMOTE ??
    20000,
);

/**
 * The hub's module: a WebAssembly function per `HUB_FUNCTIONS` entry that calls the JavaScript
 * one, and `chain(block, e0, lim, ic, fn)`, which tail-calls table element `fn` with `run`'s
 * arguments. Region modules import these instead of JavaScript functions and the table, so
 * instantiating one links WebAssembly functions only: no import wrappers, and no copy of the
 * chain table (which every instance importing it keeps, and which every `Table.set` updates).
 */
let hubModule: WebAssembly.Module | undefined;

function hubModuleBytes(): Uint8Array {
  const mb = new ModuleBuilder();
  HUB_FUNCTIONS.forEach(([name, params, results]) => {
    mb.importFunction('x', name, params, results);
  });
  mb.importTable('x', 't', 0);
  HUB_FUNCTIONS.forEach(([name, params, results], k) => {
    const f = new FunctionBuilder(params.length);
    for (let p = 0; p < params.length; p++) f.get(p);
    f.call(k);
    mb.exportFunction(name, mb.addFunction(params, results, f));
  });
  const runType = mb.type(RUN_PARAMS, [I32]);
  const f = new FunctionBuilder(CHAIN_PARAMS.length);
  for (let p = 0; p < CHAIN_PARAMS.length; p++) f.get(p);
  f.returnCallIndirect(runType);
  mb.exportFunction('chain', mb.addFunction(CHAIN_PARAMS, [I32], f));
  return mb.build();
}

/** A processor's hub (per privilege: user and supervisor accesses), and what its call-outs share. */
interface Hub {
  readonly exports: WebAssembly.Exports;
  /** The pending flags in the exchange slots reach the state. */
  readonly apply: () => void;
  /** After a tier-0 handler: whether it wrote translated code, and DF as it left it. */
  readonly afterCallOut: () => void;
}

const hubs = new WeakMap<WasmChain, [Hub | undefined, Hub | undefined]>();

/** The hub for processor `c`'s regions over `chain` that make user (`u`) or supervisor accesses. */
function hubOf(c: Tier0, arena: WasmArena, chain: WasmChain, u: boolean): Hub {
  let pair = hubs.get(chain);
  if (pair === undefined) {
    pair = [undefined, undefined];
    hubs.set(chain, pair);
  }
  const have = pair[u ? 1 : 0];
  if (have !== undefined) return have;
  const s = c.state;
  const mmu = c.mmu;
  const X = arena.xfer;
  const apply = (): void => {
    const fo = X[Xfer.fo] as number;
    if (fo === 0) return;
    X[Xfer.fo] = 0;
    if (fo === LazyOp.inc || fo === LazyOp.dec) {
      // The carry before the INC/DEC chain is in its slot: the state's own record of it.
      s.lazyOp = LazyOp.none;
      s.flags = (s.flags & ~1) | ((X[Xfer.cf] as number) & 1);
    }
    s.setLazy(
      (fo & 255) as LazyOp,
      X[Xfer.fa] as number,
      X[Xfer.fb] as number,
      X[Xfer.fv] as number,
      (fo & WORD_LAZY) !== 0 ? 16 : (fo & BYTE_LAZY) !== 0 ? 8 : 32,
    );
  };
  const cw = (): number => (c.codeWrites !== chain.w0 ? 1 : 0);
  const afterCallOut = (): void => {
    X[Xfer.codeWrite] = cw();
    X[Xfer.df] = s.flags & Eflags.df;
  };
  const js = {
    cond: (cc: number): number => {
      apply();
      return s.condition(cc) ? 1 : 0;
    },
    r8: (lin: number): number => mmu.read8(lin, u),
    r16: (lin: number): number => mmu.read16(lin, u),
    r32: (lin: number): number => mmu.read32(lin, u),
    w8: (lin: number, v: number): number => {
      mmu.write8(lin, v, u);
      return cw();
    },
    w16: (lin: number, v: number): number => {
      mmu.write16(lin, v, u);
      return cw();
    },
    w32: (lin: number, v: number): number => {
      mmu.write32(lin, v, u);
      return cw();
    },
    rmw: (lin: number): number => {
      mmu.probeWrite(lin, 4, u);
      return mmu.read32(lin, u);
    },
    imul: (a: number, b: number): number => {
      apply();
      return imul2(s, a, b, 32);
    },
    carry: (): number => {
      apply();
      return s.getCF();
    },
    alu: (op: number, a: number, b: number): number => {
      apply();
      return alu(s, op, a, b, 32);
    },
    cfof: (cf: number, of: number): void => {
      apply();
      setCfOf(s, cf, of);
    },
    t: chain.table,
  };
  hubModule ??= new WebAssembly.Module(hubModuleBytes() as Uint8Array<ArrayBuffer>);
  const hub: Hub = { exports: new WebAssembly.Instance(hubModule, { x: js }).exports, apply, afterCallOut };
  pair[u ? 1 : 0] = hub;
  return hub;
}

/**
 * Instantiates the compiled module of `region` (within one page, for mode `mode`: `emitModule`'s
 * bytes, `bytes` long) over `arena` and makes its entries; its blocks go into the chain map.
 * `handlers` run the instructions tier 1 leaves to tier 0, `promote` makes the JavaScript
 * function a hot region moves to.
 */
export function instantiateWasmRegion(
  c: Tier0,
  region: Region,
  pageStart: number,
  mode: number,
  arena: WasmArena,
  chain: WasmChain,
  ins: readonly Decoded[],
  handlers: readonly Handler[],
  module: WebAssembly.Module,
  bytes: number,
  promote?: () => BlockFn,
): WasmRegion {
  const s = c.state;
  const X = arena.xfer;
  const hub = hubOf(c, arena, chain, (mode & 1) !== 0);
  const { apply, afterCallOut } = hub;
  const imports = {
    x: {
      m: arena.memory,
      h: (k: number, start: number): number => {
        apply();
        const d = ins[k] as Decoded;
        s.eip = (start + d.length) | 0;
        c.startEip = start;
        const i0 = c.instructions;
        (handlers[k] as Handler)(c, d);
        afterCallOut();
        // A REP string instruction counts its iterations itself, which leaves the budget the
        // region was given stale: it goes back to the dispatcher, as after the end of a run.
        if (c.instructions !== i0 || !c.goesOn()) X[Xfer.stay] = 1;
        return s.eip;
      },
      sens: (k: number, start: number, retired: number): number => {
        apply();
        const d = ins[k] as Decoded;
        s.eip = (start + d.length) | 0;
        c.startEip = start;
        c.instructions += retired;
        X[Xfer.retired] = -1;
        const i0 = c.instructions;
        const ok = c.execSensitive(d);
        if (s.interruptShadow || c.instructions !== i0) X[Xfer.stay] = 1;
        afterCallOut();
        X[Xfer.eip] = s.eip;
        return ok ? 1 : 0;
      },
    },
    hub: hub.exports,
  };
  const instance = new WebAssembly.Instance(module, imports);
  const run = instance.exports.run as RunFn;
  const fn = chain.add(run);
  const generation = chain.generation;
  const enter = (k: number, pc: number): number => {
    const e0 = (s.eip - pc) | 0;
    chain.w0 = c.codeWrites;
    // FS and GS cannot change inside a chain: loading one ends the region with a mode change.
    X[Xfer.fsBase] = s.segBase[Seg.fs] as number;
    X[Xfer.gsBase] = s.segBase[Seg.gs] as number;
    X[Xfer.df] = s.flags & Eflags.df;
    s.interruptShadow = false;
    let rv: number;
    try {
      // Through the chain's trampoline while this region's table element is current.
      rv =
        generation === chain.generation
          ? chain.enter(fn, k, e0, c.blockEnd - c.instructions, 0)
          : run(k, e0, c.blockEnd - c.instructions, 0);
    } catch (z) {
      X[Xfer.stay] = 0;
      apply();
      c.startEip = X[Xfer.at] as number;
      c.instructions += X[Xfer.retired] as number;
      throw z;
    }
    X[Xfer.stay] = 0;
    apply();
    s.eip = X[Xfer.eip] as number;
    c.instructions += X[Xfer.retired] as number;
    return rv;
  };
  // Until the region has run `PROMOTE_RUNS` times, its entries enter the WebAssembly function;
  // then, with `promote`, they call its JavaScript function (entered at the same page offset).
  let runs = 0;
  let js: BlockFn | undefined;
  const entries = new Map<number, BlockFn>();
  region.blocks.forEach((b, k) => {
    // The chain reaches the blocks in this page (the region's entries).
    if (b.start < 4096) chain.insert(pageStart + b.start, mode, fn, k);
    entries.set(b.start, (c1, s1, r1, pc) => {
      if (js !== undefined) return js(c1, s1, r1, pc);
      if (++runs === PROMOTE_RUNS && promote !== undefined) js = promote();
      return enter(k, pc);
    });
  });
  return { entries, bytes };
}

/**
 * The module of a region: imports (its own call-outs `h` and `sens`, the hub's call-outs and
 * `chain`, the arena's memory), then `run(block, e0, lim, ic) -> rv`, which the chain table holds.
 */
export function emitModule(
  region: Region,
  mode: number,
  sensitive: Uint8Array,
  ramBytes: number,
): Uint8Array {
  const mb = new ModuleBuilder();
  mb.importFunction('x', 'h', [I32, I32], [I32]);
  mb.importFunction('x', 'sens', [I32, I32, I32], [I32]);
  HUB_FUNCTIONS.forEach(([name, params, results]) => {
    mb.importFunction('hub', name, params, results);
  });
  mb.importFunction('hub', 'chain', CHAIN_PARAMS, [I32]);
  mb.importMemory('x', 'm', 1);
  const f = new FunctionBuilder(RUN_PARAMS.length);
  for (let k = 0; k < LOCALS; k++) f.local(I32);
  emitBody(f, region, mode, sensitive, ramBytes);
  const fn = mb.addFunction(RUN_PARAMS, [I32], f);
  mb.exportFunction('run', fn);
  return mb.build();
}

function emitBody(
  f: FunctionBuilder,
  region: Region,
  mode: number,
  sensitive: Uint8Array,
  ramBytes: number,
): void {
  const blocks = region.blocks;
  const B = blocks.length;
  const indexOf = new Map<number, number>(blocks.map((b, k) => [b.start, k]));
  loadRegs(f);
  loadFlags(f);
  f.block();
  const exitLabel = f.depth;
  f.loop();
  const loopLabel = f.depth;
  for (let k = 0; k < B; k++) f.block();
  f.get(P_BLOCK).brTable(
    blocks.map((_, k) => k),
    B + 1,
  );
  const e: Emit = {
    f,
    mode,
    exitLabel,
    index: 0,
    j: 0,
    off: 0,
    pending: 0,
    ramBytes,
    flagsDead: false,
  };
  /** Goes on at page offset `off`: a block of the region (falling through to the next), or the exit. */
  const goTo = (off: number, k: number, fall = true): void => {
    const t = indexOf.get(off);
    if (t === undefined) {
      exitAt(e, off, 0);
      return;
    }
    if (fall && t === k + 1) return;
    f.i32(t).set(P_BLOCK);
    br(e, loopLabel);
  };
  let index = 0;
  blocks.forEach((blk, k) => {
    f.end();
    const len = blk.ins.length;
    e.pending = -1;
    // The budget: the block must fit in what the dispatcher allows.
    f.get(IC).i32(len).op(Op.i32_add).get(P_LIM).op(Op.i32_gt_s).if();
    f.i32(RV_STAY).set(RV);
    exitAt(e, blk.start, 0);
    f.end();
    for (let j = 0; j < len; j++, index++) {
      const i = blk.ins[j] as Decoded;
      const off = blk.offsets[j] as number;
      const next = off + i.length;
      const last = j === len - 1;
      const end = blk.end;
      e.index = index;
      e.j = j;
      e.off = off;
      e.flagsDead = overwritesFlags(blk.ins[j + 1]);
      if (last && end.kind === 'goto' && flowControl(i.code) === FlowControl.branch) {
        f.get(IC).i32(len).op(Op.i32_add).set(IC);
        goTo(end.next, k);
        continue;
      }
      const isSensitive = sensitive[i.code] === 1;
      const isJcc = last && end.kind === 'branch' && isTemplateJcc(i);
      let t: Emitted = false;
      if (!isSensitive && !isJcc) t = template(e, i, next);
      if (isJcc) {
        // The condition, fused with the deferred flags when it can be, else from the state.
        const cc = jccCondition(i.mnemonic);
        f.get(IC).i32(len).op(Op.i32_add).set(IC);
        if (condition(e, cc)) e.pending = 0;
        f.if();
        const taken = end.kind === 'branch' ? end.taken : -1;
        if (taken >= 0) goTo(taken, k, false);
        else exitAt(e, branchOffset(i, next), 0);
        f.end();
        if (end.kind === 'branch') goTo(end.next, k);
        continue;
      }
      if (t === false) {
        // Tier 0 runs it on the CpuState (registers and flags go there first and registers come
        // back after); a sensitive one goes through the policy, with the count brought up to date.
        spill(e);
        f.i32(index);
        eipOf(e, off);
        if (isSensitive) {
          f.get(IC)
            .i32(j + 1)
            .op(Op.i32_add)
            .tee(T);
          f.call(F.sensitive).set(V);
          f.get(IC).get(T).op(Op.i32_sub).set(IC);
          f.get(P_LIM).get(T).op(Op.i32_sub).set(P_LIM);
          loadRegs(f);
          f.i32(0).set(FO);
          e.pending = 0;
          f.get(V).op(Op.i32_eqz).if();
          f.i32(0).load32(slot(Xfer.eip)).set(EIP);
          f.i32(RV_STAY).set(RV);
          exitHere(e, j + 1);
          f.end();
          eipOf(e, next);
          f.set(EIP);
        } else {
          f.call(F.handler).set(EIP);
          loadRegs(f);
          f.i32(0).set(FO);
          e.pending = 0;
        }
        // A write that reached translated code: the region leaves, and does not chain.
        f.i32(0).load32(slot(Xfer.codeWrite)).if();
        f.i32(RV_STAY).set(RV);
        exitHere(e, j + 1);
        f.end();
      } else {
        if (t.deferred !== undefined) {
          if (e.pending !== t.deferred) f.i32(t.deferred).set(FO);
          e.pending = t.deferred;
        } else if (t.stateFlags === true) {
          f.i32(0).set(FO);
          e.pending = 0;
        } else if (t.unknownFlags === true) e.pending = -1;
        if (t.stores && !(last && end.kind === 'transfer')) checkCodeWrite(e, next);
      }
      if (!last) continue;
      f.get(IC).i32(len).op(Op.i32_add).set(IC);
      if (end.kind === 'handler-branch') {
        // LOOP, JECXZ: taken when the handler moved EIP elsewhere.
        f.get(EIP);
        eipOf(e, next);
        f.op(Op.i32_ne).if();
        exitHere(e, 0);
        f.end();
        goTo(end.next, k);
      } else if (end.kind === 'goto') {
        goTo(end.next, k);
      } else if (end.kind === 'exit') {
        goTo(end.at, k);
      } else if (end.kind === 'segment-load') {
        f.i32(1).set(RV);
        exitHere(e, 0);
      } else if (end.kind === 'transfer') {
        // EIP is set (a template's or the handler's). A direct CALL into a block goes on there
        // unless its push reached code; anything else leaves.
        if (t !== false && t.setsEip !== true) {
          eipOf(e, next);
          f.set(EIP);
        }
        if (t !== false && t.stores) {
          f.get(CW).if();
          f.i32(0).set(CW);
          exitHere(e, 0);
          f.end();
        }
        const target =
          t !== false && i.op0Kind === OpKind.nearBranch && !isRepString(i) ? branchOffset(i, next) : -1;
        if (target >= 0 && target < 4096 && indexOf.has(target)) goTo(target, k, false);
        else exitHere(e, 0);
      } else {
        goTo(next, k);
      }
    }
  });
  // Every case ends in a branch; falling out of the loop does not happen.
  f.op(Op.unreachable);
  f.end();
  f.end();
  // The epilogue: registers, pending flags, EIP and the count for the wrapper, or, on an exit
  // that may chain, a tail call of the region entry at the new EIP when the chain map has one
  // for this mode (the TLB gives its physical address, as the dispatcher's lookup does). A
  // register the region never assigns still holds what the state has: it is not stored.
  storeRegs(f, (f.assigned >>> R0) & 0xff);
  storeFlags(f);
  f.get(RV).i32(0).load32(slot(Xfer.stay)).op(Op.i32_or).op(Op.i32_eqz).if();
  if ((mode & MODE_UNPAGED) !== 0) {
    // Without paging EIP is the physical address (the chain map holds RAM addresses only).
    f.get(EIP).tee(PH).i32(e.ramBytes).op(Op.i32_lt_u);
  } else {
    f.get(EIP).set(L);
    lookup(e, TLB_READ_OFFSET, 1);
  }
  f.if();
  f.get(PH)
    .i32(CHAIN_HASH)
    .op(Op.i32_mul)
    .i32(32 - CHAIN_BITS)
    .op(Op.i32_shr_u)
    .i32(4)
    .op(Op.i32_shl)
    .tee(L)
    .load32(CHAIN_OFFSET)
    .get(PH)
    .op(Op.i32_eq)
    .get(L)
    .load32(CHAIN_OFFSET + 4)
    .i32(mode)
    .op(Op.i32_eq)
    .op(Op.i32_and)
    .if();
  f.i32(0).i32(0).load32(slot(Xfer.chains)).i32(1).op(Op.i32_add).store32(slot(Xfer.chains));
  f.get(L).load32(CHAIN_OFFSET + 12);
  f.get(EIP).i32(-4096).op(Op.i32_and);
  f.get(P_LIM);
  f.get(IC).get(N).op(Op.i32_add);
  f.get(L).load32(CHAIN_OFFSET + 8);
  f.returnCall(F.chain);
  f.end();
  f.end();
  f.end();
  f.i32(0).get(EIP).store32(slot(Xfer.eip));
  f.i32(0).get(IC).get(N).op(Op.i32_add).store32(slot(Xfer.retired));
  f.get(RV);
}
