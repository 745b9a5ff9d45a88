// Rebuilding the index from one list call per source, for when the watch cannot be trusted (not
// synced and no snapshot, or broken). Single-flight: concurrent callers share the list in
// progress. Rate-limited: at most one list per `minIntervalMs`; inside that window a caller
// gets the last result again, i.e. answers from an index at most `minIntervalMs` old, or the
// last failure with the time left as its retry delay.
import { OnpushError } from '@onpush/contracts';
import { toKubeApiError } from '@onpush/kube';
import type { Logger } from '@onpush/telemetry';
import type { ImageIndex } from '@onpush/image-index';
import type { WorkloadSource } from './sources.js';

/** The index cannot answer and could not be rebuilt now; the broker should try again. */
export class IndexUnavailableError extends OnpushError {
  override readonly name = 'IndexUnavailableError';
  constructor(message: string, retryAfterMs: number, options?: ErrorOptions) {
    super(message, { ...options, type: 'index_unavailable', retryable: true, retryAfterMs });
  }
}

export interface RebuilderOptions {
  /** The sources, or a function giving them (known once discovery ran). */
  sources:
    | readonly Pick<WorkloadSource, 'kind' | 'list' | 'namespace'>[]
    | (() => readonly Pick<WorkloadSource, 'kind' | 'list' | 'namespace'>[]);
  index: ImageIndex;
  minIntervalMs: number;
  log: Logger;
  now?: () => number;
}

export interface Rebuilder {
  /** Lists and replaces the index content, or reuses a rebuild younger than minIntervalMs. */
  rebuild(): Promise<void>;
  /** How many list rounds were started. */
  readonly rebuilds: number;
}

interface LastRebuild {
  readonly at: number;
  readonly error?: Error;
}

export function createRebuilder(options: RebuilderOptions): Rebuilder {
  const { index, minIntervalMs, log, now = Date.now } = options;
  let inFlight: Promise<void> | undefined;
  let last: LastRebuild | undefined;
  let rebuilds = 0;

  const unavailable = (cause: Error, waitMs: number): IndexUnavailableError => {
    const retryAfterMs = Math.max(waitMs, (cause as { retryAfterMs?: number }).retryAfterMs ?? 0);
    return new IndexUnavailableError(
      `index unavailable, rebuild failed: ${cause.message}`,
      retryAfterMs,
      { cause },
    );
  };

  async function run(at: number): Promise<void> {
    rebuilds += 1;
    const sources = typeof options.sources === 'function' ? options.sources() : options.sources;
    try {
      const lists = await Promise.all(sources.map((source) => source.list()));
      sources.forEach((source, i) =>
        index.replaceKind(source.kind, lists[i] ?? [], source.namespace),
      );
      last = { at };
      log.info('index rebuilt', { ...index.stats() });
    } catch (error) {
      const cause = toKubeApiError(error);
      last = { at, error: cause };
      log.warn('index rebuild failed', { error: cause });
      throw unavailable(cause, minIntervalMs);
    }
  }

  return {
    get rebuilds() {
      return rebuilds;
    },
    rebuild() {
      if (inFlight) return inFlight;
      const at = now();
      if (last && at - last.at < minIntervalMs) {
        const error = last.error;
        return error
          ? Promise.reject(unavailable(error, minIntervalMs - (at - last.at)))
          : Promise.resolve();
      }
      inFlight = run(at).finally(() => (inFlight = undefined));
      return inFlight;
    },
  };
}
