import { AssemblerError } from './errors';

/** Kinds of token on one source line. */
export type TokenKind = 'ident' | 'number' | 'float' | 'string' | 'op' | 'eol';

export interface Token {
  readonly kind: TokenKind;
  /** The source text of the token (for strings, without quotes or escapes applied). */
  readonly text: string;
  /** Column of the first character, from 1. */
  readonly column: number;
  /** Integer value of a number token. */
  readonly value?: bigint;
  /** Value of a floating-point token. */
  readonly float?: number;
  /** Bytes of a string token, escapes applied (backquoted strings only). */
  readonly bytes?: Uint8Array;
}

/** The line being tokenised, for error positions. */
export interface LineContext {
  readonly file: string;
  readonly line: number;
}

const OPERATORS3 = ['<<<', '>>>'];
const OPERATORS2 = ['<<', '>>', '//', '%%', '<=', '>=', '==', '!=', '<>', '&&', '||', '^^', '$$'];
const OPERATORS1 = '+-*/%&|^~!()[],:=<>?{}';

function isIdentStart(c: string): boolean {
  return /[A-Za-z_.?@]/.test(c);
}

function isIdentPart(c: string): boolean {
  return /[A-Za-z0-9_.?@$#~]/.test(c);
}

/** NASM integer literal shapes: pattern and radix prefix for BigInt. */
const INTEGER_FORMS: readonly (readonly [RegExp, string])[] = [
  [/^(?:0x|0h|\$(?=[0-9]))([0-9a-f]+)$/, '0x'],
  [/^([0-9][0-9a-f]*)[hx]$/, '0x'],
  [/^0[by]([01]+)$/, '0b'],
  [/^([01]+)[by]$/, '0b'],
  [/^0[oq]([0-7]+)$/, '0o'],
  [/^([0-7]+)[oq]$/, '0o'],
  [/^0[dt]([0-9]+)$/, ''],
  [/^([0-9]+)[dt]?$/, ''],
];

/** Parses a NASM integer literal (`0x1f`, `1fh`, `$1f`, `0b101`, `101b`, `17o`, `0q17`, `99d`). */
export function parseInteger(text: string): bigint | undefined {
  const t = text.replace(/_/g, '').toLowerCase();
  for (const [re, radix] of INTEGER_FORMS) {
    const m = re.exec(t);
    if (m) return BigInt(`${radix}${m[1] ?? '0'}`);
  }
  return undefined;
}

const ESCAPES: Record<string, number> = {
  n: 10,
  t: 9,
  r: 13,
  '0': 0,
  a: 7,
  b: 8,
  f: 12,
  v: 11,
  e: 27,
  '\\': 92,
  "'": 39,
  '"': 34,
  '`': 96,
  '?': 63,
};

function utf8(text: string): number[] {
  return [...new TextEncoder().encode(text)];
}

/** Splits one line into tokens; a `;` starts a comment. Throws `AssemblerError('syntax')`. */
export function tokenize(src: string, ctx: LineContext): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = src.length;
  const fail = (col: number, detail: string, value?: unknown): never => {
    throw new AssemblerError('syntax', { file: ctx.file, line: ctx.line, column: col }, detail, value);
  };
  while (i < n) {
    const c = src[i] ?? '';
    if (c === ';') break;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
      i++;
      continue;
    }
    const col = i + 1;
    // Strings: '...' and "..." are taken literally, `...` applies C-style escapes.
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      const bytes: number[] = [];
      let closed = false;
      while (j < n) {
        const d = src[j] ?? '';
        if (d === c) {
          closed = true;
          j++;
          break;
        }
        if (c === '`' && d === '\\') {
          const e = src[j + 1] ?? '';
          if (e === 'x' || e === 'X') {
            const hex = /^[0-9a-fA-F]{1,2}/.exec(src.slice(j + 2));
            if (!hex) fail(j + 1, 'expected hex digits after \\x in a string');
            bytes.push(Number.parseInt(hex?.[0] ?? '0', 16));
            j += 2 + (hex?.[0].length ?? 0);
            continue;
          }
          if (e === 'u' || e === 'U') {
            const len = e === 'u' ? 4 : 8;
            const hex = new RegExp(`^[0-9a-fA-F]{${len}}`).exec(src.slice(j + 2));
            if (!hex) fail(j + 1, `expected ${len} hex digits after \\${e} in a string`);
            const cp = Number.parseInt(hex?.[0] ?? '0', 16);
            if (cp > 0x10ffff) fail(j + 1, 'code point out of range in a string escape', cp);
            bytes.push(...utf8(String.fromCodePoint(cp)));
            j += 2 + len;
            continue;
          }
          const oct = /^[0-7]{1,3}/.exec(src.slice(j + 1));
          if (oct) {
            bytes.push(Number.parseInt(oct[0], 8) & 0xff);
            j += 1 + oct[0].length;
            continue;
          }
          const v = ESCAPES[e];
          if (v === undefined) fail(j + 1, `unknown escape \\${e} in a string`, e);
          bytes.push(v ?? 0);
          j += 2;
          continue;
        }
        const cp = src.codePointAt(j) ?? 0;
        const ch = String.fromCodePoint(cp);
        bytes.push(...utf8(ch));
        j += ch.length;
      }
      if (!closed) fail(col, `expected a closing ${c} to end the string`);
      out.push({ kind: 'string', text: src.slice(i + 1, j - 1), column: col, bytes: new Uint8Array(bytes) });
      i = j;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '$' && /[0-9]/.test(src[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < n) {
        const d = src[j] ?? '';
        if (/[0-9A-Za-z_.]/.test(d)) {
          j++;
          continue;
        }
        // An exponent sign: 1.5e+3.
        if ((d === '+' || d === '-') && /[eE]/.test(src[j - 1] ?? '') && /\./.test(src.slice(i, j))) {
          j++;
          continue;
        }
        break;
      }
      const text = src.slice(i, j);
      const value = parseInteger(text);
      if (value !== undefined) {
        out.push({ kind: 'number', text, column: col, value });
      } else if (/^[0-9][0-9_]*\.[0-9_]*(e[+-]?[0-9]+)?$/i.test(text) || /^[0-9]+e[+-]?[0-9]+$/i.test(text)) {
        out.push({ kind: 'float', text, column: col, float: Number(text.replace(/_/g, '')) });
      } else {
        fail(col, `expected a number, found '${text}'`, text);
      }
      i = j;
      continue;
    }
    if (isIdentStart(c) || (c === '$' && isIdentStart(src[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < n && isIdentPart(src[j] ?? '')) j++;
      // `$name` is the symbol `name` even when `name` is a keyword.
      out.push({ kind: 'ident', text: src.slice(i, j), column: col });
      i = j;
      continue;
    }
    const three = src.slice(i, i + 3);
    if (OPERATORS3.includes(three)) {
      out.push({ kind: 'op', text: three, column: col });
      i += 3;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (OPERATORS2.includes(two)) {
      out.push({ kind: 'op', text: two, column: col });
      i += 2;
      continue;
    }
    if (c === '$' || OPERATORS1.includes(c)) {
      out.push({ kind: 'op', text: c, column: col });
      i++;
      continue;
    }
    fail(col, `unexpected character '${c}'`, c);
  }
  out.push({ kind: 'eol', text: '', column: n + 1 });
  return out;
}

/** Bytes of a string token: literal quotes are UTF-8 encoded, backquotes have escapes applied. */
export function stringBytes(t: Token): Uint8Array {
  return t.bytes ?? new Uint8Array(utf8(t.text));
}
