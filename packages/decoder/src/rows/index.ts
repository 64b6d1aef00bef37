import { generalRows } from './general';
import type { Row } from './row';
import { simdRows } from './simd';
import { vexRows } from './vex';
import { x87Rows } from './x87';

/** Every instruction form the decoder knows, in table order. */
export const allRows: readonly Row[] = [...generalRows, ...x87Rows, ...simdRows, ...vexRows];

export type { Row } from './row';
