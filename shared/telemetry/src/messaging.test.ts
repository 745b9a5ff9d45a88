import { context, propagation, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { withProcessSpan, withPublishSpan, type Delivery } from './messaging.js';
import { activeTraceparent, annotate, contextOf, inSpan, recordSpan } from './spans.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
});
afterAll(() => {
  trace.disable();
  context.disable();
  propagation.disable();
});
beforeEach(() => exporter.reset());

const ack = { stream: 'ONPUSH', seq: 41, duplicate: false };
const spans = () => exporter.getFinishedSpans();
const byName = (name: string) => spans().find((s) => s.name === name);

function delivery(headers: Record<string, string>, deliveryCount = 1): Delivery {
  return {
    subject: 'onpush.pushed',
    headers,
    consumer: 'resolver',
    stream: 'ONPUSH',
    streamSequence: 41,
    deliveryCount,
    bodySize: 3,
    messageId: 'onpush.pushed|gar:1',
    eventId: 'gar:1',
  };
}

/** Publishes like a stage does and returns the headers the message carried. */
async function publish(subject = 'onpush.pushed'): Promise<Record<string, string>> {
  let sent: Record<string, string> = {};
  const message = { subject, messageId: `${subject}|gar:1`, bodySize: 3, headers: {} };
  await withPublishSpan(message, (headers) => {
    sent = headers;
    return Promise.resolve(ack);
  });
  return sent;
}

describe('messaging spans', () => {
  it('links a consumer span to the producer span through the traceparent header', async () => {
    const headers = await publish();
    await withProcessSpan(delivery(headers), () => Promise.resolve());
    const producer = byName('publish onpush.pushed');
    const consumer = byName('process onpush.pushed');
    expect(producer?.kind).toBe(SpanKind.PRODUCER);
    expect(consumer?.kind).toBe(SpanKind.CONSUMER);
    expect(headers['traceparent']).toBe(
      `00-${producer?.spanContext().traceId}-${producer?.spanContext().spanId}-01`,
    );
    expect(consumer?.spanContext().traceId).toBe(producer?.spanContext().traceId);
    expect(consumer?.parentSpanContext?.spanId).toBe(producer?.spanContext().spanId);
    expect(producer?.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.destination.name': 'onpush.pushed',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.message.id': 'onpush.pushed|gar:1',
      'messaging.nats.message.stream_sequence': 41,
      'messaging.nats.message.duplicate': false,
    });
    expect(consumer?.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.operation.type': 'process',
      'messaging.consumer.group.name': 'resolver',
      'messaging.nats.message.delivery_count': 1,
      'messaging.nats.message.stream_sequence': 41,
      'onpush.event.id': 'gar:1',
    });
  });

  it('replaces a traceparent copied from upstream with the producer span', async () => {
    const upstream = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const message = {
      subject: 'onpush.outcome.restarted',
      messageId: 'x',
      bodySize: 0,
      headers: { Traceparent: upstream, 'Onpush-Event-Id': 'gar:1' },
    };
    let sent: Record<string, string> = {};
    await withPublishSpan(message, (headers) => {
      sent = headers;
      return Promise.resolve(ack);
    });
    expect(Object.keys(sent).sort()).toEqual(['Onpush-Event-Id', 'traceparent']);
    expect(sent['traceparent']).not.toBe(upstream);
    expect(message.headers.Traceparent).toBe(upstream);
  });

  it('shows each delivery of a retried message as its own attempt, errors marked', async () => {
    const headers = await publish();
    const failure = Object.assign(new Error('api down'), { type: 'http_503' });
    await expect(withProcessSpan(delivery(headers, 1), () => Promise.reject(failure))).rejects.toBe(
      failure,
    );
    await withProcessSpan(delivery(headers, 2), () => Promise.resolve());
    const attempts = spans().filter((s) => s.name === 'process onpush.pushed');
    expect(attempts.map((s) => s.attributes['messaging.nats.message.delivery_count'])).toEqual([
      1, 2,
    ]);
    expect(attempts[0]?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'api down' });
    expect(attempts[0]?.attributes['error.type']).toBe('http_503');
    expect(attempts[1]?.status.code).toBe(SpanStatusCode.UNSET);
    expect(new Set(attempts.map((s) => s.parentSpanContext?.spanId)).size).toBe(1);
  });

  it('keeps the span active while the work runs: logs and annotations see it', async () => {
    const lines: string[] = [];
    const log = createLogger({ service: 't' }, { write: (line) => lines.push(line) });
    await withProcessSpan(delivery({}), async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      annotate({ 'onpush.resolver.matched_workloads': 2 });
      log.info('handled');
    });
    const span = byName('process onpush.pushed');
    const record = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    expect(record['trace_id']).toBe(span?.spanContext().traceId);
    expect(record['span_id']).toBe(span?.spanContext().spanId);
    expect(span?.attributes['onpush.resolver.matched_workloads']).toBe(2);
    expect(span?.parentSpanContext).toBeUndefined();
  });

  it('starts a new trace with a link when asked for a root', async () => {
    const headers = await publish();
    const original = byName('publish onpush.pushed')?.spanContext();
    await inSpan(
      {
        name: 'replay onpush.pushed',
        kind: SpanKind.PRODUCER,
        root: true,
        links: original ? [{ context: original }] : [],
      },
      () => Promise.resolve(headers),
    );
    const replay = byName('replay onpush.pushed');
    expect(replay?.spanContext().traceId).not.toBe(original?.traceId);
    expect(replay?.links[0]?.context.traceId).toBe(original?.traceId);
  });

  it('records work done elsewhere as a span of the trace a traceparent names, with its own times', async () => {
    let traceparent: string | undefined;
    await inSpan({ name: 'restart', kind: SpanKind.INTERNAL }, () => {
      traceparent = activeTraceparent();
      return Promise.resolve();
    });
    const restart = byName('restart')!.spanContext();
    expect(traceparent).toBe(`00-${restart.traceId}-${restart.spanId}-01`);
    recordSpan({
      name: 'rollout',
      kind: SpanKind.INTERNAL,
      parent: contextOf(traceparent),
      startTime: new Date(1_000),
      endTime: new Date(4_500),
      failed: { type: 'progress_deadline_exceeded', message: 'timed out progressing' },
    });
    const rollout = byName('rollout')!;
    expect(rollout.spanContext().traceId).toBe(restart.traceId);
    expect(rollout.parentSpanContext?.spanId).toBe(restart.spanId);
    expect(rollout.duration).toEqual([3, 500_000_000]);
    expect(rollout.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: 'timed out progressing',
    });
    expect(rollout.attributes['error.type']).toBe('progress_deadline_exceeded');
    // outside any span there is nothing to continue
    expect(activeTraceparent()).toBeUndefined();
  });
});
