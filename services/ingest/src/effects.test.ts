import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '@onpush/config';
import { startHttp } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { ingestSchema } from './config.js';
import { InFlight, ingestService } from './effects.js';
import { ingestMetrics } from './metrics.js';

const log = createLogger({ service: 'ingest-test' }, { write: () => undefined });

describe('ingestService', () => {
  it('answers a push with 503 until NATS is connected (Pub/Sub retries it), and is not ready meanwhile', async () => {
    const config = loadConfig(ingestSchema, { PUBSUB_PULL: 'false' });
    const metrics = ingestMetrics(createMetrics('ingest-test'));
    const { routes, ready } = ingestService({ config, log, metrics });
    expect(ready()).toBe(false);
    const server = await startHttp({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      live: () => true,
      ready: () => ({ ready: false, detail: {} }),
      routes,
    });
    try {
      const { port } = server.address() as AddressInfo;
      const body = JSON.stringify({ message: { messageId: '1', data: 'e30=' } });
      const res = await fetch(`http://127.0.0.1:${port}/pubsub/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(503);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('InFlight', () => {
  it('waits for tracked work, whether it resolves or rejects, and forgets it after', async () => {
    const inFlight = new InFlight();
    let done = false;
    const slow = new Promise<void>((resolve) =>
      setTimeout(() => {
        done = true;
        resolve();
      }, 10),
    );
    inFlight.track(slow);
    inFlight.track(Promise.reject(new Error('nacked')));
    await inFlight.settled();
    expect(done).toBe(true);
    await Promise.resolve();
    expect(inFlight.size).toBe(0);
  });
});

describe('ingestSchema', () => {
  it('has the documented defaults and needs PUBSUB_PROJECT only to pull', () => {
    const config = loadConfig(ingestSchema, { PUBSUB_PROJECT: 'p' });
    expect(config).toMatchObject({
      PORT: 8081,
      PUBSUB_SUBSCRIPTION: 'onpush-gcr',
      PUBSUB_TOPIC: 'gcr',
      PUBSUB_PULL: true,
      PUBSUB_CREATE_SUBSCRIPTION: false,
      MAX_BODY_BYTES: 1024 * 1024,
      PUBSUB_MAX_MESSAGES: 500,
    });
    expect(() => loadConfig(ingestSchema, { PORT: 'x' })).toThrow(
      /PORT: .*\n?.*PUBSUB_PROJECT: required when PUBSUB_PULL/s,
    );
    expect(loadConfig(ingestSchema, { PUBSUB_PULL: 'false' }).PUBSUB_PROJECT).toBeUndefined();
  });
});
