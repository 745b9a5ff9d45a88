import { describe, expect, it } from 'vitest';
import type { WorkloadRef } from '@onpush/contracts';
import { MemoryCasStore } from '@onpush/testing';
import { createBudget, mayGo, type BudgetLimits, type BudgetRecord } from './budget.js';
import type { ReadWorkload } from './rollout/read.js';

const T0 = Date.parse('2026-12-06T10:00:00.000Z');
const ref = (namespace: string, name: string): WorkloadRef => ({
  kind: 'Deployment',
  namespace,
  name,
});
const push = (namespace: string, name: string, eventId = 'e1') => ({
  workload: ref(namespace, name),
  eventId,
});

/** A Deployment at generation 2, its rollout done or not. */
const rollout = (done: boolean): ReadWorkload => ({
  object: {
    metadata: { generation: 2 },
    spec: { replicas: 1 },
    status: {
      observedGeneration: 2,
      replicas: 1,
      updatedReplicas: done ? 1 : 0,
      availableReplicas: done ? 1 : 0,
    },
  },
  soakMs: undefined,
  marks: {},
  resourceVersion: '1',
  source: {},
});

function setUp(limits: BudgetLimits) {
  let now = T0;
  const done = new Set<string>();
  const reads: string[] = [];
  const store = new MemoryCasStore<BudgetRecord>();
  const budget = createBudget({
    store,
    limits,
    readRollout: (w) => {
      reads.push(w.name);
      return Promise.resolve(rollout(done.has(w.name)));
    },
    now: () => new Date(now),
  });
  const record = () => store.values.get('budget')?.value;
  return { budget, done, reads, record, at: (ms: number) => (now = ms) };
}

describe('the rollout budget', () => {
  it('lets N restarts roll at once, the next ones in line by their place', async () => {
    const { budget } = setUp({ all: 2, namespaces: {} });
    expect(await budget.acquire(push('shop', 'a'), 1)).toEqual({ granted: true });
    expect(await budget.acquire(push('shop', 'b'), 2)).toEqual({ granted: true });
    // the same restart asking again keeps its slot
    expect(await budget.acquire(push('shop', 'a'), 1)).toEqual({ granted: true });
    // d asks first, but c was stored before it: c goes ahead in line
    await budget.acquire(push('shop', 'd'), 4);
    const c = await budget.acquire(push('shop', 'c'), 3);
    const d = await budget.acquire(push('shop', 'd'), 4);
    expect(c).toMatchObject({
      granted: false,
      detail: expect.stringContaining('number 1 in line') as string,
    });
    expect(d).toMatchObject({
      granted: false,
      detail: 'rollout budget full (2 rolling of 2); number 2 in line',
    });
    // a slot comes free: the first in line takes it, not the one that asks first
    await budget.release(ref('shop', 'a'));
    expect((await budget.acquire(push('shop', 'd'), 4)).granted).toBe(false);
    expect((await budget.acquire(push('shop', 'c'), 3)).granted).toBe(true);
    expect((await budget.acquire(push('shop', 'd'), 4)).granted).toBe(false);
  });

  it('keeps a limit per namespace, over the cluster-wide one, without holding up the others', () => {
    const limits = { all: 3, namespaces: { prod: 1 } };
    const record: BudgetRecord = {
      slots: [{ workload: 'Deployment/prod/a', namespace: 'prod', eventId: 'e', since: '' }],
      queue: [
        { ticket: 1, workload: 'Deployment/prod/b', namespace: 'prod', since: '' },
        { ticket: 2, workload: 'Deployment/dev/c', namespace: 'dev', since: '' },
        { ticket: 3, workload: 'Deployment/dev/d', namespace: 'dev', since: '' },
        { ticket: 4, workload: 'Deployment/dev/e', namespace: 'dev', since: '' },
      ],
    };
    expect(mayGo(record, 'Deployment/prod/b', limits)).toBe(false); // prod is full
    expect(mayGo(record, 'Deployment/dev/c', limits)).toBe(true); // two free, none ahead can go
    expect(mayGo(record, 'Deployment/dev/d', limits)).toBe(true);
    expect(mayGo(record, 'Deployment/dev/e', limits)).toBe(false); // two ahead take both
  });

  it('frees the slots of ended rollouts when full, judged from the API server by one replica', async () => {
    const { budget, done, reads, at } = setUp({ all: 2, namespaces: {} });
    await budget.acquire(push('shop', 'a'), 1);
    await budget.acquire(push('shop', 'b'), 2);
    await budget.started(push('shop', 'a'), 2);
    await budget.started(push('shop', 'b'), 2);
    expect((await budget.acquire(push('shop', 'c'), 3)).granted).toBe(false);
    expect(reads.sort()).toEqual(['a', 'b']);
    // a's rollout ended, and its holder was killed before it gave the slot back
    done.add('a');
    at(T0 + 500);
    reads.length = 0;
    expect((await budget.acquire(push('shop', 'c'), 3)).granted).toBe(false);
    expect(reads).toEqual([]); // judged less than PRUNE_MS ago
    at(T0 + 2_500);
    expect((await budget.acquire(push('shop', 'c'), 3)).granted).toBe(true);
  });

  it('drops a slot whose restart never started (its PATCH failed) after a while', async () => {
    const { budget, at } = setUp({ all: 1, namespaces: {} });
    await budget.acquire(push('shop', 'a'), 1);
    at(T0 + 10_000);
    expect((await budget.acquire(push('shop', 'b'), 2)).granted).toBe(false);
    at(T0 + 31_000);
    expect((await budget.acquire(push('shop', 'b'), 2)).granted).toBe(true);
  });

  it('asks nothing of the store without a limit', async () => {
    const { budget, record } = setUp({ all: 0, namespaces: { prod: 1 } });
    expect(await budget.acquire(push('shop', 'a'), 1)).toEqual({ granted: true });
    expect(record()).toBeUndefined();
    expect((await budget.acquire(push('prod', 'a'), 1)).granted).toBe(true);
    expect((await budget.acquire(push('prod', 'b'), 2)).granted).toBe(false);
  });
});
