import { Counter, Gauge, type Registry } from '@onpush/telemetry';
import type { ImageIndex } from '@onpush/image-index';

export interface IndexHealth {
  readonly synced: boolean;
  readonly broken: boolean;
}

/** Index size, watch state and rebuild count, read when Prometheus scrapes. */
export function registerIndexMetrics(
  registry: Registry,
  index: ImageIndex,
  watch: IndexHealth,
  rebuilder?: { readonly rebuilds: number },
): void {
  if (rebuilder !== undefined) {
    new Counter({
      name: 'onpush_resolver_index_rebuilds_total',
      help: 'Index rebuilds started (one list call per source) because the watch could not answer',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(rebuilder.rebuilds);
      },
    });
  }
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
