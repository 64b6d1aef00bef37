import { generalRows } from './general';
import type { Row } from './row';
import { x87Rows } from './x87';

/** Every instruction form the decoder knows, in table order. */
export const allRows: readonly Row[] = [...generalRows, ...x87Rows];

export type { Row } from './row';
