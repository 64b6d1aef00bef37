/** Exception vectors (SDM vol. 3 §6.3.1, table 6-1). */
export const Vector = {
  de: 0,
  db: 1,
  nmi: 2,
  bp: 3,
  of: 4,
  br: 5,
  ud: 6,
  nm: 7,
  df: 8,
  ts: 10,
  np: 11,
  ss: 12,
  gp: 13,
  pf: 14,
  mf: 16,
  ac: 17,
  mc: 18,
  xm: 19,
} as const;
export type Vector = (typeof Vector)[keyof typeof Vector];

/** Vectors that push an error code (SDM vol. 3 §6.13). */
export function hasErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17;
}

/**
 * A guest exception raised while executing an instruction. Tier 0 throws one preallocated
 * instance (so raising a fault does not allocate) and catches it at the instruction boundary,
 * where the state is still the one before the instruction.
 */
export class GuestFault {
  vector = 0;
  /** Error code, or -1 when the vector has none. */
  errorCode = -1;
}

/** The single fault object thrown by tier 0 and the MMU. */
export const FAULT = new GuestFault();

/** Raises a guest exception (never returns). */
export function raise(vector: number, errorCode = -1): never {
  FAULT.vector = vector;
  FAULT.errorCode = hasErrorCode(vector) ? Math.max(errorCode, 0) >>> 0 : -1;
  throw FAULT;
}
