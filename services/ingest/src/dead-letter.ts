import { HEADERS, toPayload, type DeadLetter } from '@onpush/contracts';
import { deadLetterMessages, traceIdOf, type Outgoing } from '@onpush/service';
import { GAR_SOURCE, garEventId, garHeaders, type GarDelivery } from './handler.js';
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
  /** Keep no data and only ingest's own headers (when even the full letter was too large). */
  bare?: boolean;
}

/**
 * The dead letter for a Pub/Sub message too large for JetStream, and the `dead` outcome that
 * accounts for its event, keyed `dead:ingest:gar:<messageId>` (+ `:outcome`). The letter keeps the
 * first bytes of the data and the headers the raw delivery would have had, plus the original size;
 * its subject is the subscription it was pulled from, so it is not replayed (the data is cut).
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
  const kept = options.bare ? 0 : Math.min(size, keptBytes(error.maxPayload));
  const all = garHeaders(delivery, eventId, options.receivedAt);
  const headers: Record<string, string> = options.bare
    ? { [HEADERS.eventId]: eventId, [HEADERS.source]: GAR_SOURCE }
    : all;
  headers[ORIGINAL_SIZE_HEADER] = String(size);
  const traceId = traceIdOf(all[HEADERS.traceparent]);
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
  };
  return deadLetterMessages(letter, eventId);
}
