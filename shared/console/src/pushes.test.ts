import { describe, expect, it } from 'vitest';
import type { Outcome } from '@onpush/contracts';
import { pushStore } from './feed.js';
import { foldOutcome, matchesPush, parsePushFilter, PushFilterError, type Push } from './pushes.js';
import { workloadEvents } from './workload.js';

const IMAGE = 'europe-docker.pkg.dev/p/r/app';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const web = { kind: 'Deployment', namespace: 'shop', name: 'web' } as const;
const front = { kind: 'Deployment', namespace: 'blog', name: 'front' } as const;

let seq = 0;
function record(outcome: Partial<Outcome> & Pick<Outcome, 'fate'>, cluster?: string) {
  seq += 1;
  const full: Outcome = {
    v: 1,
    eventId: 'gar:1',
    stage: outcome.workload ? 'restarter' : 'resolver',
    image: IMAGE,
    tag: '1.1',
    digest: DIGEST,
    at: `2026-12-01T10:00:0${seq % 10}.000Z`,
    ...outcome,
  };
  return { outcome: full, seq, cluster, traceId: 'f'.repeat(32) };
}

function fold(...records: ReturnType<typeof record>[]): Push {
  let push: Push | undefined;
  for (const r of records) push = foldOutcome(push, r);
  return push!;
}

describe('a push as the console groups it', () => {
  it('gathers the event fate and each workload fate of one event id', () => {
    const push = fold(
      record({ fate: 'restarted', workload: web, durationMs: 840 }),
      record({ fate: 'dispatched', requests: 2, pushedAt: '2026-12-01T09:59:59.500Z' }),
      record({ fate: 'unchanged', workload: front, reason: 'already_running' }),
    );
    expect(push).toMatchObject({
      eventId: 'gar:1',
      // when the registry pushed it (the resolver's fate says), whatever came first
      pushedAt: '2026-12-01T09:59:59.500Z',
      source: 'gar',
      image: IMAGE,
      tag: '1.1',
      digest: DIGEST,
      fate: 'dispatched',
      requests: 2,
      traceId: 'f'.repeat(32),
      clusters: [],
    });
    expect(push.workloads.map((w) => [w.workload.name, w.fate, w.durationMs])).toEqual([
      ['web', 'restarted', 840],
      ['front', 'unchanged', undefined],
    ]);
  });

  it("keeps a workload's latest fate and its history, and its rollout's end", () => {
    const push = fold(
      record({ fate: 'dispatched', requests: 1 }),
      record({ fate: 'dead', workload: web, reason: 'http_403', stage: 'restarter' }),
      record({ fate: 'restarted', workload: web }),
      record({ fate: 'rollout-completed', workload: web, durationMs: 3_000 }),
    );
    expect(push.fate).toBe('dispatched');
    expect(push.workloads).toHaveLength(1);
    expect(push.workloads[0]).toMatchObject({
      fate: 'restarted',
      history: ['dead', 'restarted'],
      rollout: { fate: 'rollout-completed', durationMs: 3_000 },
    });
  });

  it('counts the restart requests of every cluster, and tells the clusters apart', () => {
    const push = fold(
      record({ fate: 'dispatched', requests: 1 }, 'east'),
      record({ fate: 'dispatched', requests: 2 }, 'west'),
      record({ fate: 'restarted', workload: web }, 'east'),
      record({ fate: 'restarted', workload: web }, 'west'),
    );
    expect(push.requests).toBe(3);
    expect(push.clusters).toEqual(['east', 'west']);
    expect(push.workloads.map((w) => w.cluster)).toEqual(['east', 'west']);
  });

  it('shows an event that ended at once with its fate and reason', () => {
    const push = fold(record({ fate: 'ignored', reason: 'duplicate_push', stage: 'resolver' }));
    expect(push).toMatchObject({ fate: 'ignored', reason: 'duplicate_push', workloads: [] });
  });
});

describe('filters', () => {
  const now = new Date('2026-12-01T10:30:00.000Z');
  const push = fold(
    record({ fate: 'dispatched', requests: 1 }, 'east'),
    record({ fate: 'restarted', workload: web }, 'east'),
  );

  it('narrow by image, namespace, fate, cluster and time', () => {
    const pass = (q: string) => matchesPush(push, parsePushFilter(new URLSearchParams(q), now));
    expect(pass('')).toBe(true);
    expect(pass('image=r/app')).toBe(true);
    expect(pass('image=nginx')).toBe(false);
    expect(pass('namespace=shop')).toBe(true);
    expect(pass('namespace=blog')).toBe(false);
    expect(pass('fate=restarted')).toBe(true);
    expect(pass('fate=dispatched')).toBe(true);
    expect(pass('fate=dead')).toBe(false);
    expect(pass('cluster=east')).toBe(true);
    expect(pass('cluster=west')).toBe(false);
    expect(pass('since=1h')).toBe(true);
    expect(pass('since=5m')).toBe(false);
    expect(pass('since=2026-12-01T09:00:00Z')).toBe(true);
  });

  it('name what is wrong with a filter', () => {
    const parse = (q: string) => () => parsePushFilter(new URLSearchParams(q), now);
    expect(parse('fate=exploded')).toThrow(PushFilterError);
    expect(parse('since=yesterday')).toThrow(/since must be/);
  });
});

describe('the pushes the console keeps', () => {
  it('lists the latest change first, forgets the oldest beyond its size, tells listeners', () => {
    const store = pushStore(2);
    const seen: string[] = [];
    store.subscribe(
      (p) => seen.push(`${p.eventId}:${p.fate ?? '?'}`),
      () => undefined,
    );
    store.fold(record({ eventId: 'gar:1', fate: 'no-match' }));
    store.fold(record({ eventId: 'gar:2', fate: 'dispatched', requests: 1 }));
    store.fold(record({ eventId: 'gar:3', fate: 'ignored' }));
    store.fold(record({ eventId: 'gar:2', fate: 'restarted', workload: web }));
    expect(store.pushes().map((p) => p.eventId)).toEqual(['gar:2', 'gar:3']);
    expect(seen).toEqual([
      'gar:1:no-match',
      'gar:2:dispatched',
      'gar:3:ignored',
      'gar:2:dispatched',
    ]);
  });

  it("gives a workload's pushes and the digests it was restarted onto", () => {
    const store = pushStore(10);
    store.fold(
      record({
        eventId: 'gar:1',
        fate: 'restarted',
        workload: web,
        at: '2026-12-01T10:00:00.000Z',
      }),
    );
    const other = `sha256:${'b'.repeat(64)}`;
    store.fold(
      record({
        eventId: 'gar:2',
        fate: 'restarted',
        workload: web,
        digest: other,
        at: '2026-12-01T11:00:00.000Z',
      }),
    );
    store.fold(record({ eventId: 'gar:3', fate: 'restarted', workload: front }));
    const { events, digests } = workloadEvents(store.pushes(), web);
    expect(events.map((e) => e.eventId)).toEqual(['gar:2', 'gar:1']);
    expect(digests.map((d) => d.digest)).toEqual([other, DIGEST]);
  });
});
