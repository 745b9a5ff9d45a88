import { defineConfig } from 'vitest/config';

// Packages export their TypeScript source under the `onpush-source` condition, so tests run
// against src/ without a build; processes spawned by end-to-end tests run the compiled dist/.
const resolve = { conditions: ['onpush-source'] };

export default defineConfig({
  resolve,
  test: {
    // The JSON report is what .ci/run counts for its last line.
    reporters: ['default', ['json', { outputFile: '.vitest-reports/results.json' }]],
    projects: [
      {
        resolve,
        test: {
          name: 'unit',
          include: ['{shared,services,cli}/*/src/**/*.test.ts', 'cli/src/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        resolve,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/security/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          globalSetup: ['test/global-setup.ts'],
        },
      },
      {
        resolve,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          exclude: ['test/e2e/bench-smoke.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 240_000,
          fileParallelism: false,
          globalSetup: ['test/global-setup.ts'],
        },
      },
      {
        resolve,
        // The failure modes of docs/reliability.md: crashes, broker and API server restarts, API
        // faults, hostile input. Real processes and servers; CI size by default,
        // ONPUSH_FAILURE_SCALE=full for the full size (then allow the longer timeouts below to be
        // hit only by real hangs).
        test: {
          name: 'failure',
          include: ['test/failure/**/*.test.ts'],
          exclude: ['test/failure/cluster-*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          fileParallelism: false,
          globalSetup: ['test/global-setup.ts'],
        },
      },
      {
        resolve,
        // A three-node JetStream cluster losing a node, a link, an upgrade: each asserts that the
        // pipeline keeps restarting within seconds of the fault, which three nats-servers, ten
        // service processes and an API server can only show on two cores when the other projects
        // are not running beside them — so these run last, on their own.
        test: {
          name: 'failure-cluster',
          include: ['test/failure/cluster-*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          fileParallelism: false,
          globalSetup: ['test/global-setup.ts'],
          sequence: { groupOrder: 2 },
        },
      },
      {
        resolve,
        // The benchmark's smoke run counts API calls per push, which depend on the machine not
        // being busy with the other projects (they run side by side): it runs after all of them.
        test: {
          name: 'bench-smoke',
          include: ['test/e2e/bench-smoke.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 240_000,
          globalSetup: ['test/global-setup.ts'],
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
