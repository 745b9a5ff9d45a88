// Reading a stream in order with an ordered consumer: ephemeral, no acks, in memory on the
// server, deleted when the scan ends. The pending count says when the scan is complete, so it
// never waits for messages that will not come. The DLQ store, `onpush audit` and `onpush status`
// read streams this way.
import type { JetStreamClient, JsMsg, OrderedConsumerOptions } from '@nats-io/jetstream';

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
