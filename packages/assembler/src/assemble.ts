import { chooseAddress } from './address';
import { type Bits, encodeInstruction, type Operand, type Prefixes } from './encoder';
import { AssemblerError, type AssemblerErrorCode, type SourcePosition } from './errors';
import { type EvalContext, Evaluator, type Expr, usesHere, type Value } from './expression';
import { float16Bytes, float32Bytes, float64Bytes, float80Bytes } from './floats';
import type { LineContext } from './lexer';
import type { OperandAst } from './operands';
import { type DataItem, SourceParser, type Stmt } from './parse';
import { lookupRegister } from './registers';

/** Options of `assemble`. */
export interface AssembleOptions {
  /** Initial mode, as `bits 16|32|64` would set it (default 16, as in NASM's bin format). */
  readonly bits?: 16 | 32 | 64;
  /** Name used in error messages (default `<input>`). */
  readonly fileName?: string;
  /** Origin when the source has no `org` (default 0). */
  readonly org?: number | bigint;
  /** Largest output accepted, in bytes (default 64 MiB); more is an `AssemblerError('too-large')`. */
  readonly maxSize?: number;
}

/** One source line in the listing: where it was placed and the bytes it produced. */
export interface ListingLine {
  /** Line number, from 1. */
  readonly line: number;
  /** Address of the line's first byte (or of the position it was at, when it made none). */
  readonly address: number;
  readonly bytes: Uint8Array;
  readonly source: string;
}

/** What `assemble` returns. */
export interface AssembleResult {
  /** The flat binary, starting at the origin. */
  readonly bytes: Uint8Array;
  /** Labels and `equ` constants with their values (addresses include the origin). */
  readonly symbols: Map<string, number>;
  readonly listing: ListingLine[];
}

const MAX_PASSES = 40;
/** After this many passes, instruction lengths may only grow, so the layout must settle. */
const MONOTONE_AFTER = 16;
const DEFAULT_MAX_SIZE = 64 * 1024 * 1024;

interface Section {
  readonly name: string;
  align: bigint;
  nobits: boolean;
}

interface PassResult {
  readonly symbols: Map<string, { value: bigint; reloc: number }>;
  readonly unknown: Set<string>;
  readonly sizes: bigint[];
  readonly lengths: Map<Stmt, number>;
  /** Per section: (offset, bytes) chunks. Filled on the final pass. */
  readonly chunks: { offset: bigint; bytes: Uint8Array }[][];
  readonly starts: bigint[];
  readonly lineOut: Map<number, { address: bigint; parts: Uint8Array[] }>;
  /** Address of each statement, by index. */
  readonly addrs: bigint[];
}

function isBits(v: number): v is Bits {
  return v === 16 || v === 32 || v === 64;
}

/**
 * Assembles NASM-style Intel-syntax source into a flat binary.
 *
 * ```ts
 * assemble('bits 32\nmov eax, 1\nret').bytes; // Uint8Array [b8 01 00 00 00 c3]
 * ```
 *
 * Throws `AssemblerError` (with file, line and column) for anything it cannot assemble.
 */
export function assemble(source: string, options: AssembleOptions = {}): AssembleResult {
  const file = options.fileName ?? '<input>';
  const startBits = options.bits ?? 16;
  if (!isBits(startBits))
    throw new AssemblerError(
      'bad-directive',
      { file, line: 1, column: 1 },
      'bits must be 16, 32 or 64',
      startBits,
    );
  const maxSize = options.maxSize ?? DEFAULT_MAX_SIZE;
  const lines = source.split(/\r\n|\n|\r/);
  const parser = new SourceParser(file);
  lines.forEach((text, i) => {
    parser.parseLine(text, i + 1);
  });
  const stmts = parser.stmts;
  const pos = (s: { line: number; column: number }): SourcePosition => ({
    file,
    line: s.line,
    column: s.column,
  });
  const fail = (
    code: AssemblerErrorCode,
    s: { line: number; column: number },
    detail: string,
    value?: unknown,
  ) => {
    throw new AssemblerError(code, pos(s), detail, value);
  };
  const lineCtx = (line: number): LineContext => ({ file, line });
  // Constants defined before use (`BASE equ 0x7c00` then `org BASE`), for org and align=.
  const constSyms = new Map<string, { value: bigint; reloc: number }>();
  const constCtx: EvalContext = {
    here: 0n,
    sectionStart: 0n,
    lookup: (name) => constSyms.get(name),
    unknown: () => {},
  };

  // Sections (NASM's bin format): .text first at the origin, the other progbits sections after
  // it in order of appearance (each aligned, 4 by default), nobits sections (.bss) last.
  const sections: Section[] = [{ name: '.text', align: 4n, nobits: false }];
  const stmtSection: number[] = [];
  let current = 0;
  let origin = options.org !== undefined ? BigInt(options.org) : 0n;
  let orgSeen: Stmt | undefined;
  for (const s of stmts) {
    if (s.k === 'section') {
      let idx = sections.findIndex((x) => x.name === s.name);
      if (idx < 0) {
        idx = sections.length;
        sections.push({ name: s.name, align: 4n, nobits: s.name === '.bss' });
      }
      const sec = sections[idx] as Section;
      if (s.nobits !== undefined) sec.nobits = s.nobits;
      if (s.align) {
        const v = new Evaluator(constCtx, lineCtx(s.line)).value(s.align, s.column);
        if (!v.known || v.n <= 0n || (v.n & (v.n - 1n)) !== 0n)
          fail('bad-directive', s, 'section align= must be a constant power of two', v.n);
        sec.align = v.n;
      }
      current = idx;
    }
    if (s.k === 'equ') {
      try {
        const v = new Evaluator(constCtx, lineCtx(s.line)).value(s.expr, s.column);
        if (v.known && v.reloc === 0 && !usesHere(s.expr)) constSyms.set(s.name, { value: v.n, reloc: 0 });
      } catch {
        // reported by the passes
      }
    }
    if (s.k === 'org') {
      const v = new Evaluator(constCtx, lineCtx(s.line)).value(s.expr, s.column);
      if (!v.known || v.reloc !== 0) fail('bad-directive', s, 'org needs a constant address', undefined);
      if (orgSeen && v.n !== origin)
        fail('bad-directive', s, `org is already set (to 0x${origin.toString(16)} on line ${orgSeen.line})`);
      if (v.n < 0n) fail('bad-directive', s, 'org must not be negative', v.n);
      origin = v.n;
      orgSeen = s;
    }
    stmtSection.push(current);
  }

  const labelAt = new Map<string, { idx: number; sec: number }>();
  stmts.forEach((st, idx) => {
    if (st.k === 'label') labelAt.set(st.name, { idx, sec: stmtSection[idx] ?? 0 });
  });

  const runPass = (final: boolean, prev: PassResult | undefined, monotone: boolean): PassResult => {
    const symbols = new Map<string, { value: bigint; reloc: number }>();
    const unknown = new Set<string>();
    const lengths = new Map<Stmt, number>();
    const offsets = sections.map(() => 0n);
    const chunks: PassResult['chunks'] = sections.map(() => []);
    const lineOut: PassResult['lineOut'] = new Map();
    const addrs: bigint[] = [];
    // Section starts from the previous pass's sizes.
    const starts: bigint[] = sections.map(() => 0n);
    const prevSizes = prev?.sizes ?? sections.map(() => 0n);
    let end = origin;
    sections.forEach((sec, i) => {
      if (sec.nobits) return;
      const a = i === 0 ? 1n : sec.align;
      const st = i === 0 ? origin : ((end + a - 1n) / a) * a;
      starts[i] = st;
      end = st + (prevSizes[i] ?? 0n);
    });
    sections.forEach((sec, i) => {
      if (!sec.nobits) return;
      const st = ((end + sec.align - 1n) / sec.align) * sec.align;
      starts[i] = st;
      end = st + (prevSizes[i] ?? 0n);
    });
    let mode: Bits = startBits;
    let defaultRel = false;
    let total = 0;

    stmts.forEach((s, idx) => {
      const sec = stmtSection[idx] ?? 0;
      const secStart = starts[sec] ?? 0n;
      const addrOf = () => secStart + (offsets[sec] ?? 0n);
      // A label further on is estimated from the previous pass, moved by as much as this pass
      // has already moved the code before it (same section): relaxation settles in fewer passes.
      const shift = prev ? addrOf() - (prev.addrs[idx] ?? addrOf()) : 0n;
      const ctxFor = (here: bigint): EvalContext => ({
        here,
        sectionStart: secStart,
        lookup: (name) => {
          const cur = symbols.get(name);
          if (cur) return cur;
          const old = prev?.symbols.get(name);
          const at = labelAt.get(name);
          if (old && at && shift !== 0n && at.sec === sec && at.idx > idx)
            return { value: old.value + shift, reloc: old.reloc };
          return old;
        },
        unknown: (name, column) => {
          if (final)
            throw new AssemblerError(
              'undefined-symbol',
              { file, line: s.line, column },
              `undefined symbol '${name}'`,
              name,
            );
          unknown.add(name);
        },
      });
      const evalAt = (here: bigint) => new Evaluator(ctxFor(here), lineCtx(s.line));
      const startAddr = addrOf();
      addrs[idx] = startAddr;
      const emit = (bytes: Uint8Array) => {
        total += bytes.length;
        if (total > maxSize) fail('too-large', s, `output exceeds ${maxSize} bytes`, total);
        if (final) {
          if (!sections[sec]?.nobits && bytes.length > 0)
            chunks[sec]?.push({ offset: offsets[sec] ?? 0n, bytes });
          const lo = lineOut.get(s.line);
          if (lo) lo.parts.push(bytes);
          else lineOut.set(s.line, { address: addrOf(), parts: [bytes] });
        }
        offsets[sec] = (offsets[sec] ?? 0n) + BigInt(bytes.length);
      };
      const note = () => {
        if (final && !lineOut.has(s.line)) lineOut.set(s.line, { address: startAddr, parts: [] });
      };
      const count = (times: Expr | undefined): number => {
        if (!times) return 1;
        const v = evalAt(startAddr).value(times, s.column);
        if (!v.known) return 0;
        if (v.n < 0n) fail('bad-directive', s, `times count ${v.n} is negative`, v.n);
        if (v.n > BigInt(maxSize)) fail('too-large', s, `times count ${v.n} is too large`, v.n);
        return Number(v.n);
      };
      switch (s.k) {
        case 'label':
          symbols.set(s.name, { value: startAddr, reloc: 1 });
          note();
          return;
        case 'equ': {
          const v = evalAt(startAddr).value(s.expr, s.column);
          if (v.known) symbols.set(s.name, { value: v.n, reloc: v.reloc });
          note();
          return;
        }
        case 'bits':
          mode = s.bits;
          note();
          return;
        case 'default':
          defaultRel = s.rel;
          note();
          return;
        case 'org':
        case 'section':
          note();
          return;
        case 'align': {
          const v = evalAt(startAddr).value(s.n, s.column);
          if (v.known && v.n <= 0n) fail('bad-directive', s, 'align needs a positive value', v.n);
          if (v.known && v.n > BigInt(maxSize)) fail('too-large', s, `align ${v.n} is too large`, v.n);
          const n = v.known ? v.n : 1n;
          const pad = Number((n - ((((startAddr - secStart) % n) + n) % n)) % n);
          if (s.fill === 'nop') emit(new Uint8Array(pad).fill(0x90));
          else if (s.fill === 'zero') emit(new Uint8Array(pad));
          else {
            const unit = dataBytes(s.fill.unit, s.fill.items, evalAt(startAddr), final, s);
            const out = new Uint8Array(pad);
            if (unit.length > 0) for (let i = 0; i < pad; i++) out[i] = unit[i % unit.length] ?? 0;
            emit(out);
          }
          return;
        }
        case 'res': {
          const n = count(s.times);
          const v = evalAt(startAddr).value(s.count, s.column);
          if (v.known && v.n < 0n) fail('bad-directive', s, `reserve count ${v.n} is negative`, v.n);
          const size = (v.known ? v.n : 0n) * BigInt(s.unit) * BigInt(n);
          if (size > BigInt(maxSize)) fail('too-large', s, `reserving ${size} bytes is too much`, size);
          emit(new Uint8Array(Number(size)));
          return;
        }
        case 'data': {
          const n = count(s.times);
          const perRep = s.items.some((i) => i.t === 'expr' && usesHere(i.e));
          if (n === 0) {
            note();
            return;
          }
          if (!perRep) {
            const one = dataBytes(s.unit, s.items, evalAt(startAddr), final, s);
            if (one.length * n > maxSize) fail('too-large', s, 'times output is too large', n);
            const out = new Uint8Array(one.length * n);
            for (let i = 0; i < n; i++) out.set(one, i * one.length);
            emit(out);
          } else for (let i = 0; i < n; i++) emit(dataBytes(s.unit, s.items, evalAt(addrOf()), final, s));
          return;
        }
        case 'ins': {
          const n = count(s.times);
          if (n === 0) {
            note();
            return;
          }
          const prefixes = prefixWords(s, pos);
          const perRep = s.ops.some((o) => operandUsesHere(o));
          const encodeAt = (here: bigint) => {
            const ev = evalAt(here);
            const ops = s.ops.map((o) => evalOperand(o, ev));
            return encodeInstruction({
              mode,
              addr: here,
              final,
              minLength: monotone ? (prev?.lengths.get(s) ?? 0) : 0,
              defaultRel,
              prefixes,
              mnemonic: s.mnemonic,
              ops,
              pos: pos(s),
            });
          };
          if (!perRep) {
            const one = encodeAt(startAddr);
            lengths.set(s, one.length);
            if (one.length * n > maxSize) fail('too-large', s, 'times output is too large', n);
            if (n === 1) emit(one);
            else {
              const out = new Uint8Array(one.length * n);
              for (let i = 0; i < n; i++) out.set(one, i * one.length);
              emit(out);
            }
          } else {
            for (let i = 0; i < n; i++) {
              const one = encodeAt(addrOf());
              if (i === 0) lengths.set(s, one.length);
              emit(one);
            }
          }
          return;
        }
      }
    });
    return { symbols, unknown, sizes: offsets, lengths, chunks, starts, lineOut, addrs };
  };

  let prev: PassResult | undefined;
  let monotone = false;
  for (let pass = 1; ; pass++) {
    monotone = pass > MONOTONE_AFTER;
    const r = runPass(false, prev, monotone);
    const settled =
      prev !== undefined &&
      sameSymbols(r.symbols, prev.symbols) &&
      r.sizes.every((v, i) => v === prev?.sizes[i]);
    const stuck =
      settled &&
      r.unknown.size > 0 &&
      r.unknown.size === prev?.unknown.size &&
      [...r.unknown].every((u) => prev?.unknown.has(u));
    prev = r;
    if (settled && r.unknown.size === 0) break;
    // Symbols that stay unknown while nothing else changes are undefined: the final pass reports them.
    if (stuck) {
      runPass(true, prev, monotone);
      break;
    }
    if (pass >= MAX_PASSES) {
      // Surfaces an undefined symbol if that is the cause; otherwise the layout did not settle.
      runPass(true, prev, true);
      throw new AssemblerError(
        'no-convergence',
        { file, line: 1, column: 1 },
        `label addresses did not settle after ${MAX_PASSES} passes`,
      );
    }
  }
  const fin = runPass(true, prev, monotone);

  // The image: progbits sections at their addresses relative to the origin.
  let size = 0n;
  sections.forEach((sec, i) => {
    if (sec.nobits) return;
    const sz = fin.sizes[i] ?? 0n;
    if (sz > 0n) {
      const e = (fin.starts[i] ?? 0n) - origin + sz;
      if (e > size) size = e;
    }
  });
  if (size > BigInt(maxSize))
    throw new AssemblerError(
      'too-large',
      { file, line: 1, column: 1 },
      `output exceeds ${maxSize} bytes`,
      size,
    );
  const bytes = new Uint8Array(Number(size));
  sections.forEach((sec, i) => {
    if (sec.nobits) return;
    const base = (fin.starts[i] ?? 0n) - origin;
    for (const c of fin.chunks[i] ?? []) bytes.set(c.bytes, Number(base + c.offset));
  });
  const symbols = new Map<string, number>();
  for (const [k, v] of fin.symbols) symbols.set(k, Number(v.value));
  const listing: ListingLine[] = [];
  let lastAddr = origin;
  lines.forEach((text, i) => {
    const lo = fin.lineOut.get(i + 1);
    if (lo) lastAddr = lo.address;
    const parts = lo?.parts ?? [];
    const len = parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(len);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    listing.push({ line: i + 1, address: Number(lo?.address ?? lastAddr), bytes: out, source: text });
    if (lo) lastAddr = lo.address + BigInt(len);
  });
  return { bytes, symbols, listing };
}

function sameSymbols(
  a: Map<string, { value: bigint; reloc: number }>,
  b: Map<string, { value: bigint; reloc: number }>,
): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.value !== v.value || w.reloc !== v.reloc) return false;
  }
  return true;
}

function operandUsesHere(o: OperandAst): boolean {
  switch (o.k) {
    case 'reg':
      return false;
    case 'mem':
      return o.expr !== undefined && usesHere(o.expr);
    case 'imm':
      return usesHere(o.expr);
    case 'far':
      return usesHere(o.seg) || usesHere(o.off);
  }
}

function prefixWords(
  s: Stmt & { k: 'ins' },
  pos: (s: { line: number; column: number }) => SourcePosition,
): Prefixes {
  const p: Prefixes = { lock: false, rep: 0 };
  for (const w of s.prefixes) {
    const at = pos({ line: s.line, column: w.column });
    const dup = (what: string): never => {
      throw new AssemblerError('bad-prefix', at, `more than one ${what} prefix`, w.word);
    };
    switch (w.word) {
      case 'lock':
        if (p.lock) dup('lock');
        p.lock = true;
        break;
      case 'rep':
      case 'repe':
      case 'repz':
        if (p.rep) dup('rep');
        p.rep = 0xf3;
        break;
      case 'repne':
      case 'repnz':
        if (p.rep) dup('rep');
        p.rep = 0xf2;
        break;
      case 'o16':
      case 'o32':
      case 'o64':
        if (p.osize) dup('operand-size');
        p.osize = Number(w.word.slice(1));
        break;
      case 'a16':
      case 'a32':
      case 'a64':
        if (p.asize) dup('address-size');
        p.asize = Number(w.word.slice(1));
        break;
      default: {
        if (p.seg) dup('segment');
        p.seg = lookupRegister(w.word);
      }
    }
  }
  return p;
}

function evalOperand(o: OperandAst, ev: Evaluator): Operand {
  switch (o.k) {
    case 'reg':
      if (o.size !== undefined && o.reg.size !== 0 && o.size !== o.reg.size)
        throw new AssemblerError(
          'invalid-operands',
          { file: ev.line.file, line: ev.line.line, column: o.column },
          `size keyword does not match register '${o.reg.name}'`,
          o.reg.name,
        );
      return o;
    case 'imm':
      return {
        k: 'imm',
        v: ev.value(o.expr, o.column),
        size: o.size,
        strict: o.strict,
        jump: o.jump,
        column: o.column,
      };
    case 'far':
      return {
        k: 'far',
        seg: ev.value(o.seg, o.column),
        off: ev.value(o.off, o.column),
        size: o.size,
        column: o.column,
      };
    case 'mem': {
      const lin = ev.linear(o.expr ?? { t: 'num', v: 0n }, o.column);
      return {
        k: 'mem',
        addr: chooseAddress(lin, o.nosplit),
        size: o.size,
        far: o.far,
        seg: o.seg,
        rel: o.rel,
        dispSize: o.dispSize,
        column: o.column,
      };
    }
  }
}

function dataBytes(
  unit: number,
  items: readonly DataItem[],
  ev: Evaluator,
  final: boolean,
  s: { line: number; column: number },
): Uint8Array {
  const out: number[] = [];
  for (const item of items) {
    switch (item.t) {
      case 'str': {
        out.push(...item.bytes);
        const pad = (unit - (item.bytes.length % unit)) % unit;
        for (let i = 0; i < pad; i++) out.push(0);
        break;
      }
      case 'uninit':
        for (let i = 0; i < unit; i++) out.push(0);
        break;
      case 'float': {
        const bytes =
          unit === 2
            ? float16Bytes(item.v)
            : unit === 4
              ? float32Bytes(item.v)
              : unit === 8
                ? float64Bytes(item.v)
                : unit === 10
                  ? float80Bytes(item.v)
                  : undefined;
        if (!bytes)
          throw new AssemblerError(
            'bad-directive',
            { file: ev.line.file, line: s.line, column: item.column },
            'floating-point values need dw, dd, dq or dt',
            item.v,
          );
        out.push(...bytes);
        break;
      }
      case 'expr': {
        const v: Value = ev.value(item.e, item.column);
        const bits = BigInt(Math.min(unit, 8) * 8);
        if (final && unit <= 8 && (v.n < -(1n << (bits - 1n)) || v.n >= 1n << bits))
          throw new AssemblerError(
            'out-of-range',
            { file: ev.line.file, line: s.line, column: item.column },
            `value 0x${v.n.toString(16)} does not fit in ${unit} byte${unit > 1 ? 's' : ''}`,
            v.n,
          );
        let m = BigInt.asUintN(unit * 8, v.n);
        for (let i = 0; i < unit; i++) {
          out.push(Number(m & 0xffn));
          m >>= 8n;
        }
        break;
      }
    }
  }
  return Uint8Array.from(out);
}
