import { setFlagsFromString } from 'node:v8';
import { TranslatorError } from '../errors';

/**
 * V8's budget for moving a WebAssembly function from its baseline code (Liftoff) to optimised
 * code (TurboFan), roughly in bytes of code executed. V8's default (1.8 M) optimises most of tier
 * 1's regions soon after they appear; on the Linux boot's initialisation that optimising costs
 * more than it returns (most regions run a few thousand times), while the decompressor's few hot
 * regions still reach it within milliseconds at a higher budget. Measured on the boot to the
 * prompt (probe runs, same instruction count): initialisation 6.24–6.40 s at the default,
 * 5.95–5.99 s at 30 M.
 */
export const WASM_TIERING_BUDGET = 30_000_000;

/**
 * Sets V8's WebAssembly tiering budget for this process (`--wasm-tiering-budget`). A process-wide
 * setting, so applications choose it (the CLI and the bench do, before creating a machine);
 * modules instantiated earlier keep the budget they started with.
 */
export function tuneWasmTiering(budget: number = WASM_TIERING_BUDGET): void {
  if (!Number.isInteger(budget) || budget < 1 || budget > 2 ** 31 - 1) {
    throw new TranslatorError(
      'bad-argument',
      `WebAssembly tiering budget must be a whole number from 1 to 2^31-1 (got ${budget})`,
      budget,
    );
  }
  setFlagsFromString(`--wasm-tiering-budget=${budget}`);
}
