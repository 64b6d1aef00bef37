/**
 * The tier-0 suites again, through tier 1's WebAssembly back end: every harness processor created
 * while these modules load keeps its RAM and registers in an arena and translates each address
 * the first time it runs, so the same tests check the WebAssembly regions.
 */
(globalThis as { RINGZERO_HARNESS_TIER?: number }).RINGZERO_HARNESS_TIER = 2;

const { loadTier0Suites } = await import('./tier0-suites');
await loadTier0Suites();

export {};
