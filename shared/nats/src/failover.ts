import {
  JetStreamApiError,
  jetstreamManager as openManager,
  type JetStreamManager,
  type JetStreamManagerOptions,
} from '@nats-io/jetstream';
import {
  NoRespondersError,
  RequestError,
  TimeoutError,
  type NatsConnection,
} from '@nats-io/nats-core';
import type { Publish } from './publish.js';

/**
 * A client connected to a nats-server that is cut off from the rest of its cluster stays
 * connected — its TCP connection is fine — but JetStream answers nothing through it: publishes
 * find no responders or time out, a pull consumer's heartbeats stop. The client library only
 * moves to another server when its connection drops. A `Failover` notices being stranded and
 * forces that move (`nc.reconnect()`, to the next server of NATS_URL): after `failures`
 * consecutive JetStream failures spanning at least `spanMs`, once per `spanMs`.
 */
export interface FailoverOptions {
  /** Consecutive failures that mean stranded (default 3). */
  failures?: number;
  /** ...and the least time from the first of them to the last (default 5 s). */
  spanMs?: number;
  onMove?: (why: string) => void;
  now?: () => number;
}

export class Failover {
  private streak = 0;
  private firstAt = 0;
  private lastMoveAt = Number.NEGATIVE_INFINITY;
  private readonly failures: number;
  private readonly spanMs: number;
  private readonly now: () => number;

  constructor(
    private readonly nc: Pick<NatsConnection, 'reconnect' | 'isClosed' | 'isDraining'>,
    private readonly options: FailoverOptions = {},
  ) {
    this.failures = options.failures ?? 3;
    this.spanMs = options.spanMs ?? 5_000;
    this.now = options.now ?? Date.now;
  }

  /** A JetStream operation succeeded: whatever failed before was not this server's fault. */
  succeeded(): void {
    this.streak = 0;
  }

  /** A JetStream operation failed for want of an answer (`why`); may move to another server. */
  failed(why: string): void {
    const now = this.now();
    if (this.streak === 0) this.firstAt = now;
    this.streak += 1;
    if (this.streak < this.failures || now - this.firstAt < this.spanMs) return;
    if (now - this.lastMoveAt < this.spanMs) return;
    if (this.nc.isClosed() || this.nc.isDraining()) return;
    this.streak = 0;
    this.lastMoveAt = now;
    this.options.onMove?.(why);
    this.nc.reconnect().catch(() => undefined);
  }
}

/**
 * Whether `error` (or what caused it) is JetStream not answering — no responders, a timeout, a
 * 503 — rather than a refusal such as a permission or a limit.
 */
export function isUnanswered(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth += 1) {
    if (e instanceof NoRespondersError || e instanceof TimeoutError) return true;
    if (e instanceof JetStreamApiError && e.code === 503) return true;
    if (e instanceof RequestError && e.isNoResponders()) return true;
    e = e.cause;
  }
  return false;
}

/** `publish`, telling `failover` of each unanswered and each answered publish. */
export function failingOver(publish: Publish, failover: Failover): Publish {
  return async (subject, data, options) => {
    try {
      const published = await publish(subject, data, options);
      failover.succeeded();
      return published;
    } catch (error) {
      if (isUnanswered(error)) failover.failed(`publish to ${subject}: ${String(error)}`);
      throw error;
    }
  };
}

/**
 * `work()`, done again (with a growing pause) for up to `withinMs` while JetStream does not answer
 * it: just after a node joined or a partition healed, the cluster's API can be briefly unreachable
 * from the node a client reached. Only for work that is safe to repeat (reads, idempotent setup).
 */
export async function whileUnanswered<T>(work: () => Promise<T>, withinMs = 5_000): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (!isUnanswered(error) || Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 100 * 2 ** attempt)));
    }
  }
}

/** `jetstreamManager` of the client library (its first request checks that JetStream answers), asked again while JetStream does not answer. */
export function jetstreamManager(
  nc: NatsConnection,
  options?: JetStreamManagerOptions,
  withinMs = 5_000,
): Promise<JetStreamManager> {
  return whileUnanswered(() => openManager(nc, options), withinMs);
}
