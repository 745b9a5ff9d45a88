// Which HTTP deliveries were stored in the last day (bucket BUCKETS.ingestRepeats): the same one
// again is a repeat, answered as a duplicate and stored no second time. JetStream's own
// de-duplication window is minutes; a replayed request can come much later.
import { createHash } from 'node:crypto';
import { TOPOLOGY } from '@onpush/contracts';
import { kvKey, type CasStore } from '@onpush/nats';
import type { Endpoint } from './webhooks/endpoints.js';

/** What ingest remembers of the deliveries it stored. */
export interface RepeatMemory {
  /**
   * The event id a delivery with this repeat key was stored as within the memory's window ('' if
   * that is unknown), or undefined when there was none.
   */
  seen(key: string): Promise<string | undefined>;
  /** Remembers a stored delivery and its event id. */
  remember(key: string, eventId: string): Promise<void>;
}

export interface Remembered {
  at: string;
  eventId: string;
}

/** A RepeatMemory over a compare-and-set store (the KV bucket, whose max age is the window). */
export function repeatMemory(
  store: CasStore<Remembered>,
  now: () => Date = () => new Date(),
): RepeatMemory {
  return {
    async seen(key) {
      const { value, revision } = await store.read(kvKey(key));
      if (revision === 0) return undefined;
      return typeof value?.eventId === 'string' ? value.eventId : '';
    },
    async remember(key, eventId) {
      // 0: another replica remembered it first, which is as good.
      await store.write(kvKey(key), { at: now().toISOString(), eventId }, 0);
    },
  };
}

/**
 * What makes two deliveries the same one: what the sender's proof covers. An HMAC signs only the
 * body (GitHub's X-GitHub-Delivery is not signed: a replay may carry a fresh one), so the body's
 * hash; otherwise the event id (the sender's delivery id, or the body's hash).
 */
export function repeatKey(
  endpoint: Pick<Endpoint, 'auth' | 'source'>,
  eventId: string,
  body: Buffer,
) {
  if (endpoint.auth.type !== 'hmac') return eventId;
  return `${endpoint.source}:signed-body:${createHash('sha256').update(body).digest('hex')}`;
}

/** How far the publisher's clock (Pub/Sub's) may be from this one's, judging a message's age. */
export const PUBLISH_CLOCK_SKEW_MS = 30_000;

/**
 * True when JetStream alone keeps a copy of this Pub/Sub message from being stored twice, so the
 * repeats bucket need not be read first: any earlier copy was stored after the message was
 * published, and a message younger than the stream's duplicate window (less the clock skew) was
 * therefore stored within that window — its publish, whose Nats-Msg-Id is the event id, is answered
 * as a duplicate. Older messages, ones without a publish time and ones dated too far ahead are read
 * for (a replay may come a day later).
 */
export function brokerDeduplicates(
  publishTime: Date | string | undefined,
  now: Date,
  windowMs: number = TOPOLOGY.streams.main.duplicateWindowMs,
): boolean {
  if (publishTime === undefined) return false;
  const age = now.getTime() - new Date(publishTime).getTime();
  return age >= -PUBLISH_CLOCK_SKEW_MS && age <= windowMs - PUBLISH_CLOCK_SKEW_MS;
}
