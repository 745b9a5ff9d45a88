import {
  ImageIndex,
  SHARD_LIMIT_BYTES,
  splitShards,
  type IndexedWorkload,
} from '@onpush/image-index';
import { round, summarize, type Summary } from './stats.js';

export interface LookupResult {
  workloads: number;
  containers: number;
  buildMs: number;
  lookupUs: Summary;
  heapMiB: number;
  snapshotBytes: number;
  shards: number;
}

/** A cluster-like population: images shared by several workloads, sidecars, some pinned by digest. */
export function syntheticWorkloads(count: number, containersPer: number): IndexedWorkload[] {
  const workloads: IndexedWorkload[] = [];
  for (let i = 0; i < count; i += 1) {
    const containers = Array.from({ length: containersPer }, (_, c) => ({
      name: `c${c}`,
      image:
        c === 0
          ? `europe-docker.pkg.dev/p/team-${i % 50}/app-${i % 2_000}:${1 + (i % 7)}.0`
          : c % 4 === 3
            ? `ghcr.io/org/sidecar-${c}@sha256:${(i * 31 + c).toString(16).padStart(64, '0')}`
            : `docker.io/library/sidecar-${c}:1.${i % 3}`,
    }));
    workloads.push({ kind: 'Deployment', namespace: `ns-${i % 200}`, name: `w-${i}`, containers });
  }
  return workloads;
}

/** Build time from a list, lookup latency, memory and snapshot size of the resolver's index. */
export function benchLookup(
  workloadCount: number,
  containersPer: number,
  lookups: number,
): LookupResult {
  const workloads = syntheticWorkloads(workloadCount, containersPer);
  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  const index = new ImageIndex();
  for (const w of workloads) index.upsert(w);
  const buildMs = performance.now() - started;
  globalThis.gc?.();
  const heapMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
  const queries = Array.from({ length: 2_000 }, (_, i) => ({
    image: `europe-docker.pkg.dev/p/team-${i % 50}/app-${i % 2_000}`,
    tag: `${1 + (i % 7)}.0`,
  }));
  const samples: number[] = [];
  for (let i = 0; i < lookups; i += 1) {
    const query = queries[i % queries.length]!;
    const t0 = performance.now();
    index.lookup(query);
    samples.push((performance.now() - t0) * 1_000);
  }
  const snapshot = index.serialize();
  const us = summarize(samples);
  return {
    workloads: workloadCount,
    containers: workloadCount * containersPer,
    buildMs: round(buildMs),
    lookupUs: {
      ...us,
      p50: round(us.p50, 3),
      p90: round(us.p90, 3),
      p99: round(us.p99, 3),
      max: round(us.max, 1),
      mean: round(us.mean, 3),
    },
    heapMiB: round(heapMiB, 1),
    snapshotBytes: Buffer.byteLength(snapshot),
    shards: splitShards(snapshot, SHARD_LIMIT_BYTES).length,
  };
}
