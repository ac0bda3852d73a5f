import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'src/**/*.test.ts',
      'scripts/**/*.test.ts',
      'test-vectors/**/*.test.ts',
      'bench/**/*.test.ts',
      'examples/**/*.test.ts',
    ],
    // sharp and better-sqlite3 are native: forks isolate them better than worker threads.
    pool: 'forks',
    testTimeout: 30_000,
  },
});
