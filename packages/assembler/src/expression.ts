import { AssemblerError, type SourcePosition } from './errors';
import { type LineContext, stringBytes, type Token } from './lexer';
import { lookupRegister, type Reg } from './registers';

/** An expression tree, as parsed from one operand. */
export type Expr =
  | { readonly t: 'num'; readonly v: bigint }
  | { readonly t: 'sym'; readonly name: string; readonly column: number }
  | { readonly t: 'here' }
  | { readonly t: 'base' }
  | { readonly t: 'reg'; readonly reg: Reg; readonly column: number }
  | { readonly t: 'un'; readonly op: string; readonly a: Expr }
  | { readonly t: 'bin'; readonly op: string; readonly a: Expr; readonly b: Expr; readonly column: number };

/**
 * A value: a 64-bit-or-wider integer, whether every symbol in it was known, and how many
 * section-relative terms (labels, `$`, `$$`) it holds. `reloc` 0 is a plain number; 1 an address;
 * anything else a value derived from addresses in another way. NASM only shortens immediates and
 * displacements that are plain numbers; so does this assembler.
 */
export interface Value {
  readonly n: bigint;
  readonly known: boolean;
  readonly reloc: number;
}

/** What an expression can refer to while it is evaluated. */
export interface EvalContext {
  /** Address of the current statement (`$`). */
  readonly here: bigint;
  /** Start of the current section (`$$`). */
  readonly sectionStart: bigint;
  /** A symbol's value, or undefined when it is not (yet) known. */
  lookup(name: string): { value: bigint; reloc: number } | undefined;
  /** Called for each symbol that is not known: records it for the undefined-symbol check. */
  unknown(name: string, column: number): void;
}

/** Keywords that end an expression (they start the next part of the line). */
const SIZE_WORDS = new Set([
  'byte',
  'word',
  'dword',
  'qword',
  'tword',
  'oword',
  'yword',
  'zword',
  'strict',
  'short',
  'near',
  'far',
  'rel',
  'abs',
  'nosplit',
  'to',
]);

export function isSizeWord(text: string): boolean {
  return SIZE_WORDS.has(text.toLowerCase());
}

/** Reads an expression from a token list, starting at `pos`. */
export class ExprParser {
  pos: number;

  constructor(
    readonly tokens: readonly Token[],
    readonly ctx: LineContext,
    /** Resolves `.local` names against the last global label. */
    readonly qualify: (name: string) => string,
    start = 0,
  ) {
    this.pos = start;
  }

  peek(): Token {
    return this.tokens[this.pos] ?? (this.tokens[this.tokens.length - 1] as Token);
  }

  at(text: string): boolean {
    const t = this.peek();
    return t.kind === 'op' && t.text === text;
  }

  fail(t: Token, detail: string): never {
    throw new AssemblerError('syntax', this.where(t), detail, t.text);
  }

  where(t: Token): SourcePosition {
    return { file: this.ctx.file, line: this.ctx.line, column: t.column };
  }

  /** Whether the next token can start an expression. */
  startsExpression(): boolean {
    const t = this.peek();
    if (t.kind === 'number' || t.kind === 'string' || t.kind === 'ident') return true;
    return t.kind === 'op' && ['(', '-', '+', '~', '!', '$', '$$'].includes(t.text);
  }

  parse(): Expr {
    return this.parseBinary(0);
  }

  private static readonly LEVELS: readonly (readonly string[])[] = [
    ['||'],
    ['^^'],
    ['&&'],
    ['=', '==', '!=', '<>', '<', '>', '<=', '>='],
    ['|'],
    ['^'],
    ['&'],
    ['<<', '>>', '<<<', '>>>'],
    ['+', '-'],
    ['*', '/', '//', '%', '%%'],
  ];

  private parseBinary(level: number): Expr {
    if (level >= ExprParser.LEVELS.length) return this.parseUnary();
    const ops = ExprParser.LEVELS[level] ?? [];
    let a = this.parseBinary(level + 1);
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'op' || !ops.includes(t.text)) return a;
      this.pos++;
      const b = this.parseBinary(level + 1);
      a = { t: 'bin', op: t.text, a, b, column: t.column };
    }
  }

  private parseUnary(): Expr {
    const t = this.peek();
    if (t.kind === 'op' && (t.text === '-' || t.text === '+' || t.text === '~' || t.text === '!')) {
      this.pos++;
      const a = this.parseUnary();
      return t.text === '+' ? a : { t: 'un', op: t.text, a };
    }
    return this.parsePrimary();
  }

  private parsePrimary(): Expr {
    const t = this.peek();
    if (t.kind === 'number') {
      this.pos++;
      return { t: 'num', v: t.value ?? 0n };
    }
    if (t.kind === 'float') this.fail(t, 'a floating-point number is only allowed as a dd/dq/dt item');
    if (t.kind === 'string') {
      this.pos++;
      const bytes = stringBytes(t);
      if (bytes.length > 8) this.fail(t, 'a character constant holds at most 8 bytes');
      let v = 0n;
      for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i] ?? 0);
      return { t: 'num', v };
    }
    if (t.kind === 'op' && t.text === '(') {
      this.pos++;
      const e = this.parse();
      if (!this.at(')')) this.fail(this.peek(), "expected ')' to close the parenthesis");
      this.pos++;
      return e;
    }
    if (t.kind === 'op' && t.text === '$') {
      this.pos++;
      return { t: 'here' };
    }
    if (t.kind === 'op' && t.text === '$$') {
      this.pos++;
      return { t: 'base' };
    }
    if (t.kind === 'ident') {
      if (t.text.startsWith('$')) {
        this.pos++;
        return { t: 'sym', name: this.qualify(t.text.slice(1)), column: t.column };
      }
      const reg = lookupRegister(t.text);
      if (reg) {
        this.pos++;
        return { t: 'reg', reg, column: t.column };
      }
      if (isSizeWord(t.text))
        this.fail(t, `expected a value, found the keyword '${t.text}' (size keywords come first)`);
      this.pos++;
      return { t: 'sym', name: this.qualify(t.text), column: t.column };
    }
    if (t.kind === 'eol') this.fail(t, 'expected a value at the end of the line');
    this.fail(t, `expected a value, found '${t.text}'`);
  }
}

const MASK64 = (1n << 64n) - 1n;

function toSigned64(v: bigint): bigint {
  const m = v & MASK64;
  return m >= 1n << 63n ? m - (1n << 64n) : m;
}

function bool(b: boolean): bigint {
  return b ? 1n : 0n;
}

/** A sum of registers times factors plus a value: the shape of a memory operand. */
export interface Linear {
  /** Registers with their factor, in the order they were written. */
  readonly regs: { reg: Reg; factor: bigint; scaled: boolean; column: number }[];
  readonly disp: Value;
  /** Whether a displacement was written at all (`[ebx+0]` has one, `[ebx]` does not). */
  readonly hasDisp: boolean;
}

/** Evaluates expressions against a context. */
export class Evaluator {
  constructor(
    readonly ctx: EvalContext,
    readonly line: LineContext,
  ) {}

  private err(column: number, detail: string, value?: unknown): never {
    throw new AssemblerError(
      'bad-expression',
      { file: this.line.file, line: this.line.line, column },
      detail,
      value,
    );
  }

  /** Evaluates an expression that must not contain registers. */
  value(e: Expr, column: number): Value {
    switch (e.t) {
      case 'num':
        return { n: e.v, known: true, reloc: 0 };
      case 'here':
        return { n: this.ctx.here, known: true, reloc: 1 };
      case 'base':
        return { n: this.ctx.sectionStart, known: true, reloc: 1 };
      case 'sym': {
        const s = this.ctx.lookup(e.name);
        if (!s) {
          this.ctx.unknown(e.name, e.column);
          return { n: 0n, known: false, reloc: 1 };
        }
        return { n: s.value, known: true, reloc: s.reloc };
      }
      case 'reg':
        return this.err(
          e.column,
          `register '${e.reg.name}' is not allowed here (registers go inside [ ] for memory)`,
          e.reg.name,
        );
      case 'un': {
        const a = this.value(e.a, column);
        const reloc = a.reloc === 0 ? 0 : 99;
        if (e.op === '-') return { n: -a.n, known: a.known, reloc: a.reloc === 0 ? 0 : -a.reloc };
        if (e.op === '~') return { n: ~a.n, known: a.known, reloc };
        return { n: bool(a.n === 0n), known: a.known, reloc };
      }
      case 'bin': {
        const a = this.value(e.a, column);
        const b = this.value(e.b, column);
        return this.binary(e.op, a, b, e.column);
      }
    }
  }

  private binary(op: string, a: Value, b: Value, column: number): Value {
    const known = a.known && b.known;
    const other = a.reloc === 0 && b.reloc === 0 ? 0 : 99;
    const x = a.n;
    const y = b.n;
    switch (op) {
      case '+':
        return { n: x + y, known, reloc: a.reloc + b.reloc };
      case '-':
        return { n: x - y, known, reloc: a.reloc - b.reloc };
      case '*':
        return { n: x * y, known, reloc: other };
      case '/':
      case '%':
      case '//':
      case '%%': {
        if (y === 0n) {
          if (!known) return { n: 0n, known, reloc: other };
          this.err(column, 'division by zero', op);
        }
        if (op === '/' || op === '%') {
          const ux = x & MASK64;
          const uy = y & MASK64;
          return { n: op === '/' ? ux / uy : ux % uy, known, reloc: other };
        }
        const sx = toSigned64(x);
        const sy = toSigned64(y);
        return { n: op === '//' ? sx / sy : sx % sy, known, reloc: other };
      }
      case '<<':
      case '<<<':
        return { n: y >= 0n && y < 128n ? (x << y) & MASK64 : 0n, known, reloc: other };
      case '>>':
        return { n: y >= 0n && y < 128n ? (x & MASK64) >> y : 0n, known, reloc: other };
      case '>>>':
        return { n: y >= 0n && y < 128n ? toSigned64(x) >> y : 0n, known, reloc: other };
      case '&':
        return { n: x & y, known, reloc: other };
      case '|':
        return { n: x | y, known, reloc: other };
      case '^':
        return { n: x ^ y, known, reloc: other };
      case '&&':
        return { n: bool(x !== 0n && y !== 0n), known, reloc: other };
      case '||':
        return { n: bool(x !== 0n || y !== 0n), known, reloc: other };
      case '^^':
        return { n: bool((x !== 0n) !== (y !== 0n)), known, reloc: other };
      case '=':
      case '==':
        return { n: bool(x === y), known, reloc: other };
      case '!=':
      case '<>':
        return { n: bool(x !== y), known, reloc: other };
      case '<':
        return { n: bool(x < y), known, reloc: other };
      case '>':
        return { n: bool(x > y), known, reloc: other };
      case '<=':
        return { n: bool(x <= y), known, reloc: other };
      case '>=':
        return { n: bool(x >= y), known, reloc: other };
    }
    return this.err(column, `unknown operator '${op}'`, op);
  }

  /** Evaluates a memory-operand expression into registers times factors plus a displacement. */
  linear(e: Expr, column: number): Linear {
    const regs: Linear['regs'] = [];
    let disp: Value = { n: 0n, known: true, reloc: 0 };
    let hasDisp = false;
    const add = (reg: Reg, factor: bigint, scaled: boolean, col: number) => {
      const found = regs.find((r) => r.reg.id === reg.id);
      if (found) {
        found.factor += factor;
        found.scaled ||= scaled;
      } else regs.push({ reg, factor, scaled, column: col });
    };
    const walk = (x: Expr, sign: bigint) => {
      if (x.t === 'reg') {
        add(x.reg, sign, false, x.column);
        return;
      }
      if (x.t === 'bin' && (x.op === '+' || x.op === '-')) {
        walk(x.a, sign);
        walk(x.b, x.op === '-' ? -sign : sign);
        return;
      }
      if (x.t === 'un' && x.op === '-' && hasReg(x.a)) {
        walk(x.a, -sign);
        return;
      }
      if (x.t === 'bin' && x.op === '*' && (hasReg(x.a) || hasReg(x.b))) {
        const regSide = hasReg(x.a) ? x.a : x.b;
        const numSide = hasReg(x.a) ? x.b : x.a;
        if (hasReg(numSide)) this.err(x.column, 'registers cannot be multiplied by registers');
        const f = this.value(numSide, column);
        // An unknown factor (a forward `equ`) counts as 1 until it is known.
        const factor = f.known ? f.n : 1n;
        if (regSide.t !== 'reg') {
          const inner = this.linear(regSide, column);
          for (const r of inner.regs) add(r.reg, sign * factor * r.factor, true, r.column);
          if (inner.hasDisp) {
            hasDisp = true;
            const d = inner.disp;
            disp = {
              n: disp.n + sign * factor * d.n,
              known: disp.known && d.known && f.known,
              reloc: disp.reloc + (d.reloc === 0 ? 0 : 99),
            };
          }
          return;
        }
        add(regSide.reg, sign * factor, true, regSide.column);
        return;
      }
      if (hasReg(x)) {
        const col = x.t === 'bin' ? x.column : column;
        this.err(col, 'a register in a memory operand can only be added, subtracted or scaled');
      }
      const v = this.value(x, column);
      hasDisp = true;
      disp = {
        n: disp.n + sign * v.n,
        known: disp.known && v.known,
        reloc: disp.reloc + Number(sign) * v.reloc,
      };
    };
    walk(e, 1n);
    return { regs: regs.filter((r) => r.factor !== 0n), disp, hasDisp };
  }
}

/** Whether an expression mentions a register. */
export function hasReg(e: Expr): boolean {
  switch (e.t) {
    case 'reg':
      return true;
    case 'un':
      return hasReg(e.a);
    case 'bin':
      return hasReg(e.a) || hasReg(e.b);
    default:
      return false;
  }
}

/** Whether an expression mentions `$` (so its value changes with every `times` repetition). */
export function usesHere(e: Expr): boolean {
  switch (e.t) {
    case 'here':
      return true;
    case 'un':
      return usesHere(e.a);
    case 'bin':
      return usesHere(e.a) || usesHere(e.b);
    default:
      return false;
  }
}
