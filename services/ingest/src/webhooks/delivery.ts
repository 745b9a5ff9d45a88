import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { HEADERS, SubjectError, rawSubject, transportHeader } from '@onpush/contracts';
import type { Publish, Published } from '@onpush/nats';
import type { Endpoint } from './endpoints.js';
import { headerOf } from './request.js';
import { SECRET_HEADERS, type Source } from './sources.js';

/** One accepted webhook request: the untouched body and what came with it. */
export interface WebhookDelivery {
  endpoint: Endpoint;
  body: Buffer;
  headers: IncomingHttpHeaders;
  /** The body as JSON, when it is JSON (undefined otherwise). */
  json: unknown;
  receivedAt: Date;
}

// Printable, no spaces, and no `#` (the parser keys the events of a batch `<event id>#<key>`).
const DELIVERY_ID = /^[\x21-\x22\x24-\x7e]{1,200}$/;
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

const field = (value: unknown, key: string): unknown =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)[key]
    : undefined;

/** The one element of a one-element array, or the value itself when it is not an array. */
const single = (value: unknown): unknown =>
  Array.isArray(value) ? (value.length === 1 ? value[0] : undefined) : value;

/** The id the sender gives its delivery, where it gives one. */
function senderId(source: Source, json: unknown, headers: IncomingHttpHeaders): unknown {
  switch (source) {
    case 'github':
      return headerOf(headers, 'x-github-delivery');
    case 'cloudevents':
      return headerOf(headers, 'ce-id') ?? field(single(json), 'id');
    case 'distribution':
      return field(single(field(json, 'events')), 'id');
    case 'eventgrid':
    case 'acr':
      return field(single(json), 'id');
    case 'ecr':
      return field(json, 'MessageId') ?? field(json, 'id');
    case 'harbor':
      return field(json, 'specversion') !== undefined ? field(json, 'id') : undefined;
    default:
      return undefined;
  }
}

/**
 * The de-duplication key of a delivery: the sender's own id (X-GitHub-Delivery, CloudEvents id,
 * Distribution / Event Grid / EventBridge id, SNS MessageId) when it gives a usable one, else
 * the SHA-256 of the body, so a retried delivery is stored once either way. A batch (several
 * events in one request) is keyed by its body.
 */
export function deliveryId(
  source: Source,
  json: unknown,
  headers: IncomingHttpHeaders,
  body: Buffer,
): string {
  const id = senderId(source, json, headers);
  if (typeof id === 'string' && DELIVERY_ID.test(id)) return id;
  return createHash('sha256').update(body).digest('hex');
}

function secretHeaders(endpoint: Endpoint): ReadonlySet<string> {
  const auth = endpoint.auth;
  return auth.type === 'hmac' || auth.type === 'token'
    ? new Set([...SECRET_HEADERS, auth.header])
    : SECRET_HEADERS;
}

/** Every request header that is not a credential, as `Onpush-Transport-<name>`. */
function transportHeaders(
  endpoint: Endpoint,
  headers: IncomingHttpHeaders,
): Record<string, string> {
  const hidden = secretHeaders(endpoint);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || hidden.has(name)) continue;
    try {
      out[transportHeader(name)] = (Array.isArray(value) ? value.join(', ') : value).replace(
        /[\r\n]+/g,
        ' ',
      );
    } catch (error) {
      if (!(error instanceof SubjectError)) throw error;
    }
  }
  return out;
}

function traceHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const parent = headerOf(headers, 'traceparent');
  if (parent === undefined || !TRACEPARENT.test(parent)) return {};
  const state = headerOf(headers, 'tracestate');
  return { [HEADERS.traceparent]: parent, ...(state ? { [HEADERS.tracestate]: state } : {}) };
}

/**
 * What the endpoint's configuration says of its pushes, for the parser, where it outranks the
 * body: the registry host, and the repositories the endpoint may push.
 */
export function bindingHeaders(
  endpoint: Pick<Endpoint, 'registryHost' | 'repositories'>,
): Record<string, string> {
  return {
    ...(endpoint.registryHost ? { [HEADERS.registryHost]: endpoint.registryHost } : {}),
    ...(endpoint.repositories ? { [HEADERS.repositories]: endpoint.repositories.join(',') } : {}),
  };
}

/** The NATS headers of a webhook delivery: transport headers first, ingest's own win. */
export function webhookHeaders(delivery: WebhookDelivery, eventId: string): Record<string, string> {
  const { endpoint, headers } = delivery;
  const contentType = headerOf(headers, 'content-type');
  return {
    ...transportHeaders(endpoint, headers),
    ...traceHeaders(headers),
    [HEADERS.eventId]: eventId,
    [HEADERS.source]: endpoint.source,
    [HEADERS.endpoint]: endpoint.name,
    [HEADERS.receivedAt]: delivery.receivedAt.toISOString(),
    ...(contentType ? { [HEADERS.contentType]: contentType } : {}),
    ...bindingHeaders(endpoint),
  };
}

/** The event id of a webhook delivery: `<source>:<delivery id>`. */
export function webhookEventId(delivery: WebhookDelivery): string {
  const { source } = delivery.endpoint;
  return `${source}:${deliveryId(source, delivery.json, delivery.headers, delivery.body)}`;
}

/**
 * Stores the untouched body on `onpush.raw.<source>`, Nats-Msg-Id the delivery id, event id
 * `<source>:<delivery id>`. Resolves once JetStream acknowledged.
 */
export async function publishWebhook(
  publish: Publish,
  delivery: WebhookDelivery,
): Promise<{ eventId: string; published: Published }> {
  const { source } = delivery.endpoint;
  const id = deliveryId(source, delivery.json, delivery.headers, delivery.body);
  const eventId = webhookEventId(delivery);
  const published = await publish(rawSubject(source), delivery.body, {
    msgId: id,
    headers: webhookHeaders(delivery, eventId),
  });
  return { eventId, published };
}
