export { runBench, type Results, type BenchOptions } from './run.js';
export { rows, table, markdown } from './report.js';
export { summarize, percentile, type Summary } from './stats.js';
export { benchLookup, syntheticWorkloads } from './lookup.js';
