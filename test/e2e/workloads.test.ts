// Workloads end to end: the five services as processes against real NATS, the Pub/Sub emulator and
// a kube-apiserver. A multi-arch push through Artifact Registry's notifications restarts the
// selected workloads once (a dry-run one only says it would), the rollouts are followed until
// the status the test writes (as controllers would) says done or failed, and notifications of
// those and of a dead letter reach a generic webhook and a Slack-compatible one, routed by
// namespace and by workload annotation. `onpush audit` still accounts for every event.
import type { PubSub, Topic } from '@google-cloud/pubsub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditUrl } from '@onpush/cli';
import { ANNOTATIONS, kubeHttp, type KubeHttp } from '@onpush/kube';
import { eventually, useSandbox } from '@onpush/testing';
import {
  adminConfig,
  createNamespaces,
  createWorkloads,
  doneStatus,
  marksOf,
  readWorkload,
  writeStatus,
} from '../integration/workloads-harness.js';
import { outcomesOf, startPipeline, gcrTopic } from './pipeline.js';
import { receiver, type Receiver } from '../support/receiver.js';

const REPO = 'europe-west1-docker.pkg.dev/p/r';
const APP = `${REPO}/app`;
const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

// Given, in namespace shop: Deployments web, api and canary (dry run), a StatefulSet db whose
// notifications go to the chat only; in namespace ops (excluded): Deployment tool — all running
// …/app:1.0 — and a receiver for a generic webhook (`hook`) and a Slack-compatible one (`chat`).
describe('workloads end to end: multi-arch push, rollouts followed, notifications', () => {
  const sandbox = useSandbox(['nats', 'pubsub', 'kube'], 'e2e-workloads');
  let http: KubeHttp;
  let topic: Topic;
  let pubsub: PubSub;
  let hooks: Receiver;
  let stop: () => Promise<Partial<Record<string, number | null>>>;
  let logs: string[] = [];
  const since = new Date();
  const events: string[] = [];

  beforeAll(async () => {
    const admin = adminConfig(sandbox().need('kube').kubeconfigPath);
    http = await kubeHttp(admin);
    await createNamespaces(admin, ['onpush', 'shop', 'ops']);
    const images = { app: `${APP}:1.0` };
    await createWorkloads(admin, [
      { kind: 'Deployment', namespace: 'shop', name: 'web', images },
      { kind: 'Deployment', namespace: 'shop', name: 'api', images },
      {
        kind: 'Deployment',
        namespace: 'shop',
        name: 'canary',
        images,
        annotations: { [ANNOTATIONS.dryRun]: 'true' },
      },
      {
        kind: 'StatefulSet',
        namespace: 'shop',
        name: 'db',
        images,
        annotations: { [ANNOTATIONS.notify]: 'chat' },
      },
      { kind: 'Deployment', namespace: 'ops', name: 'tool', images },
    ]);
    hooks = await receiver();
    const base = `http://127.0.0.1:${hooks.port}`;
    const pipeline = await startPipeline(sandbox(), {
      resolver: { ONPUSH_EXCLUDE_NAMESPACES: 'ops' },
      restarter: {
        NOTIFY_TARGETS: `hook=webhook:${base}/hook,chat=slack:${base}/chat`,
        NOTIFY_DEFAULT: 'hook',
        NOTIFY_NAMESPACES: 'shop=hook|chat',
        ROLLOUT_TIMEOUT: '2m',
      },
    });
    logs = pipeline.logs;
    stop = () => pipeline.supervisor.stop();
    ({ pubsub, topic } = gcrTopic(sandbox()));
  });

  afterAll(async () => {
    await pubsub?.close();
    await stop?.();
    hooks?.server.close();
    http?.close();
  });

  const publish = async (body: unknown): Promise<string> => {
    const data = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const id = `gar:${await topic.publishMessage({ data })}`;
    events.push(id);
    return id;
  };
  const outcomes = (eventId: string) => outcomesOf(sandbox().need('nats').url, eventId);
  const withLogs = (error: unknown): never => {
    throw new Error(`${String(error)}\n${logs.slice(-40).join('\n')}`);
  };

  it('ends the per-platform manifests no-match and restarts each selected workload once for the index', async () => {
    // When a multi-arch image is pushed: two manifests by digest, then the index with its tag.
    const platforms = [
      await publish({ action: 'INSERT', digest: `${APP}@${digest(1)}` }),
      await publish({ action: 'INSERT', digest: `${APP}@${digest(2)}` }),
    ];
    const index = await publish({
      action: 'INSERT',
      digest: `${APP}@${digest(3)}`,
      tag: `${APP}:1.0`,
    });

    // Then each manifest ends no-match, and the index restarts web, api and db, while the dry-run
    // canary would have been restarted and ops/tool (excluded) is not even considered.
    for (const id of platforms) {
      const found = await eventually(`${id} to end`, async () => {
        const f = await outcomes(id);
        return f.length ? f : undefined;
      }).catch(withLogs);
      expect(found.map((o) => o.fate)).toEqual(['no-match']);
    }
    const fates = await eventually(
      'four workload fates',
      async () => {
        const f = await outcomes(index);
        return f.filter((o) => o.workload).length === 4 ? f : undefined;
      },
      { timeoutMs: 30_000 },
    ).catch(withLogs);
    const byName = Object.fromEntries(
      fates.filter((o) => o.workload).map((o) => [o.workload?.name ?? '', o.fate] as const),
    );
    expect(byName).toEqual({
      web: 'restarted',
      api: 'restarted',
      db: 'restarted',
      canary: 'would-restart',
    });
    expect(fates.find((o) => o.fate === 'dispatched')?.requests).toBe(4);
    expect((await marksOf(http, 'Deployment', 'shop', 'web'))[ANNOTATIONS.digest]).toBe(digest(3));
    expect(await marksOf(http, 'Deployment', 'shop', 'canary')).toEqual({});
    expect(await marksOf(http, 'Deployment', 'ops', 'tool')).toEqual({});
  });

  it('follows each rollout to its end and notifies it, where its namespace or annotation says', async () => {
    // When the controllers would report: web and db done, api past its progress deadline.
    for (const [kind, name] of [
      ['Deployment', 'web'],
      ['StatefulSet', 'db'],
    ] as const) {
      await writeStatus(
        http,
        kind,
        'shop',
        name,
        doneStatus(kind, await readWorkload(http, kind, 'shop', name)),
      );
    }
    const api = await readWorkload(http, 'Deployment', 'shop', 'api');
    await writeStatus(http, 'Deployment', 'shop', 'api', {
      observedGeneration: (api['metadata'] as { generation: number }).generation,
      conditions: [
        {
          type: 'Progressing',
          status: 'False',
          reason: 'ProgressDeadlineExceeded',
          message: 'timed out progressing',
        },
      ],
    });

    // Then the outcomes say so, with how long each rollout took,
    const index = events[2] ?? '';
    const rollouts = await eventually(
      'three rollout outcomes',
      async () => {
        const f = (await outcomes(index)).filter((o) => o.fate.startsWith('rollout-'));
        return f.length === 3 ? f : undefined;
      },
      { timeoutMs: 30_000 },
    ).catch(withLogs);
    expect(
      Object.fromEntries(
        rollouts.map((o) => [o.workload?.name ?? '', [o.fate, o.reason]] as const),
      ),
    ).toEqual({
      web: ['rollout-completed', undefined],
      db: ['rollout-completed', undefined],
      api: ['rollout-failed', 'progress_deadline_exceeded'],
    });
    for (const o of rollouts) expect(o.durationMs).toBeGreaterThan(0);

    // and the receivers got them: shop's route (hook and chat), db's annotation (chat only).
    const got = await eventually('five notifications', () =>
      hooks.got.length >= 5 ? hooks.got : undefined,
    ).catch(withLogs);
    const hook = got
      .filter((g) => g.path === '/hook')
      .map((g) => [g.body.type, g.body.outcome?.workload?.name]);
    const chat = got.filter((g) => g.path === '/chat').map((g) => g.body.text ?? '');
    expect(hook.sort()).toEqual([
      ['rollout-completed', 'web'],
      ['rollout-failed', 'api'],
    ]);
    expect(chat.sort()).toEqual([
      expect.stringMatching(
        /^✅ Rollout completed: Deployment shop\/web \(.+app:1\.0@sha256:[0-9a-f]{12}…\) in [\d.]+ s/,
      ),
      expect.stringMatching(/^✅ Rollout completed: StatefulSet shop\/db /),
      expect.stringMatching(
        /^❌ Rollout failed \(progress_deadline_exceeded\): Deployment shop\/api .*timed out progressing$/,
      ),
    ]);
  });

  it('notifies a dead letter to the default target', async () => {
    const garbage = await publish('this is not json');
    await eventually('a dead notification', () =>
      hooks.got.find((g) => g.body.type === 'dead' && g.body.outcome?.eventId === garbage),
    ).catch(withLogs);
    expect(
      hooks.got.filter((g) => g.path === '/chat' && g.body.text?.includes('Dead letter')),
    ).toEqual([]);
  });

  it('still accounts for every event exactly once: rollout outcomes are no fates', async () => {
    const result = await eventually('a clean audit', async () => {
      const r = await auditUrl(sandbox().need('nats').url, since);
      return r.unaccounted.length === 0 && r.inFlight.length === 0 ? r : undefined;
    });
    expect(result.events).toBe(events.length);
    expect(result.accounted.requests).toBe(4);
  });
});
