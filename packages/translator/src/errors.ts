/** Codes of the translator's own errors (host-side misuse or bad snapshots, never guest faults). */
export type TranslatorErrorCode =
  | 'bad-snapshot'
  | 'bad-register'
  | 'bad-argument'
  | 'triple-fault'
  | 'unsupported';

/** An error raised by the translator package; `value` is the offending input. */
export class TranslatorError extends Error {
  readonly code: TranslatorErrorCode;
  readonly value: unknown;

  constructor(code: TranslatorErrorCode, message: string, value?: unknown) {
    super(message);
    this.name = 'TranslatorError';
    this.code = code;
    this.value = value;
  }
}
