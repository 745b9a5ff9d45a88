import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { describeFailure } from '@onpush/service';
import { createLogger } from '@onpush/telemetry';
import { ImageIndex } from '@onpush/image-index';
import {
  FakeApiException,
  FakeSource,
  fakeDeployment,
  memoryDecisions,
} from './fakes.test-support.js';
import { createHandler } from './handler.js';
import { createRebuilder } from './rebuild.js';

const log = createLogger({ test: 'rebuild' }, { write: () => undefined });

function event(id: string): Parameters<ReturnType<typeof createHandler>>[0] {
  const body = {
    v: 1,
    id,
    source: 'gar',
    image: 'docker.io/library/nginx',
    registry: 'docker.io',
    repository: 'library/nginx',
    tag: 'latest',
    receivedAt: '2025-01-02T03:04:01.000Z',
  };
  return {
    subject: 'onpush.pushed',
    data: new TextEncoder().encode(JSON.stringify(body)),
    headers: {},
    seq: 1,
    deliveryCount: 1,
  };
}

function setup(minIntervalMs = 5_000) {
  const source = new FakeSource();
  source.fake.objects = [
    fakeDeployment('shop', 'web', { app: 'nginx' }),
    fakeDeployment('shop', 'db', { app: 'postgres:17' }),
  ];
  const index = new ImageIndex();
  const rebuilder = createRebuilder({
    sources: [source],
    index,
    minIntervalMs,
    log,
    now: () => Date.now(),
  });
  const handle = createHandler({
    index,
    canAnswer: () => false,
    rebuild: () => rebuilder.rebuild(),
    decisions: memoryDecisions(),
  });
  return { source, index, rebuilder, handle };
}

describe('rebuild on an index that cannot answer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('shares one list call between concurrent lookups', async () => {
    const { source, handle } = setup();
    source.hold = true;
    const first = handle(event('a'));
    const second = handle(event('b'));
    await vi.advanceTimersByTimeAsync(0);
    source.release();
    const [a, b] = await Promise.all([first, second]);
    expect(source.lists).toBe(1);
    expect(a.map((o) => o.msgId)).toEqual(['a:Deployment/shop/web', 'a:resolver']);
    expect(b.map((o) => o.msgId)).toEqual(['b:Deployment/shop/web', 'b:resolver']);
  });

  it('lists at most once per interval, answering from the rebuilt index meanwhile', async () => {
    const { source, handle } = setup(5_000);
    await handle(event('a'));
    source.fake.objects = [fakeDeployment('shop', 'web', { app: 'nginx:1.27' })];
    await vi.advanceTimersByTimeAsync(4_999);
    expect((await handle(event('b'))).map((o) => o.msgId)).toEqual([
      'b:Deployment/shop/web',
      'b:resolver',
    ]);
    expect(source.lists).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect((await handle(event('c'))).map((o) => o.msgId)).toEqual(['c:resolver']);
    expect(source.lists).toBe(2);
  });

  it('fails retryably, and does not list again before the interval is over', async () => {
    const { source, handle } = setup(5_000);
    source.failList = new FakeApiException(503, 'unavailable');
    const first = describeFailure(await handle(event('a')).catch((e: unknown) => e));
    expect(first).toMatchObject({
      type: 'index_unavailable',
      retryable: true,
      retryAfterMs: 5_000,
    });
    await vi.advanceTimersByTimeAsync(2_000);
    source.failList = undefined;
    const second = describeFailure(await handle(event('b')).catch((e: unknown) => e));
    expect(second).toMatchObject({
      type: 'index_unavailable',
      retryable: true,
      retryAfterMs: 3_000,
    });
    expect(source.lists).toBe(1);
    await vi.advanceTimersByTimeAsync(3_000);
    expect((await handle(event('c'))).map((o) => o.msgId)).toEqual([
      'c:Deployment/shop/web',
      'c:resolver',
    ]);
    expect(source.lists).toBe(2);
  });

  it('replaces stale workloads with what the list returns', async () => {
    const { index, rebuilder } = setup();
    index.upsert({
      kind: 'Deployment',
      namespace: 'old',
      name: 'gone',
      containers: [{ name: 'app', image: 'nginx' }],
    });
    await rebuilder.rebuild();
    expect(
      index
        .lookup({ image: 'docker.io/library/nginx', tag: 'latest' })
        .map((m) => `${m.namespace}/${m.name}`),
    ).toEqual(['shop/web']);
  });
});
