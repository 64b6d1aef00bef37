/** What went wrong, as a stable code callers can branch on. */
export type AssemblerErrorCode =
  /** The line does not parse: a token is missing or out of place. */
  | 'syntax'
  /** The mnemonic is not an instruction the decoder's tables know. */
  | 'unknown-mnemonic'
  /** No form of the mnemonic takes these operands (or not in this mode). */
  | 'invalid-operands'
  /** A memory operand needs a size keyword to choose among forms. */
  | 'size-unspecified'
  /** A value does not fit the field it is encoded in (immediate, displacement, branch). */
  | 'out-of-range'
  /** A symbol is used but never defined. */
  | 'undefined-symbol'
  /** A label or `equ` name is defined twice. */
  | 'redefined-symbol'
  /** A register, prefix or form that does not exist in the current `bits` mode. */
  | 'invalid-in-mode'
  /** A prefix the instruction does not accept (LOCK without a lockable memory destination, ...). */
  | 'bad-prefix'
  /** A directive with a missing or bad argument. */
  | 'bad-directive'
  /** An expression that cannot be evaluated (division by zero, registers outside brackets). */
  | 'bad-expression'
  /** A memory operand that no addressing form can express. */
  | 'bad-address'
  /** Label addresses did not settle after the maximum number of passes. */
  | 'no-convergence'
  /** The output would exceed the size limit. */
  | 'too-large';

/** Where in the source an error is. Lines and columns count from 1. */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/**
 * The only error `assemble` throws. `message` reads `file:line:column: detail`; `detail` says
 * what was expected, and `value` is the offending text or number.
 */
export class AssemblerError extends Error {
  readonly code: AssemblerErrorCode;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly detail: string;
  readonly value: unknown;

  constructor(code: AssemblerErrorCode, at: SourcePosition, detail: string, value?: unknown) {
    super(`${at.file}:${at.line}:${at.column}: ${detail}`);
    this.name = 'AssemblerError';
    this.code = code;
    this.file = at.file;
    this.line = at.line;
    this.column = at.column;
    this.detail = detail;
    this.value = value;
  }
}
