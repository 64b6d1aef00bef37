import { defineConfig, type Options } from 'tsup';

/**
 * The build every package shares: ESM with `.d.ts`, one entry per public subpath.
 * Workspace dependencies stay external, so each layer ships only its own code.
 */
export function packageBuild(entry: Record<string, string> | string[], extra: Options = {}) {
  return defineConfig({
    entry,
    format: ['esm'],
    target: 'node20',
    platform: 'neutral',
    sourcemap: true,
    clean: true,
    treeshake: true,
    splitting: true,
    dts: { compilerOptions: { ignoreDeprecations: '6.0', customConditions: [] } },
    ...extra,
  });
}
