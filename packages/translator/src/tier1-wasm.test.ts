/**
 * Tier 1's own tests and its differential fuzzer again, with the translated side emitting
 * WebAssembly (`tier1-wasm.ts`) instead of JavaScript.
 */
(globalThis as { RINGZERO_TIER1_WASM?: boolean }).RINGZERO_TIER1_WASM = true;

await import('./tier1.test');

export {};
