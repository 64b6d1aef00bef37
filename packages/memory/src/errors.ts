/** What went wrong, as a stable code callers can branch on. */
export type MemoryErrorCode =
  | 'bad-size'
  | 'cannot-allocate'
  | 'bad-region'
  | 'overlap'
  | 'bad-length'
  | 'mmio-failed'
  | 'bad-snapshot';

/** The only error this package throws; `value` is the offending input. */
export class MemoryError extends Error {
  readonly code: MemoryErrorCode;
  readonly value: unknown;

  constructor(code: MemoryErrorCode, message: string, value: unknown) {
    super(message);
    this.name = 'MemoryError';
    this.code = code;
    this.value = value;
  }
}
