import { describe, expect, it } from 'vitest';
import type { Publish, PublishOptions } from '@onpush/nats';
import { DeliveryError, acceptGarDelivery, isoTime, type GarDelivery } from './handler.js';

interface Call {
  subject: string;
  data: Uint8Array;
  options: PublishOptions;
}

function fakePublish(): { publish: Publish; calls: Call[] } {
  const calls: Call[] = [];
  const publish: Publish = (subject, data, options) => {
    calls.push({ subject, data, options });
    return Promise.resolve({ stream: 'ONPUSH', seq: calls.length, duplicate: false });
  };
  return { publish, calls };
}

const body = new TextEncoder().encode(
  '{"action":"INSERT","tag":"us-docker.pkg.dev/p/r/app:1.1"}\n',
);
const now = () => new Date('2025-01-02T03:04:05.678Z');
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

function delivery(overrides: Partial<GarDelivery> = {}): GarDelivery {
  return {
    data: body,
    messageId: '12345678901',
    publishTime: new Date('2025-01-02T03:04:05.123Z'),
    attributes: {},
    via: 'pull',
    ...overrides,
  };
}

describe('acceptGarDelivery', () => {
  it('publishes the untouched bytes on onpush.raw.gar, keyed by the Pub/Sub messageId', async () => {
    const { publish, calls } = fakePublish();
    const published = await acceptGarDelivery(
      publish,
      delivery({ subscription: 'projects/p/subscriptions/onpush-gcr' }),
      { now },
    );

    expect(published).toEqual({ stream: 'ONPUSH', seq: 1, duplicate: false });
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call?.subject).toBe('onpush.raw.gar');
    expect(call?.data).toBe(body);
    expect(call?.options.msgId).toBe('gar:12345678901');
    expect(call?.options.headers).toEqual({
      'Onpush-Event-Id': 'gar:12345678901',
      'Onpush-Source': 'gar',
      'Onpush-Received-At': '2025-01-02T03:04:05.678Z',
      'Onpush-Transport-message-id': '12345678901',
      'Onpush-Transport-publish-time': '2025-01-02T03:04:05.123Z',
      'Onpush-Transport-via': 'pull',
      'Onpush-Transport-subscription': 'projects/p/subscriptions/onpush-gcr',
    });
  });

  it('copies attributes as transport headers, skips names that cannot be header names, keeps its own headers', async () => {
    const { publish, calls } = fakePublish();
    const attributes = {
      Kind: 'gcr',
      'bad name': 'x',
      ü: 'x',
      via: 'forged',
      'multi-line': 'a\r\nb',
    };
    await acceptGarDelivery(
      publish,
      delivery({ attributes, via: 'push', publishTime: undefined }),
      { now },
    );

    const headers = calls[0]?.options.headers ?? {};
    expect(headers['Onpush-Transport-kind']).toBe('gcr');
    expect(headers['Onpush-Transport-via']).toBe('push');
    expect(headers['Onpush-Transport-multi-line']).toBe('a b');
    expect(Object.keys(headers).filter((k) => k.includes(' ') || k.includes('ü'))).toEqual([]);
    expect(headers).not.toHaveProperty('Onpush-Transport-publish-time');
  });

  it('carries W3C trace context from the client library attribute, or a plain traceparent', async () => {
    const { publish, calls } = fakePublish();
    await acceptGarDelivery(
      publish,
      delivery({ attributes: { googclient_traceparent: TRACEPARENT } }),
      { now },
    );
    await acceptGarDelivery(
      publish,
      delivery({ attributes: { traceparent: TRACEPARENT, tracestate: 'k=v' } }),
      { now },
    );
    await acceptGarDelivery(
      publish,
      delivery({ attributes: { traceparent: 'not-a-traceparent' } }),
      { now },
    );

    expect(calls[0]?.options.headers?.['traceparent']).toBe(TRACEPARENT);
    expect(calls[1]?.options.headers).toMatchObject({
      traceparent: TRACEPARENT,
      tracestate: 'k=v',
    });
    expect(calls[2]?.options.headers).not.toHaveProperty('traceparent');
  });

  it('turns an RFC 3339 push publishTime (nanoseconds too) into ISO 8601; drops an unreadable one', async () => {
    const { publish, calls } = fakePublish();
    await acceptGarDelivery(
      publish,
      delivery({ publishTime: '2021-02-26T19:13:55.749123456Z', via: 'push' }),
      { now },
    );
    await acceptGarDelivery(publish, delivery({ publishTime: 'yesterday', via: 'push' }), { now });

    expect(calls[0]?.options.headers?.['Onpush-Transport-publish-time']).toBe(
      '2021-02-26T19:13:55.749Z',
    );
    expect(calls[1]?.options.headers).not.toHaveProperty('Onpush-Transport-publish-time');
    expect(isoTime(undefined)).toBeUndefined();
  });

  it('propagates a failed publish, and refuses a delivery without a usable messageId', async () => {
    const failing: Publish = () => Promise.reject(new Error('no JetStream'));
    await expect(acceptGarDelivery(failing, delivery())).rejects.toThrow('no JetStream');

    const { publish, calls } = fakePublish();
    await expect(acceptGarDelivery(publish, delivery({ messageId: ' ' }))).rejects.toBeInstanceOf(
      DeliveryError,
    );
    expect(calls).toEqual([]);
  });
});
