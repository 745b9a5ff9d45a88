import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADERS, STREAMS, parseDeadLetter, parseOutcome } from '@onpush/contracts';
import { Supervisor, audit } from '@onpush/cli';
import { connectNats, jetstreamManager, type NatsConnection } from '@onpush/nats';
import { freePort, waitUntil, type SandboxEnv } from '@onpush/sandbox';
import { eventually, useSandbox } from '@onpush/testing';
import { readStream } from './webhooks-harness.js';
import { PUSH_PATH, pushEnv, pushHeaders } from '../support/pubsub-push.js';

const MIB = 1024 * 1024;
const TOKEN = 'oversized-test-token-0123456789abcdef';

interface Ingest {
  url: string;
  supervisor: Supervisor;
  logs: string[];
}

/** One ingest process against the sandbox, ready. */
async function startIngest(env: NodeJS.ProcessEnv, base: SandboxEnv): Promise<Ingest> {
  const port = await freePort();
  const logs: string[] = [];
  const supervisor = new Supervisor({
    env: { ...process.env, ...base, LOG_LEVEL: 'info', ...env },
    envFor: () => ({ PORT: String(port) }),
    services: ['ingest'],
    write: (line) => logs.push(line),
  });
  supervisor.start();
  const url = `http://127.0.0.1:${port}`;
  await waitUntil('ingest ready', async () => (await fetch(`${url}/readyz`)).ok, {
    timeoutMs: 60_000,
    intervalMs: 100,
  }).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\n${logs.slice(-30).join('\n')}`);
  });
  return { url, supervisor, logs };
}

/** A counter of ingest's /metrics with these labels (among others), 0 when absent. */
async function counter(ingest: Ingest, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${ingest.url}/metrics`)).text();
  const wanted = labels.split(',');
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && wanted.every((label) => l.includes(label)));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

async function lastSeq(nc: NatsConnection, stream: string): Promise<number> {
  return (await (await jetstreamManager(nc)).streams.info(stream)).state.last_seq;
}

// Given a real nats-server (max_payload 1 MiB, its default) and the Pub/Sub emulator, and ingest
// pulling from topic gcr with push bodies allowed up to 8 MiB, and another ingest serving a
// webhook endpoint that allows 8 MiB bodies: each limit above what JetStream accepts.
describe('ingest: input larger than JetStream accepts', () => {
  const sandbox = useSandbox(['nats', 'pubsub'], 'ingest-oversized');
  let nc: NatsConnection;
  let pubsub: PubSub;
  let puller: Ingest;
  let hooks: Ingest;
  const since = new Date();

  beforeAll(async () => {
    const base = sandbox().env;
    nc = await connectNats({ url: sandbox().need('nats').url, name: 'oversized-test' });
    pubsub = new PubSub({
      projectId: sandbox().pubsubProject,
      apiEndpoint: sandbox().need('pubsub').host,
      emulatorMode: true,
    });
    puller = await startIngest(
      {
        PUBSUB_PULL: 'true',
        PUBSUB_CREATE_SUBSCRIPTION: 'true',
        MAX_BODY_BYTES: String(8 * MIB),
        ...pushEnv(),
      },
      base,
    );
    const file = join(sandbox().dir, 'webhooks-oversized.json');
    const endpoint = {
      name: 'dist',
      source: 'distribution',
      auth: { type: 'token', header: 'authorization', prefix: 'Bearer ', secretEnv: 'DIST_TOKEN' },
      maxBodyBytes: 8 * MIB,
    };
    writeFileSync(file, JSON.stringify({ endpoints: [endpoint] }));
    hooks = await startIngest(
      { PUBSUB_PULL: 'false', WEBHOOKS_FILE: file, DIST_TOKEN: TOKEN },
      base,
    );
  });

  afterAll(async () => {
    await puller?.supervisor.stop(20_000);
    await hooks?.supervisor.stop(20_000);
    await nc?.close();
    await pubsub?.close();
  });

  it('a 2 MiB Pub/Sub message becomes one dead letter (payload_too_large), is acked once and never redelivered; the audit counts it dead', async () => {
    const rawBefore = await lastSeq(nc, STREAMS.main);
    const data = Buffer.alloc(2 * MIB, 'x');

    // When the registry's topic carries a message of 2 MiB.
    const messageId = await pubsub.topic('gcr').publishMessage({ data, attributes: { a: 'b' } });

    // Then one dead letter at ingest: the reason, the sizes, the first bytes, the original size.
    const dlq = await eventually(
      'the dead letter',
      async () => {
        const entries = await readStream(nc, STREAMS.dlq);
        return entries.length > 0 ? entries : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(dlq).toHaveLength(1);
    expect(dlq[0]!.subject).toBe('onpush.dead.ingest');
    const letter = parseDeadLetter(dlq[0]!.data);
    expect(letter).toMatchObject({ stage: 'ingest', reason: 'payload_too_large', attempts: 1 });
    expect(letter.id).toBe(`dead:ingest:gar:${messageId}`);
    expect(letter.error).toContain(String(2 * MIB));
    expect(letter.error).toContain(String(MIB)); // the server's max_payload
    expect(letter.headers[HEADERS.eventId]).toBe(`gar:${messageId}`);
    expect(letter.headers['Onpush-Original-Size']).toBe(String(2 * MIB));
    expect(letter.headers['Onpush-Transport-a']).toBe('b');
    const kept = Buffer.from(letter.payload, 'base64');
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThanOrEqual(64 * 1024);
    expect(kept.equals(data.subarray(0, kept.length))).toBe(true);

    // And the dead outcome that accounts for the event, keyed like every stage's.
    const outcomes = await eventually('the dead outcome', async () => {
      const all = await readStream(nc, STREAMS.outcomes);
      return all.length > 0 ? all : undefined;
    });
    expect(outcomes).toHaveLength(1);
    expect(parseOutcome(outcomes[0]!.data)).toMatchObject({
      eventId: `gar:${messageId}`,
      fate: 'dead',
      stage: 'ingest',
      reason: 'payload_too_large',
    });

    // And the message was acked once, never nacked, and Pub/Sub does not deliver it again.
    await eventually('acked', async () =>
      (await counter(puller, 'onpush_ingest_pubsub_settled_total', 'action="ack"')) === 1
        ? true
        : undefined,
    );
    await sleep(6_000); // a nacked message comes back within a second or two (retry policy 1 s)
    expect(await counter(puller, 'onpush_ingest_pubsub_settled_total', 'action="ack"')).toBe(1);
    expect(await counter(puller, 'onpush_ingest_pubsub_settled_total', 'action="nack"')).toBe(0);
    expect(
      await counter(puller, 'onpush_ingest_deliveries_total', 'via="pull",result="dead"'),
    ).toBe(1);
    expect(await lastSeq(nc, STREAMS.main)).toBe(rawBefore); // nothing raw stored
    expect((await readStream(nc, STREAMS.dlq)).length).toBe(1);

    // And `onpush audit` counts it: one event, fate dead, nothing unaccounted.
    const report = await audit(nc, since);
    expect(report.events).toBe(1);
    expect(report.fates).toEqual({ dead: 1 });
    expect(report.unaccounted).toEqual([]);
  });

  it('a 2 MiB Pub/Sub push message becomes one truncated dead letter and a dead outcome, answered 204 (a 413 would be retried by Pub/Sub forever)', async () => {
    const before = await lastSeq(nc, STREAMS.main);
    const data = Buffer.alloc(2 * MIB, 'y');
    const envelope = {
      message: { data: data.toString('base64'), messageId: 'push-big-1' },
      subscription: 'projects/p/subscriptions/push',
    };
    const post = () =>
      fetch(`${puller.url}${PUSH_PATH}`, {
        method: 'POST',
        headers: pushHeaders(),
        body: JSON.stringify(envelope),
      });
    expect((await post()).status).toBe(204);
    // A redelivery by Pub/Sub is answered alike and stores nothing more.
    expect((await post()).status).toBe(204);

    const letters = (await readStream(nc, STREAMS.dlq))
      .map((m) => parseDeadLetter(m.data))
      .filter((l) => l.id === 'dead:ingest:gar:push-big-1');
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ stage: 'ingest', reason: 'payload_too_large' });
    expect(letters[0]!.truncated).toMatchObject({
      originalBytes: 2 * MIB,
      sha256: createHash('sha256').update(data).digest('hex'),
    });
    const kept = Buffer.from(letters[0]!.payload, 'base64');
    expect(kept.length).toBe(letters[0]!.truncated!.keptBytes);
    expect(kept.equals(data.subarray(0, kept.length))).toBe(true);
    const report = await audit(nc, since);
    expect(report.unaccounted).toEqual([]);
    expect(report.inFlight).toEqual([]);
    expect(await lastSeq(nc, STREAMS.main)).toBe(before); // nothing raw stored
  });

  it('a 2 MiB webhook body is answered 413 naming the limit; nothing is stored', async () => {
    const before = await lastSeq(nc, STREAMS.main);
    const res = await fetch(`${hooks.url}/webhooks/dist`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ events: [], pad: 'z'.repeat(2 * MIB) }),
    });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { error: string; message: string; limit: number };
    expect(body.error).toBe('payload_too_large');
    expect(body.message).toContain(String(MIB));
    expect(body.limit).toBeLessThanOrEqual(MIB);
    expect(await lastSeq(nc, STREAMS.main)).toBe(before);
  });
});
