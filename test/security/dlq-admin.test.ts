import { writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADERS, STREAMS, TOPOLOGY, rawSubject } from '@onpush/contracts';
import { openDlqStore, type DlqStore } from '@onpush/dlq';
import {
  connectNats,
  jetstream,
  jetstreamManager,
  provision,
  publisher,
  type NatsConnection,
} from '@onpush/nats';
import { deadLetterFor, incomingOf, publishAll } from '@onpush/service';
import { eventually, useSandbox } from '@onpush/testing';
import { startDlqManager, type DlqManagerProcess } from '../support/dlq-manager.js';

const TOKEN = 'dlq-admin-token-0123456789abcdef';

/** As the parser would: consume a raw delivery, give up on it, publish its dead letter, ack. */
async function deadLetterRaw(nc: NatsConnection, msgId: string): Promise<void> {
  const js = jetstream(nc);
  const body = new TextEncoder().encode('{"not json');
  await publisher(js)(rawSubject('gar'), body, {
    msgId,
    headers: { [HEADERS.source]: 'gar', [HEADERS.receivedAt]: new Date().toISOString() },
  });
  const m = await (await js.consumers.get(STREAMS.main, 'parser')).next({ expires: 5_000 });
  if (!m) throw new Error('the raw delivery did not arrive');
  const failure = { type: 'invalid_json', message: 'body is not JSON', retryable: false };
  await publishAll(publisher(js), deadLetterFor('parser', incomingOf(m), failure, STREAMS.main));
  await m.ackAck();
}

// Given a real nats-server with a dead letter in ONPUSH_DLQ, and the dlq-manager as a process:
// health and metrics on PORT, the /dlq API on ADMIN_PORT behind the token in ADMIN_TOKEN_FILE.
describe('the dlq-manager API: a bearer token, never a cross-site request', () => {
  const sandbox = useSandbox(['nats'], 'dlq-admin');
  let nc: NatsConnection;
  let store: DlqStore;
  let dlqManager: DlqManagerProcess | undefined;
  let id = 0;
  let api = '';
  let plain = '';
  let tokenFile = '';

  beforeAll(async () => {
    nc = await connectNats({ url: sandbox().need('nats').url, name: 'onpush-test' });
    await provision(await jetstreamManager(nc), TOPOLOGY);
    await deadLetterRaw(nc, 'security-1');
    store = await openDlqStore(nc);
    id = (await store.list({ stage: 'parser' })).entries[0]!.id;
    dlqManager = await startDlqManager(sandbox(), TOKEN);
    ({ plain, api, tokenFile } = dlqManager);
  });

  afterAll(async () => {
    await dlqManager?.stop();
    await nc?.close();
  });

  /** The entry as the DLQ holds it: still there, and how often it was replayed. */
  const entry = async () => {
    const found = (await store.list({ stage: 'parser' })).entries.find((e) => e.id === id);
    return found && { replayCount: found.replayCount };
  };
  const rawMessages = async () =>
    (await (await jetstreamManager(nc)).streams.info(STREAMS.main)).state.messages;

  it('refuses a request without a token or with a wrong one (401), replaying and purging nothing', async () => {
    const before = await rawMessages();
    const wrong = { authorization: `Bearer ${TOKEN.slice(0, -1)}x` };
    for (const headers of [{}, wrong]) {
      const list = await fetch(`${api}/dlq`, { headers });
      expect(list.status).toBe(401);
      expect(list.headers.get('www-authenticate')).toBe('Bearer realm="onpush"');
      expect((await fetch(`${api}/dlq/${id}`, { headers })).status).toBe(401);
      const replay = await fetch(`${api}/dlq/${id}/replay`, { method: 'POST', headers });
      expect(replay.status).toBe(401);
      const bulk = await fetch(`${api}/dlq/replay?stage=parser`, { method: 'POST', headers });
      expect(bulk.status).toBe(401);
      expect((await fetch(`${api}/dlq/${id}`, { method: 'DELETE', headers })).status).toBe(401);
      expect((await fetch(`${api}/dlq?stage=parser`, { method: 'DELETE', headers })).status).toBe(
        401,
      );
    }
    expect(await entry()).toEqual({ replayCount: 0 });
    expect(await rawMessages()).toBe(before);
  });

  it('refuses a cross-site simple POST from a browser (403), replaying and purging nothing', async () => {
    const before = await rawMessages();
    // What a page on another origin can send without a preflight: no Authorization header,
    // text/plain, and the browser adds Origin and Sec-Fetch-Site.
    const simple = { origin: 'http://evil.example', 'content-type': 'text/plain' };
    const replay = await fetch(`${api}/dlq/${id}/replay`, {
      method: 'POST',
      headers: simple,
      body: 'x',
    });
    expect(replay.status).toBe(403);
    expect(await replay.json()).toMatchObject({ type: 'cross_site' });
    const site = { 'sec-fetch-site': 'cross-site', 'content-type': 'text/plain' };
    const bulk = await fetch(`${api}/dlq/replay?stage=parser`, { method: 'POST', headers: site });
    expect(bulk.status).toBe(403);
    // Another port on the same machine is another origin too, token or not.
    const local = { origin: 'http://127.0.0.1:3000', authorization: `Bearer ${TOKEN}` };
    expect(
      (await fetch(`${api}/dlq?stage=parser`, { method: 'DELETE', headers: local })).status,
    ).toBe(403);
    expect(await entry()).toEqual({ replayCount: 0 });
    expect(await rawMessages()).toBe(before);
  });

  it('serves the API on ADMIN_PORT only, and /metrics on PORT only', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await fetch(`${plain}/dlq`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${plain}/metrics`)).status).toBe(200);
    expect((await fetch(`${api}/metrics`, { headers: auth })).status).toBe(404);
  });

  it('listens on loopback only, as the supervisor of onpush start runs it (BIND_ADDRESS)', async () => {
    const outside = Object.values(networkInterfaces())
      .flat()
      .find((a) => a !== undefined && !a.internal && a.family === 'IPv4')?.address;
    expect(outside, 'this machine has an address besides loopback').toBeDefined();
    for (const base of [plain, api]) {
      const port = new URL(base).port;
      await expect(fetch(`http://${outside}:${port}/healthz`)).rejects.toThrow();
    }
    expect((await fetch(`${plain}/healthz`)).status).toBe(200);
  });

  it('with the token: lists, replays and purges', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const before = await rawMessages();
    const listed = (await (await fetch(`${api}/dlq?stage=parser`, { headers: auth })).json()) as {
      entries: { id: number }[];
    };
    expect(listed.entries.map((e) => e.id)).toEqual([id]);
    const replay = await fetch(`${api}/dlq/${id}/replay`, { method: 'POST', headers: auth });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toMatchObject({ replayed: id, subject: 'onpush.raw.gar' });
    expect(await entry()).toEqual({ replayCount: 1 });
    expect(await rawMessages()).toBe(before + 1);
    expect((await fetch(`${api}/dlq/${id}`, { method: 'DELETE', headers: auth })).status).toBe(204);
    expect(await entry()).toBeUndefined();
  });

  it('takes a rotated token from the file without a restart', async () => {
    const rotated = 'rotated-admin-token-abcdef012345';
    writeFileSync(tokenFile, rotated);
    await eventually(
      'the rotated token accepted',
      async () =>
        (await fetch(`${api}/dlq`, { headers: { authorization: `Bearer ${rotated}` } })).ok ||
        undefined,
      { timeoutMs: 15_000 },
    );
    const old = await fetch(`${api}/dlq`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(old.status).toBe(401);
  });
});
