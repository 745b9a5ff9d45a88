// Assertions on received spans: parent-child links and the messaging attributes of a NATS hop.
import { expect } from 'vitest';
import { KIND, one, type ReceivedSpan } from './otlp-receiver.js';

/** The one span of `spans` that is a child of `parent` and matches `where`. */
export function childOf(
  spans: readonly ReceivedSpan[],
  parent: ReceivedSpan,
  where: Partial<ReceivedSpan>,
): ReceivedSpan {
  return one(
    spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId),
    where,
  );
}

/** A NATS hop: the consumer span carries the producer's message, as the conventions name it. */
export function expectHop(producer: ReceivedSpan, consumer: ReceivedSpan, group: string): void {
  expect(producer.kind).toBe(KIND.producer);
  expect(producer.attributes).toMatchObject({
    'messaging.system': 'nats',
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'publish',
    'messaging.nats.message.duplicate': false,
  });
  expect(consumer.kind).toBe(KIND.consumer);
  expect(consumer.attributes).toMatchObject({
    'messaging.system': 'nats',
    'messaging.destination.name': producer.attributes['messaging.destination.name'],
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.consumer.group.name': group,
    'messaging.message.id': producer.attributes['messaging.message.id'],
    'messaging.nats.message.stream_sequence':
      producer.attributes['messaging.nats.message.stream_sequence'],
    'messaging.nats.message.delivery_count': 1,
    'messaging.nats.stream.name': 'ONPUSH',
  });
  expect(consumer.startMs).toBeGreaterThanOrEqual(producer.startMs);
}
