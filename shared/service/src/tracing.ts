// The stage runtime's telemetry hooks: a producer span around every publish, a consumer span
// around every delivery, fates counted where outcomes are published, and the consumer's lag.
// Narrow wrappers: the message machine and the publisher stay as they are.
import {
  HEADERS,
  OUTCOME_ALL,
  subjectTail,
  type ConsumerSpec,
  FATES,
  type Fate,
} from '@onpush/contracts';
import { dedupId, type JetStreamClient, type Publish } from '@onpush/nats';
import {
  ATTR_ONPUSH_RESULT,
  consumerLagGauges,
  markError,
  withProcessSpan,
  withPublishSpan,
  type Metrics,
} from '@onpush/telemetry';
import {
  HELD,
  wasHeld,
  type FailureInfo,
  type Incoming,
  type MessageResult,
} from './message-machine.js';

const OUTCOME_PREFIX = OUTCOME_ALL.slice(0, -2);

function fateOf(subject: string): Fate | undefined {
  const tail = subjectTail(subject, OUTCOME_PREFIX);
  return (FATES as readonly string[]).includes(tail ?? '') ? (tail as Fate) : undefined;
}

/**
 * `publish` inside a `publish <subject>` PRODUCER span whose trace context rides in the
 * message's headers; an outcome that JetStream stored (not a duplicate) counts in
 * `onpush_fates_total{fate}`, so every fate is counted once, where it is published.
 */
export function instrumentPublish(publish: Publish, metrics?: Pick<Metrics, 'fates'>): Publish {
  return async (subject, data, options) => {
    const message = {
      subject,
      messageId: dedupId(subject, options.msgId),
      bodySize: data.byteLength,
      headers: options.headers ?? {},
      eventId: options.headers?.[HEADERS.eventId],
    };
    const published = await withPublishSpan(message, (headers) =>
      publish(subject, data, { ...options, headers }),
    );
    const fate = fateOf(subject);
    if (fate !== undefined && !published.duplicate) metrics?.fates.inc({ fate });
    return published;
  };
}

export interface Handled {
  result: MessageResult;
  failure: FailureInfo | undefined;
}

/**
 * Handles one delivery inside a `process <subject>` CONSUMER span, child of the producer span
 * in the message's headers. A retried or dead-lettered delivery sets `error.type` (the failure's
 * type) and status ERROR; every delivery is its own span, so retries show as attempts.
 */
export function traceDelivery(
  msg: Incoming,
  spec: Pick<ConsumerSpec, 'durable' | 'stream'>,
  handle: () => Promise<Handled>,
): Promise<Handled> {
  const { headers } = msg;
  const delivery = {
    subject: msg.subject,
    headers,
    consumer: spec.durable,
    stream: spec.stream,
    streamSequence: msg.seq,
    deliveryCount: msg.deliveryCount,
    bodySize: msg.data.byteLength,
    messageId: headers[HEADERS.msgId],
    eventId: headers[HEADERS.eventId],
  };
  return withProcessSpan(delivery, async (span) => {
    const handled = await handle();
    try {
      const held = wasHeld(handled);
      span.setAttribute(ATTR_ONPUSH_RESULT, held ? HELD : handled.result);
      // A held delivery waits on purpose: its span is not an error.
      if (handled.failure && !held) {
        const error = Object.assign(new Error(handled.failure.message), handled.failure);
        markError(span, error, handled.failure.type);
      }
    } catch {
      /* telemetry never throws into the business path */
    }
    return handled;
  });
}

/** The stage's consumer lag gauges, read from consumer info at scrape time once connected. */
export function trackConsumerLag(
  metrics: Pick<Metrics, 'registry'>,
  spec: Pick<ConsumerSpec, 'durable' | 'stream'>,
  js: () => JetStreamClient | undefined,
): void {
  consumerLagGauges(metrics.registry, spec.durable, async () => {
    const client = js();
    if (client === undefined) return undefined;
    const info = await (await client.consumers.get(spec.stream, spec.durable)).info(true);
    return { pending: info.num_pending, ackPending: info.num_ack_pending };
  });
}
