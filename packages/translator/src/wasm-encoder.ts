/**
 * A small builder for WebAssembly binary modules (core specification, binary format version 1,
 * the MVP instruction set without multi-value or SIMD). Tier 1 emits one module per translated
 * region at run time, so the hot calls (`op`, `get`, `set`, `i32`, the loads and stores) write
 * straight into a growable `Uint8Array` and check their operands with a few integer operations.
 *
 * The builder checks what is cheap to check (operand ranges, local indexes, branch depths, block
 * nesting); operand types are left to the engine's validator (`new WebAssembly.Module`).
 */

/** Value types, by their binary encoding. */
export const ValType = { i32: 0x7f, i64: 0x7e, f64: 0x7c } as const;
/** One of the `ValType` encodings. */
export type ValType = (typeof ValType)[keyof typeof ValType];

/** Opcodes of the instructions the JIT emits (single-byte ones, values from the spec). */
export const Op = {
  unreachable: 0x00,
  nop: 0x01,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  br_if: 0x0d,
  br_table: 0x0e,
  return: 0x0f,
  call: 0x10,
  call_indirect: 0x11,
  return_call: 0x12,
  return_call_indirect: 0x13,
  drop: 0x1a,
  select: 0x1b,

  local_get: 0x20,
  local_set: 0x21,
  local_tee: 0x22,
  global_get: 0x23,
  global_set: 0x24,

  i32_load: 0x28,
  i32_load8_s: 0x2c,
  i32_load8_u: 0x2d,
  i32_load16_s: 0x2e,
  i32_load16_u: 0x2f,
  i32_store: 0x36,
  i32_store8: 0x3a,
  i32_store16: 0x3b,

  i32_const: 0x41,
  i64_const: 0x42,

  i32_eqz: 0x45,
  i32_eq: 0x46,
  i32_ne: 0x47,
  i32_lt_s: 0x48,
  i32_lt_u: 0x49,
  i32_gt_s: 0x4a,
  i32_gt_u: 0x4b,
  i32_le_s: 0x4c,
  i32_le_u: 0x4d,
  i32_ge_s: 0x4e,
  i32_ge_u: 0x4f,

  i64_eqz: 0x50,
  i64_eq: 0x51,
  i64_ne: 0x52,
  i64_lt_s: 0x53,
  i64_lt_u: 0x54,
  i64_gt_s: 0x55,
  i64_gt_u: 0x56,
  i64_le_s: 0x57,
  i64_le_u: 0x58,
  i64_ge_s: 0x59,
  i64_ge_u: 0x5a,

  i32_clz: 0x67,
  i32_ctz: 0x68,
  i32_popcnt: 0x69,
  i32_add: 0x6a,
  i32_sub: 0x6b,
  i32_mul: 0x6c,
  i32_div_s: 0x6d,
  i32_div_u: 0x6e,
  i32_rem_s: 0x6f,
  i32_rem_u: 0x70,
  i32_and: 0x71,
  i32_or: 0x72,
  i32_xor: 0x73,
  i32_shl: 0x74,
  i32_shr_s: 0x75,
  i32_shr_u: 0x76,
  i32_rotl: 0x77,
  i32_rotr: 0x78,

  i64_clz: 0x79,
  i64_ctz: 0x7a,
  i64_popcnt: 0x7b,
  i64_add: 0x7c,
  i64_sub: 0x7d,
  i64_mul: 0x7e,
  i64_div_s: 0x7f,
  i64_div_u: 0x80,
  i64_rem_s: 0x81,
  i64_rem_u: 0x82,
  i64_and: 0x83,
  i64_or: 0x84,
  i64_xor: 0x85,
  i64_shl: 0x86,
  i64_shr_s: 0x87,
  i64_shr_u: 0x88,
  i64_rotl: 0x89,
  i64_rotr: 0x8a,

  i32_wrap_i64: 0xa7,
  i64_extend_i32_s: 0xac,
  i64_extend_i32_u: 0xad,

  i32_extend8_s: 0xc0,
  i32_extend16_s: 0xc1,
  i64_extend8_s: 0xc2,
  i64_extend16_s: 0xc3,
  i64_extend32_s: 0xc4,
} as const;

/** Block type byte of a block without a result. */
const VOID_BLOCK = 0x40;

/**
 * 1 for the opcodes `op()` takes: single-byte instructions without immediates that do not open or
 * close a block. Everything else has its own method (or, like memory.size, is not supported).
 */
const PLAIN = new Uint8Array(256);
PLAIN[Op.unreachable] = 1;
PLAIN[Op.nop] = 1;
PLAIN[Op.return] = 1;
PLAIN[Op.drop] = 1;
PLAIN[Op.select] = 1;
// The numeric instructions of the MVP (comparisons through reinterpretations), then sign extension.
PLAIN.fill(1, 0x45, 0xc0);
PLAIN.fill(1, 0xc0, 0xc5);

function isValType(t: unknown): t is ValType {
  return t === ValType.i32 || t === ValType.i64 || t === ValType.f64;
}

function checkValType(t: unknown, what: string): asserts t is ValType {
  if (!isValType(t)) throw new Error(`wasm-encoder: ${what}: ${String(t)} is not a value type`);
}

const I64_MIN = -(1n << 63n);
const U64_END = 1n << 64n;

/** A growable byte buffer: `buf[0..len)` are the bytes written; writers `reserve` room first. */
class ByteSink {
  buf: Uint8Array<ArrayBuffer>;
  len = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(Math.max(capacity, 16));
  }

  /** Makes room for `n` more bytes, doubling the buffer as often as needed. */
  reserve(n: number): void {
    if (this.len + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** One byte (room reserved). */
  byte(b: number): void {
    this.buf[this.len++] = b;
  }

  /** Unsigned LEB128 of an integer in [0, 2^32) (5 bytes of room reserved). */
  u32(v: number): void {
    const b = this.buf;
    let p = this.len;
    while (v >= 0x80) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p++] = v;
    this.len = p;
  }

  /** Signed LEB128 of an int32 (5 bytes of room reserved). */
  s32(v: number): void {
    const b = this.buf;
    let p = this.len;
    for (;;) {
      const low = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (low & 0x40) === 0) || (v === -1 && (low & 0x40) !== 0)) {
        b[p++] = low;
        break;
      }
      b[p++] = low | 0x80;
    }
    this.len = p;
  }

  /** Signed LEB128 of a value in the int64 range (10 bytes of room reserved). */
  s64(v: bigint): void {
    const b = this.buf;
    let p = this.len;
    for (;;) {
      const low = Number(v & 0x7fn);
      v >>= 7n;
      if ((v === 0n && (low & 0x40) === 0) || (v === -1n && (low & 0x40) !== 0)) {
        b[p++] = low;
        break;
      }
      b[p++] = low | 0x80;
    }
    this.len = p;
  }

  /** A byte string (room reserved). */
  bytes(data: Uint8Array): void {
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  /** A name: its UTF-8 length, then the bytes. */
  name(s: string): void {
    const data = utf8.encode(s);
    this.reserve(5 + data.length);
    this.u32(data.length);
    this.bytes(data);
  }

  /** A vector of value types. */
  types(ts: readonly ValType[]): void {
    this.reserve(5 + ts.length);
    this.u32(ts.length);
    for (const t of ts) this.byte(t);
  }
}

const utf8 = new TextEncoder();

/** Number of bytes of the unsigned LEB128 of an integer in [0, 2^32). */
function ulebSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v >>>= 7;
    n++;
  }
  return n;
}

/** Control frame kinds on a function builder's stack; `HAS_RESULT` is or-ed in. */
const BLOCK = 0;
const LOOP = 1;
const IF = 2;
const IF_ELSE = 3;
const KIND = 3;
const HAS_RESULT = 4;

/** Builds one function body. Parameters are locals 0..n-1 (declared by the module's addFunction). */
export class FunctionBuilder {
  /** Number of parameters: they are locals `0..paramCount-1`, declared locals follow. */
  readonly paramCount: number;
  private readonly code = new ByteSink(1024);
  private localCount: number;
  /** The declared locals as runs of one type: `runCounts[k]` locals of type `runTypes[k]`. */
  private readonly runTypes: ValType[] = [];
  private readonly runCounts: number[] = [];
  /** Open blocks, innermost last: a kind, with `HAS_RESULT` when the block has a result. */
  private readonly ctl: number[] = [];

  /** A builder for a function with `paramCount` parameters. */
  constructor(paramCount: number) {
    if (paramCount >>> 0 !== paramCount) {
      throw new Error(`wasm-encoder: parameter count ${paramCount} is not a non-negative integer`);
    }
    this.paramCount = paramCount;
    this.localCount = paramCount;
  }

  /** Current nesting depth of open blocks (0 at function level), for computing br depths. */
  get depth(): number {
    return this.ctl.length;
  }

  /** Declares a new local of the type (default i32) and returns its index. */
  local(type: ValType = ValType.i32): number {
    checkValType(type, 'local()');
    const last = this.runTypes.length - 1;
    if (last >= 0 && this.runTypes[last] === type) {
      this.runCounts[last]!++;
    } else {
      this.runTypes.push(type);
      this.runCounts.push(1);
    }
    return this.localCount++;
  }

  /** Any single-byte opcode without immediates (numeric instructions, drop, select, return, ...). */
  op(code: number): this {
    if (PLAIN[code] !== 1) {
      throw new Error(`wasm-encoder: op(${code}) is not a single-byte opcode without immediates`);
    }
    const c = this.code;
    c.reserve(1);
    c.buf[c.len++] = code;
    return this;
  }

  /** i32.const: any integer in [-2^31, 2^32), encoded as the signed 32-bit value `value | 0`. */
  i32(value: number): this {
    if ((value | 0) !== value && value >>> 0 !== value) {
      throw new Error(`wasm-encoder: i32(${value}) is not an integer in [-2^31, 2^32)`);
    }
    const c = this.code;
    c.reserve(6);
    c.buf[c.len++] = Op.i32_const;
    c.s32(value | 0);
    return this;
  }

  /** i64.const: any integer in [-2^63, 2^64), encoded as its signed 64-bit value. */
  i64(value: bigint): this {
    if (value < I64_MIN || value >= U64_END) {
      throw new Error(`wasm-encoder: i64(${value}) is not an integer in [-2^63, 2^64)`);
    }
    const c = this.code;
    c.reserve(11);
    c.buf[c.len++] = Op.i64_const;
    const n = Number(value);
    if ((n | 0) === n) c.s32(n);
    else c.s64(BigInt.asIntN(64, value));
    return this;
  }

  /** local.get of a parameter or declared local. */
  get(index: number): this {
    return this.localOp(Op.local_get, index);
  }

  /** local.set of a parameter or declared local. */
  set(index: number): this {
    return this.localOp(Op.local_set, index);
  }

  /** local.tee of a parameter or declared local. */
  tee(index: number): this {
    return this.localOp(Op.local_tee, index);
  }

  /**
   * Bit `i` set: local `i` (below 32) has had a `local.set` or `local.tee` so far. Callers may
   * clear bits again (a reload that leaves a local equal to what it was loaded from, say).
   */
  assigned = 0;

  private localOp(code: number, index: number): this {
    if (index >>> 0 !== index || index >= this.localCount) {
      throw new Error(`wasm-encoder: local ${index} does not exist (${this.localCount} locals)`);
    }
    if (code !== Op.local_get && index < 32) this.assigned |= 1 << index;
    const c = this.code;
    c.reserve(6);
    c.buf[c.len++] = code;
    c.u32(index);
    return this;
  }

  /** i32.load with a static byte offset (unsigned, up to 2^32-1) and alignment log2 (default 2). */
  load32(offset: number, align = 2): this {
    return this.mem(Op.i32_load, offset, align, 2);
  }

  /** i32.load16_u with a static byte offset and alignment log2 (default 1). */
  load16u(offset: number, align = 1): this {
    return this.mem(Op.i32_load16_u, offset, align, 1);
  }

  /** i32.load16_s with a static byte offset and alignment log2 (default 1). */
  load16s(offset: number, align = 1): this {
    return this.mem(Op.i32_load16_s, offset, align, 1);
  }

  /** i32.load8_u with a static byte offset. */
  load8u(offset: number): this {
    return this.mem(Op.i32_load8_u, offset, 0, 0);
  }

  /** i32.load8_s with a static byte offset. */
  load8s(offset: number): this {
    return this.mem(Op.i32_load8_s, offset, 0, 0);
  }

  /** i32.store with a static byte offset and alignment log2 (default 2). */
  store32(offset: number, align = 2): this {
    return this.mem(Op.i32_store, offset, align, 2);
  }

  /** i32.store16 with a static byte offset and alignment log2 (default 1). */
  store16(offset: number, align = 1): this {
    return this.mem(Op.i32_store16, offset, align, 1);
  }

  /** i32.store8 with a static byte offset. */
  store8(offset: number): this {
    return this.mem(Op.i32_store8, offset, 0, 0);
  }

  /** A memory instruction and its memarg; `natural` is the largest alignment the access allows. */
  private mem(code: number, offset: number, align: number, natural: number): this {
    if (offset >>> 0 !== offset) {
      throw new Error(`wasm-encoder: memory offset ${offset} is not an integer in [0, 2^32)`);
    }
    if ((align | 0) !== align || align < 0 || align > natural) {
      throw new Error(`wasm-encoder: alignment ${align} is not an integer in [0, ${natural}]`);
    }
    const c = this.code;
    c.reserve(7);
    const b = c.buf;
    b[c.len++] = code;
    b[c.len++] = align;
    c.u32(offset);
    return this;
  }

  /** Opens a block (branches to it go to its end); `result` is its one result type, or none. */
  block(result?: ValType): this {
    return this.open(Op.block, BLOCK, result);
  }

  /** Opens a loop (branches to it go back to its start); `result` is its one result type, or none. */
  loop(result?: ValType): this {
    return this.open(Op.loop, LOOP, result);
  }

  /** Opens an if on the i32 on the stack; with a `result` type it needs an `else()`. */
  if(result?: ValType): this {
    return this.open(Op.if, IF, result);
  }

  private open(code: number, kind: number, result: ValType | undefined): this {
    if (result !== undefined) checkValType(result, 'block type');
    this.ctl.push(result === undefined ? kind : kind | HAS_RESULT);
    const c = this.code;
    c.reserve(2);
    c.buf[c.len++] = code;
    c.buf[c.len++] = result === undefined ? VOID_BLOCK : result;
    return this;
  }

  /** Starts the else arm of the innermost block, which must be an if without one yet. */
  else(): this {
    const top = this.ctl.length - 1;
    const frame = this.ctl[top];
    if (frame === undefined || (frame & KIND) !== IF) {
      throw new Error('wasm-encoder: else() outside an if (or a second else)');
    }
    this.ctl[top] = (frame & ~KIND) | IF_ELSE;
    const c = this.code;
    c.reserve(1);
    c.buf[c.len++] = Op.else;
    return this;
  }

  /** Closes the innermost open block, loop or if. */
  end(): this {
    const frame = this.ctl.pop();
    if (frame === undefined) throw new Error('wasm-encoder: end() without an open block');
    if (frame === (IF | HAS_RESULT)) {
      throw new Error('wasm-encoder: end() of an if with a result type but no else()');
    }
    const c = this.code;
    c.reserve(1);
    c.buf[c.len++] = Op.end;
    return this;
  }

  /** br: branches to the block `depth` levels out (0 is the innermost; `this.depth` the function). */
  br(depth: number): this {
    return this.branch(Op.br, depth);
  }

  /** br_if: branches like `br` when the i32 on the stack is not zero. */
  brIf(depth: number): this {
    return this.branch(Op.br_if, depth);
  }

  private branch(code: number, depth: number): this {
    this.checkDepth(depth);
    const c = this.code;
    c.reserve(6);
    c.buf[c.len++] = code;
    c.u32(depth);
    return this;
  }

  /** br_table: branches to `depths[i]` for the i32 `i` on the stack, or to `defaultDepth` when out of range. */
  brTable(depths: readonly number[], defaultDepth: number): this {
    for (const d of depths) this.checkDepth(d);
    this.checkDepth(defaultDepth);
    const c = this.code;
    c.reserve(6 + 5 * (depths.length + 1));
    c.buf[c.len++] = Op.br_table;
    c.u32(depths.length);
    for (const d of depths) c.u32(d);
    c.u32(defaultDepth);
    return this;
  }

  private checkDepth(depth: number): void {
    if (depth >>> 0 !== depth || depth > this.ctl.length) {
      throw new Error(`wasm-encoder: branch depth ${depth} out of range (${this.ctl.length} blocks open)`);
    }
  }

  /** call of a function by its index in the module (imports first). */
  call(functionIndex: number): this {
    return this.functionOp(Op.call, 'call', functionIndex);
  }

  /**
   * return_call (a tail call) of function `functionIndex`: its frame replaces this one and its
   * result is this function's (the signatures' results must match).
   */
  returnCall(functionIndex: number): this {
    return this.functionOp(Op.return_call, 'returnCall', functionIndex);
  }

  private functionOp(code: number, name: string, functionIndex: number): this {
    if (functionIndex >>> 0 !== functionIndex) {
      throw new Error(`wasm-encoder: ${name}(${functionIndex}) is not a function index`);
    }
    const c = this.code;
    c.reserve(6);
    c.buf[c.len++] = code;
    c.u32(functionIndex);
    return this;
  }

  /**
   * call_indirect through table 0 with the function type `typeIndex` (`ModuleBuilder.type`): the
   * arguments, then the table element's index, are on the stack.
   */
  callIndirect(typeIndex: number): this {
    return this.indirect(Op.call_indirect, typeIndex);
  }

  /**
   * return_call_indirect (a tail call) through table 0: as `callIndirect`, but the callee's frame
   * replaces this one and its result is this function's.
   */
  returnCallIndirect(typeIndex: number): this {
    return this.indirect(Op.return_call_indirect, typeIndex);
  }

  private indirect(op: number, typeIndex: number): this {
    if (typeIndex >>> 0 !== typeIndex) {
      throw new Error(`wasm-encoder: indirect call with type ${typeIndex}, not a type index`);
    }
    const c = this.code;
    c.reserve(7);
    c.buf[c.len++] = op;
    c.u32(typeIndex);
    c.buf[c.len++] = 0;
    return this;
  }

  /** The encoded body (locals vector + code + final `end`), as the code section needs it. Throws if blocks are unbalanced. */
  finish(): Uint8Array<ArrayBuffer> {
    const open = this.ctl.length;
    if (open !== 0) {
      throw new Error(`wasm-encoder: finish() with ${open} block(s) still open (missing end())`);
    }
    const runs = this.runTypes.length;
    const head = new ByteSink(5 + 6 * runs);
    head.u32(runs);
    for (let k = 0; k < runs; k++) {
      head.u32(this.runCounts[k]!);
      head.byte(this.runTypes[k]!);
    }
    const code = this.code;
    const out = new Uint8Array(head.len + code.len + 1);
    out.set(head.buf.subarray(0, head.len));
    out.set(code.buf.subarray(0, code.len), head.len);
    out[out.length - 1] = Op.end;
    return out;
  }
}

interface FunctionImport {
  readonly module: string;
  readonly name: string;
  readonly type: number;
}

interface TableImport {
  readonly module: string;
  readonly name: string;
  readonly min: number;
}

interface MemoryImport {
  readonly module: string;
  readonly name: string;
  readonly min: number;
  readonly max: number | undefined;
}

/** The most pages a 32-bit memory can have (4 GiB). */
const MAX_PAGES = 65536;

/**
 * Builds one module: function imports, at most one imported table of functions, at most one
 * imported memory, defined functions, exports.
 */
export class ModuleBuilder {
  private readonly typeIndex = new Map<string, number>();
  private readonly types: { params: readonly ValType[]; results: readonly ValType[] }[] = [];
  private readonly functionImports: FunctionImport[] = [];
  private memory: MemoryImport | undefined;
  private table: TableImport | undefined;
  private readonly functionTypes: number[] = [];
  private readonly bodies: Uint8Array[] = [];
  private readonly exports = new Map<string, number>();

  /** Imports a function; returns its function index. Imports must all be added before addFunction. */
  importFunction(
    module: string,
    name: string,
    params: readonly ValType[],
    results: readonly ValType[],
  ): number {
    if (this.bodies.length !== 0) {
      throw new Error(`wasm-encoder: importFunction('${module}', '${name}') after addFunction`);
    }
    const type = this.typeOf(params, results);
    this.functionImports.push({ module, name, type });
    return this.functionImports.length - 1;
  }

  /** Imports a memory (min/max in 64 KiB pages; max optional). At most one. */
  importMemory(module: string, name: string, minPages: number, maxPages?: number): void {
    if (this.memory !== undefined) throw new Error('wasm-encoder: a module imports at most one memory');
    const isPages = (n: number) => n >>> 0 === n && n <= MAX_PAGES;
    if (!isPages(minPages) || (maxPages !== undefined && (!isPages(maxPages) || maxPages < minPages))) {
      throw new Error(
        `wasm-encoder: memory limits ${minPages}..${maxPages} are not page counts min <= max <= 65536`,
      );
    }
    this.memory = { module, name, min: minPages, max: maxPages };
  }

  /** Imports a table of function references (`funcref`) with at least `min` elements. At most one. */
  importTable(module: string, name: string, min: number): void {
    if (this.table !== undefined) throw new Error('wasm-encoder: a module imports at most one table');
    if (min >>> 0 !== min) throw new Error(`wasm-encoder: table minimum ${min} is not an element count`);
    this.table = { module, name, min };
  }

  /** The index of the function type `params -> results` (for `callIndirect`), added if new. */
  type(params: readonly ValType[], results: readonly ValType[]): number {
    return this.typeOf(params, results);
  }

  /** Adds a defined function with the given signature and body; returns its function index (after the imports). Function types are deduplicated. */
  addFunction(params: readonly ValType[], results: readonly ValType[], body: FunctionBuilder): number {
    if (body.paramCount !== params.length) {
      throw new Error(
        `wasm-encoder: addFunction with ${params.length} parameters for a body built for ${body.paramCount}`,
      );
    }
    const type = this.typeOf(params, results);
    const bytes = body.finish();
    this.functionTypes.push(type);
    this.bodies.push(bytes);
    return this.functionImports.length + this.bodies.length - 1;
  }

  /** Exports a function (imported or defined) under `name`. */
  exportFunction(name: string, functionIndex: number): void {
    const count = this.functionImports.length + this.bodies.length;
    if (functionIndex >>> 0 !== functionIndex || functionIndex >= count) {
      throw new Error(`wasm-encoder: exportFunction('${name}', ${functionIndex}): no such function`);
    }
    if (this.exports.has(name)) throw new Error(`wasm-encoder: export name '${name}' used twice`);
    this.exports.set(name, functionIndex);
  }

  /** The complete module bytes (magic, version, type, import, function, export, code sections). */
  build(): Uint8Array<ArrayBuffer> {
    const codeSize = this.codeSectionSize();
    const out = new ByteSink(256 + codeSize);
    out.reserve(8);
    for (const b of [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]) out.byte(b);

    if (this.types.length !== 0) {
      const types = new ByteSink(64);
      types.reserve(5);
      types.u32(this.types.length);
      for (const t of this.types) {
        types.reserve(1);
        types.byte(0x60);
        types.types(t.params);
        types.types(t.results);
      }
      section(out, 1, types);
    }

    const importCount =
      this.functionImports.length + (this.memory === undefined ? 0 : 1) + (this.table === undefined ? 0 : 1);
    if (importCount !== 0) {
      const imports = new ByteSink(128);
      imports.reserve(5);
      imports.u32(importCount);
      for (const f of this.functionImports) {
        imports.name(f.module);
        imports.name(f.name);
        imports.reserve(6);
        imports.byte(0x00);
        imports.u32(f.type);
      }
      const t = this.table;
      if (t !== undefined) {
        imports.name(t.module);
        imports.name(t.name);
        imports.reserve(8);
        imports.byte(0x01);
        imports.byte(0x70);
        imports.byte(0x00);
        imports.u32(t.min);
      }
      const m = this.memory;
      if (m !== undefined) {
        imports.name(m.module);
        imports.name(m.name);
        imports.reserve(12);
        imports.byte(0x02);
        imports.byte(m.max === undefined ? 0x00 : 0x01);
        imports.u32(m.min);
        if (m.max !== undefined) imports.u32(m.max);
      }
      section(out, 2, imports);
    }

    const n = this.bodies.length;
    if (n !== 0) {
      const funcs = new ByteSink(5 + 5 * n);
      funcs.u32(n);
      for (const t of this.functionTypes) funcs.u32(t);
      section(out, 3, funcs);
    }

    if (this.exports.size !== 0) {
      const exports = new ByteSink(64);
      exports.reserve(5);
      exports.u32(this.exports.size);
      for (const [name, index] of this.exports) {
        exports.name(name);
        exports.reserve(6);
        exports.byte(0x00);
        exports.u32(index);
      }
      section(out, 7, exports);
    }

    if (n !== 0) {
      out.reserve(6 + codeSize);
      out.byte(10);
      out.u32(codeSize);
      out.u32(n);
      for (const body of this.bodies) {
        out.u32(body.length);
        out.bytes(body);
      }
    }
    return out.buf.slice(0, out.len);
  }

  /** The index of the function type, added if new. */
  private typeOf(params: readonly ValType[], results: readonly ValType[]): number {
    for (const t of params) checkValType(t, 'parameter type');
    for (const t of results) checkValType(t, 'result type');
    if (results.length > 1) {
      throw new Error('wasm-encoder: a function has at most one result (no multi-value)');
    }
    const key = `${params.join(',')}>${results.join(',')}`;
    let index = this.typeIndex.get(key);
    if (index === undefined) {
      index = this.types.length;
      this.types.push({ params: params.slice(), results: results.slice() });
      this.typeIndex.set(key, index);
    }
    return index;
  }

  /** Size of the code section's contents: the count, then each body with its size. */
  private codeSectionSize(): number {
    let size = ulebSize(this.bodies.length);
    for (const body of this.bodies) size += ulebSize(body.length) + body.length;
    return size;
  }
}

/** Appends a section: its id, its size, its contents. */
function section(out: ByteSink, id: number, contents: ByteSink): void {
  out.reserve(6 + contents.len);
  out.byte(id);
  out.u32(contents.len);
  out.bytes(contents.buf.subarray(0, contents.len));
}

/** Appends the unsigned LEB128 encoding of an integer in [0, 2^53) to `out` (exported for tests). */
export function uleb(out: number[], value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(`wasm-encoder: uleb(${value}) is not a non-negative safe integer`);
  }
  do {
    const low = value % 128;
    value = Math.floor(value / 128);
    out.push(value === 0 ? low : low | 0x80);
  } while (value !== 0);
}

/** Appends the signed LEB128 encoding of a safe integer to `out` (exported for tests). */
export function sleb(out: number[], value: number): void {
  if (!Number.isSafeInteger(value)) throw new Error(`wasm-encoder: sleb(${value}) is not a safe integer`);
  for (;;) {
    // The low 7 bits of the two's complement, also for values beyond 32 bits.
    const low = ((value % 128) + 128) % 128;
    value = Math.floor(value / 128);
    if ((value === 0 && (low & 0x40) === 0) || (value === -1 && (low & 0x40) !== 0)) {
      out.push(low);
      return;
    }
    out.push(low | 0x80);
  }
}
