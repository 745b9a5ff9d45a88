import { createHash } from 'node:crypto';
import { HEADERS, toPayload, type DeadLetter } from '@onpush/contracts';
import type { Publish } from '@onpush/nats';
import {
  deadLetterMessages,
  fitDeadLetters,
  publishAll,
  traceIdOf,
  type Outgoing,
} from '@onpush/service';
import { garEventId, garHeaders, type GarDelivery } from './handler.js';
import type { PayloadTooLargeError } from './payload-limit.js';

/** On an ingest dead letter's headers: the size of the original data, in bytes. */
export const ORIGINAL_SIZE_HEADER = 'Onpush-Original-Size';

/** At most this much of an oversized message's data is kept in its dead letter. */
export const KEPT_BYTES = 64 * 1024;

/**
 * The key (id and Nats-Msg-Id) of ingest's dead letter for event `eventId`. Ingest gives up on a
 * delivery before any stream holds it, so the key is its event id rather than a stream sequence:
 * a redelivery of the same Pub/Sub message is dead-lettered once.
 */
export function ingestDeadLetterKey(eventId: string): string {
  return `dead:ingest:${eventId}`;
}

/** How much of the data the dead letter keeps: 64 KiB, less when the server takes little. */
export function keptBytes(maxPayload: number): number {
  return Math.max(0, Math.min(KEPT_BYTES, Math.floor(maxPayload / 4)));
}

export interface OversizedOptions {
  receivedAt: Date;
}

/**
 * The dead letter for a Pub/Sub message too large for JetStream, and the `dead` outcome that
 * accounts for its event, keyed `dead:ingest:gar:<messageId>` (+ `:outcome`). The letter keeps the
 * first bytes of the data and the headers the raw delivery would have had, plus the original size
 * (header and `truncated`, with the data's SHA-256); its subject is the subscription it came
 * from, and it is truncated, so it is not replayed.
 */
export function oversizedDeadLetter(
  delivery: GarDelivery,
  error: PayloadTooLargeError,
  options: OversizedOptions,
): Outgoing[] {
  const eventId = garEventId(delivery.messageId);
  const key = ingestDeadLetterKey(eventId);
  const at = options.receivedAt.toISOString();
  const size = delivery.data.byteLength;
  const kept = Math.min(size, keptBytes(error.maxPayload));
  const headers = garHeaders(delivery, eventId, options.receivedAt);
  headers[ORIGINAL_SIZE_HEADER] = String(size);
  const traceId = traceIdOf(headers[HEADERS.traceparent]);
  const letter: DeadLetter = {
    v: 1,
    id: key,
    stage: 'ingest',
    reason: error.type,
    error:
      `Pub/Sub message ${delivery.messageId} not stored: ${error.message} ` +
      `(data up to ${error.dataLimit} bytes would fit); original size ${size} bytes, ` +
      `the first ${kept} kept`,
    attempts: 1,
    subject: delivery.subscription ?? `pubsub:${delivery.via}`,
    headers,
    payload: toPayload(delivery.data.subarray(0, kept)),
    firstFailedAt: at,
    lastFailedAt: at,
    ...(traceId ? { traceId } : {}),
    truncated: {
      originalBytes: size,
      sha256: createHash('sha256').update(delivery.data).digest('hex'),
      keptBytes: kept,
      droppedHeaders: 0,
      reason: `the message (${size} bytes of data) exceeds the NATS server's max_payload of ${error.maxPayload} bytes`,
    },
  };
  return deadLetterMessages(letter, eventId);
}

/**
 * Stores the dead letter and the dead outcome of a Pub/Sub message too large for JetStream, in
 * that order; the letter cut further when even it does not fit (many or long attributes, a
 * server with a small max_payload). Rejects when they were not stored (nack / 503: retried).
 */
export async function storeOversized(
  publish: Publish,
  delivery: GarDelivery,
  error: PayloadTooLargeError,
  receivedAt: Date,
): Promise<void> {
  const outgoing = oversizedDeadLetter(delivery, error, { receivedAt });
  await publishAll(publish, fitDeadLetters(outgoing, error.maxPayload));
}
