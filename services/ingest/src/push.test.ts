import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { parseDeadLetter, parseOutcome } from '@onpush/contracts';
import { kvKey, type Publish, type PublishOptions } from '@onpush/nats';
import { startHttp } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { ingestMetrics } from './metrics.js';
import { PayloadTooLargeError } from './payload-limit.js';
import { EnvelopeError, parseEnvelope, pushRoute } from './push.js';
import {
  PUBLISH_CLOCK_SKEW_MS,
  brokerDeduplicates,
  repeatMemory,
  type RepeatMemory,
} from './repeats.js';
import { memoryStore } from './repeats.test-support.js';

const log = createLogger({ service: 'ingest-test' }, { write: () => undefined });
const garBody =
  '{"action":"INSERT","digest":"us-docker.pkg.dev/p/r/app@sha256:abc","tag":"us-docker.pkg.dev/p/r/app:1.1"}';

interface Call {
  subject: string;
  data: Uint8Array;
  options: PublishOptions;
}

let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

const NOW = new Date('2025-05-05T05:05:05.000Z');

async function start(
  publish: Publish,
  maxBodyBytes = 4096,
  repeats?: RepeatMemory,
): Promise<string> {
  const metrics = ingestMetrics(createMetrics('ingest-test'));
  server = await startHttp({
    port: 0,
    host: '127.0.0.1',
    registry: metrics.registry,
    live: () => true,
    ready: () => ({ ready: true, detail: {} }),
    routes: [
      pushRoute({
        publish,
        maxBodyBytes,
        metrics,
        log,
        now: () => NOW,
        repeats,
      }),
    ],
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function recording(): { publish: Publish; calls: Call[] } {
  const calls: Call[] = [];
  const publish: Publish = (subject, data, options) => {
    calls.push({ subject, data, options });
    return Promise.resolve({ stream: 'ONPUSH', seq: calls.length, duplicate: false });
  };
  return { publish, calls };
}

function envelope(message: Record<string, unknown>): string {
  return JSON.stringify({ message, subscription: 'projects/p/subscriptions/onpush-gcr-push' });
}

const goodMessage = {
  data: Buffer.from(garBody).toString('base64'),
  messageId: '2070443601311540',
  message_id: '2070443601311540',
  publishTime: '2021-02-26T19:13:55.749Z',
  attributes: { origin: 'gcr' },
};

const post = (url: string, body: string, contentType = 'application/json'): Promise<Response> =>
  fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });

describe('push route', () => {
  it.each(['/pubsub/push', '/webhooks/gcr'])(
    '%s: 204 once JetStream stored the decoded bytes',
    async (path) => {
      const { publish, calls } = recording();
      const url = await start(publish);
      const res = await post(
        `${url}${path}`,
        envelope(goodMessage),
        'application/json; charset=utf-8',
      );

      expect(res.status).toBe(204);
      expect(calls).toHaveLength(1);
      expect(calls[0]?.subject).toBe('onpush.raw.gar');
      expect(Buffer.from(calls[0]?.data ?? []).toString()).toBe(garBody);
      expect(calls[0]?.options.msgId).toBe('gar:2070443601311540');
      expect(calls[0]?.options.headers).toMatchObject({
        'Onpush-Transport-via': 'push',
        'Onpush-Transport-publish-time': '2021-02-26T19:13:55.749Z',
        'Onpush-Transport-origin': 'gcr',
        'Onpush-Transport-subscription': 'projects/p/subscriptions/onpush-gcr-push',
      });
    },
  );

  it('503 when JetStream does not acknowledge, so Pub/Sub retries', async () => {
    const url = await start(() => Promise.reject(new Error('timeout')));
    const res = await post(`${url}/pubsub/push`, envelope(goodMessage));
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: 'unavailable' });
  });

  it('415 for a body that is not JSON by its content type; publishes nothing', async () => {
    const { publish, calls } = recording();
    const url = await start(publish);
    const res = await post(`${url}/pubsub/push`, envelope(goodMessage), 'text/plain');
    expect(res.status).toBe(415);
    expect(calls).toEqual([]);
  });

  it('413 over MAX_BODY_BYTES, naming it; publishes nothing', async () => {
    const { publish, calls } = recording();
    const url = await start(publish, 64);
    const res = await post(`${url}/pubsub/push`, envelope(goodMessage));
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({
      error: 'payload_too_large',
      message: 'body over 64 bytes (MAX_BODY_BYTES)',
      limit: 64,
    });
    expect(calls).toEqual([]);
  });

  it('a message larger than the NATS server accepts becomes a truncated dead letter and a dead outcome, answered 204 (Pub/Sub retries anything else forever)', async () => {
    const { publish: store, calls } = recording();
    const publish: Publish = (subject, data, options) =>
      subject === 'onpush.raw.gar'
        ? Promise.reject(new PayloadTooLargeError(data.byteLength, 250, 4_096))
        : store(subject, data, options);
    const url = await start(publish, 64 * 1024);
    const data = Buffer.alloc(20_000, 'z');
    const res = await post(
      `${url}/pubsub/push`,
      envelope({ ...goodMessage, data: data.toString('base64') }),
    );
    expect(res.status).toBe(204);
    expect(calls.map((c) => c.subject)).toEqual(['onpush.dead.ingest', 'onpush.outcome.dead']);
    const letter = parseDeadLetter(calls[0]!.data);
    expect(letter).toMatchObject({ stage: 'ingest', reason: 'payload_too_large' });
    expect(letter.truncated).toMatchObject({ originalBytes: 20_000, droppedHeaders: 0 });
    expect(calls[0]!.data.byteLength).toBeLessThan(4_096);
    expect(parseOutcome(calls[1]!.data)).toMatchObject({
      eventId: `gar:${goodMessage.messageId}`,
      fate: 'dead',
      reason: 'payload_too_large',
    });
  });

  it('503 when the dead letter of a message too large could not be stored either', async () => {
    const publish: Publish = (subject) =>
      Promise.reject(
        subject === 'onpush.raw.gar'
          ? new PayloadTooLargeError(2_000_000, 250, 1_048_576)
          : new Error('JetStream timeout'),
      );
    const url = await start(publish);
    const res = await post(`${url}/pubsub/push`, envelope(goodMessage));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
  });

  it.each([
    ['not JSON', '{"message":', 'invalid_json'],
    ['no message', '{"subscription":"s"}', 'missing_message'],
    ['no messageId', envelope({ data: goodMessage.data }), 'missing_message_id'],
    ['data not base64', envelope({ ...goodMessage, data: 'not base64!' }), 'invalid_data'],
    [
      'attributes not strings',
      envelope({ ...goodMessage, attributes: { n: 1 } }),
      'invalid_attributes',
    ],
  ])('400 for %s; publishes nothing', async (_case, body, error) => {
    const { publish, calls } = recording();
    const url = await start(publish);
    const res = await post(`${url}/pubsub/push`, body);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error });
    expect(calls).toEqual([]);
  });

  it('405 for another method on a push path; other paths are left to other routes', async () => {
    const url = await start(recording().publish);
    const get = await fetch(`${url}/pubsub/push`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect((await post(`${url}/elsewhere`, '{}')).status).toBe(404);
  });
});

// Given ingest's repeats bucket (what was stored in the last day) and JetStream's own
// de-duplication (Nats-Msg-Id = the event id, within the stream's duplicate window)
describe('repeats of a push', () => {
  const at = (msAgo: number) => ({ ...goodMessage, publishTime: new Date(NOW.getTime() - msAgo) });

  it('a message younger than the duplicate window is not looked up: JetStream refuses its copy', async () => {
    const bucket = memoryStore();
    const calls: Call[] = [];
    const stored = new Set<string>();
    // JetStream within its window: a second publish with the same Nats-Msg-Id is a duplicate
    const publish: Publish = (subject, data, options) => {
      calls.push({ subject, data, options });
      const duplicate = stored.has(options.msgId ?? '');
      stored.add(options.msgId ?? '');
      return Promise.resolve({ stream: 'ONPUSH', seq: stored.size, duplicate });
    };
    const url = await start(publish, 4096, repeatMemory(bucket));
    const fresh = envelope(at(5_000));
    expect((await post(`${url}/pubsub/push`, fresh)).status).toBe(204);
    expect((await post(`${url}/pubsub/push`, fresh)).status).toBe(204);
    // no read on the way in; remembered all the same, for a replay after the window
    expect(bucket.reads).toEqual([]);
    expect([...bucket.values.keys()]).toEqual([kvKey('gar:2070443601311540')]);
    expect(calls.map((c) => c.options.msgId)).toEqual([
      'gar:2070443601311540',
      'gar:2070443601311540',
    ]);
    expect(stored.size).toBe(1);
  });

  it('an older message is looked up: one remembered is answered 204 and not published again', async () => {
    const bucket = memoryStore();
    const key = kvKey('gar:2070443601311540');
    bucket.values.set(key, { at: NOW.toISOString(), eventId: 'gar:2070443601311540' });
    const { publish, calls } = recording();
    const url = await start(publish, 4096, repeatMemory(bucket));
    expect((await post(`${url}/pubsub/push`, envelope(at(10 * 60_000)))).status).toBe(204);
    expect(bucket.reads).toEqual([key]);
    expect(calls).toEqual([]);
  });

  it('judges by the publish time, allowing the clock skew either way', () => {
    const window = 120_000;
    const ago = (ms: number) => new Date(NOW.getTime() - ms);
    expect(brokerDeduplicates(ago(0), NOW, window)).toBe(true);
    expect(brokerDeduplicates(ago(window - PUBLISH_CLOCK_SKEW_MS), NOW, window)).toBe(true);
    expect(brokerDeduplicates(ago(window - PUBLISH_CLOCK_SKEW_MS + 1), NOW, window)).toBe(false);
    expect(brokerDeduplicates(ago(-PUBLISH_CLOCK_SKEW_MS), NOW, window)).toBe(true);
    expect(brokerDeduplicates(ago(-PUBLISH_CLOCK_SKEW_MS - 1), NOW, window)).toBe(false);
    expect(brokerDeduplicates(ago(0).toISOString(), NOW, window)).toBe(true);
    expect(brokerDeduplicates('not a time', NOW, window)).toBe(false);
    expect(brokerDeduplicates(undefined, NOW, window)).toBe(false);
  });
});

describe('parseEnvelope', () => {
  it('accepts message_id / publish_time spellings, URL-safe base64 and no data', () => {
    const body = Buffer.from(
      JSON.stringify({ message: { message_id: '9', publish_time: 'x', data: '-_8' } }),
    );
    const delivery = parseEnvelope(body);
    expect(delivery).toMatchObject({
      messageId: '9',
      publishTime: 'x',
      attributes: {},
      via: 'push',
    });
    expect([...delivery.data]).toEqual([0xfb, 0xff]);
    expect(parseEnvelope(Buffer.from('{"message":{"messageId":"1"}}')).data).toHaveLength(0);
  });

  it.each(['abcde', 'ab=c', 'YQ==='])('rejects %j as data', (data) => {
    const body = Buffer.from(JSON.stringify({ message: { messageId: '1', data } }));
    expect(() => parseEnvelope(body)).toThrow(EnvelopeError);
  });
});
