// The console's live pushes: ONPUSH_OUTCOMES followed from its last `history` outcomes on, each
// outcome folded into its push (pushes.ts), the latest `keep` pushes kept in memory, and every
// change handed to the listeners (the SSE streams). Every replica of the serving process reads the
// stream for itself, so any replica answers alike; at a fleet's hub the stream holds every
// cluster's outcomes, each with its Onpush-Cluster header.
import { HEADERS, STREAMS, decode, OutcomeSchema } from '@onpush/contracts';
import { followStream, type Following, type JetStreamClient, type JsMsg } from '@onpush/nats';
import type { Logger } from '@onpush/telemetry';
import { foldOutcome, type OutcomeRecord, type Push } from './pushes.js';

export interface FeedOptions {
  /** Outcomes already stored that are read at start (the history a page opens on). */
  readonly history: number;
  /** Pushes kept in memory; the oldest are forgotten beyond. */
  readonly keep: number;
  readonly log?: Logger;
}

export type PushListener = (push: Push) => void;

export interface PushFeed {
  /** The pushes kept, newest change first. */
  pushes(): Push[];
  /** One push, if kept. */
  get(eventId: string): Push | undefined;
  /** True once the history read at start was folded in. */
  caughtUp(): boolean;
  /** Calls `listener` with each push as it changes; returns the unsubscribe. */
  subscribe(listener: PushListener, ended: () => void): () => void;
  /** Stops following and ends every subscription (their streams close). */
  stop(): Promise<void>;
}

/** The trace id of a W3C `traceparent` (version 00), or undefined. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  return /^00-([0-9a-f]{32})-/.exec(traceparent ?? '')?.[1];
}

/** An outcome message as a record, or undefined when it does not decode. */
export function recordOf(m: Pick<JsMsg, 'data' | 'seq' | 'headers'>): OutcomeRecord | undefined {
  const decoded = decode(OutcomeSchema, m.data, 'Outcome');
  if (!decoded.ok) return undefined;
  const cluster = m.headers?.get(HEADERS.cluster) || undefined;
  const traceId = traceIdOf(m.headers?.get(HEADERS.traceparent));
  return { outcome: decoded.value, seq: m.seq, cluster, traceId };
}

/** The in-memory side of the feed, without NATS: what `fold` made of the records so far. */
export function pushStore(keep: number) {
  const pushes = new Map<string, Push>();
  const listeners = new Map<PushListener, () => void>();
  return {
    fold(record: OutcomeRecord): Push {
      const id = record.outcome.eventId;
      const next = foldOutcome(pushes.get(id), record);
      pushes.delete(id); // re-inserted last: the map's order is the order of change
      pushes.set(id, next);
      while (pushes.size > keep) pushes.delete(pushes.keys().next().value!);
      for (const listener of listeners.keys()) listener(next);
      return next;
    },
    pushes: () => [...pushes.values()].reverse(),
    get: (eventId: string) => pushes.get(eventId),
    subscribe(listener: PushListener, ended: () => void): () => void {
      listeners.set(listener, ended);
      return () => listeners.delete(listener);
    },
    endAll(): void {
      for (const ended of listeners.values()) ended();
      listeners.clear();
    },
  };
}

/** Starts following ONPUSH_OUTCOMES; resolves once the consumer exists. */
export async function startPushFeed(js: JetStreamClient, options: FeedOptions): Promise<PushFeed> {
  const store = pushStore(options.keep);
  const following: Following = await followStream(js, STREAMS.outcomes, {
    history: options.history,
  });
  const lastAtStart = (await (await js.jetstreamManager()).streams.info(STREAMS.outcomes)).state
    .last_seq;
  let caughtUp = lastAtStart === 0 || options.history === 0;
  const read = (async () => {
    for await (const m of following.messages) {
      const record = recordOf(m);
      if (record !== undefined) store.fold(record);
      if (m.seq >= lastAtStart) caughtUp = true;
    }
  })().catch((error: unknown) =>
    options.log?.warn('console: the outcomes feed stopped', { error }),
  );
  return {
    pushes: store.pushes,
    get: store.get,
    caughtUp: () => caughtUp,
    subscribe: (listener, ended) => store.subscribe(listener, ended),
    async stop() {
      await following.stop();
      await read;
      store.endAll();
    },
  };
}

/**
 * A feed that follows ONPUSH_OUTCOMES only while someone looks: started by the first request or
 * stream, stopped once no stream is open and nothing was asked for `idleMs`. A service serving
 * the console (the dlq-manager) would otherwise read and fold every outcome of every push all
 * day — two messages per restart it delivers and decodes — for a page nobody opened. Until the
 * history is read the list is empty (`caughtUp` false) and an open stream receives each push
 * as it is folded in, history first.
 */
export function onDemandFeed(
  start: () => Promise<PushFeed>,
  options: { idleMs: number; log?: Logger; now?: () => number },
): PushFeed & { readonly following: boolean } {
  const now = options.now ?? Date.now;
  const listeners = new Map<PushListener, () => void>();
  let inner: PushFeed | undefined;
  let starting: Promise<void> | undefined;
  let lastUsed = now();
  let idle: NodeJS.Timeout | undefined;
  const stopInner = async (): Promise<void> => {
    const feed = inner;
    inner = undefined;
    clearInterval(idle);
    idle = undefined;
    await feed?.stop();
  };
  const use = (): PushFeed | undefined => {
    lastUsed = now();
    if (inner === undefined && starting === undefined) {
      starting = start()
        .then((feed) => {
          inner = feed;
          feed.subscribe(
            (push) => {
              for (const listener of listeners.keys()) listener(push);
            },
            () => undefined,
          );
          idle = setInterval(
            () => {
              if (listeners.size === 0 && now() - lastUsed >= options.idleMs) void stopInner();
            },
            Math.max(1_000, options.idleMs / 4),
          );
          idle.unref();
        })
        .catch((error: unknown) =>
          options.log?.warn('console: the outcomes feed did not start', { error }),
        )
        .finally(() => (starting = undefined));
    }
    return inner;
  };
  return {
    get following() {
      return inner !== undefined;
    },
    pushes: () => use()?.pushes() ?? [],
    get: (eventId) => use()?.get(eventId),
    caughtUp: () => use()?.caughtUp() ?? false,
    subscribe(listener, ended) {
      use();
      listeners.set(listener, ended);
      return () => {
        listeners.delete(listener);
        lastUsed = now();
      };
    },
    async stop() {
      await starting;
      await stopInner();
      for (const ended of listeners.values()) ended();
      listeners.clear();
    },
  };
}
