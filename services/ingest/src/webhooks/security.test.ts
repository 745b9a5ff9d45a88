// The webhook route against floods and replays: failed authentication is paid for by the peer,
// not by the endpoint's real senders; a replayed signed body is a repeat however it is labelled;
// the endpoint's configuration travels with each delivery for the parser.
import { createHmac } from 'node:crypto';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Publish, PublishOptions } from '@onpush/nats';
import { startHttp } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { ingestMetrics } from '../metrics.js';
import { repeatMemory } from '../repeats.js';
import { memoryStore } from '../repeats.test-support.js';
import type { Endpoint } from './endpoints.js';
import { peerKey } from './peers.js';
import { webhookRoute } from './route.js';
import { Secret } from './secret.js';

const SECRET = 'a-shared-secret-of-some-length';
const log = createLogger({ service: 'ingest-test' }, { write: () => undefined });
const published: { subject: string; options: PublishOptions }[] = [];
const publish: Publish = (subject, _data, options) => {
  published.push({ subject, options });
  return Promise.resolve({ stream: 'ONPUSH', seq: published.length, duplicate: false });
};

const endpoints: Endpoint[] = [
  {
    name: 'dist',
    source: 'distribution',
    auth: { type: 'token', header: 'authorization', prefix: 'Bearer ', secret: new Secret(SECRET) },
    registryHost: 'registry.example.com',
    repositories: ['team-a/*', 'shared/**'],
    rateLimit: { perSecond: 1, burst: 10 },
    maxBodyBytes: 4096,
  },
  {
    name: 'gh',
    source: 'github',
    auth: { type: 'hmac', header: 'x-hub-signature-256', secret: new Secret(SECRET) },
    rateLimit: { perSecond: 100, burst: 100 },
    maxBodyBytes: 4096,
  },
];

let server: Server;
let port = 0;

beforeAll(async () => {
  const metrics = ingestMetrics(createMetrics('ingest-test'));
  server = await startHttp({
    port: 0,
    host: '0.0.0.0',
    registry: metrics.registry,
    live: () => true,
    ready: () => ({ ready: true, detail: {} }),
    routes: [
      webhookRoute({
        endpoints,
        publish,
        metrics,
        log,
        peerLimit: { perSecond: 0.001, burst: 3 },
        repeats: repeatMemory(memoryStore()),
      }),
    ],
  });
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  published.length = 0;
});

/** POSTs from `from` (a loopback address of its own: a peer of its own). */
function post(
  from: string,
  path: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        localAddress: from,
        agent: false,
        headers: { 'content-type': 'application/json', ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const event = (id: string, repository: string) =>
  JSON.stringify({
    events: [
      {
        id,
        action: 'push',
        target: { repository, tag: 'v1', mediaType: 'application/vnd.oci.image.manifest.v1+json' },
        request: { host: 'evil.example.net' },
      },
    ],
  });

const signed = (body: string) =>
  `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;

describe('failed authentication is charged to the peer, not to the endpoint', () => {
  it('a junk flood from one address: it gets 401 then 429; a real sender from another is never refused', async () => {
    const junk: number[] = [];
    const real: number[] = [];
    for (let i = 0; i < 40; i += 1) {
      junk.push(
        (
          await post('127.0.0.3', '/webhooks/dist', event(`j${i}`, 'team-a/app'), {
            authorization: 'Bearer wrong',
          })
        ).status,
      );
      if (i % 10 === 0)
        real.push(
          (
            await post('127.0.0.2', '/webhooks/dist', event(`r${i}`, 'team-a/app'), {
              authorization: `Bearer ${SECRET}`,
            })
          ).status,
        );
    }
    expect(junk.slice(0, 3)).toEqual([401, 401, 401]);
    expect(new Set(junk.slice(3))).toEqual(new Set([429]));
    expect(real).toEqual([202, 202, 202, 202]);
    expect(published).toHaveLength(4);
  });

  it('a peer over its failures still gets a delivery it proves through (a proxy is one address)', async () => {
    const forged = () =>
      post('127.0.0.4', '/webhooks/gh', '{}', { 'x-hub-signature-256': 'sha256=00' });
    expect([(await forged()).status, (await forged()).status, (await forged()).status]).toEqual([
      401, 401, 401,
    ]);
    expect((await forged()).status).toBe(429);
    const body = JSON.stringify({ action: 'published', n: 1 });
    const signedPost = await post('127.0.0.4', '/webhooks/gh', body, {
      'x-hub-signature-256': signed(body),
    });
    expect(signedPost.status).toBe(202);
    const token = await post('127.0.0.3', '/webhooks/dist', event('p1', 'team-a/app'), {
      authorization: `Bearer ${SECRET}`,
    });
    expect(token.status).toBe(202);
  });

  it('keys peers by address, IPv6 by its /64', () => {
    expect(peerKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(peerKey('10.1.2.3')).toBe('10.1.2.3');
    expect(peerKey('2001:db8:0:1::1')).toBe(peerKey('2001:db8:0:1:ffff::2'));
    expect(peerKey('2001:db8:0:1::1')).not.toBe(peerKey('2001:db8:0:2::1'));
    expect(peerKey(undefined)).toBe('unknown');
  });
});

describe('repeats and the endpoint configuration', () => {
  it('a signed body replayed with a fresh X-GitHub-Delivery is a repeat: 202 duplicate, stored once', async () => {
    const body = JSON.stringify({ action: 'published', package: { name: 'app' }, n: 2 });
    const send = (delivery: string) =>
      post('127.0.0.6', '/webhooks/gh', body, {
        'x-hub-signature-256': signed(body),
        'x-github-event': 'package',
        'x-github-delivery': delivery,
      });
    const first = await send('d-1');
    const replay = await send('d-2');
    expect(first.status).toBe(202);
    expect(JSON.parse(first.body)).toEqual({ eventId: 'github:d-1', duplicate: false });
    expect(replay.status).toBe(202);
    // answered with the event it repeats, as a JetStream duplicate is
    expect(JSON.parse(replay.body)).toEqual({ eventId: 'github:d-1', duplicate: true });
    expect(published).toHaveLength(1);
  });

  it("stores the endpoint's registry host and repository globs with the body, for the parser", async () => {
    const res = await post('127.0.0.7', '/webhooks/dist', event('b1', 'team-b/app'), {
      authorization: `Bearer ${SECRET}`,
      'onpush-repositories': '**',
    });
    expect(res.status).toBe(202);
    expect(published[0]?.options.headers).toMatchObject({
      'Onpush-Registry-Host': 'registry.example.com',
      'Onpush-Repositories': 'team-a/*,shared/**',
      'Onpush-Transport-onpush-repositories': '**',
    });
  });
});
