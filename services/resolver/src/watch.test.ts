import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '@onpush/telemetry';
import { ImageIndex } from '@onpush/image-index';
import { FakeSource, fakeDeployment } from './fakes.test-support.js';
import { deploymentWorkload, labelSelector } from './sources.js';
import { createWatcher, observedView, restartDelay } from './watch.js';

const log = createLogger({ test: 'watch' }, { write: () => undefined });
const NGINX = { image: 'docker.io/library/nginx', tag: 'latest' };

function running(index: ImageIndex, query = NGINX): string[] {
  return index.lookup(query).map((m) => `${m.namespace}/${m.name}[${m.containers.join(',')}]`);
}

describe('watcher', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('syncs from the initial list and follows add, update and delete', async () => {
    const source = new FakeSource();
    source.fake.objects = [fakeDeployment('shop', 'web', { app: 'nginx' }, { migrate: 'nginx' })];
    const index = new ImageIndex();
    const watcher = createWatcher({ sources: [source], index, log });
    expect(watcher.synced).toBe(false);
    watcher.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(watcher).toMatchObject({ synced: true, broken: false });
    expect(running(index)).toEqual(['shop/web[migrate,app]']);

    source.fake.emit('add', fakeDeployment('ops', 'proxy', { app: 'nginx' }));
    source.fake.emit('update', fakeDeployment('shop', 'web', { app: 'nginx:1.27' }));
    expect(running(index)).toEqual(['ops/proxy[app]']);
    source.fake.emit('delete', fakeDeployment('ops', 'proxy', { app: 'nginx' }));
    expect(running(index)).toEqual([]);
    expect(index.stats().workloads).toBe(1);
  });

  it('drops snapshot entries the first list no longer has', async () => {
    const index = new ImageIndex();
    index.upsert({
      kind: 'Deployment',
      namespace: 'shop',
      name: 'deleted-while-down',
      containers: [{ name: 'app', image: 'nginx' }],
    });
    const source = new FakeSource();
    source.fake.objects = [fakeDeployment('shop', 'web', { app: 'nginx' })];
    createWatcher({ sources: [source], index, log }).start();
    await vi.advanceTimersByTimeAsync(0);
    expect(running(index)).toEqual(['shop/web[app]']);
  });

  it('is broken when the watch fails, and restarts it after a growing delay', async () => {
    const source = new FakeSource();
    source.fake.objects = [fakeDeployment('shop', 'web', { app: 'nginx' })];
    const index = new ImageIndex();
    const watcher = createWatcher({ sources: [source], index, log, restartDelayMs: 1_000 });
    watcher.start();
    await vi.advanceTimersByTimeAsync(0);

    source.fake.failStart = new Error('connection reset');
    source.fake.fail(new Error('connection reset'));
    expect(watcher).toMatchObject({ synced: true, broken: true });
    await vi.advanceTimersByTimeAsync(1_000); // restart 1 fails
    expect(source.fake.starts).toBe(2);
    await vi.advanceTimersByTimeAsync(1_999);
    expect(source.fake.starts).toBe(2);
    source.fake.failStart = undefined;
    source.fake.objects = [];
    await vi.advanceTimersByTimeAsync(1); // restart 2, after 2 s, succeeds
    expect(source.fake.starts).toBe(3);
    expect(watcher).toMatchObject({ synced: true, broken: false });
    expect(running(index)).toEqual([]);
  });

  it('drops a workload that leaves the selection (an update it no longer passes)', async () => {
    const source = new FakeSource();
    source.fake.objects = [fakeDeployment('shop', 'web', { app: 'nginx' })];
    const index = new ImageIndex();
    createWatcher({ sources: () => [source], index, log }).start();
    await vi.advanceTimersByTimeAsync(0);
    expect(running(index)).toEqual(['shop/web[app]']);
    const unselected = fakeDeployment('shop', 'web', { app: 'nginx' });
    vi.spyOn(source, 'toWorkload').mockReturnValue(undefined);
    source.fake.emit('update', unselected);
    expect(running(index)).toEqual([]);
  });

  it('gives the watched view of a workload (onpush annotations and its labels) while synced, none while broken', async () => {
    const source = new FakeSource();
    const web = fakeDeployment('shop', 'web', { app: 'nginx' });
    web.metadata = {
      ...web.metadata,
      resourceVersion: '41',
      labels: { 'onpush.dev/enabled': 'true', team: 'shop' },
      annotations: { 'onpush.dev/cooldown': '5m', 'team.example/owner': 'shop' },
    };
    web.spec!.template.metadata = {
      annotations: { 'onpush.dev/digest': `sha256:${'c'.repeat(64)}`, 'checksum/config': 'x' },
    };
    source.fake.objects = [web];
    const watcher = createWatcher({ sources: [source], index: new ImageIndex(), log });
    const id = { kind: 'Deployment', namespace: 'shop', name: 'web' } as const;
    expect(observedView(watcher, id)).toBeUndefined();
    watcher.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(observedView(watcher, id)).toEqual({
      resourceVersion: '41',
      marks: { 'onpush.dev/digest': `sha256:${'c'.repeat(64)}` },
      settings: { 'onpush.dev/cooldown': '5m' },
      containers: [{ name: 'app', image: 'nginx', init: false }],
      labels: { 'onpush.dev/enabled': 'true', team: 'shop' },
    });
    expect(observedView(watcher, { ...id, kind: 'StatefulSet' })).toBeUndefined();
    expect(observedView(watcher, { ...id, name: 'other' })).toBeUndefined();
    source.fake.failStart = new Error('connection reset');
    source.fake.fail(new Error('connection reset'));
    expect(observedView(watcher, id)).toBeUndefined();
    await watcher.stop();
  });

  it('is not synced before it started, with sources known only at start', () => {
    const watcher = createWatcher({ sources: () => [], index: new ImageIndex(), log });
    expect(watcher.synced).toBe(false);
    watcher.start();
    expect(watcher.synced).toBe(true);
  });

  it('does not restart once stopped', async () => {
    const source = new FakeSource();
    const watcher = createWatcher({ sources: [source], index: new ImageIndex(), log });
    watcher.start();
    await vi.advanceTimersByTimeAsync(0);
    await watcher.stop();
    source.fake.fail(new Error('aborted'));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(source.fake.starts).toBe(1);
    expect(watcher.broken).toBe(false);
  });
});

describe('workload sources', () => {
  it('selects labelled Deployments unless told to take all', () => {
    expect(labelSelector('labelled')).toBe('onpush.dev/enabled=true');
    expect(labelSelector('all')).toBeUndefined();
  });

  it('reads init containers and containers out of a Deployment', () => {
    expect(
      deploymentWorkload(fakeDeployment('shop', 'web', { app: 'a:1' }, { init: 'b:2' })),
    ).toEqual({
      kind: 'Deployment',
      namespace: 'shop',
      name: 'web',
      containers: [
        { name: 'init', image: 'b:2' },
        { name: 'app', image: 'a:1' },
      ],
    });
    expect(deploymentWorkload({ metadata: { name: 'no-namespace' } })).toBeUndefined();
  });

  it('grows the restart delay up to its cap', () => {
    expect([1, 2, 3, 10].map((n) => restartDelay(n, 1_000, 5_000))).toEqual([
      1_000, 2_000, 4_000, 5_000,
    ]);
  });
});
