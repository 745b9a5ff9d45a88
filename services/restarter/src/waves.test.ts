import { describe, expect, it } from 'vitest';
import {
  HEADERS,
  parseOutcome,
  parseRestartRequest,
  type RestartRequest,
  type WorkloadRef,
} from '@onpush/contracts';
import { scopeOf } from '@onpush/kube';
import { describeFailure, HELD, type Incoming } from '@onpush/service';
import { MemoryCasStore } from '@onpush/testing';
import { FakeApps, fakeEffects } from './fake-apps.test-support.js';
import { createHandler, REQUEUE_AFTER } from './handler.js';
import type { ReadWorkload } from './rollout/read.js';
import {
  createWaves,
  type GateDecision,
  gatesLater,
  previousWave,
  verdictOf,
  type Gate,
  type ReadRollout,
  type Settled,
  type Settlements,
  type WaveStore,
} from './waves.js';

const T0 = Date.parse('2026-12-06T10:00:00.000Z');
const SIZES = { '1': 2, '2': 1, '5': 1 };

function request(name: string, wave: number | undefined, eventId = 'e1'): RestartRequest {
  return {
    v: 1,
    eventId,
    image: 'us-docker.pkg.dev/acme/shop/web',
    tag: '1.2.0',
    digest: `sha256:${'1'.repeat(64)}`,
    pushedAt: new Date(T0).toISOString(),
    workload: { kind: 'Deployment', namespace: 'shop', name, containers: ['main'] },
    waves: { ...(wave !== undefined ? { wave } : {}), sizes: SIZES },
  };
}

function memoryStore(): WaveStore {
  return { settlements: new MemoryCasStore<Settlements>(), gates: new MemoryCasStore<Gate>() };
}

/** A Deployment of 2 replicas at `generation`, its rollout in `state`. */
function deployment(
  state: 'done' | 'rolling' | 'deadline',
  generation = 2,
  soak?: string,
): ReadWorkload {
  const done = state !== 'rolling';
  return {
    object: {
      metadata: { generation },
      spec: { replicas: 2 },
      status: {
        observedGeneration: generation,
        replicas: 2,
        updatedReplicas: done ? 2 : 1,
        availableReplicas: done ? 2 : 1,
        ...(state === 'deadline'
          ? {
              conditions: [
                {
                  type: 'Progressing',
                  status: 'False',
                  reason: 'ProgressDeadlineExceeded',
                  message: 'ReplicaSet "web-2" has timed out progressing.',
                },
              ],
            }
          : {}),
      },
    },
    soakMs: soak === undefined ? undefined : Number.parseInt(soak, 10) * 1_000,
    marks: {},
    resourceVersion: '1',
    source: {},
  };
}

/** Waves over a memory store, rollouts read from `rollouts` (name → state), a clock. */
function setUp(
  rollouts: Map<string, ReturnType<typeof deployment> | undefined>,
  soaks?: { all: number; namespaces: Record<string, number> },
) {
  let now = T0;
  const reads: string[] = [];
  const readRollout: ReadRollout = (w: WorkloadRef) => {
    reads.push(w.name);
    return Promise.resolve(rollouts.get(w.name));
  };
  const store = memoryStore();
  const decisions: GateDecision[] = [];
  const waves = createWaves({
    store,
    readRollout,
    rolloutTimeoutMs: 600_000,
    waveTimeoutMs: 3_600_000,
    recheckMs: 2_000,
    now: () => new Date(now),
    onDecided: (decision) => decisions.push(decision),
    ...(soaks ? { soaks } : {}),
  });
  const rolling = (name: string): Settled => ({
    state: 'rolling',
    workload: { kind: 'Deployment', namespace: 'shop', name },
    since: new Date(now).toISOString(),
    generation: 2,
  });
  return {
    waves,
    store,
    decisions,
    reads,
    rolling,
    clock: () => new Date(now),
    at: (ms: number) => (now = ms),
  };
}

describe('waves of one push', () => {
  it('knows the wave before each request, and which requests a later wave waits on', () => {
    expect(previousWave(request('a', 1))).toBeUndefined();
    expect(previousWave(request('b', 2))).toBe(1);
    expect(previousWave(request('c', 5))).toBe(2);
    expect(previousWave(request('d', undefined))).toBeUndefined();
    expect(gatesLater(request('a', 1))).toBe(true);
    expect(gatesLater(request('c', 5))).toBe(false);
    expect(gatesLater(request('d', undefined))).toBe(false);
  });

  it('opens the next wave once every workload of the wave is ready, not before', async () => {
    const rollouts = new Map([
      ['a1', deployment('rolling')],
      ['a2', deployment('done')],
    ]);
    const { waves, reads, rolling, at, decisions } = setUp(rollouts);
    await waves.settle(request('a1', 1), rolling('a1'));
    // one of the two workloads of wave 1 has not settled yet
    expect(await waves.gate(request('b', 2))).toMatchObject({
      state: 'waiting',
      detail: 'wave 1: 0 of 2 workloads ready',
    });
    await waves.settle(request('a2', 1), rolling('a2'));
    // within the recheck period the verdict stands: nobody reads the API server again
    reads.length = 0;
    expect(await waves.gate(request('b', 2))).toMatchObject({ state: 'waiting' });
    expect(reads).toEqual([]);
    at(T0 + 2_001);
    expect(await waves.gate(request('b', 2))).toMatchObject({
      state: 'waiting',
      detail: 'wave 1: 1 of 2 workloads ready',
    });
    rollouts.set('a1', deployment('done'));
    at(T0 + 4_002);
    expect(await waves.gate(request('b', 2))).toMatchObject({
      state: 'open',
      detail: 'wave 1: 2 ready',
    });
    // the gate's span: from the first ask to the verdict, told once
    expect(decisions).toEqual([
      {
        eventId: 'e1',
        wave: 1,
        since: new Date(T0),
        at: new Date(T0 + 4_002),
        state: 'open',
        detail: 'wave 1: 2 ready',
      },
    ]);
    // open is final: no more reads
    reads.length = 0;
    at(T0 + 60_000);
    expect(await waves.gate(request('b', 2))).toMatchObject({ state: 'open' });
    expect(reads).toEqual([]);
    expect(decisions).toHaveLength(1);
  });

  it('waits out the soak, and starts it over when a workload becomes unready during it', async () => {
    const rollouts = new Map([
      ['a1', deployment('done', 2, '60')],
      ['a2', deployment('done')],
    ]);
    const { waves, rolling, at } = setUp(rollouts);
    await waves.settle(request('a1', 1), rolling('a1'));
    await waves.settle(request('a2', 1), rolling('a2'));
    const soaking = await waves.gate(request('b', 2));
    expect(soaking).toMatchObject({
      state: 'waiting',
      detail: 'wave 1: 2 ready, soaking 60 s more',
    });
    // a pod lost during the soak: not healthy any more
    rollouts.set('a2', deployment('rolling'));
    at(T0 + 30_000);
    expect(await waves.gate(request('b', 2))).toMatchObject({ state: 'waiting' });
    rollouts.set('a2', deployment('done'));
    at(T0 + 61_000);
    // healthy again at 61 s: the soak runs from there
    expect(await waves.gate(request('b', 2))).toMatchObject({
      state: 'waiting',
      detail: 'wave 1: 2 ready, soaking 60 s more',
    });
    at(T0 + 121_001);
    expect(await waves.gate(request('b', 2))).toMatchObject({
      state: 'open',
      detail: 'wave 1: 2 ready and healthy for 60 s',
    });
  });

  it("soaks a workload that names no soak for its namespace's (SOAK_NAMESPACES, else SOAK)", async () => {
    const rollouts = new Map([
      ['a1', deployment('done')],
      ['a2', deployment('done')],
    ]);
    const { waves, rolling, at } = setUp(rollouts, { all: 5_000, namespaces: { shop: 30_000 } });
    await waves.settle(request('a1', 1), rolling('a1'));
    await waves.settle(request('a2', 1), rolling('a2'));
    expect(await waves.gate(request('b', 2))).toMatchObject({
      detail: 'wave 1: 2 ready, soaking 30 s more',
    });
    at(T0 + 30_001);
    expect(await waves.gate(request('b', 2))).toMatchObject({
      state: 'open',
      detail: 'wave 1: 2 ready and healthy for 30 s',
    });
  });

  it('halts the later waves when a rollout of the wave fails, naming the workload', async () => {
    const rollouts = new Map([
      ['a1', deployment('deadline')],
      ['a2', deployment('done')],
    ]);
    const { waves, rolling, decisions } = setUp(rollouts);
    await waves.settle(request('a1', 1), rolling('a1'));
    await waves.settle(request('a2', 1), rolling('a2'));
    const halted = await waves.gate(request('b', 2));
    expect(halted).toMatchObject({ state: 'halted', reason: 'wave_failed' });
    expect(decisions).toEqual([
      expect.objectContaining({ wave: 1, state: 'halted', reason: 'wave_failed' }),
    ]);
    expect(halted.detail).toMatch(
      /^wave 1: Deployment\/shop\/a1 failed its rollout \(progress_deadline_exceeded: /,
    );
    // a workload of wave 2 settles halted: wave 5 is halted in turn
    await waves.settle(request('b', 2), {
      state: 'halted',
      workload: { kind: 'Deployment', namespace: 'shop', name: 'b' },
      detail: halted.detail,
    });
    expect(await waves.gate(request('c', 5))).toMatchObject({
      state: 'halted',
      detail: expect.stringMatching(/^wave 2: Deployment\/shop\/b was halted/) as string,
    });
  });

  it('fails a rollout not ready within the rollout timeout, and halts a wave that never settles', () => {
    const gate = { state: 'waiting', since: new Date(T0).toISOString() } as const;
    const waiting = { ...gate, checkedAt: gate.since, detail: '' };
    const late = verdictOf({
      wave: 1,
      size: 2,
      settled: [],
      gate: waiting,
      now: new Date(T0 + 3_600_001),
      waveTimeoutMs: 3_600_000,
      recheckMs: 2_000,
    });
    expect(late.verdict).toEqual({
      state: 'halted',
      reason: 'wave_timeout',
      detail: 'wave 1: 0 of 2 workloads ready after 60 min',
    });
  });

  it('counts a rollout stuck past ROLLOUT_TIMEOUT as failed', async () => {
    const rollouts = new Map([
      ['a1', deployment('rolling')],
      ['a2', deployment('done')],
    ]);
    const { waves, rolling, at } = setUp(rollouts);
    await waves.settle(request('a1', 1), rolling('a1'));
    await waves.settle(request('a2', 1), rolling('a2'));
    at(T0 + 600_001);
    const verdict = await waves.gate(request('b', 2));
    expect(verdict).toMatchObject({ state: 'halted', reason: 'wave_failed' });
    expect(verdict.detail).toContain('timeout: not ready 600 s after its restart');
  });

  it('leaves the judging to one of the replicas asking at once', async () => {
    const rollouts = new Map([
      ['a1', deployment('rolling')],
      ['a2', deployment('rolling')],
    ]);
    const { waves, reads, rolling } = setUp(rollouts);
    await waves.settle(request('a1', 1), rolling('a1'));
    await waves.settle(request('a2', 1), rolling('a2'));
    const verdicts = await Promise.all(
      ['b', 'b2', 'b3', 'b4'].map((name) => waves.gate(request(name, 2))),
    );
    expect(verdicts.every((v) => v.state === 'waiting')).toBe(true);
    expect(reads.sort()).toEqual(['a1', 'a2']);
  });
});

describe('a restart request at a wave gate', () => {
  function delivery(body: RestartRequest, deliveryCount = 1, copy?: number): Incoming {
    return {
      subject: copy === undefined ? 'onpush.restart.shop' : 'onpush.restart.held.shop',
      data: new TextEncoder().encode(JSON.stringify(body)),
      headers: {
        [HEADERS.eventId]: body.eventId,
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        'Nats-Msg-Id': 'x',
        ...(copy !== undefined ? { [HEADERS.heldCopy]: String(copy) } : {}),
      },
      seq: 7,
      deliveryCount,
    };
  }

  function handlerWith(rollouts: Map<string, ReturnType<typeof deployment> | undefined>) {
    const apps = new FakeApps().add('shop', 'a1', {}).add('shop', 'b', {});
    const { waves, at, clock } = setUp(rollouts);
    const waiting: string[] = [];
    const handle = createHandler({
      effects: fakeEffects(apps, 'waves-test'),
      scope: scopeOf('labelled'),
      now: clock,
      waves,
      onWaiting: (r, detail) => waiting.push(`${r.workload.name}: ${detail}`),
    });
    return { apps, handle, waiting, at };
  }

  it('is held while the wave before it rolls out, put back after a few holds, then restarted', async () => {
    const rollouts = new Map([['a1', deployment('rolling', 1)]]);
    const { apps, handle, waiting, at } = handlerWith(rollouts);
    const sizes = { '1': 1, '2': 1 };
    const first = { ...request('a1', 1), waves: { wave: 1, sizes } };
    const second = { ...request('b', 2), waves: { wave: 2, sizes } };
    // wave 1 restarts at once and records its rollout for wave 2
    const [w1] = await handle(delivery(first));
    expect(parseOutcome(w1!.data)).toMatchObject({ fate: 'restarted' });

    const held = describeFailure(await handle(delivery(second)).catch((e: unknown) => e));
    expect(held).toMatchObject({ type: HELD, retryable: true });
    expect(held.message).toContain('waiting at the wave gate: wave 1: 0 of 1 workloads ready');
    expect(waiting).toEqual(['b: wave 1: 0 of 1 workloads ready']);
    expect(apps.verbs().filter((v) => v === 'patch')).toHaveLength(1);

    // held long: put back on onpush.restart.held.<namespace>, numbered, its watch view not trusted
    at(T0 + 5_000);
    const [copy] = await handle(delivery(second, REQUEUE_AFTER));
    expect(copy).toMatchObject({
      subject: 'onpush.restart.held.shop',
      msgId: 'e1:Deployment/shop/b:held:1',
      headers: {
        [HEADERS.heldCopy]: '1',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
    });
    expect(copy!.headers).not.toHaveProperty('Nats-Msg-Id');
    expect(parseRestartRequest(copy!.data)).toEqual(second);
    expect(waiting).toHaveLength(1); // the Event only once

    rollouts.set('a1', deployment('done', 1));
    at(T0 + 10_000);
    const [w2] = await handle(delivery(second, 1, 1));
    expect(parseOutcome(w2!.data)).toMatchObject({ fate: 'restarted', workload: { name: 'b' } });
  });

  it('ends halted, with its reason, when the wave before it failed', async () => {
    const rollouts = new Map([['a1', deployment('deadline', 1)]]);
    const { apps, handle } = handlerWith(rollouts);
    const sizes = { '1': 1, '2': 1 };
    await handle(delivery({ ...request('a1', 1), waves: { wave: 1, sizes } }));
    const [out] = await handle(delivery({ ...request('b', 2), waves: { wave: 2, sizes } }));
    expect(parseOutcome(out!.data)).toMatchObject({
      fate: 'halted',
      reason: 'wave_failed',
      workload: { name: 'b' },
      detail: expect.stringContaining('Deployment/shop/a1 failed its rollout') as string,
    });
    expect(apps.verbs().filter((v) => v === 'patch')).toHaveLength(1);
  });
});
