import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Outcome } from '@onpush/contracts';
import { createLogger } from '@onpush/telemetry';
import type { TrackRequest } from './outcome.js';
import { rolloutState, type RolloutObject } from './status.js';
import { createTracker, type WatchStart } from './tracker.js';

const log = createLogger({ test: 'tracker' }, { write: () => undefined });
const START = new Date('2026-11-26T10:00:00.000Z');

/** A watch the test drives: every open() is recorded; `emit` sends to the latest open one. */
function fakeWatch() {
  const opened: {
    path: string;
    params: Record<string, unknown>;
    onEvent: (t: string, o: unknown) => void;
    onDone: (e: unknown) => void;
    aborted: boolean;
  }[] = [];
  const watch: WatchStart = (path, params, onEvent, onDone) => {
    const entry = { path, params, onEvent, onDone, aborted: false };
    opened.push(entry);
    return Promise.resolve({ abort: () => (entry.aborted = true) });
  };
  const live = () => opened.filter((o) => !o.aborted);
  return {
    watch,
    opened,
    live,
    emit: (type: string, object: RolloutObject) => live().at(-1)?.onEvent(type, object),
  };
}

function deployment(
  name: string,
  generation: number,
  status: NonNullable<RolloutObject['status']>,
  replicas = 2,
): RolloutObject {
  return { metadata: { name, generation }, spec: { replicas }, status };
}

const done = (generation: number) => ({
  observedGeneration: generation,
  replicas: 2,
  updatedReplicas: 2,
  availableReplicas: 2,
});

function request(
  name: string,
  generation = 3,
  kind: TrackRequest['workload']['kind'] = 'Deployment',
): TrackRequest {
  return {
    workload: { kind, namespace: 'shop', name },
    eventId: `evt-${name}`,
    image: 'ghcr.io/acme/api',
    tag: '1.2',
    generation,
    respondedAt: START,
    notify: ['ops'],
  };
}

describe('rollout tracker', () => {
  let outcomes: {
    outcome: Outcome;
    notify: readonly string[] | undefined;
    traceparent?: string;
  }[];
  beforeEach(() => {
    vi.useFakeTimers({ now: START });
    outcomes = [];
  });
  afterEach(() => vi.useRealTimers());

  const setUp = (timeoutMs = 60_000, labelSelector?: string) => {
    const fake = fakeWatch();
    const tracker = createTracker({
      watch: fake.watch,
      timeoutMs,
      labelSelector,
      report: (outcome, notify, traceparent) =>
        outcomes.push({ outcome, notify, ...(traceparent !== undefined ? { traceparent } : {}) }),
      log,
    });
    return { fake, tracker };
  };

  it('follows two rollouts of a namespace on one watch, and reports each with its duration', async () => {
    const { fake, tracker } = setUp();
    const traceparent = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;
    tracker.track({ ...request('web'), traceparent }); // its notification carries the push's trace
    tracker.track(request('api'));
    await vi.advanceTimersByTimeAsync(0);
    expect(fake.opened.map((o) => o.path)).toEqual(['/apis/apps/v1/namespaces/shop/deployments']);
    fake.emit('ADDED', deployment('web', 2, done(2))); // before the PATCH: not it
    fake.emit(
      'MODIFIED',
      deployment('web', 3, { observedGeneration: 3, replicas: 3, updatedReplicas: 1 }),
    );
    await vi.advanceTimersByTimeAsync(4_500);
    fake.emit('MODIFIED', deployment('web', 3, done(3)));
    await vi.advanceTimersByTimeAsync(0);
    expect(outcomes).toEqual([
      {
        outcome: expect.objectContaining({
          fate: 'rollout-completed',
          eventId: 'evt-web',
          workload: { kind: 'Deployment', namespace: 'shop', name: 'web' },
          durationMs: 4_500,
          detail: '2 of 2 updated and available',
        }) as unknown,
        notify: ['ops'],
        traceparent,
      },
    ]);
    expect(tracker.size).toBe(1);
    expect(fake.live()).toHaveLength(1);
    fake.emit('MODIFIED', {
      ...deployment('api', 3, { observedGeneration: 3 }),
      status: {
        observedGeneration: 3,
        conditions: [
          {
            type: 'Progressing',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: 'took too long',
          },
        ],
      },
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(outcomes[1]?.outcome).toMatchObject({
      fate: 'rollout-failed',
      reason: 'progress_deadline_exceeded',
      detail: 'took too long',
    });
    expect(tracker.size).toBe(0);
    expect(fake.live()).toHaveLength(1); // kept a while for the next rollout of a burst
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fake.live()).toEqual([]); // nothing left to follow: the watch is closed
  });

  it('watches only what matches its label selector, when it has one', async () => {
    const { fake, tracker } = setUp(60_000, 'onpush.dev/enabled=true');
    tracker.track(request('web'));
    await vi.advanceTimersByTimeAsync(0);
    expect(fake.opened.map((o) => o.params)).toEqual([
      { timeoutSeconds: 300, labelSelector: 'onpush.dev/enabled=true' },
    ]);
    const plain = setUp();
    plain.tracker.track(request('web'));
    await vi.advanceTimersByTimeAsync(0);
    expect(plain.fake.opened.map((o) => o.params)).toEqual([{ timeoutSeconds: 300 }]);
    await tracker.stop();
    await plain.tracker.stop();
  });

  it('judges at once a rollout whose PATCH event the open watch already brought', async () => {
    const { fake, tracker } = setUp();
    tracker.track(request('web'));
    await vi.advanceTimersByTimeAsync(0);
    fake.emit('MODIFIED', deployment('api', 5, done(5)));
    tracker.track(request('api', 5));
    await vi.advanceTimersByTimeAsync(0);
    expect(outcomes.map((o) => o.outcome.workload?.name)).toEqual(['api']);
  });

  it('fails a rollout that times out, or whose workload is deleted', async () => {
    const { fake, tracker } = setUp(10_000);
    tracker.track(request('web'));
    tracker.track(request('api'));
    await vi.advanceTimersByTimeAsync(0);
    fake.emit('DELETED', deployment('api', 3, {}));
    fake.emit(
      'MODIFIED',
      deployment('web', 3, { observedGeneration: 3, updatedReplicas: 1, replicas: 2 }),
    );
    await vi.advanceTimersByTimeAsync(10_000);
    expect(
      outcomes.map((o) => [o.outcome.workload?.name, o.outcome.fate, o.outcome.reason]),
    ).toEqual([
      ['api', 'rollout-failed', 'deleted'],
      ['web', 'rollout-failed', 'timeout'],
    ]);
    expect(outcomes[1]?.outcome.detail).toBe('not done after 10 s: 1 of 2 updated');
  });

  it('counts the time limit from the restart, for a rollout followed again after a restart', async () => {
    const { fake, tracker } = setUp(10_000);
    // restarted 8 s before this restarter started following it
    tracker.track({ ...request('web'), respondedAt: new Date(START.getTime() - 8_000) });
    await vi.advanceTimersByTimeAsync(0);
    fake.emit(
      'MODIFIED',
      deployment('web', 3, { observedGeneration: 3, updatedReplicas: 1, replicas: 2 }),
    );
    await vi.advanceTimersByTimeAsync(1_900);
    expect(outcomes).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(outcomes.map((o) => [o.outcome.fate, o.outcome.detail, o.outcome.durationMs])).toEqual([
      ['rollout-failed', 'not done after 10 s: 1 of 2 updated', 10_000],
    ]);
  });

  it('reopens a watch the server ended, after a growing delay when it failed', async () => {
    const { fake, tracker } = setUp();
    tracker.track(request('web'));
    await vi.advanceTimersByTimeAsync(0);
    fake.opened[0]?.onDone(null); // the server's timeoutSeconds
    await vi.advanceTimersByTimeAsync(0);
    expect(fake.opened).toHaveLength(2);
    fake.opened[1]?.onDone(new Error('connection reset'));
    await vi.advanceTimersByTimeAsync(999);
    expect(fake.opened).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(fake.opened).toHaveLength(3);
    fake.emit('ADDED', deployment('web', 3, done(3)));
    await vi.advanceTimersByTimeAsync(0);
    expect(outcomes).toHaveLength(1);
  });

  it('gives up on a namespace it may not watch, reporting nothing', async () => {
    const { fake, tracker } = setUp();
    tracker.track(request('web'));
    await vi.advanceTimersByTimeAsync(0);
    fake.opened[0]?.onDone(Object.assign(new Error('Forbidden'), { statusCode: 403 }));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fake.opened).toHaveLength(1);
    expect(outcomes).toEqual([]);
    expect(tracker.size).toBe(0);
    tracker.track(request('api')); // refused a minute ago: not asked again for a while
    await vi.advanceTimersByTimeAsync(0);
    expect(fake.opened).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    tracker.track(request('api'));
    await vi.advanceTimersByTimeAsync(0);
    expect(fake.opened).toHaveLength(2);
  });

  it('past maxTracked, warns once a minute with how many rollouts it did not follow', async () => {
    const lines: string[] = [];
    const warnings = createLogger({ test: 'tracker' }, { write: (line) => lines.push(line) });
    let at = START.getTime();
    const tracker = createTracker({
      watch: fakeWatch().watch,
      timeoutMs: 600_000,
      report: () => undefined,
      log: warnings,
      maxTracked: 1,
      now: () => new Date(at),
    });
    tracker.track(request('web', 1));
    for (const name of ['a', 'b', 'c']) tracker.track(request(name, 1));
    at += 59_000;
    tracker.track(request('d', 1));
    at += 1_000;
    tracker.track(request('e', 1));
    const said = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => String(entry['msg']).startsWith('too many rollouts'));
    expect(said.map((entry) => [entry['notFollowed'], entry['sinceMs']])).toEqual([
      [1, 0],
      [4, 60_000], // b, c and d quietly, then e, a minute after the first warning
    ]);
    await tracker.stop();
  });

  it('follows nothing for a CronJob; only the latest restart of a workload; at most maxTracked', async () => {
    const fake = fakeWatch();
    const results: string[] = [];
    const tracker = createTracker({
      watch: fake.watch,
      timeoutMs: 60_000,
      report: (outcome) => outcomes.push({ outcome, notify: undefined }),
      log,
      maxTracked: 2,
      onResult: (_kind, result) => results.push(result),
    });
    tracker.track(request('nightly', 1, 'CronJob'));
    tracker.track(request('web', 3));
    tracker.track(request('web', 4));
    tracker.track(request('api', 1));
    tracker.track(request('db', 1));
    await vi.advanceTimersByTimeAsync(0);
    expect(results).toEqual(['dropped', 'stopped']);
    fake.emit('MODIFIED', deployment('web', 3, done(3)));
    fake.emit('MODIFIED', deployment('web', 4, done(4)));
    await vi.advanceTimersByTimeAsync(0);
    expect(outcomes.map((o) => o.outcome.eventId)).toEqual(['evt-web']);
    await tracker.stop();
    expect(tracker.size).toBe(0);
    expect(fake.live()).toEqual([]);
  });
});

describe('rollout state', () => {
  it('follows kubectl rollout status for StatefulSets and DaemonSets', () => {
    const sts = (
      status: NonNullable<RolloutObject['status']>,
      strategy?: object,
    ): RolloutObject => ({
      metadata: { generation: 2 },
      spec: { replicas: 2, ...(strategy ? { updateStrategy: strategy } : {}) },
      status: { observedGeneration: 2, ...status },
    });
    expect(rolloutState('StatefulSet', sts({ readyReplicas: 1 }), 2).state).toBe('progressing');
    expect(
      rolloutState(
        'StatefulSet',
        sts({ readyReplicas: 2, currentRevision: 'a', updateRevision: 'b' }),
        2,
      ).state,
    ).toBe('progressing');
    expect(
      rolloutState(
        'StatefulSet',
        sts({ readyReplicas: 2, currentRevision: 'b', updateRevision: 'b' }),
        2,
      ).state,
    ).toBe('completed');
    expect(
      rolloutState(
        'StatefulSet',
        sts(
          { readyReplicas: 2, updatedReplicas: 1 },
          { type: 'RollingUpdate', rollingUpdate: { partition: 1 } },
        ),
        2,
      ).state,
    ).toBe('completed');
    expect(rolloutState('StatefulSet', sts({}, { type: 'OnDelete' }), 2).state).toBe('untrackable');
    const ds = (status: NonNullable<RolloutObject['status']>): RolloutObject => ({
      metadata: { generation: 2 },
      status: { observedGeneration: 2, desiredNumberScheduled: 3, ...status },
    });
    expect(
      rolloutState('DaemonSet', ds({ updatedNumberScheduled: 3, numberAvailable: 2 }), 2).state,
    ).toBe('progressing');
    expect(
      rolloutState('DaemonSet', ds({ updatedNumberScheduled: 3, numberAvailable: 3 }), 2).state,
    ).toBe('completed');
    expect(
      rolloutState(
        'DaemonSet',
        { metadata: { generation: 2 }, status: { observedGeneration: 1 } },
        2,
      ).state,
    ).toBe('progressing');
  });

  it('reads an Argo Rollout by phase, restart and observed generation', () => {
    const ro = (status: NonNullable<RolloutObject['status']>): RolloutObject => ({
      metadata: { generation: 4 },
      spec: { restartAt: '2026-11-26T10:00:00Z' },
      status: { observedGeneration: '4', ...status },
    });
    expect(rolloutState('Rollout', ro({ phase: 'Healthy' }), 4).state).toBe('progressing');
    expect(
      rolloutState('Rollout', ro({ phase: 'Healthy', restartedAt: '2026-11-26T10:00:00Z' }), 4)
        .state,
    ).toBe('completed');
    expect(rolloutState('Rollout', ro({ phase: 'Degraded', message: 'bad' }), 4)).toMatchObject({
      state: 'failed',
      reason: 'degraded',
    });
    expect(
      rolloutState('Rollout', ro({ observedGeneration: '3', phase: 'Healthy' }), 4).state,
    ).toBe('progressing');
  });
});
