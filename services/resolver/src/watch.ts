// Feeds the index from informers, one per workload source. An informer lists, then watches from
// the list's resourceVersion and lists again on 410 Gone. When its list or watch fails it stops:
// the source is then `broken` and the informer is started again after a growing delay. Once a
// start succeeds, the index is reconciled with the informer's cache, which drops workloads that
// a snapshot still had but that were deleted while no resolver was watching.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ObservedWorkload } from '@onpush/contracts';
import { KINDS, compactViewOf } from '@onpush/kube';
import type { Logger } from '@onpush/telemetry';
import { workloadKey, type ImageIndex, type WorkloadId } from '@onpush/image-index';
import type { WorkloadSource } from './sources.js';

export interface WatcherOptions {
  /** The sources, or a function giving them when the watch starts (after discovery). */
  sources: readonly WorkloadSource[] | (() => readonly WorkloadSource[]);
  index: ImageIndex;
  log: Logger;
  /** First wait before restarting a failed watch; doubles per failure up to maxRestartDelayMs. */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
}

export interface Watcher {
  /** Every source completed its first list. */
  readonly synced: boolean;
  /** Some source's list or watch failed and is waiting to restart. */
  readonly broken: boolean;
  /** Starts every informer (idempotent). */
  start(): void;
  stop(): Promise<void>;
  /** The object as the watch last saw it (from the informer's cache), when a source watches it. */
  find(id: WorkloadId): KubernetesObject | undefined;
}

interface Runner {
  readonly synced: boolean;
  readonly broken: boolean;
  start(): void;
  stop(): Promise<void>;
  find(id: WorkloadId): KubernetesObject | undefined;
}

export function restartDelay(failures: number, firstMs: number, maxMs: number): number {
  return Math.min(maxMs, firstMs * 2 ** Math.max(0, failures - 1));
}

/**
 * What an informer's events do to the index: an added or changed object is indexed — or dropped
 * when it is not (or no longer) selected, its opt-in annotation removed, say — a deleted one is
 * dropped. Images that cannot be indexed and invalid policies are logged, not fatal.
 */
function indexWriter<T extends KubernetesObject>(
  source: WorkloadSource<T>,
  index: ImageIndex,
  log: Logger,
): { apply: (object: T) => void; remove: (object: T) => void } {
  const remove = (object: T): void => {
    const id = source.idOf(object);
    if (id) index.remove(id);
  };
  const apply = (object: T): void => {
    const workload = source.toWorkload(object);
    if (!workload) return remove(object);
    const { skipped, invalid } = index.upsert(workload);
    const key = workloadKey(workload);
    if (skipped.length > 0)
      log.warn('container images not indexable', { workload: key, images: skipped });
    if (invalid !== undefined)
      log.warn('invalid policy: the workload matches no push', { workload: key, error: invalid });
  };
  return { apply, remove };
}

function runSource<T extends KubernetesObject>(
  source: WorkloadSource<T>,
  options: WatcherOptions,
): Runner {
  const { index, restartDelayMs = 1_000, maxRestartDelayMs = 30_000 } = options;
  const log = options.log.child({
    kind: source.kind,
    ...(source.namespace !== undefined ? { namespace: source.namespace } : {}),
  });
  const informer = source.informer();
  let synced = false;
  let broken = false;
  let started = false;
  let stopped = false;
  let errored = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;

  const { apply, remove } = indexWriter(source, index, log);

  function fail(error: unknown): void {
    errored = true;
    if (stopped) return;
    broken = true;
    failures += 1;
    const delayMs = restartDelay(failures, restartDelayMs, maxRestartDelayMs);
    log.warn('watch failed, restarting', { error, delayMs, failures });
    timer ??= setTimeout(() => {
      timer = undefined;
      void attempt();
    }, delayMs);
  }

  async function attempt(): Promise<void> {
    errored = false;
    try {
      await informer.start();
    } catch (error) {
      fail(error);
      return;
    }
    if (stopped || errored) return;
    index.replaceKind(
      source.kind,
      informer.list().flatMap((o) => source.toWorkload(o) ?? []),
      source.namespace,
    );
    if (!synced || broken) log.info('watch synced', { workloads: index.stats().workloads });
    failures = 0;
    broken = false;
    synced = true;
  }

  informer.on('add', apply);
  informer.on('update', apply);
  informer.on('delete', remove);
  informer.on('error', fail);

  return {
    get synced() {
      return synced;
    },
    get broken() {
      return broken;
    },
    start() {
      if (started) return;
      started = true;
      void attempt();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      await informer.stop();
    },
    find(id) {
      const covers =
        id.kind === source.kind &&
        (source.namespace === undefined || source.namespace === id.namespace);
      return covers && synced && !broken ? informer.get(id.name, id.namespace) : undefined;
    },
  };
}

/** The compact view of a watched workload that a RestartRequest carries (see ObservedWorkload). */
export function observedView(
  watcher: Pick<Watcher, 'find'>,
  id: WorkloadId,
): ObservedWorkload | undefined {
  const object = watcher.find(id);
  return object === undefined ? undefined : compactViewOf(KINDS[id.kind], object);
}

export function createWatcher(options: WatcherOptions): Watcher {
  const sourcesOf = options.sources;
  let runners: Runner[] | undefined =
    typeof sourcesOf === 'function' ? undefined : sourcesOf.map((s) => runSource(s, options));
  return {
    get synced() {
      return runners !== undefined && runners.every((r) => r.synced);
    },
    get broken() {
      return runners?.some((r) => r.broken) ?? false;
    },
    start() {
      runners ??= (sourcesOf as () => readonly WorkloadSource[])().map((s) =>
        runSource(s, options),
      );
      for (const runner of runners) runner.start();
    },
    async stop() {
      await Promise.all((runners ?? []).map((r) => r.stop()));
    },
    find(id) {
      for (const runner of runners ?? []) {
        const object = runner.find(id);
        if (object !== undefined) return object;
      }
      return undefined;
    },
  };
}
