import { FATES } from '@onpush/contracts';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminGuard, guardedRoute, startHttp } from '@onpush/service';
import { pushStore, type PushFeed } from './feed.js';
import { consoleRoutes } from './routes.js';

const TOKEN = 'console-test-token-0123456789';
const at = '2026-12-01T10:00:00.000Z';

// The console's routes as the dlq-manager mounts them: the page open, the API behind the token.
describe('the console over HTTP', () => {
  const store = pushStore(100);
  let ended = false;
  const feed: PushFeed = {
    pushes: store.pushes,
    get: store.get,
    caughtUp: () => true,
    subscribe: (listener, end) => store.subscribe(listener, end),
    stop: async () => {
      ended = true;
      store.endAll();
    },
  };
  let server: Server;
  let base = '';
  const auth = { authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    const routes = consoleRoutes({
      feed: () => feed,
      store: () => undefined,
      status: () => undefined,
      traceUrl: 'http://jaeger/trace/{traceId}',
      heartbeatMs: 60_000,
    });
    const guard = adminGuard({ token: TOKEN });
    server = await startHttp({
      port: 0,
      host: '127.0.0.1',
      routes: [...routes.shell, guardedRoute(guard, routes.api)],
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    if (!ended) await feed.stop();
    await new Promise((resolve) => server.close(resolve));
  });

  it('asks for the token on every API route, never on the page', async () => {
    for (const path of ['config', 'pushes', 'pushes/stream', 'health', 'dlq']) {
      const res = await fetch(`${base}/console/api/${path}`);
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="onpush"');
    }
    expect((await fetch(`${base}/console`, { redirect: 'manual' })).status).toBe(302);
    expect([200, 503]).toContain((await fetch(`${base}/console/`)).status);
  });

  it('lists pushes, names a bad filter, and answers 503 for what is not connected yet', async () => {
    store.fold({
      outcome: { v: 1, eventId: 'gar:1', fate: 'no-match', stage: 'resolver', at },
      seq: 1,
    });
    const list = await fetch(`${base}/console/api/pushes?fate=no-match`, { headers: auth });
    expect(await list.json()).toMatchObject({ pushes: [{ eventId: 'gar:1' }], caughtUp: true });
    const bad = await fetch(`${base}/console/api/pushes?fate=boom`, { headers: auth });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ type: 'invalid_filter' });
    // a path that names no workload — a malformed escape among them — is a 404 that says why
    for (const path of [
      'workloads/Deployment/shop',
      'workloads/Deployment/sh%ZZop/web',
      'workloads/Pod/shop/web',
    ]) {
      const res = await fetch(`${base}/console/api/${path}`, { headers: auth });
      expect(res.status, path).toBe(404);
      expect(await res.json(), path).toMatchObject({ type: 'not_found' });
    }
    expect((await fetch(`${base}/console/api/health`, { headers: auth })).status).toBe(503);
    expect((await fetch(`${base}/console/api/dlq`, { headers: auth })).status).toBe(503);
    const config = await fetch(`${base}/console/api/config`, { headers: auth });
    expect(await config.json()).toEqual({
      traceUrl: 'http://jaeger/trace/{traceId}',
      fates: [...FATES],
    });
  });

  it('streams each change that passes the filter, and ends the stream when the feed stops', async () => {
    const res = await fetch(`${base}/console/api/pushes/stream?namespace=shop`, { headers: auth });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = res.text();
    await new Promise((resolve) => setTimeout(resolve, 50));
    store.fold({
      outcome: { v: 1, eventId: 'gar:2', fate: 'no-match', stage: 'resolver', at },
      seq: 2,
    });
    const workload = { kind: 'Deployment', namespace: 'shop', name: 'web' } as const;
    store.fold({
      outcome: { v: 1, eventId: 'gar:3', fate: 'restarted', stage: 'restarter', workload, at },
      seq: 3,
    });
    await feed.stop();
    const events = (await text).split('\n\n').filter((block) => block.startsWith('event: push'));
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!.split('data: ')[1]!)).toMatchObject({
      eventId: 'gar:3',
      workloads: [{ workload, fate: 'restarted' }],
    });
  });
});
