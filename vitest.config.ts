import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/setup/global-setup.ts'],
    // Each file gets its own database (tests/helpers/test-database.ts), so files run in parallel.
    pool: 'forks',
    // Most files wait on processes, sockets and PostgreSQL rather than on the CPU, so three at
    // a time on two cores: the suite took 491 s one file at a time (vitest's default here is
    // cores - 1 = 1), with 423 s of it the files' own time.
    maxWorkers: 3,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
