import { HEADERS, SubjectError, rawSubject, transportHeader, OnpushError } from '@onpush/contracts';
import type { Publish, Published } from '@onpush/nats';

/** The source token of Artifact Registry / Container Registry deliveries. */
export const GAR_SOURCE = 'gar';

/** One Pub/Sub message, however it arrived (streaming pull or HTTP push). */
export interface GarDelivery {
  /** The message data, exactly as published (never re-encoded). */
  data: Uint8Array;
  /** Pub/Sub's messageId: the de-duplication key. */
  messageId: string;
  /** When Pub/Sub accepted the message (a Date, or an RFC 3339 string from a push envelope). */
  publishTime?: Date | string | undefined;
  attributes: Readonly<Record<string, string>>;
  via: 'pull' | 'push';
  /** The subscription that delivered it, when known. */
  subscription?: string | undefined;
  /** The named webhook endpoint a push came in on, when it did. */
  endpoint?: string | undefined;
  /** That endpoint's binding headers (registry host, repositories), for the parser. */
  binding?: Readonly<Record<string, string>> | undefined;
}

export interface AcceptOptions {
  now?: () => Date;
}

/** Thrown for a delivery that cannot be keyed; never retryable (the same message fails again). */
export class DeliveryError extends OnpushError {
  override readonly name = 'DeliveryError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, type: 'invalid_delivery', retryable: false });
  }
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const TRACE_ATTRIBUTES = {
  traceparent: ['googclient_traceparent', 'traceparent'],
  tracestate: ['googclient_tracestate', 'tracestate'],
} as const;

/** An RFC 3339 time normalized to ISO 8601 with milliseconds, or undefined when unreadable. */
export function isoTime(value: Date | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** `Onpush-Transport-<name>`, or undefined when `name` cannot be a header name. */
function transportName(name: string): string | undefined {
  try {
    return transportHeader(name);
  } catch (error) {
    if (error instanceof SubjectError) return undefined;
    throw error;
  }
}

/** NATS header values cannot hold CR or LF: line breaks become one space. */
const headerValue = (value: string): string => value.replace(/[\r\n]+/g, ' ');

/** W3C trace context from the message attributes (the client library's or a plain one). */
function traceHeaders(attributes: Readonly<Record<string, string>>): Record<string, string> {
  const parent = TRACE_ATTRIBUTES.traceparent
    .map((name) => attributes[name])
    .find((v) => v && TRACEPARENT.test(v));
  if (parent === undefined) return {};
  const state = TRACE_ATTRIBUTES.tracestate
    .map((name) => attributes[name])
    .find((v) => v !== undefined && v !== '');
  return {
    [HEADERS.traceparent]: parent,
    ...(state !== undefined ? { [HEADERS.tracestate]: headerValue(state) } : {}),
  };
}

/**
 * The NATS headers of a GAR delivery: every attribute as `Onpush-Transport-<name>` (names that
 * cannot be header names are skipped), then ingest's own headers, which attributes cannot override.
 */
export function garHeaders(
  delivery: GarDelivery,
  eventId: string,
  receivedAt: Date,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(delivery.attributes)) {
    const header = transportName(name);
    if (header !== undefined) headers[header] = headerValue(value);
  }
  const publishTime = isoTime(delivery.publishTime);
  Object.assign(headers, traceHeaders(delivery.attributes), {
    [HEADERS.eventId]: eventId,
    [HEADERS.source]: GAR_SOURCE,
    [HEADERS.receivedAt]: receivedAt.toISOString(),
    [transportHeader('message-id')]: delivery.messageId,
    [transportHeader('via')]: delivery.via,
    ...(publishTime !== undefined ? { [transportHeader('publish-time')]: publishTime } : {}),
    ...(delivery.subscription
      ? { [transportHeader('subscription')]: headerValue(delivery.subscription) }
      : {}),
    ...(delivery.endpoint ? { [HEADERS.endpoint]: delivery.endpoint } : {}),
    ...delivery.binding,
  });
  return headers;
}

/** The event id (and Nats-Msg-Id) of a Pub/Sub message: `gar:<messageId>`. */
export const garEventId = (messageId: string): string => `${GAR_SOURCE}:${messageId}`;

/**
 * Stores one Pub/Sub message on `onpush.raw.gar`: the untouched bytes, Nats-Msg-Id
 * `gar:<messageId>` (a redelivery is a duplicate, stored once). Resolves only once JetStream
 * acknowledged; rejects otherwise, and the caller must then not acknowledge upstream.
 */
export async function acceptGarDelivery(
  publish: Publish,
  delivery: GarDelivery,
  options: AcceptOptions = {},
): Promise<Published> {
  if (delivery.messageId.trim() === '' || /[\r\n]/.test(delivery.messageId)) {
    throw new DeliveryError(`unusable Pub/Sub messageId ${JSON.stringify(delivery.messageId)}`);
  }
  const eventId = garEventId(delivery.messageId);
  const headers = garHeaders(delivery, eventId, (options.now ?? (() => new Date()))());
  return publish(rawSubject(GAR_SOURCE), delivery.data, { msgId: eventId, headers });
}
