// Producer and consumer spans for NATS JetStream, per the OpenTelemetry messaging conventions:
// `publish <subject>` (PRODUCER) whose context rides in the message headers, and
// `process <subject>` (CONSUMER) whose parent is the context taken from those headers. Every
// delivery gets its own consumer span, so a redelivered message shows each attempt.
import { SpanKind, type Attributes, type Span } from '@opentelemetry/api';
import {
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_NATS_DELIVERY_COUNT,
  ATTR_MESSAGING_NATS_DUPLICATE,
  ATTR_MESSAGING_NATS_STREAM_NAME,
  ATTR_MESSAGING_NATS_STREAM_SEQUENCE,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_ONPUSH_EVENT_ID,
  MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
  MESSAGING_OPERATION_TYPE_VALUE_SEND,
  MESSAGING_SYSTEM_VALUE_NATS,
} from './semconv.js';
import { extractContext, injectContext, inSpan, type Headers } from './spans.js';

export interface OutgoingMessage {
  subject: string;
  /** The Nats-Msg-Id header as sent. */
  messageId: string;
  bodySize: number;
  headers: Headers;
  eventId?: string | undefined;
}

export interface StoredAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

type OperationType =
  | typeof MESSAGING_OPERATION_TYPE_VALUE_SEND
  | typeof MESSAGING_OPERATION_TYPE_VALUE_PROCESS;

/**
 * The attributes every NATS messaging span starts with: the system, the subject, and the
 * operation (`send` for `publish` and `replay`, `process` for a delivery).
 */
export function natsOperation(subject: string, type: OperationType, name: string): Attributes {
  return {
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_NATS,
    [ATTR_MESSAGING_DESTINATION_NAME]: subject,
    [ATTR_MESSAGING_OPERATION_TYPE]: type,
    [ATTR_MESSAGING_OPERATION_NAME]: name,
  };
}

/**
 * Publishes inside a `publish <subject>` PRODUCER span: `send` gets the headers with the span's
 * trace context written in (replacing any traceparent copied from upstream), and the stream's
 * ack is recorded on the span.
 */
export function withPublishSpan<T extends StoredAck>(
  message: OutgoingMessage,
  send: (headers: Headers) => Promise<T>,
): Promise<T> {
  const attributes: Attributes = {
    ...natsOperation(message.subject, MESSAGING_OPERATION_TYPE_VALUE_SEND, 'publish'),
    [ATTR_MESSAGING_MESSAGE_ID]: message.messageId,
    [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: message.bodySize,
  };
  if (message.eventId !== undefined) attributes[ATTR_ONPUSH_EVENT_ID] = message.eventId;
  const spec = { name: `publish ${message.subject}`, kind: SpanKind.PRODUCER, attributes };
  return inSpan(spec, async (span) => {
    const ack = await send(injectContext(message.headers));
    recordAck(span, ack);
    return ack;
  });
}

function recordAck(span: Span, ack: StoredAck): void {
  try {
    span.setAttributes({
      [ATTR_MESSAGING_NATS_STREAM_NAME]: ack.stream,
      [ATTR_MESSAGING_NATS_STREAM_SEQUENCE]: ack.seq,
      [ATTR_MESSAGING_NATS_DUPLICATE]: ack.duplicate,
    });
  } catch {
    /* telemetry never throws into the business path */
  }
}

export interface Delivery {
  subject: string;
  headers: Headers;
  /** The durable consumer (the stage). */
  consumer: string;
  stream: string;
  streamSequence: number;
  deliveryCount: number;
  bodySize: number;
  messageId?: string | undefined;
  eventId?: string | undefined;
}

/** The attributes of a consumer span for `delivery`. */
export function deliveryAttributes(delivery: Delivery): Attributes {
  const attributes: Attributes = {
    ...natsOperation(delivery.subject, MESSAGING_OPERATION_TYPE_VALUE_PROCESS, 'process'),
    [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: delivery.consumer,
    [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: delivery.bodySize,
    [ATTR_MESSAGING_NATS_STREAM_NAME]: delivery.stream,
    [ATTR_MESSAGING_NATS_STREAM_SEQUENCE]: delivery.streamSequence,
    [ATTR_MESSAGING_NATS_DELIVERY_COUNT]: delivery.deliveryCount,
  };
  if (delivery.messageId !== undefined) attributes[ATTR_MESSAGING_MESSAGE_ID] = delivery.messageId;
  if (delivery.eventId !== undefined) attributes[ATTR_ONPUSH_EVENT_ID] = delivery.eventId;
  return attributes;
}

/**
 * Handles one delivery inside a `process <subject>` CONSUMER span whose parent is the trace
 * context of the message's headers (a new trace when there is none).
 */
export function withProcessSpan<T>(
  delivery: Delivery,
  handle: (span: Span) => Promise<T>,
): Promise<T> {
  const spec = {
    name: `process ${delivery.subject}`,
    kind: SpanKind.CONSUMER,
    attributes: deliveryAttributes(delivery),
    parent: extractContext(delivery.headers),
  };
  return inSpan(spec, handle);
}
