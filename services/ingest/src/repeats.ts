// Which HTTP deliveries were stored in the last day (bucket BUCKETS.ingestRepeats): the same one
// again is a repeat, answered as a duplicate and stored no second time. JetStream's own
// de-duplication window is minutes; a replayed request can come much later.
import { createHash } from 'node:crypto';
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
