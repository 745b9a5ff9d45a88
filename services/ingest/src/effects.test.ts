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
  const body = JSON.stringify({ message: { messageId: '1', data: 'e30=' } });

  /** The status of one push POSTed to ingest's routes built from `env`, and its metrics. */
  async function push(env: Record<string, string>, path = '/pubsub/push') {
    const config = loadConfig(ingestSchema, env);
    const metrics = ingestMetrics(createMetrics('ingest-test'));
    const { routes, ready } = ingestService({ config, log, metrics });
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
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      return { status: res.status, ready: ready(), metrics: await metrics.registry.metrics() };
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  const INSECURE = {
    PUBSUB_PULL: 'false',
    INSECURE_ALLOW_ANONYMOUS_PUSH: 'true',
    BIND_ADDRESS: '127.0.0.1',
  };

  it('answers an anonymous push with 503 until NATS is connected (Pub/Sub retries it), and is not ready meanwhile', async () => {
    const answer = await push(INSECURE);
    expect(answer.status).toBe(503);
    expect(answer.ready).toBe(false);
    expect(answer.metrics).toMatch(/^onpush_ingest_anonymous_push_enabled\{[^}]*\} 1$/m);
  });

  it.each([
    ['push mode', { PUBSUB_PULL: 'false' }],
    ['pull mode', { PUBSUB_PROJECT: 'p' }],
  ])('serves no anonymous push route by default (%s): 404', async (_, env) => {
    for (const path of ['/pubsub/push', '/webhooks/gcr']) {
      const answer = await push(env, path);
      expect(answer.status).toBe(404);
      expect(answer.metrics).toMatch(/^onpush_ingest_anonymous_push_enabled\{[^}]*\} 0$/m);
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

  it('allows INSECURE_ALLOW_ANONYMOUS_PUSH only in push mode on a loopback address', () => {
    const insecure = { INSECURE_ALLOW_ANONYMOUS_PUSH: 'true' };
    expect(loadConfig(ingestSchema, { PUBSUB_PROJECT: 'p' }).INSECURE_ALLOW_ANONYMOUS_PUSH).toBe(
      false,
    );
    for (const address of ['127.0.0.1', '::1', 'localhost'])
      expect(
        loadConfig(ingestSchema, { ...insecure, PUBSUB_PULL: 'false', BIND_ADDRESS: address })
          .INSECURE_ALLOW_ANONYMOUS_PUSH,
      ).toBe(true);
    expect(() => loadConfig(ingestSchema, { ...insecure, PUBSUB_PULL: 'false' })).toThrow(
      /INSECURE_ALLOW_ANONYMOUS_PUSH: only with BIND_ADDRESS on loopback/,
    );
    expect(() =>
      loadConfig(ingestSchema, {
        ...insecure,
        PUBSUB_PROJECT: 'p',
        BIND_ADDRESS: '127.0.0.1',
      }),
    ).toThrow(/INSECURE_ALLOW_ANONYMOUS_PUSH: only with PUBSUB_PULL=false/);
    expect(() =>
      loadConfig(ingestSchema, { ...insecure, PUBSUB_PULL: 'false', BIND_ADDRESS: '10.0.0.1' }),
    ).toThrow(/INSECURE_ALLOW_ANONYMOUS_PUSH: only with BIND_ADDRESS on loopback/);
  });
});
