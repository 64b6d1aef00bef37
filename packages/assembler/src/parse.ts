import { AssemblerError } from './errors';
import { type Expr, ExprParser } from './expression';
import { type LineContext, stringBytes, type Token, tokenize } from './lexer';
import { lookupMnemonic, PREFIX_WORDS } from './mnemonics';
import { type OperandAst, parseOperands } from './operands';
import { lookupRegister } from './registers';

/** One item of a `db`/`dw`/... list. */
export type DataItem =
  | { readonly t: 'expr'; readonly e: Expr; readonly column: number }
  | { readonly t: 'str'; readonly bytes: Uint8Array }
  | { readonly t: 'float'; readonly v: number; readonly column: number }
  | { readonly t: 'uninit' };

interface At {
  /** Source line, from 1. */
  readonly line: number;
  readonly column: number;
}

/** One statement; a source line holds zero or more (a label and an instruction, say). */
export type Stmt = At &
  (
    | { readonly k: 'label'; readonly name: string }
    | { readonly k: 'equ'; readonly name: string; readonly expr: Expr }
    | {
        readonly k: 'ins';
        readonly prefixes: readonly { word: string; column: number }[];
        readonly mnemonic: string;
        readonly ops: readonly OperandAst[];
        readonly times?: Expr;
      }
    | {
        readonly k: 'data';
        readonly unit: number;
        readonly items: readonly DataItem[];
        readonly times?: Expr;
      }
    | { readonly k: 'res'; readonly unit: number; readonly count: Expr; readonly times?: Expr }
    | { readonly k: 'bits'; readonly bits: 16 | 32 | 64 }
    | { readonly k: 'org'; readonly expr: Expr }
    | {
        readonly k: 'align';
        readonly n: Expr;
        /** `nop` (NASM's default), zero bytes (`alignb`), or a data directive's bytes. */
        readonly fill: 'nop' | 'zero' | { unit: number; items: readonly DataItem[] };
      }
    | { readonly k: 'default'; readonly rel: boolean }
    | { readonly k: 'section'; readonly name: string; readonly align?: Expr; readonly nobits?: boolean }
  );

export const DATA_UNITS: Readonly<Record<string, number>> = {
  db: 1,
  dw: 2,
  dd: 4,
  dq: 8,
  dt: 10,
  do: 16,
  dy: 32,
  dz: 64,
};

export const RES_UNITS: Readonly<Record<string, number>> = {
  resb: 1,
  resw: 2,
  resd: 4,
  resq: 8,
  rest: 10,
  reso: 16,
  resy: 32,
  resz: 64,
};

const DIRECTIVES = new Set([
  'bits',
  'use16',
  'use32',
  'use64',
  'org',
  'align',
  'alignb',
  'section',
  'segment',
  'default',
  'global',
  'extern',
  'common',
  'static',
  'cpu',
  'incbin',
  'absolute',
  'equ',
  'times',
  'struc',
  'endstruc',
  'istruc',
  'iend',
  'at',
]);

/** Whether a word is a keyword of the line grammar (so a bare identifier is not a label). */
function isKeyword(w: string): boolean {
  const l = w.toLowerCase();
  return (
    DIRECTIVES.has(l) ||
    DATA_UNITS[l] !== undefined ||
    RES_UNITS[l] !== undefined ||
    PREFIX_WORDS.has(l) ||
    lookupMnemonic(l) !== undefined
  );
}

/** Parses a whole source text into statements. Throws `AssemblerError` at the first error. */
export class SourceParser {
  private lastGlobal = '';
  private readonly defined = new Map<string, number>();
  readonly stmts: Stmt[] = [];

  constructor(readonly file: string) {}

  private qualify = (name: string): string =>
    name.startsWith('.') && !name.startsWith('..') ? `${this.lastGlobal}${name}` : name;

  private fail(ctx: LineContext, column: number, detail: string, value?: unknown): never {
    throw new AssemblerError('syntax', { file: ctx.file, line: ctx.line, column }, detail, value);
  }

  private define(ctx: LineContext, t: Token): string {
    const raw = t.text.startsWith('$') ? t.text.slice(1) : t.text;
    if (!t.text.startsWith('$') && lookupRegister(raw))
      this.fail(ctx, t.column, `'${raw}' is a register and cannot be a label`, raw);
    const name = this.qualify(raw);
    const prev = this.defined.get(name);
    if (prev !== undefined)
      throw new AssemblerError(
        'redefined-symbol',
        { file: ctx.file, line: ctx.line, column: t.column },
        `symbol '${name}' is already defined on line ${prev}`,
        name,
      );
    this.defined.set(name, ctx.line);
    return name;
  }

  parseLine(text: string, line: number): void {
    const ctx: LineContext = { file: this.file, line };
    const trimmed = text.trimStart();
    if (trimmed.startsWith('%'))
      this.fail(
        ctx,
        text.length - trimmed.length + 1,
        'preprocessor directives (%define, %macro, ...) are not supported',
      );
    let tokens = tokenize(text, ctx);
    // [bits 32], [org 0x7c00], [section .text]: the bracketed (primitive) directive forms.
    const t0 = tokens[0];
    const t1 = tokens[1];
    if (
      t0?.kind === 'op' &&
      t0.text === '[' &&
      t1?.kind === 'ident' &&
      DIRECTIVES.has(t1.text.toLowerCase())
    ) {
      const close = tokens.findIndex((t) => t.kind === 'op' && t.text === ']');
      const last = tokens[tokens.length - 2];
      if (close < 0 || close !== tokens.length - 2 || !last)
        this.fail(ctx, t0.column, "expected ']' at the end of a bracketed directive");
      tokens = [...tokens.slice(1, close), tokens[tokens.length - 1] as Token];
    }
    const p = new ExprParser(tokens, ctx, this.qualify);
    const stmtAt = (column: number) => ({ line, column });
    let labelTok: Token | undefined;

    // Label: `name:`, or `name` before equ / data / res / times.
    const a = p.peek();
    const b = tokens[1];
    if (a.kind === 'ident' && b?.kind === 'op' && b.text === ':') {
      labelTok = a;
      p.pos = 2;
    } else if (
      a.kind === 'ident' &&
      b?.kind === 'ident' &&
      !isKeyword(a.text) &&
      !lookupRegister(a.text) &&
      (b.text.toLowerCase() === 'equ' ||
        DATA_UNITS[b.text.toLowerCase()] !== undefined ||
        RES_UNITS[b.text.toLowerCase()] !== undefined ||
        b.text.toLowerCase() === 'times')
    ) {
      labelTok = a;
      p.pos = 1;
    }
    const next = p.peek();
    if (labelTok && next.kind === 'ident' && next.text.toLowerCase() === 'equ') {
      p.pos++;
      const name = this.define(ctx, labelTok);
      const expr = p.parse();
      this.expectEnd(p);
      this.stmts.push({ k: 'equ', name, expr, ...stmtAt(labelTok.column) });
      return;
    }
    if (labelTok) {
      const name = this.define(ctx, labelTok);
      const raw = labelTok.text.startsWith('$') ? labelTok.text.slice(1) : labelTok.text;
      if (!raw.startsWith('.')) this.lastGlobal = name;
      this.stmts.push({ k: 'label', name, ...stmtAt(labelTok.column) });
    }
    if (p.peek().kind === 'eol') return;
    this.parseBody(p, ctx, undefined);
  }

  private expectEnd(p: ExprParser): void {
    const t = p.peek();
    if (t.kind !== 'eol') p.fail(t, `expected the end of the line, found '${t.text}'`);
  }

  private parseBody(p: ExprParser, ctx: LineContext, times: Expr | undefined): void {
    const t = p.peek();
    if (t.kind !== 'ident') {
      if (t.kind === 'op' && t.text === ':') p.fail(t, 'expected a label name before the colon');
      p.fail(t, `expected an instruction, directive or label, found '${t.text}'`);
    }
    const word = t.text.toLowerCase();
    const at = { line: ctx.line, column: t.column };
    if (word === 'times') {
      if (times) p.fail(t, "'times' cannot be nested");
      p.pos++;
      const count = p.parse();
      if (p.peek().kind === 'eol')
        p.fail(p.peek(), "expected an instruction or data after the 'times' count");
      this.parseBody(p, ctx, count);
      return;
    }
    const unit = DATA_UNITS[word];
    if (unit !== undefined) {
      p.pos++;
      const items = this.parseData(p, unit);
      this.stmts.push({ k: 'data', unit, items, times, ...at });
      return;
    }
    const res = RES_UNITS[word];
    if (res !== undefined) {
      p.pos++;
      const count = p.parse();
      this.expectEnd(p);
      this.stmts.push({ k: 'res', unit: res, count, times, ...at });
      return;
    }
    if (DIRECTIVES.has(word) && lookupMnemonic(word) === undefined) {
      if (times) p.fail(t, `'times' cannot repeat the directive '${word}'`);
      this.parseDirective(p, ctx, word, at);
      return;
    }
    // Prefix words, then the mnemonic.
    const prefixes: { word: string; column: number }[] = [];
    for (;;) {
      const w = p.peek();
      if (w.kind !== 'ident') break;
      const lw = w.text.toLowerCase();
      if (!PREFIX_WORDS.has(lw)) break;
      const after = p.tokens[p.pos + 1];
      // A segment register name is a prefix only when an instruction follows it.
      if (lookupRegister(lw) && after?.kind !== 'ident') break;
      prefixes.push({ word: lw, column: w.column });
      p.pos++;
    }
    const m = p.peek();
    if (m.kind === 'eol') {
      if (prefixes.length > 0) p.fail(m, 'expected an instruction after the prefix');
      return;
    }
    if (m.kind !== 'ident') p.fail(m, `expected an instruction, found '${m.text}'`);
    const mnemonic = m.text.toLowerCase();
    if (lookupMnemonic(mnemonic) === undefined) {
      const next = p.tokens[p.pos + 1];
      if (next?.kind === 'eol' && prefixes.length === 0 && !times)
        throw new AssemblerError(
          'unknown-mnemonic',
          { file: ctx.file, line: ctx.line, column: m.column },
          `unknown mnemonic '${m.text}' (a label needs a colon: '${m.text}:')`,
          m.text,
        );
      throw new AssemblerError(
        'unknown-mnemonic',
        { file: ctx.file, line: ctx.line, column: m.column },
        `unknown mnemonic '${m.text}'`,
        m.text,
      );
    }
    p.pos++;
    const ops = parseOperands(p);
    this.stmts.push({ k: 'ins', prefixes, mnemonic, ops, times, line: ctx.line, column: m.column });
  }

  private parseData(p: ExprParser, unit: number): DataItem[] {
    const items: DataItem[] = [];
    if (p.peek().kind === 'eol') p.fail(p.peek(), 'expected at least one value after the data directive');
    for (;;) {
      const t = p.peek();
      const after = p.tokens[p.pos + 1];
      const ends = (x: Token | undefined) => x?.kind === 'eol' || (x?.kind === 'op' && x.text === ',');
      if (t.kind === 'string' && ends(after)) {
        items.push({ t: 'str', bytes: stringBytes(t) });
        p.pos++;
      } else if (t.kind === 'op' && t.text === '?' && ends(after)) {
        items.push({ t: 'uninit' });
        p.pos++;
      } else if (t.kind === 'float' && ends(after)) {
        items.push({ t: 'float', v: t.float ?? 0, column: t.column });
        p.pos++;
      } else if (
        t.kind === 'op' &&
        (t.text === '-' || t.text === '+') &&
        after?.kind === 'float' &&
        ends(p.tokens[p.pos + 2])
      ) {
        items.push({ t: 'float', v: (t.text === '-' ? -1 : 1) * (after.float ?? 0), column: t.column });
        p.pos += 2;
      } else {
        const column = t.column;
        items.push({ t: 'expr', e: p.parse(), column });
      }
      if (p.at(',')) {
        p.pos++;
        continue;
      }
      this.expectEnd(p);
      if (unit === 10 && items.some((i) => i.t === 'expr'))
        p.fail(t, 'dt takes floating-point values or strings');
      return items;
    }
  }

  private parseDirective(p: ExprParser, ctx: LineContext, word: string, at: At): void {
    const t = p.peek();
    p.pos++;
    const bad = (detail: string): never => {
      throw new AssemblerError(
        'bad-directive',
        { file: ctx.file, line: ctx.line, column: t.column },
        detail,
        word,
      );
    };
    switch (word) {
      case 'bits': {
        const v = p.peek();
        if (v.kind !== 'number' || ![16n, 32n, 64n].includes(v.value ?? 0n))
          bad('expected bits 16, 32 or 64');
        p.pos++;
        this.expectEnd(p);
        this.stmts.push({ k: 'bits', bits: Number(v.value) as 16 | 32 | 64, ...at });
        return;
      }
      case 'use16':
      case 'use32':
      case 'use64':
        this.expectEnd(p);
        this.stmts.push({ k: 'bits', bits: Number(word.slice(3)) as 16 | 32 | 64, ...at });
        return;
      case 'org': {
        const expr = p.parse();
        this.expectEnd(p);
        this.stmts.push({ k: 'org', expr, ...at });
        return;
      }
      case 'align':
      case 'alignb': {
        const n = p.parse();
        let fill: 'nop' | 'zero' | { unit: number; items: DataItem[] } = word === 'align' ? 'nop' : 'zero';
        if (p.at(',')) {
          p.pos++;
          const f = p.peek();
          const fw = f.kind === 'ident' ? f.text.toLowerCase() : '';
          const unit = DATA_UNITS[fw];
          if (fw === 'nop') {
            p.pos++;
            fill = 'nop';
          } else if (unit !== undefined) {
            p.pos++;
            fill = { unit, items: this.parseData(p, unit) };
          } else if (RES_UNITS[fw] !== undefined) {
            p.pos++;
            p.parse();
            fill = 'zero';
          } else bad('expected nop, db ... or resb ... as the fill of align');
        }
        this.expectEnd(p);
        this.stmts.push({ k: 'align', n, fill, ...at });
        return;
      }
      case 'default': {
        const v = p.peek();
        const w = v.kind === 'ident' ? v.text.toLowerCase() : '';
        if (w !== 'rel' && w !== 'abs') bad('expected default rel or default abs');
        p.pos++;
        this.expectEnd(p);
        this.stmts.push({ k: 'default', rel: w === 'rel', ...at });
        return;
      }
      case 'section':
      case 'segment': {
        const v = p.peek();
        if (v.kind !== 'ident') bad('expected a section name');
        p.pos++;
        let align: Expr | undefined;
        let nobits: boolean | undefined;
        while (p.peek().kind !== 'eol') {
          const a = p.peek();
          const aw = a.kind === 'ident' ? a.text.toLowerCase() : '';
          if (aw === 'align' && p.tokens[p.pos + 1]?.text === '=') {
            p.pos += 2;
            align = p.parse();
          } else if (aw === 'nobits' || aw === 'progbits') {
            nobits = aw === 'nobits';
            p.pos++;
          } else bad(`section attribute '${a.text}' is not supported (align=, progbits, nobits are)`);
        }
        this.stmts.push({ k: 'section', name: v.text, align, nobits, ...at });
        return;
      }
      case 'global':
      case 'static':
      case 'cpu':
        // Meaningless in a flat binary (global, static) or not checked (cpu): accepted and ignored.
        while (p.peek().kind !== 'eol') p.pos++;
        return;
      case 'extern':
      case 'common':
        bad(`'${word}' needs an object file format; this assembler writes flat binaries`);
        return;
      case 'incbin':
        bad("'incbin' is not supported (the assembler reads no files)");
        return;
      default:
        bad(`the directive '${word}' is not supported`);
    }
  }
}
