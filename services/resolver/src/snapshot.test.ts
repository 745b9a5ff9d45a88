import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '@onpush/telemetry';
import { ImageIndex } from '@onpush/image-index';
import { FakeApiException, FakeConfigMaps } from './fakes.test-support.js';
import { createSnapshotStore, SnapshotError } from './snapshot.js';
import { createSnapshotter } from './snapshot-writer.js';

const log = createLogger({ test: 'snapshot' }, { write: () => undefined });
const NS = 'onpush';

function indexWith(count: number): ImageIndex {
  const index = new ImageIndex();
  for (let i = 0; i < count; i += 1) {
    index.upsert({
      kind: 'Deployment',
      namespace: 'shop',
      name: `web-${i}`,
      containers: [{ name: 'app', image: `ghcr.io/acme/web-${i}:v1` }],
    });
  }
  return index;
}

describe('ConfigMap snapshot store', () => {
  it('round-trips an index through one ConfigMap', async () => {
    const api = new FakeConfigMaps();
    const store = createSnapshotStore({ api, namespace: NS });
    const index = indexWith(3);
    expect(await store.save(index.serialize())).toBe(1);
    expect(api.names(NS)).toEqual(['onpush-image-index']);
    const copy = ImageIndex.deserialize((await store.load())!);
    expect(copy.lookup({ image: 'ghcr.io/acme/web-2', tag: 'v1' }).map((m) => m.name)).toEqual([
      'web-2',
    ]);
    expect(api.maps.get(`${NS}/onpush-image-index`)?.data?.['shards']).toBe('1');
  });

  it('shards a large snapshot, replaces on the next write and deletes stale shards', async () => {
    const api = new FakeConfigMaps();
    const store = createSnapshotStore({
      api,
      namespace: NS,
      shardLimitBytes: 1_000,
      maxShards: 64,
    });
    const big = indexWith(60);
    const shards = await store.save(big.serialize());
    expect(shards).toBeGreaterThan(3);
    expect(api.names(NS)).toHaveLength(shards);
    expect(api.names(NS)).toContain(`onpush-image-index-${shards - 1}`);
    expect(ImageIndex.deserialize((await store.load())!).stats()).toEqual(big.stats());

    const small = indexWith(2);
    expect(await store.save(small.serialize())).toBe(1);
    expect(api.names(NS)).toEqual(['onpush-image-index']);
    expect(ImageIndex.deserialize((await store.load())!).stats()).toEqual(small.stats());
  });

  it('never writes more shards than the Role names, and finds stale ones by name', async () => {
    const api = new FakeConfigMaps();
    const store = createSnapshotStore({ api, namespace: NS, shardLimitBytes: 1_000, maxShards: 3 });
    await expect(store.save(indexWith(60).serialize())).rejects.toMatchObject({
      type: 'snapshot_unreadable',
      message: expect.stringContaining('more than the 3') as unknown,
    });
    expect(api.names(NS)).toEqual([]);
    const two = createSnapshotStore({ api, namespace: NS, shardLimitBytes: 1_000, maxShards: 64 });
    const shards = await two.save(indexWith(60).serialize());
    expect(await two.save(indexWith(2).serialize())).toBe(1);
    expect(api.names(NS)).toEqual(['onpush-image-index']);
    expect(shards).toBeGreaterThan(1);
  });

  it('says there is no snapshot when the head is missing', async () => {
    const store = createSnapshotStore({ api: new FakeConfigMaps(), namespace: NS });
    expect(await store.load()).toBeUndefined();
  });

  it('refuses shards of mixed generations', async () => {
    const api = new FakeConfigMaps();
    let generation = 0;
    const store = createSnapshotStore({
      api,
      namespace: NS,
      shardLimitBytes: 1_000,
      maxShards: 64,
      newGeneration: () => `g${++generation}`,
    });
    await store.save(indexWith(60).serialize());
    const shard = api.maps.get(`${NS}/onpush-image-index-1`)!;
    shard.data = { ...shard.data, generation: 'g0' };
    await expect(store.load()).rejects.toBeInstanceOf(SnapshotError);
  });
});

describe('snapshotter', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('loads the snapshot into the index before anything else', async () => {
    const api = new FakeConfigMaps();
    await createSnapshotStore({ api, namespace: NS }).save(indexWith(4).serialize());
    const index = new ImageIndex();
    const snapshotter = createSnapshotter({
      store: createSnapshotStore({ api, namespace: NS }),
      index,
      debounceMs: 2_000,
      log,
    });
    expect(await snapshotter.load()).toBe(true);
    expect(snapshotter.loaded).toBe(true);
    expect(index.lookup({ image: 'ghcr.io/acme/web-3', tag: 'v1' })).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(api.writes).toBe(1); // only the setup's own write: loading is not a change to write back
  });

  it('writes once per burst of changes, after the debounce', async () => {
    const api = new FakeConfigMaps();
    const index = new ImageIndex();
    createSnapshotter({
      store: createSnapshotStore({ api, namespace: NS }),
      index,
      debounceMs: 2_000,
      log,
    });
    index.upsert({
      kind: 'Deployment',
      namespace: 'shop',
      name: 'a',
      containers: [{ name: 'app', image: 'nginx' }],
    });
    await vi.advanceTimersByTimeAsync(1_000);
    index.upsert({
      kind: 'Deployment',
      namespace: 'shop',
      name: 'b',
      containers: [{ name: 'app', image: 'nginx' }],
    });
    expect(api.maps.size).toBe(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(api.writes).toBe(1);
    const stored = ImageIndex.deserialize(
      (await createSnapshotStore({ api, namespace: NS }).load())!,
    );
    expect(stored.stats().workloads).toBe(2);
  });

  it('logs a failed write, retries later and never throws', async () => {
    const api = new FakeConfigMaps();
    api.failWrites = new FakeApiException(500, 'etcd is sad');
    const index = new ImageIndex();
    createSnapshotter({
      store: createSnapshotStore({ api, namespace: NS }),
      index,
      debounceMs: 2_000,
      retryMs: 10_000,
      log,
    });
    index.upsert({
      kind: 'Deployment',
      namespace: 'shop',
      name: 'a',
      containers: [{ name: 'app', image: 'nginx' }],
    });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(api.writes).toBe(1);
    expect(api.maps.size).toBe(0);
    api.failWrites = undefined;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(api.maps.size).toBe(1);
  });

  it('writes what is left on close', async () => {
    const api = new FakeConfigMaps();
    const index = new ImageIndex();
    const snapshotter = createSnapshotter({
      store: createSnapshotStore({ api, namespace: NS }),
      index,
      debounceMs: 2_000,
      log,
    });
    index.upsert({
      kind: 'Deployment',
      namespace: 'shop',
      name: 'a',
      containers: [{ name: 'app', image: 'nginx' }],
    });
    await snapshotter.close();
    expect(api.maps.size).toBe(1);
    index.upsert({
      kind: 'Deployment',
      namespace: 'shop',
      name: 'b',
      containers: [{ name: 'app', image: 'nginx' }],
    });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(api.writes).toBe(1);
  });
});
