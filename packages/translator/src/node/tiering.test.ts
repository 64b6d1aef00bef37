import { describe, expect, it } from 'vitest';
import { TranslatorError } from '../errors';
import { tuneWasmTiering, WASM_TIERING_BUDGET } from './tiering';

describe('tuneWasmTiering', () => {
  it('takes whole budgets from 1 to 2^31-1', () => {
    expect(() => tuneWasmTiering(1)).not.toThrow();
    expect(() => tuneWasmTiering(2 ** 31 - 1)).not.toThrow();
    // The project's tuning again for whatever else runs in this worker.
    expect(() => tuneWasmTiering()).not.toThrow();
    expect(WASM_TIERING_BUDGET).toBeGreaterThan(1_800_000);
  });

  it.each([0, -5, 1.5, Number.NaN, 2 ** 31])('refuses %s with a named error', (budget) => {
    expect(() => tuneWasmTiering(budget)).toThrow(TranslatorError);
    expect(() => tuneWasmTiering(budget)).toThrow(/tiering budget must be a whole number/);
  });
});
