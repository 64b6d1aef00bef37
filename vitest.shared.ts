import { defineConfig } from 'vitest/config';

/** Test settings every package shares: sources resolved through the `@ringzero/source` condition. */
export function packageTests(name: string, extra: { testTimeout?: number; include?: string[] } = {}) {
  return defineConfig({
    resolve: { conditions: ['@ringzero/source'] },
    test: {
      name,
      include: extra.include ?? ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: extra.testTimeout ?? 20_000,
      pool: 'threads',
    },
  });
}
