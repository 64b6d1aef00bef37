import { AssemblerError } from './errors';
import { type Expr, type ExprParser, isSizeWord } from './expression';
import { lookupRegister, type Reg } from './registers';

/** Bytes named by each size keyword. */
export const SIZE_KEYWORDS: Readonly<Record<string, number>> = {
  byte: 1,
  word: 2,
  dword: 4,
  qword: 8,
  tword: 10,
  oword: 16,
  yword: 32,
  zword: 64,
};

/** Short/near/far on a branch target. */
export type JumpKind = 'short' | 'near' | 'far';

/** An operand as written, before its expressions are evaluated. */
export type OperandAst =
  | { readonly k: 'reg'; readonly reg: Reg; readonly size?: number; readonly column: number }
  | {
      readonly k: 'mem';
      /** Size keyword before the bracket, in bytes. */
      readonly size?: number;
      /** `far [mem]`: a far pointer in memory (JMP/CALL). */
      readonly far: boolean;
      readonly seg?: Reg;
      readonly expr?: Expr;
      /** `rel`/`abs` inside the brackets; undefined follows `default rel|abs`. */
      readonly rel?: boolean;
      /** Size keyword inside the brackets: the displacement (and address) size. */
      readonly dispSize?: number;
      readonly nosplit: boolean;
      readonly column: number;
    }
  | {
      readonly k: 'imm';
      readonly expr: Expr;
      readonly size?: number;
      readonly strict: boolean;
      readonly jump?: JumpKind;
      readonly column: number;
    }
  | {
      readonly k: 'far';
      readonly seg: Expr;
      readonly off: Expr;
      readonly size?: number;
      readonly column: number;
    };

function stRegister(p: ExprParser): Reg | undefined {
  // `st(3)` and `st` (= st0), besides NASM's `st3`.
  const t = p.peek();
  if (t.kind !== 'ident' || t.text.toLowerCase() !== 'st') return undefined;
  const next = p.tokens[p.pos + 1];
  if (next?.kind === 'op' && next.text === '(') {
    const num = p.tokens[p.pos + 2];
    const close = p.tokens[p.pos + 3];
    if (num?.kind !== 'number' || close?.kind !== 'op' || close.text !== ')' || (num.value ?? 8n) > 7n)
      p.fail(num ?? t, 'expected st(0) to st(7)');
    p.pos += 4;
    return lookupRegister(`st${num.value}`);
  }
  p.pos++;
  return lookupRegister('st0');
}

/** Parses one operand up to the next top-level comma or the end of the line. */
export function parseOperand(p: ExprParser): OperandAst {
  const first = p.peek();
  const column = first.column;
  let size: number | undefined;
  let strict = false;
  let jump: JumpKind | undefined;
  for (;;) {
    const t = p.peek();
    if (t.kind !== 'ident') break;
    const w = t.text.toLowerCase();
    if (!isSizeWord(w)) break;
    if (w === 'strict') strict = true;
    else if (w === 'short' || w === 'near' || w === 'far') {
      if (jump !== undefined) p.fail(t, `'${jump}' and '${w}' cannot both be given`);
      jump = w;
    } else if (SIZE_KEYWORDS[w] !== undefined) {
      if (size !== undefined) p.fail(t, 'only one size keyword is allowed per operand');
      size = SIZE_KEYWORDS[w];
    } else p.fail(t, `'${w}' is only allowed inside [ ]`);
    p.pos++;
  }
  const t = p.peek();
  // seg:[...] written outside the brackets.
  if (t.kind === 'ident') {
    const reg = lookupRegister(t.text);
    const next = p.tokens[p.pos + 1];
    const after = p.tokens[p.pos + 2];
    if (
      reg?.cls === 'seg' &&
      next?.kind === 'op' &&
      next.text === ':' &&
      after?.kind === 'op' &&
      after.text === '['
    ) {
      p.pos += 2;
      return parseMemory(p, size, jump, strict, column, reg);
    }
  }
  if (t.kind === 'op' && t.text === '[') return parseMemory(p, size, jump, strict, column, undefined);
  const st = stRegister(p);
  if (st) {
    endOperand(p);
    return { k: 'reg', reg: st, size, column };
  }
  if (t.kind === 'ident' && !t.text.startsWith('$')) {
    const reg = lookupRegister(t.text);
    const next = p.tokens[p.pos + 1];
    if (reg && (next?.kind === 'eol' || (next?.kind === 'op' && next.text === ','))) {
      if (jump === 'short') p.fail(t, "'short' needs a label or address, not a register");
      if (strict) p.fail(t, "'strict' applies to immediates, not registers");
      p.pos++;
      return { k: 'reg', reg, size, column };
    }
  }
  if (t.kind === 'eol' || (t.kind === 'op' && t.text === ',')) p.fail(t, 'expected an operand');
  const expr = p.parse();
  if (p.at(':')) {
    p.pos++;
    let offSize: number | undefined;
    const s = p.peek();
    if (s.kind === 'ident' && SIZE_KEYWORDS[s.text.toLowerCase()] !== undefined) {
      offSize = SIZE_KEYWORDS[s.text.toLowerCase()];
      p.pos++;
    }
    const off = p.parse();
    endOperand(p);
    if (size !== undefined && offSize !== undefined && size !== offSize)
      p.fail(s, 'conflicting size keywords on a far pointer');
    return { k: 'far', seg: expr, off, size: size ?? offSize, column };
  }
  endOperand(p);
  return { k: 'imm', expr, size, strict, jump, column };
}

function parseMemory(
  p: ExprParser,
  size: number | undefined,
  jump: JumpKind | undefined,
  strict: boolean,
  column: number,
  outerSeg: Reg | undefined,
): OperandAst {
  const open = p.peek();
  p.pos++; // [
  if (strict) p.fail(open, "'strict' applies to immediates, not memory operands");
  if (jump === 'short') p.fail(open, "'short' applies to branch targets, not memory operands");
  let rel: boolean | undefined;
  let dispSize: number | undefined;
  let nosplit = false;
  let seg = outerSeg;
  for (;;) {
    const t = p.peek();
    if (t.kind !== 'ident') break;
    const w = t.text.toLowerCase();
    if (w === 'rel' || w === 'abs') {
      rel = w === 'rel';
      p.pos++;
      continue;
    }
    if (w === 'nosplit') {
      nosplit = true;
      p.pos++;
      continue;
    }
    const s = SIZE_KEYWORDS[w];
    if (s !== undefined && s <= 8) {
      dispSize = s;
      p.pos++;
      continue;
    }
    const reg = lookupRegister(t.text);
    const next = p.tokens[p.pos + 1];
    if (reg?.cls === 'seg' && next?.kind === 'op' && next.text === ':') {
      if (seg) p.fail(t, 'only one segment override is allowed');
      seg = reg;
      p.pos += 2;
      continue;
    }
    break;
  }
  let expr: Expr | undefined;
  if (!p.at(']')) expr = p.parse();
  if (!p.at(']')) p.fail(p.peek(), "expected ']' to close the memory operand");
  p.pos++;
  if (expr === undefined) p.fail(open, 'expected an address inside [ ]');
  endOperand(p);
  return {
    k: 'mem',
    size,
    far: jump === 'far',
    seg,
    expr,
    rel,
    dispSize,
    nosplit,
    column,
  };
}

function endOperand(p: ExprParser): void {
  const t = p.peek();
  if (t.kind === 'eol' || (t.kind === 'op' && t.text === ',')) return;
  throw new AssemblerError(
    'syntax',
    p.where(t),
    `expected ',' or the end of the line after an operand, found '${t.text}'`,
    t.text,
  );
}

/** Parses a comma-separated operand list up to the end of the line. */
export function parseOperands(p: ExprParser): OperandAst[] {
  const ops: OperandAst[] = [];
  if (p.peek().kind === 'eol') return ops;
  for (;;) {
    ops.push(parseOperand(p));
    if (p.at(',')) {
      p.pos++;
      continue;
    }
    return ops;
  }
}
