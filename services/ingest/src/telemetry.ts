// Where a push's trace starts. Every delivery ingest stores is handled inside a CONSUMER span
// `process <subscription or endpoint>`, whose parent is the trace context the delivery carried
// (the Pub/Sub client library's `googclient_traceparent`, a plain `traceparent` attribute, or a
// webhook's traceparent header). When it carried none, ingest starts the trace: a root span
// `push <source>` from the registry's publish time (Pub/Sub's publishTime) to the moment the
// delivery was stored, recorded on the registry's behalf, so the trace runs from the push to
// the PATCH response. The producer span `publish onpush.raw.<source>` is the process span's
// child (the stage runtime's publisher makes it).
import { HEADERS, subjectTail, transportHeader } from '@onpush/contracts';
import type { Publish } from '@onpush/nats';
import {
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_ONPUSH_EVENT_ID,
  ATTR_ONPUSH_PUBLISHED_AT,
  ATTR_ONPUSH_SOURCE,
  ATTR_ONPUSH_VIA,
  MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
  MESSAGING_OPERATION_TYPE_VALUE_SEND,
  MESSAGING_SYSTEM_VALUE_GCP_PUBSUB,
  ROOT_CONTEXT,
  SpanKind,
  carriesTrace,
  extractContext,
  inSpan,
  type Attributes,
  type Context,
  type Headers,
} from '@onpush/telemetry';

const header = (headers: Headers, name: string): string | undefined => {
  const wanted = name.toLowerCase();
  return Object.entries(headers).find(([key]) => key.toLowerCase() === wanted)?.[1];
};

function defined(attributes: Record<string, string | undefined>): Attributes {
  return Object.fromEntries(Object.entries(attributes).filter(([, v]) => v !== undefined));
}

interface Arrival {
  source: string;
  via: string;
  pubsub: boolean;
  /** Where it came from: the Pub/Sub subscription's id, or the webhook endpoint. */
  origin: string;
  attributes: Attributes;
  publishedAt: Date | undefined;
}

function arrivalOf(subject: string, headers: Headers): Arrival {
  const source = header(headers, HEADERS.source) ?? subjectTail(subject, 'onpush.raw') ?? 'unknown';
  const endpoint = header(headers, HEADERS.endpoint);
  const via = header(headers, transportHeader('via')) ?? (endpoint ? 'webhook' : 'unknown');
  const pubsub = via === 'pull' || via === 'push';
  const subscription = header(headers, transportHeader('subscription'));
  const origin = (pubsub ? subscription?.split('/').pop() : endpoint) || source;
  const published = Date.parse(header(headers, transportHeader('publish-time')) ?? '');
  const publishedAt = Number.isNaN(published) ? undefined : new Date(published);
  const attributes = defined({
    [ATTR_MESSAGING_SYSTEM]: pubsub ? MESSAGING_SYSTEM_VALUE_GCP_PUBSUB : undefined,
    [ATTR_MESSAGING_DESTINATION_NAME]: origin,
    [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: pubsub ? subscription : endpoint,
    [ATTR_MESSAGING_MESSAGE_ID]: header(headers, transportHeader('message-id')),
    [ATTR_ONPUSH_SOURCE]: source,
    [ATTR_ONPUSH_VIA]: via,
    [ATTR_ONPUSH_EVENT_ID]: header(headers, HEADERS.eventId),
    [ATTR_ONPUSH_PUBLISHED_AT]: publishedAt?.toISOString(),
  });
  return { source, via, pubsub, origin, attributes, publishedAt };
}

/** Runs `store` inside ingest's spans for the delivery described by `headers`. */
export function withIngestSpans<T>(
  subject: string,
  headers: Headers,
  store: () => Promise<T>,
): Promise<T> {
  const arrival = arrivalOf(subject, headers);
  const upstream = extractContext(headers);
  const handle = (parent?: Context) =>
    inSpan(
      {
        name: `process ${arrival.origin}`,
        kind: SpanKind.CONSUMER,
        ...(parent ? { parent } : {}),
        attributes: {
          ...arrival.attributes,
          [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
          [ATTR_MESSAGING_OPERATION_NAME]: 'process',
        },
      },
      store,
    );
  const publishedAt = arrival.publishedAt;
  if (carriesTrace(upstream) || publishedAt === undefined || publishedAt.getTime() > Date.now())
    return handle(upstream);
  const push = {
    name: `push ${arrival.source}`,
    kind: SpanKind.PRODUCER,
    parent: ROOT_CONTEXT,
    startTime: publishedAt,
    attributes: {
      ...arrival.attributes,
      [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_SEND,
      [ATTR_MESSAGING_OPERATION_NAME]: 'publish',
    },
  };
  return inSpan(push, () => handle());
}

/** `publish` with ingest's spans around each delivery it stores. */
export function traceIngest(publish: Publish): Publish {
  return (subject, data, options) =>
    withIngestSpans(subject, options.headers ?? {}, () => publish(subject, data, options));
}
