import { describe, expect, it } from 'vitest';
import { HEADERS, parseOutcome, type RestartRequest } from '@onpush/contracts';
import { ANNOTATIONS, scopeOf } from '@onpush/kube';
import { describeFailure, HELD, type Incoming } from '@onpush/service';
import { decide, type DecisionInput, type WorkloadSnapshot } from './decide.js';
import { FAKE_IMAGE, FakeApps, fakeEffects } from './fake-apps.test-support.js';
import { createHandler, followPlanOf } from './handler.js';
import type { ReadWorkload } from './rollout/read.js';

const REPO = 'ghcr.io/acme/api';
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const NOW = Date.parse('2026-12-06T10:00:00Z');

function snapshot(
  settings: Record<string, string>,
  image: string,
  marks: Record<string, string> = {},
): WorkloadSnapshot {
  return {
    annotations: marks,
    resourceVersion: '7',
    settings: { [ANNOTATIONS.rollback]: 'auto', ...settings },
    containers: [{ name: 'app', image, init: false }],
  };
}
const push = (tag: string, digest?: string): DecisionInput => ({
  eventId: `evt-${tag}-${digest?.slice(7, 8) ?? 'x'}`,
  image: REPO,
  tag,
  ...(digest !== undefined ? { digest } : {}),
  now: NOW,
});

describe('what a rollback puts back (onpush.dev/rollback: auto)', () => {
  it('pins the digest the workload ran before, for a plain restart of a mutable tag', () => {
    const s = snapshot({}, `${REPO}:1.0`, { [ANNOTATIONS.digest]: D1 });
    expect(decide(s, push('1.0', D2))).toMatchObject({
      kind: 'patch',
      images: [],
      rollback: { images: [{ container: 'app', from: `${REPO}:1.0`, to: `${REPO}:1.0@${D1}` }] },
    });
  });

  it('says why it cannot when no earlier digest is known', () => {
    const first = snapshot({}, `${REPO}:1.0`);
    expect(decide(first, push('1.0', D2))).toMatchObject({
      rollback: { unknown: expect.stringContaining('no earlier digest') as string },
    });
    // without the annotation, no plan at all
    const plain = { ...first, settings: {} };
    expect(decide(plain, push('1.0', D2))).not.toHaveProperty('rollback');
  });

  it('moves back the images a policy moved', () => {
    const semver = snapshot({ [ANNOTATIONS.policy]: 'semver:^1' }, `${REPO}:1.0`);
    expect(decide(semver, push('1.1'))).toMatchObject({
      images: [{ from: `${REPO}:1.0`, to: `${REPO}:1.1` }],
      rollback: { images: [{ from: `${REPO}:1.1`, to: `${REPO}:1.0` }] },
    });
    const pin = snapshot({ [ANNOTATIONS.policy]: 'pin' }, `${REPO}:1.0@${D1}`);
    expect(decide(pin, push('1.0', D2))).toMatchObject({
      rollback: { images: [{ to: `${REPO}:1.0@${D1}` }] },
    });
  });

  it('never applies again a push it rolled back, whatever the policy', () => {
    const semver = snapshot({ [ANNOTATIONS.policy]: 'semver:^1' }, `${REPO}:1.0`, {
      [ANNOTATIONS.rolledBack]: 'evt-1.1-x',
    });
    expect(decide(semver, push('1.1'))).toMatchObject({ kind: 'unchanged', reason: 'rolled_back' });
    const plain = snapshot({}, `${REPO}:1.0@${D1}`, { [ANNOTATIONS.rolledBack]: D2 });
    expect(decide(plain, push('1.0', D2))).toMatchObject({ reason: 'rolled_back' });
    // a later push is another matter
    expect(decide(semver, push('1.2'))).toMatchObject({ kind: 'patch' });
  });
});

describe('a rollout followed for its rollback', () => {
  const request: RestartRequest = {
    v: 1,
    eventId: 'gar:9',
    image: FAKE_IMAGE,
    tag: '1.0',
    digest: D2,
    pushedAt: new Date(NOW).toISOString(),
    workload: { kind: 'Deployment', namespace: 'shop', name: 'web', containers: ['main'] },
  };
  const delivery = (headers: Record<string, string> = {}, deliveryCount = 1): Incoming => ({
    subject: 'onpush.restart.shop',
    data: new TextEncoder().encode(JSON.stringify(request)),
    headers: { [HEADERS.eventId]: request.eventId, ...headers },
    seq: 5,
    deliveryCount,
  });

  function setUp() {
    let state: 'rolling' | 'failed' | 'done' = 'rolling';
    const apps = new FakeApps().add(
      'shop',
      'web',
      { [ANNOTATIONS.digest]: D1 },
      { settings: { [ANNOTATIONS.rollback]: 'auto' } },
    );
    const rolledBack: string[] = [];
    const readRollout = (): Promise<ReadWorkload> => {
      const failed = state === 'failed';
      return Promise.resolve({
        object: {
          metadata: { generation: 0 },
          spec: { replicas: 1 },
          status: {
            observedGeneration: 0,
            replicas: 1,
            updatedReplicas: state === 'done' ? 1 : 0,
            availableReplicas: state === 'done' ? 1 : 0,
            ...(failed
              ? {
                  conditions: [
                    { type: 'Progressing', reason: 'ProgressDeadlineExceeded', message: 'stuck' },
                  ],
                }
              : {}),
          },
        },
        soakMs: undefined,
        marks: apps.annotations('shop', 'web') ?? {},
        resourceVersion: undefined,
        source: {},
      });
    };
    const handle = createHandler({
      effects: fakeEffects(apps, 'rollback-test'),
      scope: scopeOf('labelled'),
      now: () => new Date(NOW + 1_000),
      readRollout,
      rolloutTimeoutMs: 600_000,
      onRollback: (outcome, done) => rolledBack.push(`${outcome.fate} ${String(done)}`),
    });
    return { apps, handle, rolledBack, set: (s: typeof state) => (state = s) };
  }

  it('puts a restarted workload back on the digest it ran when its rollout fails', async () => {
    const { apps, handle, rolledBack, set } = setUp();
    const [outcome, follow] = await handle(delivery());
    expect(parseOutcome(outcome!.data)).toMatchObject({ fate: 'restarted' });
    expect(follow).toMatchObject({
      subject: 'onpush.restart.held.shop',
      msgId: 'gar:9:Deployment/shop/web:follow',
    });
    const plan = followPlanOf({ ...delivery(), headers: follow!.headers! });
    expect(plan?.rollback).toEqual({
      images: [
        {
          container: 'main',
          init: false,
          from: `${FAKE_IMAGE}:1.0`,
          to: `${FAKE_IMAGE}:1.0@${D1}`,
        },
      ],
    });

    // still rolling: held, asked again in 5 s
    const held = describeFailure(
      await handle(delivery(follow!.headers)).then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    expect(held).toMatchObject({ type: HELD, retryAfterMs: 5_000 });

    // failed: rolled back, once
    set('failed');
    const [undone] = await handle(delivery(follow!.headers, 2));
    expect(parseOutcome(undone!.data)).toMatchObject({
      fate: 'rolled-back',
      reason: 'progress_deadline_exceeded',
      detail: `its rollout failed (progress_deadline_exceeded: stuck); back to main: ${FAKE_IMAGE}:1.0@${D1}`,
    });
    const patch = apps.calls.filter((c) => c.verb === 'patch').at(-1);
    expect(patch?.body).toMatchObject({
      spec: {
        template: {
          metadata: {
            annotations: { [ANNOTATIONS.rolledBack]: D2, [ANNOTATIONS.eventId]: 'gar:9' },
          },
          spec: { containers: [{ name: 'main', image: `${FAKE_IMAGE}:1.0@${D1}` }] },
        },
      },
    });
    expect(rolledBack).toEqual(['rolled-back true']);
    // a redelivered follow finds it rolled back already: nothing more
    expect(await handle(delivery(follow!.headers, 3))).toEqual([]);
    expect(apps.calls.filter((c) => c.verb === 'patch')).toHaveLength(2);
  });

  it('lets it be when the rollout completes', async () => {
    const { apps, handle, set } = setUp();
    const [, follow] = await handle(delivery());
    set('done');
    expect(await handle(delivery(follow!.headers))).toEqual([]);
    expect(apps.calls.filter((c) => c.verb === 'patch')).toHaveLength(1);
  });
});
