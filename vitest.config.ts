import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests spawn the CLI and restic; two cores, so keep file parallelism modest.
    maxWorkers: 2,
    pool: 'forks',
  },
});
