import {
  JetStreamApiError,
  JetStreamError,
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
 *
 * An acknowledgement is a plain publish with no answer: one sent through a stranded server is
 * lost, and the broker would redeliver the message only when its ack wait (30 s) ends. So the
 * `Failover` keeps the acks of the last `ackMemoryMs` (told by `acked`) and sends them again
 * through the server it moved to. Acking a message twice is harmless.
 */
export interface FailoverOptions {
  /** Consecutive failures that mean stranded (default 3). */
  failures?: number;
  /** ...and the least time from the first of them to the last (default 5 s). */
  spanMs?: number;
  onMove?: (why: string, reAcked: number) => void;
  now?: () => number;
  /** How long an ack is kept to be sent again after a move (default 20 s). */
  ackMemoryMs?: number;
  /** ...and at most this many (default 20,000; the oldest go first). */
  ackMemoryLimit?: number;
}

const ACK = new TextEncoder().encode('+ACK');

/** How many reconnects one move may take to reach a server other than the one it left. */
const MOVE_TRIES = 3;

/**
 * The subject a delivery is acknowledged on (`$JS.ACK.…`): its reply subject, which the client
 * library's messages carry but its `JsMsg` type does not declare.
 */
export function ackSubjectOf(m: object): string | undefined {
  const reply = (m as { reply?: unknown }).reply;
  return typeof reply === 'string' && reply.startsWith('$JS.ACK.') ? reply : undefined;
}

export class Failover {
  private streak = 0;
  private firstAt = 0;
  private lastMoveAt = Number.NEGATIVE_INFINITY;
  private readonly failures: number;
  private readonly spanMs: number;
  private readonly now: () => number;
  /** Recent acks, oldest first: when each was sent and the subject it went to. */
  private acks: { at: number; reply: string }[] = [];
  private readonly ackMemoryMs: number;
  private readonly ackMemoryLimit: number;

  constructor(
    private readonly nc: Pick<
      NatsConnection,
      'reconnect' | 'isClosed' | 'isDraining' | 'publish' | 'status'
    >,
    private readonly options: FailoverOptions = {},
  ) {
    this.failures = options.failures ?? 3;
    this.spanMs = options.spanMs ?? 5_000;
    this.now = options.now ?? Date.now;
    this.ackMemoryMs = options.ackMemoryMs ?? 20_000;
    this.ackMemoryLimit = options.ackMemoryLimit ?? 20_000;
  }

  /** A message was acknowledged by publishing to `reply` (its `$JS.ACK` subject). */
  acked(reply: string | undefined): void {
    if (!reply) return;
    this.acks.push({ at: this.now(), reply });
    if (this.acks.length > this.ackMemoryLimit * 1.25) this.forget();
  }

  /** Drops the acks older than the memory, and the oldest beyond its limit. */
  private forget(): void {
    const since = this.now() - this.ackMemoryMs;
    let first = this.acks.findIndex((a) => a.at >= since);
    if (first < 0) first = this.acks.length;
    first = Math.max(first, this.acks.length - this.ackMemoryLimit);
    if (first > 0) this.acks = this.acks.slice(first);
  }

  /** A JetStream operation succeeded: whatever failed before was not this server's fault. */
  succeeded(): void {
    this.streak = 0;
  }

  /** `work()` (a JetStream operation, `what`), telling this failover whether JetStream answered it. */
  async watch<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      const result = await work();
      this.succeeded();
      return result;
    } catch (error) {
      if (isUnanswered(error)) this.failed(`${what}: ${String(error)}`);
      throw error;
    }
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
    this.forget();
    const acks = this.acks;
    this.acks = [];
    this.options.onMove?.(why, acks.length);
    void this.move(acks.map((a) => a.reply)).catch(() => undefined);
  }

  /**
   * Forces the move; once connected to another server, sends `acks` again through it. The client
   * library dials its servers in turn, and the first turn after the first connect is the server
   * it was on: landing back there, it moves again (up to `MOVE_TRIES` times).
   */
  private async move(acks: readonly string[]): Promise<void> {
    for (let attempt = 1; attempt <= MOVE_TRIES; attempt += 1) {
      const statuses = this.nc.status(); // before the move, so its reconnect is not missed
      await this.nc.reconnect();
      let left: string | undefined;
      let reached: string | undefined;
      // leaving the loop stops the iterator (it also ends when the connection closes)
      for await (const status of statuses) {
        if (status.type === 'disconnect') left = status.server;
        if (status.type === 'reconnect') {
          reached = status.server;
          break;
        }
      }
      if (reached === undefined || reached !== left) break;
    }
    for (const reply of acks) this.nc.publish(reply, ACK);
  }
}

/**
 * Whether `error` (or what caused it) is JetStream not answering — no responders, a timeout, a
 * 503, "not enabled" — rather than a refusal such as a permission or a limit.
 */
export function isUnanswered(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth += 1) {
    if (e instanceof NoRespondersError || e instanceof TimeoutError) return true;
    // an API error carries its HTTP-like status apart from its JetStream code (10008: "JetStream
    // system temporarily unavailable", what a node cut off from the meta leader answers at once)
    if (e instanceof JetStreamApiError && e.status === 503) return true;
    // what the client library throws when the JetStream API does not answer at all (not exported)
    if (e.name === 'JetStreamNotEnabled') return true;
    // a consumer's status 503 (no responders), e.g. an ordered consumer reading a stream: the
    // library does not export its class, only its base
    if (e instanceof JetStreamError && (e as { code?: unknown }).code === 503) return true;
    if (e instanceof RequestError && e.isNoResponders()) return true;
    e = e.cause;
  }
  return false;
}

/** `publish`, telling `failover` of each unanswered and each answered publish. */
export function failingOver(publish: Publish, failover: Failover): Publish {
  return (subject, data, options) =>
    failover.watch(`publish to ${subject}`, () => publish(subject, data, options));
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
