import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HEADERS, STREAMS, TOPOLOGY, rawSubject, type DeadLetter } from '@onpush/contracts';
import type { AddressInfo } from 'node:net';
import { REPLAYS_BUCKET, openDlqStore, summaryOf, type DlqStore } from '@onpush/dlq';
import { dlqRoutes } from '@onpush/console';
import {
  connectNats,
  dedupId,
  jetstream,
  jetstreamManager,
  provision,
  publisher,
  type NatsConnection,
} from '@onpush/nats';
import { deadLetterFor, fitDeadLetters, incomingOf, publishAll, startHttp } from '@onpush/service';
import { createMetrics } from '@onpush/telemetry';
import { useSandbox } from '@onpush/testing';

const encoder = new TextEncoder();
const BODY = encoder.encode('{"action":"INSERT","digest":"not json enough');
const ORIGINAL_HEADERS = {
  [HEADERS.source]: 'gar',
  [HEADERS.receivedAt]: '2025-05-01T12:00:00.000Z',
  'Onpush-Transport-x-goog-message-id': 'pubsub-1',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
};

async function withStore<T>(
  url: string,
  run: (store: DlqStore, nc: NatsConnection) => Promise<T>,
): Promise<T> {
  const nc = await connectNats({ url, name: 'onpush-test' });
  try {
    return await run(await openDlqStore(nc), nc);
  } finally {
    await nc.close();
  }
}

/** As the parser would: consume the raw delivery, give up on it, publish its dead letter, ack. */
async function deadLetterRaw(nc: NatsConnection, msgId: string): Promise<void> {
  const js = jetstream(nc);
  await publisher(js)(rawSubject('gar'), BODY, { msgId, headers: ORIGINAL_HEADERS });
  const m = await (await js.consumers.get(STREAMS.main, 'parser')).next({ expires: 5_000 });
  if (!m) throw new Error('the raw delivery did not arrive');
  const failure = { type: 'invalid_json', message: 'body is not JSON', retryable: false };
  await publishAll(publisher(js), deadLetterFor('parser', incomingOf(m), failure, STREAMS.main));
  await m.ackAck();
}

// Given a real nats-server with the onpush topology, and a raw delivery the parser dead-lettered.
describe('DLQ store', () => {
  const sandbox = useSandbox(['nats'], 'dlq', { provision: false });
  const url = (): string => sandbox().need('nats').url;

  it('lists, shows, replays and purges a dead letter', async () => {
    const setup = await connectNats({ url: url(), name: 'onpush-test' });
    await expect(openDlqStore(setup)).rejects.toMatchObject({ type: 'dlq_unavailable' });
    await provision(await jetstreamManager(setup), TOPOLOGY);
    await setup.close();

    await withStore(url(), async (store, nc) => {
      await deadLetterRaw(nc, 'delivery-1');

      // When the DLQ is listed by stage and by reason.
      const { entries } = await store.list({ stage: 'parser' });
      expect(entries).toHaveLength(1);
      const entry = entries[0]!;
      expect(summaryOf(entry)).toMatchObject({
        stage: 'parser',
        reason: 'invalid_json',
        attempts: 1,
        subject: 'onpush.raw.gar',
        traceId: '0af7651916cd43dd8448eb211c80319c',
        replayCount: 0,
        valid: true,
      });
      expect(summaryOf(entry)).not.toHaveProperty('payload');
      expect((await store.list({ reason: 'invalid_json' })).entries.map((e) => e.id)).toEqual([
        entry.id,
      ]);
      expect((await store.list({ reason: 'unknown_source' })).entries).toEqual([]);
      expect((await store.list({ stage: 'resolver' })).entries).toEqual([]);
      expect((await store.list({ replayed: true })).entries).toEqual([]);
      expect((await store.list({ since: new Date(Date.now() + 60_000) })).entries).toEqual([]);

      // Then show has the original bytes and headers.
      const shown = await store.get(entry.id);
      expect(Buffer.from(shown.payload, 'base64')).toEqual(Buffer.from(BODY));
      expect(shown.headers).toMatchObject({
        ...ORIGINAL_HEADERS,
        [HEADERS.msgId]: dedupId('onpush.raw.gar', 'delivery-1'),
      });
      expect(shown.replayedAt).toBeUndefined();
      await expect(store.get(entry.id + 1000)).rejects.toMatchObject({ type: 'not_found' });

      // When it is replayed.
      const consumer = await jetstream(nc).consumers.get(STREAMS.main, 'parser');
      const replay = await store.replay(entry.id);
      expect(replay).toMatchObject({
        replayed: entry.id,
        subject: 'onpush.raw.gar',
        msgId: dedupId('onpush.raw.gar', `replay:${entry.id}:1`),
      });
      expect(replay.stream).toBe(STREAMS.main);

      // Then the original bytes and headers arrive again on onpush.raw.gar, marked as a replay.
      const again = await consumer.next({ expires: 5_000 });
      expect(again?.subject).toBe('onpush.raw.gar');
      expect(Buffer.from(again!.data)).toEqual(Buffer.from(BODY));
      const headers = incomingOf(again!).headers;
      expect(headers).toMatchObject({
        ...ORIGINAL_HEADERS,
        [HEADERS.replayOf]: String(entry.id),
        [HEADERS.msgId]: dedupId('onpush.raw.gar', `replay:${entry.id}:1`),
      });
      await again!.ackAck();

      // And the entry shows when it was replayed; a second replay is a new message.
      const replayed = await store.get(entry.id);
      expect(replayed.replayedAt).toBe(replay.replayedAt);
      expect(replayed.replayCount).toBe(1);
      expect((await store.list({ replayed: true })).entries.map((e) => e.id)).toEqual([entry.id]);
      expect((await store.list({ replayed: false })).entries).toEqual([]);
      const second = await store.replay(entry.id);
      expect(second).toMatchObject({
        msgId: dedupId('onpush.raw.gar', `replay:${entry.id}:2`),
        duplicate: false,
        count: 2,
      });
      await (await consumer.next({ expires: 5_000 }))?.ackAck();

      // When it is purged, it is gone, with its replay record.
      await store.purge(entry.id);
      await expect(store.get(entry.id)).rejects.toMatchObject({ type: 'not_found' });
      await expect(store.purge(entry.id)).rejects.toMatchObject({ type: 'not_found' });
      expect((await store.list()).entries).toEqual([]);
      const jsm = await jetstreamManager(nc);
      const marker = await jsm.streams.getMessage(`KV_${REPLAYS_BUCKET}`, {
        last_by_subj: `$KV.${REPLAYS_BUCKET}.${entry.id}`,
      });
      expect(marker?.header.get('KV-Operation')).toBe('PURGE');
    });
  });

  it('replays and purges by filter, and refuses a bulk action without one', async () => {
    await withStore(url(), async (store, nc) => {
      await deadLetterRaw(nc, 'delivery-2');
      await deadLetterRaw(nc, 'delivery-3');
      const ids = (await store.list({ stage: 'parser' })).entries.map((e) => e.id);
      expect(ids).toHaveLength(2);

      await expect(store.purgeMatching({})).rejects.toMatchObject({ type: 'invalid_filter' });
      const bulk = await store.replayMatching({ stage: 'parser', reason: 'invalid_json' });
      expect(bulk.failed).toEqual([]);
      expect(bulk.replayed.map((r) => r.replayed)).toEqual(ids);
      expect((await store.list({ limit: 1 })).truncated).toBe(true);

      expect(await store.purgeMatching({ replayed: true })).toEqual(ids);
      expect((await store.list()).entries).toEqual([]);
      expect(await store.stats()).toEqual({ depth: 0, oldestAgeSeconds: 0 });
    });
  });

  it('keeps an entry that is not a DeadLetter: listed as invalid_entry, purgeable, not replayable', async () => {
    await withStore(url(), async (store, nc) => {
      const junk: Partial<DeadLetter> = { v: 1, stage: 'resolver' };
      await publisher(jetstream(nc))('onpush.dead.resolver', encoder.encode(JSON.stringify(junk)), {
        msgId: 'junk-1',
      });
      const [entry] = (await store.list({ stage: 'resolver' })).entries;
      expect(entry).toMatchObject({ stage: 'resolver', reason: 'invalid_entry', valid: false });
      await expect(store.replay(entry!.id)).rejects.toMatchObject({ type: 'not_replayable' });
      expect((await store.stats()).depth).toBe(1);
      await store.purge(entry!.id);
      expect((await store.stats()).depth).toBe(0);
    });
  });

  it('keeps a dead letter too large for the broker cut to fit: shown as truncated, not replayable', async () => {
    await withStore(url(), async (store, nc) => {
      // A raw body the stream takes whole (900 KB) whose dead letter (base64) would not fit.
      const js = jetstream(nc);
      const big = Buffer.alloc(900_000, '{');
      await publisher(js)(rawSubject('gar'), big, { msgId: 'big-1', headers: ORIGINAL_HEADERS });
      const parser = await js.consumers.get(STREAMS.main, 'parser');
      let m = await parser.next({ expires: 5_000 });
      // Replays of the tests above come first: the parser would handle them; skip them here.
      while (m && m.data.byteLength !== big.byteLength) {
        await m.ackAck();
        m = await parser.next({ expires: 5_000 });
      }
      if (!m) throw new Error('the raw delivery did not arrive');
      const failure = { type: 'invalid_json', message: 'body is not JSON', retryable: false };
      const letters = deadLetterFor('parser', incomingOf(m), failure, STREAMS.main);
      await publishAll(publisher(js), fitDeadLetters(letters, nc.info!.max_payload));
      await m.ackAck();

      const listed = (await store.list({ stage: 'parser', reason: 'invalid_json' })).entries;
      const entry = listed.find((e) => e.truncated !== undefined);
      const shown = await store.get(entry!.id);
      const kept = Buffer.from(shown.payload, 'base64');
      expect(shown.truncated).toMatchObject({
        originalBytes: 900_000,
        keptBytes: kept.length,
        droppedHeaders: 0,
      });
      expect(shown.truncated!.sha256).toBe(createHash('sha256').update(big).digest('hex'));
      expect(shown.truncated!.reason).toContain(String(nc.info!.max_payload));
      expect(kept.equals(big.subarray(0, kept.length))).toBe(true);
      expect(summaryOf(shown).truncated?.originalBytes).toBe(900_000);
      await expect(store.replay(entry!.id)).rejects.toMatchObject({
        type: 'not_replayable',
        message: expect.stringContaining('truncated') as unknown,
      });
      await store.purge(entry!.id);
    });
  });

  it('serves the same over HTTP: list, show, replay, purge', async () => {
    await withStore(url(), async (store, nc) => {
      await deadLetterRaw(nc, 'delivery-http');
      const server = await startHttp({
        port: 0,
        host: '127.0.0.1',
        registry: createMetrics('dlq-manager-test').registry,
        live: () => true,
        ready: () => ({ ready: true, detail: {} }),
        routes: dlqRoutes(() => store),
      });
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        const listed = (await (await fetch(`${base}/dlq?stage=parser&since=10m`)).json()) as {
          entries: Array<{ id: number }>;
        };
        expect(listed.entries).toHaveLength(1);
        const id = listed.entries[0]!.id;
        expect((await fetch(`${base}/dlq?stage=nope`)).status).toBe(400);
        expect((await fetch(`${base}/dlq/${id + 100}`)).status).toBe(404);
        const replay = await fetch(`${base}/dlq/${id}/replay`, { method: 'POST' });
        expect(await replay.json()).toMatchObject({ replayed: id, subject: 'onpush.raw.gar' });
        const shown = (await (await fetch(`${base}/dlq/${id}`)).json()) as {
          replayedAt?: string;
          payload: string;
        };
        expect(shown.replayedAt).toEqual(expect.any(String));
        expect(Buffer.from(shown.payload, 'base64')).toEqual(Buffer.from(BODY));
        expect((await fetch(`${base}/dlq/${id}`, { method: 'DELETE' })).status).toBe(204);
        expect((await fetch(`${base}/dlq/${id}`)).status).toBe(404);
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  });
});
