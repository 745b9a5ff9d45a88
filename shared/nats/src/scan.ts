// Reading a stream in order with an ordered consumer: ephemeral, no acks, in memory on the
// server, deleted when the scan ends. The pending count says when the scan is complete, so it
// never waits for messages that will not come. The DLQ store, `onpush audit` and `onpush status`
// read streams this way.
import type { JetStreamClient, JsMsg, OrderedConsumerOptions } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { STREAMS } from '@onpush/contracts';
import { jetstreamManager, whileUnanswered } from './failover.js';

export interface ScanOptions {
  /** Only messages on these subjects (wildcards allowed); default every subject of the stream. */
  readonly subjects?: string | string[];
  /** Only messages stored at or after this instant; default from the first message. */
  readonly since?: Date;
  /** Headers without the payload. */
  readonly headersOnly?: boolean;
  /** Messages fetched per pull (default 256). */
  readonly batch?: number;
  /** How long one pull waits for its messages (default 5 s). */
  readonly expiresMs?: number;
}

/** Every message of `stream` the options select, oldest first. */
export async function* scanStream(
  js: JetStreamClient,
  stream: string,
  options: ScanOptions = {},
): AsyncGenerator<JsMsg> {
  const config: Partial<OrderedConsumerOptions> = {};
  if (options.subjects !== undefined) config.filter_subjects = options.subjects;
  if (options.since !== undefined) config.opt_start_time = options.since.toISOString();
  if (options.headersOnly) config.headers_only = true;
  const consumer = await js.consumers.get(stream, config);
  try {
    let pending = (await consumer.info(true)).num_pending;
    while (pending > 0) {
      const batch = await consumer.fetch({
        max_messages: Math.min(pending, options.batch ?? 256),
        expires: options.expiresMs ?? 5_000,
      });
      let received = 0;
      for await (const m of batch) {
        received += 1;
        pending = m.info.pending;
        yield m;
        if (pending === 0) break;
      }
      // Messages deleted meanwhile: the pending count was stale, nothing more will come.
      if (received === 0) break;
    }
  } finally {
    await consumer.delete().catch(() => false);
  }
}

export interface FollowOptions {
  /** Only messages on these subjects (wildcards allowed); default every subject of the stream. */
  readonly subjects?: string | string[];
  /** Start with the last `history` messages already stored (0: only what is stored from now). */
  readonly history?: number;
  /** Start with the messages stored at or after this time instead (`history` is then ignored). */
  readonly since?: Date;
}

/** What `followStream` hands back: the messages, and a way to stop (ends the iteration). */
export interface Following {
  readonly messages: AsyncIterable<JsMsg>;
  stop(): Promise<void>;
}

/**
 * Follows `stream` with an ordered consumer (ephemeral, no acks): the last `history` stored
 * messages, then every message stored after them, in order, as it is stored, until `stop()`.
 * The client recreates the consumer where it left off after a reconnect or a missed heartbeat, so
 * nothing is skipped or repeated. The console's live pushes read ONPUSH_OUTCOMES this way.
 */
export async function followStream(
  js: JetStreamClient,
  stream: string,
  options: FollowOptions = {},
): Promise<Following> {
  const { state } = await (await js.jetstreamManager()).streams.info(stream);
  const history = Math.max(0, options.history ?? 0);
  const start = Math.max(state.first_seq, state.last_seq + 1 - history, 1);
  const config: Partial<OrderedConsumerOptions> = options.since
    ? { opt_start_time: options.since.toISOString() }
    : { deliver_policy: 'by_start_sequence', opt_start_seq: start };
  if (options.subjects !== undefined) config.filter_subjects = options.subjects;
  const consumer = await js.consumers.get(stream, config);
  const messages = await consumer.consume({ max_messages: 256 });
  return {
    messages,
    stop: async () => {
      // close() settles only once an iteration saw the end: not awaited, the iteration ends.
      void messages.close().catch(() => undefined);
      await consumer.delete().catch(() => false);
    },
  };
}

/**
 * A fleet hub's clusters: the JetStream domains its outcomes stream copies from (`fleetTopology`);
 * none outside a fleet's hub.
 */
export async function fleetClusters(nc: NatsConnection): Promise<string[]> {
  const jsm = await jetstreamManager(nc);
  const info = await whileUnanswered(() => jsm.streams.info(STREAMS.outcomes), 15_000);
  return (info.config.sources ?? []).flatMap((s) => {
    const domain = /^\$JS\.(.+)\.API$/.exec(s.external?.api ?? '')?.[1];
    return domain ? [domain] : [];
  });
}
