import { defineConfig } from 'vitest/config';

/** Root config: `pnpm vitest` here runs every package's suite as one project each. */
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*'],
  },
});
