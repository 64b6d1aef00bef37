/**
 * The tier-0 suites again, through tier 1: every harness processor created while these modules
 * load translates each address the first time it runs, so the same tests check the blocks.
 */
(globalThis as { RINGZERO_HARNESS_TIER?: number }).RINGZERO_HARNESS_TIER = 1;

const { loadTier0Suites } = await import('./tier0-suites');
await loadTier0Suites();

export {};
