import { defineConfig } from 'vitest/config';

/** Test settings every package shares: sources resolved through the `@ringzero/source` condition. */
export function packageTests(name: string, extra: { testTimeout?: number; include?: string[] } = {}) {
  return defineConfig({
    // Workspace packages resolve to their sources (the `@ringzero/source` export condition), so a
    // package's tests never depend on another package's build output.
    resolve: { conditions: ['@ringzero/source', 'module', 'node', 'import', 'default'] },
    ssr: { resolve: { conditions: ['@ringzero/source', 'node', 'import', 'default'] } },
    test: {
      name,
      include: extra.include ?? ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: extra.testTimeout ?? 20_000,
      hookTimeout: Math.max(extra.testTimeout ?? 0, 10_000),
      pool: 'threads',
    },
  });
}
