/**
 * Loads the tier-0 suites (their `describe` blocks register with vitest), for the files that
 * run them again through tier 1 after setting `RINGZERO_HARNESS_TIER`.
 */
export async function loadTier0Suites(): Promise<void> {
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
}
