// Which HTTP deliveries were stored in the last day (bucket BUCKETS.ingestRepeats): the same one
// again is a repeat, answered as a duplicate and stored no second time. JetStream's own
// de-duplication window is minutes; a replayed request can come much later.
import { createHash } from 'node:crypto';
import { kvKey, type CasStore } from '@onpush/nats';
import type { Endpoint } from './webhooks/endpoints.js';

/** What ingest remembers of the deliveries it stored. */
export interface RepeatMemory {
  /** Whether a delivery with this repeat key was stored within the memory's window. */
  seen(key: string): Promise<boolean>;
  /** Remembers a stored delivery. */
  remember(key: string): Promise<void>;
}

export interface Remembered {
  at: string;
}

/** A RepeatMemory over a compare-and-set store (the KV bucket, whose max age is the window). */
export function repeatMemory(
  store: CasStore<Remembered>,
  now: () => Date = () => new Date(),
): RepeatMemory {
  return {
    async seen(key) {
      return (await store.read(kvKey(key))).revision > 0;
    },
    async remember(key) {
      // 0: another replica remembered it first, which is as good.
      await store.write(kvKey(key), { at: now().toISOString() }, 0);
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
