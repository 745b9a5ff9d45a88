// Ingest against forged and hostile senders, with the real ingest and parser processes and a real
// nats-server: nothing anonymous enters, the endpoint's configuration outranks what a body claims,
// and a flood of junk from one address does not cost a real sender a single delivery.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAMS } from '@onpush/contracts';
import { Supervisor } from '@onpush/cli';
import { connectNats, jetstreamManager, type NatsConnection } from '@onpush/nats';
import { freePort, waitUntil } from '@onpush/sandbox';
import { eventually, useSandbox } from '@onpush/testing';
import { fates, startServices, type Running } from '../integration/webhooks-harness.js';
import { PUSH_PATH, pushEndpoint, pushHeaders } from '../support/pubsub-push.js';

const TOKEN = 'registry-token-0123456789abcdef';
const D = `sha256:${'5e'.repeat(32)}`;

const lastSeq = async (nc: NatsConnection): Promise<number> =>
  (await (await jetstreamManager(nc)).streams.info(STREAMS.main)).state.last_seq;

/** A Pub/Sub push envelope of an Artifact Registry INSERT of `image`. */
function envelope(messageId: string, image: string, publishTime = new Date().toISOString()) {
  const data = JSON.stringify({ action: 'INSERT', digest: `${image}@${D}`, tag: `${image}:1.0` });
  return JSON.stringify({
    message: { data: Buffer.from(data).toString('base64'), messageId, publishTime },
    subscription: 'projects/p/subscriptions/onpush-push',
  });
}

/** POSTs from the loopback address `from` (each address its own peer); resolves the status. */
function postFrom(from: string, url: string, body: string, headers: Record<string, string>) {
  return new Promise<number>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        localAddress: from,
        headers: { 'content-type': 'application/json', ...headers },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const distributionEvent = (id: string) =>
  JSON.stringify({
    events: [
      {
        id,
        action: 'push',
        target: {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          repository: 'team-a/app',
          tag: 'v1',
          digest: D,
        },
        request: { host: 'registry.example.com' },
      },
    ],
  });

// Given ingest with a `pubsub` endpoint (Pub/Sub push with its OIDC token) bound to the
// repositories p/team-a/*, a registry endpoint with a header token, and the parser.
describe('ingest: secure by default, configuration over payload, floods', () => {
  const sandbox = useSandbox(['nats'], 'ingest-security');
  let running: Running;
  let bare: { supervisor: Supervisor; url: string; logs: string[] } | undefined;
  let nc: NatsConnection;

  beforeAll(async () => {
    running = await startServices(
      sandbox(),
      [
        pushEndpoint({ repositories: ['p/team-a/*'] }),
        {
          name: 'registry',
          source: 'distribution',
          auth: { type: 'token', prefix: 'Bearer ', secretEnv: 'REGISTRY_TOKEN' },
          rateLimit: { perSecond: 20, burst: 20 },
        },
      ],
      { REGISTRY_TOKEN: TOKEN },
    );
    nc = await connectNats({ url: sandbox().need('nats').url, name: 'ingest-security-test' });
  });

  afterAll(async () => {
    await bare?.supervisor.stop(20_000);
    await running?.supervisor.stop(20_000);
    await nc?.close();
  });

  it('without webhook configuration, an anonymous push is refused (404) and nothing is stored', async () => {
    const port = await freePort();
    const logs: string[] = [];
    bare = {
      supervisor: new Supervisor({
        env: { ...process.env, ...sandbox().env, PUBSUB_PULL: 'false', LOG_LEVEL: 'info' },
        envFor: () => ({ PORT: String(port) }),
        services: ['ingest'],
        write: (line) => logs.push(line),
      }),
      url: `http://127.0.0.1:${port}`,
      logs,
    };
    bare.supervisor.start();
    await waitUntil('bare ingest ready', async () => (await fetch(`${bare!.url}/readyz`)).ok, {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    const before = await lastSeq(nc);
    const forged = envelope('forged-1', 'us-docker.pkg.dev/p/team-a/app', '9999-12-31T00:00:00Z');
    for (const path of ['/pubsub/push', '/webhooks/gcr']) {
      const res = await fetch(`${bare.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: forged,
      });
      expect(res.status, path).toBe(404);
    }
    // nor without a token on the configured endpoint
    const unsigned = await fetch(`${running.ingest}${PUSH_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: forged,
    });
    expect(unsigned.status).toBe(401);
    expect(await lastSeq(nc)).toBe(before);
    expect(logs.join('\n')).toContain('nothing to ingest');
  });

  it('a push claiming a far-future publish time is stored with pushedAt clamped to its receipt plus 5 min', async () => {
    const res = await fetch(`${running.ingest}${PUSH_PATH}`, {
      method: 'POST',
      headers: pushHeaders(),
      body: envelope('future-1', 'us-docker.pkg.dev/p/team-a/app', '9999-12-31T00:00:00Z'),
    });
    expect(res.status).toBe(204);
    const pushed = await eventually('the push parsed', async () => {
      const found = (await fates(nc))('gar:future-1').pushed;
      return found.length === 1 ? found[0] : undefined;
    });
    expect(Date.parse(pushed.pushedAt ?? '')).toBe(Date.parse(pushed.receivedAt) + 5 * 60_000);
  });

  it('a push of a repository the endpoint is not bound to is a dead letter: repository_not_allowed', async () => {
    const res = await fetch(`${running.ingest}${PUSH_PATH}`, {
      method: 'POST',
      headers: pushHeaders(),
      body: envelope('foreign-1', 'us-docker.pkg.dev/p/team-b/app'),
    });
    expect(res.status).toBe(204);
    const dead = await eventually('the dead letter', async () => {
      const found = (await fates(nc))('gar:foreign-1');
      return found.dead.length === 1 ? found : undefined;
    });
    expect(dead.pushed).toEqual([]);
    expect(dead.dead[0]).toMatchObject({ stage: 'parser', reason: 'repository_not_allowed' });
    expect(dead.dead[0]?.error).toContain('p/team-b/app');
  });

  it('a junk flood from one address does not make a single real delivery from another 429', async () => {
    const url = `${running.ingest}/webhooks/registry`;
    let junk = 0;
    const junkStatuses = new Map<number, number>();
    let flooding = true;
    const flood = async (): Promise<void> => {
      while (flooding) {
        junk += 1;
        const status = await postFrom('127.0.0.3', url, distributionEvent(`junk-${junk}`), {
          authorization: 'Bearer not-the-token',
        });
        junkStatuses.set(status, (junkStatuses.get(status) ?? 0) + 1);
      }
    };
    const flooders = Array.from({ length: 8 }, flood);
    const real: number[] = [];
    for (let i = 0; i < 30; i += 1) {
      real.push(
        await postFrom('127.0.0.2', url, distributionEvent(`real-${i}`), {
          authorization: `Bearer ${TOKEN}`,
        }),
      );
      await new Promise((r) => setTimeout(r, 100)); // 10/s, within the endpoint's 20/s
    }
    flooding = false;
    await Promise.all(flooders);
    console.info(`flood: ${junk} junk requests, answered ${JSON.stringify([...junkStatuses])}`);
    expect(real.filter((s) => s === 429)).toEqual([]);
    expect(new Set(real)).toEqual(new Set([202]));
    // the junk was refused: 401 at first, then 429 to that address
    expect(junk).toBeGreaterThan(100);
    expect(junkStatuses.get(429) ?? 0).toBeGreaterThan(junk / 2);
    expect([...junkStatuses.keys()].sort()).toEqual([401, 429]);
  });
});
