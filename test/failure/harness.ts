// What the failure-mode tests share, in one import: the size of a run, the cluster side
// (fleet.ts), the traffic (storm.ts) and what a test observes (observe.ts).

/**
 * `ONPUSH_FAILURE_SCALE=full` runs each test at full size (e.g. 2,000 pushes over
 * 200 workloads); the default is the CI size, a fifth of that or so, so the suite stays fast.
 */
export const FULL = process.env['ONPUSH_FAILURE_SCALE'] === 'full';
export const scaled = (ci: number, full: number): number => (FULL ? full : ci);

export * from './fleet.js';
export * from './storm.js';
export * from './observe.js';
export * from './suite.js';
export * from './cluster.js';
