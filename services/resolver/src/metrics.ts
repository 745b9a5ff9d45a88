import { Gauge, type Registry } from '@onpush/telemetry';
import type { ImageIndex } from './index-store.js';

export interface IndexHealth {
  readonly synced: boolean;
  readonly broken: boolean;
}

/** Index size and watch state, read when Prometheus scrapes. */
export function registerIndexMetrics(
  registry: Registry,
  index: ImageIndex,
  watch: IndexHealth,
): void {
  new Gauge({
    name: 'onpush_resolver_index_size',
    help: 'Entries in the image index, by what (workloads, images, skipped_containers)',
    labelNames: ['what'] as const,
    registers: [registry],
    collect() {
      const stats = index.stats();
      this.set({ what: 'workloads' }, stats.workloads);
      this.set({ what: 'images' }, stats.images);
      this.set({ what: 'skipped_containers' }, stats.skippedContainers);
    },
  });
  new Gauge({
    name: 'onpush_resolver_watch_state',
    help: '1 when the workload watch is in that state (synced, broken)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      this.set({ state: 'synced' }, watch.synced ? 1 : 0);
      this.set({ state: 'broken' }, watch.broken ? 1 : 0);
    },
  });
}
