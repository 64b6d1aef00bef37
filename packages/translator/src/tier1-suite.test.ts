/**
 * The tier-0 suites again, through tier 1: every harness processor created while these modules
 * load translates each address the first time it runs, so the same tests check the blocks.
 */
(globalThis as { RINGZERO_HARNESS_TIER?: number }).RINGZERO_HARNESS_TIER = 1;

await import('./tier0.test');
await import('./modes.test');
await import('./bcd.test');
await import('./x87.test');
await import('./mmx.test');
await import('./instructions/strings.test');
await import('./instructions/stack.test');
await import('./instructions/loops.test');
await import('./instructions/arith.test');
await import('./instructions/lock.test');
await import('./instructions/exceptions.test');
await import('./instructions/system.test');
await import('./instructions/modes16.test');
await import('./instructions/privilege.test');
await import('./instructions/descriptors.test');
await import('./instructions/fpu.test');

export {};
