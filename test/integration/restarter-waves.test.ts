// Staged rollouts (`onpush.dev/wave`, `onpush.dev/soak`) against the real nats-server,
// kube-apiserver and restarter process: wave n+1 of a push is restarted only once every workload
// of wave n reports its rollout done (status written by the test, as a controller would) and the
// soak passed — across a kill -9 of the restarter and of nats-server while a wave is gated — and a failed rollout
// halts the later waves, each held workload ending `halted` with the workload that failed.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAMS, type Outcome, type RestartRequest } from '@onpush/contracts';
import { jetstreamManager } from '@onpush/nats';
import {
  ANNOTATIONS,
  kubeClients,
  kubeHttp,
  loadKubeConfig,
  type KubeClients,
  type KubeHttp,
} from '@onpush/kube';
import { eventually, useSandbox } from '@onpush/testing';
import { OtlpReceiver, STATUS, type ReceivedSpan } from '../e2e/otlp-receiver.js';
import { readOutcomes } from '../e2e/pipeline.js';
import { deployment, ensureNamespaces } from '../support/kube.js';
import { receiver, type Receiver } from '../support/receiver.js';
import { startRestarter, type RestarterProcess } from './restarter-harness.js';
import { doneStatus, readWorkload, writeStatus } from './workloads-harness.js';

const IMAGE = 'europe-west1-docker.pkg.dev/p/r/app';
const DIGEST = `sha256:${'7'.repeat(64)}`;
const SOAK_MS = 3_000;
const D0 = `sha256:${'0'.repeat(64)}`;

/** The trace a push's requests carry (the resolver's publish span, made up here). */
const traceIdOf = (eventId: string) =>
  createHash('sha256').update(eventId).digest('hex').slice(0, 32);
const traced = (eventId: string) => ({
  traceparent: `00-${traceIdOf(eventId)}-${'1'.repeat(16)}-01`,
});

/** A push's restart requests, as the resolver sends them: each with its wave and the waves' sizes. */
function pushTo(eventId: string, waves: ReadonlyArray<readonly [number, string, string]>) {
  const sizes: Record<string, number> = {};
  for (const [wave] of waves) sizes[String(wave)] = (sizes[String(wave)] ?? 0) + 1;
  return waves.map(
    ([wave, namespace, name]): RestartRequest => ({
      v: 1,
      eventId,
      image: IMAGE,
      tag: '1.0',
      digest: DIGEST,
      pushedAt: new Date().toISOString(),
      workload: { kind: 'Deployment', namespace, name, containers: ['app'] },
      waves: { wave, sizes },
    }),
  );
}

describe('waves: one push restarted wave by wave, halted when a wave fails', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'restarter-waves');
  let kube: KubeClients;
  let http: KubeHttp;
  let restarter: RestarterProcess;
  let hooks: Receiver;
  let otlp: OtlpReceiver;

  beforeAll(async () => {
    const config = loadKubeConfig(sandbox().need('kube').kubeconfigPath);
    kube = kubeClients(config);
    http = await kubeHttp(config);
    await ensureNamespaces(kube, ['staging', 'prod-a', 'prod-b']);
    const make = async (namespace: string, name: string, annotations: Record<string, string>) => {
      const body = deployment(name, `${IMAGE}:1.0`);
      body.metadata!.annotations = annotations;
      await kube.apps.createNamespacedDeployment({ namespace, body });
    };
    await make('staging', 'web', { [ANNOTATIONS.wave]: '1', [ANNOTATIONS.soak]: '3s' });
    await make('prod-a', 'web', { [ANNOTATIONS.wave]: '2' });
    await make('prod-b', 'web', { [ANNOTATIONS.wave]: '2' });
    await make('prod-a', 'api', { [ANNOTATIONS.wave]: '3' });
    // rolled back by its namespace's default (ROLLBACK_NAMESPACES), not an annotation of its own
    await make('staging', 'db', { [ANNOTATIONS.wave]: '1' });
    await make('prod-a', 'db', { [ANNOTATIONS.wave]: '2' });
    await make('prod-b', 'db', { [ANNOTATIONS.wave]: '3' });
    hooks = await receiver();
    otlp = await OtlpReceiver.start();
    restarter = await startRestarter(sandbox(), {
      ...(otlp.env() as Record<string, string>),
      NOTIFY_TARGETS: `hook=webhook:${hooks.base}/hook`,
      NOTIFY_DEFAULT: 'hook',
      ROLLBACK_NAMESPACES: 'staging=auto',
    });
  });

  afterAll(async () => {
    await restarter?.stop();
    await hooks?.close();
    await otlp?.close();
    http?.close();
  });

  const restartedAt = async (namespace: string, name: string) =>
    (await kube.apps.readNamespacedDeployment({ namespace, name })).spec?.template.metadata
      ?.annotations?.[ANNOTATIONS.digest];
  const fateOf = async (eventId: string, namespace: string, name: string) =>
    (await readOutcomes(restarter.nc)).find(
      (o) =>
        o.eventId === eventId &&
        o.workload?.namespace === namespace &&
        o.workload.name === name &&
        o.fate !== 'rollout-completed' &&
        o.fate !== 'rollout-failed',
    );
  const settledFate = (eventId: string, namespace: string, name: string): Promise<Outcome> =>
    eventually(`${namespace}/${name}'s fate`, () => fateOf(eventId, namespace, name), {
      timeoutMs: 30_000,
      intervalMs: 250,
    }).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${restarter.logs(40)}`);
    });
  /** Writes the status a Deployment controller writes once the rollout is done. */
  const rolledOut = async (namespace: string, name: string) => {
    const object = await readWorkload(http, 'Deployment', namespace, name);
    await writeStatus(http, 'Deployment', namespace, name, doneStatus('Deployment', object));
  };
  /** The push's spans named `name`, once `count` of them arrived. */
  const spansOf = (eventId: string, name: string, count: number) =>
    eventually(`${count} ${name} spans of ${eventId}`, () => {
      const found = otlp.trace(traceIdOf(eventId)).filter((s) => s.name === name);
      return found.length >= count ? found : undefined;
    });
  const rolloutOf = (spans: readonly ReceivedSpan[], namespace: string, name: string) =>
    spans.find(
      (s) =>
        s.attributes['k8s.namespace.name'] === namespace &&
        s.attributes['k8s.deployment.name'] === name,
    );
  const reasons = async (namespace: string, name: string) =>
    (await kube.core.listNamespacedEvent({ namespace })).items
      .filter((e) => e.involvedObject.name === name)
      .map((e) => e.reason)
      .sort();

  it('restarts wave 2 only after wave 1 is ready and soaked, wave 3 after wave 2, across a kill -9 of the restarter and nats-server', async () => {
    const event = 'waves:ok';
    for (const request of pushTo(event, [
      [1, 'staging', 'web'],
      [2, 'prod-a', 'web'],
      [2, 'prod-b', 'web'],
      [3, 'prod-a', 'api'],
    ])) {
      await restarter.send(request, undefined, traced(event));
    }
    // Wave 1 goes at once
    expect(await settledFate(event, 'staging', 'web')).toMatchObject({ fate: 'restarted' });
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    // wave 2 waits: staging/web has not rolled out
    expect(await restartedAt('prod-a', 'web')).toBeUndefined();
    expect(await fateOf(event, 'prod-a', 'web')).toBeUndefined();

    // When the restarter and nats-server are killed while wave 2 is gated (the supervisor starts
    // the restarter again; nats-server comes back on its store)
    await restarter.crash({ nats: true });
    // and then wave 1's rollout completes
    await rolledOut('staging', 'web');
    const readyAt = Date.now();

    // Then wave 2 is restarted, no sooner than the soak after wave 1 was ready
    const [a, b] = [
      await settledFate(event, 'prod-a', 'web'),
      await settledFate(event, 'prod-b', 'web'),
    ];
    expect([a.fate, b.fate]).toEqual(['restarted', 'restarted']);
    for (const outcome of [a, b]) {
      expect(Date.parse(outcome.at) - readyAt).toBeGreaterThanOrEqual(SOAK_MS - 500);
    }
    expect(await restartedAt('prod-a', 'web')).toBe(DIGEST);
    expect(await restartedAt('prod-a', 'api')).toBeUndefined();
    expect(restarter.supervisor.restarts()['restarter']).toBe(1);
    // the wait was put back on onpush.restart.held.<namespace>, not spent from max deliver
    const held = await (
      await jetstreamManager(restarter.nc)
    ).streams.info(STREAMS.main, {
      subjects_filter: 'onpush.restart.held.>',
    });
    expect(Object.keys(held.state.subjects ?? {})).toContain('onpush.restart.held.prod-a');

    // wave 3 waits for both of wave 2
    await rolledOut('prod-a', 'web');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await fateOf(event, 'prod-a', 'api')).toBeUndefined();
    await rolledOut('prod-b', 'web');
    expect(await settledFate(event, 'prod-a', 'api')).toMatchObject({ fate: 'restarted' });
    expect(await restartedAt('prod-a', 'api')).toBe(DIGEST);

    // each workload restarted once (one new generation), and `kubectl describe` tells the wait
    for (const [namespace, name] of [
      ['staging', 'web'],
      ['prod-a', 'web'],
      ['prod-b', 'web'],
      ['prod-a', 'api'],
    ] as const) {
      const object = await kube.apps.readNamespacedDeployment({ namespace, name });
      expect(object.metadata?.generation, `${namespace}/${name}`).toBe(2);
    }
    expect(await reasons('prod-a', 'web')).toEqual([
      'RestartWaiting',
      'Restarted',
      'RolloutCompleted',
    ]);
    const outcomes = (await readOutcomes(restarter.nc)).filter(
      (o) => o.eventId === event && o.fate === 'restarted',
    );
    expect(outcomes).toHaveLength(4);

    // One trace: each gate a span from the first ask to its opening (wave 1's after the soak),
    // each rollout from its PATCH to ready; the trace ends when the last wave's rollout is ready
    await rolledOut('prod-a', 'api');
    const gates = await spansOf(event, 'wave gate', 2);
    const gate = (wave: number) => gates.find((s) => s.attributes['onpush.wave'] === wave)!;
    expect(gates.map((s) => s.attributes['onpush.wave.verdict'])).toEqual(['open', 'open']);
    expect(gate(1).endMs).toBeGreaterThanOrEqual(readyAt + SOAK_MS - 500);
    expect(gate(1).attributes['onpush.detail']).toBe('wave 1: 1 ready and healthy for 3 s');
    expect(gate(2).startMs).toBeLessThan(gate(2).endMs);
    // staging/web's rollout began before the kill -9: the restarter started again followed it
    // again (from the outcomes stream), so it has its span and its Event too
    const rollouts = await spansOf(event, 'rollout', 4);
    expect(rolloutOf(rollouts, 'staging', 'web')?.attributes['onpush.fate']).toBe(
      'rollout-completed',
    );
    expect(await reasons('staging', 'web')).toContain('RolloutCompleted');
    const api = rolloutOf(rollouts, 'prod-a', 'api');
    expect(api?.attributes['onpush.fate']).toBe('rollout-completed');
    expect(rolloutOf(rollouts, 'prod-b', 'web')?.status.code).not.toBe(STATUS.error);
    // a child of the restart that started it
    const parent = otlp.trace(traceIdOf(event)).find((s) => s.spanId === api?.parentSpanId);
    expect(parent?.name).toMatch(/^process onpush\.restart\.(held\.)?prod-a$/);
    expect(api!.startMs).toBeGreaterThanOrEqual(gate(2).endMs - 50);
    // but for the record of it, published once it ended
    const after = otlp.trace(traceIdOf(event)).filter((s) => s.endMs > api!.endMs);
    for (const span of after) {
      expect(span.name).toBe('publish onpush.outcome.rollout-completed');
      expect(span.startMs).toBeGreaterThanOrEqual(api!.endMs);
    }
  });

  it('halts the later waves when a rollout of wave 1 fails, naming it, and rolls it back', async () => {
    // staging/db runs an earlier push, D0, rolled out
    const [earlier] = pushTo('waves:before', [[1, 'staging', 'db']]);
    await restarter.send({ ...earlier!, digest: D0, waves: undefined });
    expect(await settledFate('waves:before', 'staging', 'db')).toMatchObject({ fate: 'restarted' });
    await rolledOut('staging', 'db');
    const event = 'waves:bad';
    for (const request of pushTo(event, [
      [1, 'staging', 'db'],
      [2, 'prod-a', 'db'],
      [3, 'prod-b', 'db'],
    ])) {
      await restarter.send(request, undefined, traced(event));
    }
    expect(await settledFate(event, 'staging', 'db')).toMatchObject({ fate: 'restarted' });
    // the Deployment controller gives up: progress deadline exceeded
    const object = await readWorkload(http, 'Deployment', 'staging', 'db');
    await writeStatus(http, 'Deployment', 'staging', 'db', {
      ...doneStatus('Deployment', object),
      updatedReplicas: 0,
      availableReplicas: 0,
      conditions: [
        {
          type: 'Progressing',
          status: 'False',
          reason: 'ProgressDeadlineExceeded',
          message: 'ReplicaSet "db-2" has timed out progressing.',
        },
      ],
    });

    for (const [namespace, name] of [
      ['prod-a', 'db'],
      ['prod-b', 'db'],
    ] as const) {
      const outcome = await settledFate(event, namespace, name);
      expect(outcome).toMatchObject({ fate: 'halted', reason: 'wave_failed' });
      expect(await restartedAt(namespace, name)).toBeUndefined();
    }
    expect((await settledFate(event, 'prod-a', 'db')).detail).toMatch(
      /^wave 1: Deployment\/staging\/db failed its rollout \(progress_deadline_exceeded: ReplicaSet "db-2" has timed out progressing\.\)$/,
    );
    expect((await settledFate(event, 'prod-b', 'db')).detail).toMatch(
      /^wave 2: Deployment\/prod-a\/db was halted/,
    );
    await eventually('the RestartHalted Event', async () =>
      (await reasons('prod-b', 'db')).includes('RestartHalted') ? true : undefined,
    );
    // the trace tells it too: the failed rollout and both gates that halted, errors
    const [failed] = await spansOf(event, 'rollout', 1);
    expect(failed).toMatchObject({
      status: { code: STATUS.error },
      attributes: expect.objectContaining({
        'onpush.fate': 'rollout-failed',
        'error.type': 'progress_deadline_exceeded',
      }) as ReceivedSpan['attributes'],
    });
    const halts = await spansOf(event, 'wave gate', 2);
    expect(halts.map((s) => [s.attributes['onpush.wave'], s.status.code]).sort()).toEqual([
      [1, STATUS.error],
      [2, STATUS.error],
    ]);

    // and the failed workload is back on the digest it ran before, pinned, saying why
    const rolledBack = await eventually(
      'the rolled-back outcome',
      async () =>
        (await readOutcomes(restarter.nc)).find(
          (o) => o.eventId === event && o.fate === 'rolled-back',
        ),
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(rolledBack).toMatchObject({
      workload: { namespace: 'staging', name: 'db' },
      reason: 'progress_deadline_exceeded',
    });
    expect(rolledBack.detail).toContain(`back to app: ${IMAGE}:1.0@${D0}`);
    const db = await kube.apps.readNamespacedDeployment({ namespace: 'staging', name: 'db' });
    expect(db.spec?.template.spec?.containers[0]?.image).toBe(`${IMAGE}:1.0@${D0}`);
    expect(db.spec?.template.metadata?.annotations?.[ANNOTATIONS.rolledBack]).toBe(DIGEST);
    await eventually('the RolledBack Event', async () =>
      (await reasons('staging', 'db')).includes('RolledBack') ? true : undefined,
    );
    // and the people were told: which workload failed, which were held, what was rolled back
    const told = await eventually('the notifications', () => {
      const of = (type: string) =>
        hooks.got.filter((r) => r.body.type === type && r.body.outcome?.eventId === event);
      const [halted, back] = [of('halted'), of('rolled-back')];
      return halted.length === 2 && back.length === 1 ? { halted, back } : undefined;
    });
    expect(told.halted.map((r) => r.body.text).sort()).toEqual([
      expect.stringMatching(
        /^⏸️ Not restarted, wave halted: Deployment prod-a\/db .* wave 1: Deployment\/staging\/db failed its rollout/,
      ),
      expect.stringMatching(
        /^⏸️ Not restarted, wave halted: Deployment prod-b\/db .* wave 2: Deployment\/prod-a\/db was halted/,
      ),
    ]);
    expect(told.back[0]?.body.text).toMatch(
      new RegExp(`^↩️ Rolled back: Deployment staging/db .*back to app: ${IMAGE}:1\\.0@${D0}`),
    );
    // a late copy of the bad push does not put it back
    const [late] = pushTo(event, [[1, 'staging', 'db']]);
    await restarter.send(late!, `${event}:late-copy`);
    // (its outcome has the first one's id, so the audit trail keeps one fate; the metric counts it)
    await eventually('the late copy ended unchanged / rolled_back', async () => {
      const metrics = await (await fetch(restarter.metricsUrl)).text();
      const late =
        /onpush_restarter_outcomes_total\{fate="unchanged",reason="rolled_back"[^}]*\} 1/;
      return late.test(metrics) ? true : undefined;
    });
    const after = await kube.apps.readNamespacedDeployment({ namespace: 'staging', name: 'db' });
    expect(after.spec?.template.spec?.containers[0]?.image).toBe(`${IMAGE}:1.0@${D0}`);
    expect(after.metadata?.generation).toBe(db.metadata?.generation);
  });
});
