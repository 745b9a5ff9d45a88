import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttp } from '@onpush/service';
import { createMetrics } from '@onpush/telemetry';
import {
  DlqError,
  isSelective,
  matches,
  type DlqEntry,
  type DlqFilter,
  type DlqStore,
  type ReplayResult,
} from '@onpush/dlq';
import { dlqRoutes } from './dlq-routes.js';

function entry(id: number, stage: string, reason: string): DlqEntry {
  return {
    id,
    stage,
    reason,
    error: 'boom',
    attempts: 1,
    subject: 'onpush.raw.gar',
    firstFailedAt: '2025-05-01T11:00:00.000Z',
    lastFailedAt: '2025-05-01T11:00:00.000Z',
    storedAt: '2025-05-01T11:00:00.001Z',
    replayCount: 0,
    valid: true,
    headers: { 'Onpush-Source': 'gar' },
    payload: Buffer.from('{oops').toString('base64'),
  };
}

/** An in-memory store with the real filter semantics. */
function fakeStore(entries: DlqEntry[]): DlqStore {
  const byId = new Map(entries.map((e) => [e.id, e]));
  const need = (id: number): DlqEntry => {
    const found = byId.get(id);
    if (!found) throw new DlqError('not_found', `no dead letter ${id} in ONPUSH_DLQ`);
    return found;
  };
  const select = (filter: DlqFilter): DlqEntry[] =>
    [...byId.values()].filter((e) => matches(e, filter)).slice(0, filter.limit);
  const replay = (id: number): Promise<ReplayResult> => {
    const e = need(id);
    const at = '2025-05-01T12:00:00.000Z';
    byId.set(id, { ...e, replayedAt: at, replayCount: e.replayCount + 1 });
    const msgId = `onpush.raw.gar|replay:${id}:${e.replayCount + 1}`;
    return Promise.resolve({
      replayed: id,
      subject: e.subject,
      msgId,
      stream: 'ONPUSH',
      seq: 9,
      duplicate: false,
      replayedAt: at,
      count: e.replayCount + 1,
    });
  };
  const selective = (filter: DlqFilter): void => {
    if (!isSelective(filter)) throw new DlqError('invalid_filter', 'bulk needs a filter');
  };
  return {
    list: (filter = {}) => Promise.resolve({ entries: select(filter), truncated: false }),
    get: (id) => Promise.resolve().then(() => need(id)),
    replay: (id) => Promise.resolve().then(() => replay(id)),
    async replayMatching(filter) {
      selective(filter);
      return { replayed: await Promise.all(select(filter).map((e) => replay(e.id))), failed: [] };
    },
    purge: (id) => Promise.resolve().then(() => void byId.delete(need(id).id)),
    purgeMatching: (filter) =>
      Promise.resolve().then(() => {
        selective(filter);
        return select(filter).map((e) => (byId.delete(e.id), e.id));
      }),
    stats: () => Promise.resolve({ depth: byId.size, oldestAgeSeconds: 0 }),
  };
}

describe('DLQ HTTP API', () => {
  let server: Server;
  let base = '';
  let store: DlqStore | undefined;

  beforeAll(async () => {
    const metrics = createMetrics('dlq-manager-test');
    server = await startHttp({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      live: () => true,
      ready: () => ({ ready: true, detail: {} }),
      routes: dlqRoutes(
        () => store,
        () => new Date('2025-05-01T12:00:00.000Z'),
      ),
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const call = async (method: string, path: string): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`${base}${path}`, { method });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  };

  it('answers 503 until the store is bound', async () => {
    store = undefined;
    expect(await call('GET', '/dlq')).toEqual({
      status: 503,
      body: { error: 'not connected to NATS yet', type: 'dlq_unavailable' },
    });
  });

  it('lists summaries by filter, shows one entry with its payload', async () => {
    store = fakeStore([entry(1, 'parser', 'invalid_json'), entry(2, 'resolver', 'max_deliveries')]);
    const listed = await call('GET', '/dlq?stage=parser');
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({
      entries: [expect.objectContaining({ id: 1, stage: 'parser' })],
      truncated: false,
    });
    expect(JSON.stringify(listed.body)).not.toContain('payload');
    const shown = await call('GET', '/dlq/2');
    expect(shown).toMatchObject({
      status: 200,
      body: { id: 2, payload: Buffer.from('{oops').toString('base64') },
    });
  });

  it('says what is wrong with a filter or an id, and 404s an unknown id', async () => {
    store = fakeStore([entry(1, 'parser', 'invalid_json')]);
    expect(await call('GET', '/dlq?since=yesterday')).toMatchObject({
      status: 400,
      body: { type: 'invalid_filter', error: expect.stringContaining('since must be') as string },
    });
    expect(await call('GET', '/dlq/abc')).toMatchObject({
      status: 400,
      body: { type: 'invalid_id' },
    });
    expect(await call('GET', '/dlq/99')).toEqual({
      status: 404,
      body: { error: 'no dead letter 99 in ONPUSH_DLQ', type: 'not_found' },
    });
    expect(await call('POST', '/dlq/99/replay')).toMatchObject({ status: 404 });
    expect(await call('DELETE', '/dlq/99')).toMatchObject({ status: 404 });
    expect(await call('PUT', '/dlq/1')).toMatchObject({ status: 405 });
    expect(await call('GET', '/dlq/1/replay')).toMatchObject({ status: 405 });
    expect(await call('GET', '/dlq/1/other')).toMatchObject({ status: 404 });
    expect(await call('DELETE', '/dlq')).toMatchObject({
      status: 400,
      body: { type: 'invalid_filter' },
    });
  });

  it('replays and purges one entry, then in bulk by filter', async () => {
    store = fakeStore([
      entry(1, 'parser', 'invalid_json'),
      entry(2, 'parser', 'invalid_json'),
      entry(3, 'resolver', 'x'),
    ]);
    expect(await call('POST', '/dlq/1/replay')).toMatchObject({
      status: 200,
      body: { replayed: 1, subject: 'onpush.raw.gar', msgId: 'onpush.raw.gar|replay:1:1' },
    });
    expect(await call('GET', '/dlq/1')).toMatchObject({
      body: { replayedAt: '2025-05-01T12:00:00.000Z' },
    });
    expect(await call('DELETE', '/dlq/1')).toEqual({ status: 204, body: undefined });
    const bulk = await call('POST', '/dlq/replay?stage=parser');
    expect(bulk).toMatchObject({ status: 200, body: { replayed: [{ replayed: 2 }], failed: [] } });
    expect(await call('DELETE', '/dlq?replayed=true')).toEqual({
      status: 200,
      body: { purged: [2] },
    });
    expect(await call('GET', '/dlq')).toMatchObject({ body: { entries: [{ id: 3 }] } });
  });
});
