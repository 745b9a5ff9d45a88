// Keeps the ConfigMap snapshot close to the index: the first change after a write arms a timer
// of `debounceMs`, and every change until it fires rides along in one write (so a burst of
// watch events costs one write, and a steady stream at most one per `debounceMs`). A failed
// write is logged and tried again after `retryMs`; it never throws into the service.
import type { Logger } from '@onpush/telemetry';
import type { ImageIndex, WorkloadId } from '@onpush/image-index';
import type { SnapshotStore } from './snapshot.js';

export interface SnapshotterOptions {
  store: SnapshotStore;
  index: ImageIndex;
  debounceMs: number;
  /** Wait before writing again after a failed write. */
  retryMs?: number;
  /** Which workloads of a snapshot to load (the configuration may have narrowed since). */
  keep?: (id: WorkloadId) => boolean;
  log: Logger;
}

export interface Snapshotter {
  /** True once a snapshot was read into the index. */
  readonly loaded: boolean;
  /** Reads the snapshot into the index (once); false when there is none or it is unreadable. */
  load(): Promise<boolean>;
  /** Writes now when the index changed since the last write; never throws. */
  flush(): Promise<void>;
  /** Stops following the index, then writes what is left (at drain). Never throws. */
  close(): Promise<void>;
}

export function createSnapshotter(options: SnapshotterOptions): Snapshotter {
  const { store, index, debounceMs, retryMs = 10_000, log } = options;
  let written = index.version;
  let loaded = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;

  const schedule = (delayMs: number): void => {
    if (timer !== undefined || stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      void writeNow();
    }, delayMs);
  };

  async function attempt(): Promise<void> {
    const version = index.version;
    const text = index.serialize();
    try {
      const shards = await store.save(text);
      written = version;
      log.debug('index snapshot written', {
        shards,
        bytes: Buffer.byteLength(text),
        ...index.stats(),
      });
    } catch (error) {
      log.warn('index snapshot not written, will retry', { error, retryMs });
      schedule(retryMs);
    }
  }

  async function writeNow(): Promise<void> {
    while (writing !== undefined) await writing;
    if (index.version === written) return;
    writing = attempt().finally(() => (writing = undefined));
    await writing;
  }

  /** Writes what changed now rather than when the scheduled write was due. */
  async function flush(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    await writeNow();
  }

  const unsubscribe = index.onChange(() => schedule(debounceMs));

  return {
    get loaded() {
      return loaded;
    },
    async load() {
      if (loaded) return true;
      try {
        const text = await store.load();
        if (text === undefined) {
          log.info('no index snapshot yet');
          return false;
        }
        index.restore(text, options.keep);
        written = index.version;
        loaded = true;
        log.info('index snapshot loaded', { bytes: Buffer.byteLength(text), ...index.stats() });
        return true;
      } catch (error) {
        log.warn('index snapshot unreadable, waiting for the watch', { error });
        return false;
      }
    },
    flush,
    async close() {
      stopped = true;
      unsubscribe();
      await flush();
    },
  };
}
