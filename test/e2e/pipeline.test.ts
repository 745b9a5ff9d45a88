import type { PubSub, Topic } from '@google-cloud/pubsub';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANNOTATIONS,
  kubeClients,
  loadKubeConfig,
  type KubeClients,
  type V1Deployment,
} from '@onpush/kube';
import { eventually, useSandbox } from '@onpush/testing';
import { onpushCli } from '../support/cli.js';
import { deployment, grantRestarter, restarterIdentity } from '../support/kube.js';
import { REPO, digest } from './cluster-fixtures.js';
import { outcomesOf, startPipeline, writeTokenKubeconfig, gcrTopic } from './pipeline.js';
import { PUSH_PATH, pushEnv, pushHeaders } from '../support/pubsub-push.js';

async function annotations(
  kube: KubeClients,
  namespace: string,
  name: string,
): Promise<Record<string, string>> {
  const d = await kube.apps.readNamespacedDeployment({ namespace, name });
  return d.spec?.template.metadata?.annotations ?? {};
}

// Given four Deployments — two opted in that run …/app:1.1 (different namespaces, one as a
// sidecar), one opted in on another image, one not opted in on the same image — and the five
// services running as processes against real NATS, the Pub/Sub emulator and a kube-apiserver.
describe('pipeline: an Artifact Registry push restarts every workload that runs the image', () => {
  const sandbox = useSandbox(['nats', 'pubsub', 'kube'], 'e2e');
  let kube: KubeClients;
  let topic: Topic;
  let pubsub: PubSub;
  let stop: () => Promise<Partial<Record<string, number | null>>>;
  let stopped = false;
  let logs: string[] = [];
  let rbac: RbacAuthorizationV1Api;
  let ingestPort = 0;
  const published: string[] = [];

  beforeAll(async () => {
    const config = loadKubeConfig(sandbox().need('kube').kubeconfigPath);
    kube = kubeClients(config);
    for (const ns of ['onpush', 'shop', 'blog', 'locked'])
      await kube.core.createNamespace({ body: { metadata: { name: ns } } });
    const create = (ns: string, d: V1Deployment) =>
      kube.apps.createNamespacedDeployment({ namespace: ns, body: d });
    await create('shop', deployment('web', [{ name: 'app', image: `${REPO}/app:1.1` }]));
    await create(
      'blog',
      deployment('front', [
        { name: 'nginx', image: 'nginx:1.27' },
        { name: 'app', image: `${REPO}/app:1.1` },
      ]),
    );
    await create('shop', deployment('other', [{ name: 'app', image: `${REPO}/other:1.1` }]));
    await create(
      'blog',
      deployment('legacy', [{ name: 'app', image: `${REPO}/app:1.1` }], { optIn: false }),
    );
    await create('locked', deployment('api', [{ name: 'app', image: `${REPO}/locked:2.0` }]));
    rbac = config.makeApiClient(RbacAuthorizationV1Api);
    const token = await restarterIdentity(kube, rbac, ['shop', 'blog']);
    const pipeline = await startPipeline(sandbox(), {
      restarter: { KUBECONFIG: writeTokenKubeconfig(sandbox(), 'restarter', token) },
      ingest: pushEnv(),
    });
    logs = pipeline.logs;
    ingestPort = pipeline.ports.ingest;
    stop = () => pipeline.supervisor.stop();
    ({ pubsub, topic } = gcrTopic(sandbox()));
  });

  afterAll(async () => {
    await pubsub?.close();
    if (!stopped) await stop?.();
  });

  const publish = async (body: unknown): Promise<string> => {
    const data = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const eventId = `gar:${await topic.publishMessage({ data })}`;
    published.push(eventId);
    return eventId;
  };
  const outcomes = (eventId: string) => outcomesOf(sandbox().need('nats').url, eventId);

  it('restarts exactly the two opted-in Deployments, with two `restarted` outcomes', async () => {
    const eventId = await publish({
      action: 'INSERT',
      digest: `${REPO}/app@${digest(1)}`,
      tag: `${REPO}/app:1.1`,
    });

    const fates = await eventually(
      'two restarted outcomes',
      async () => {
        const found = await outcomes(eventId);
        return found.filter((o) => o.fate === 'restarted').length === 2 ? found : undefined;
      },
      { timeoutMs: 30_000 },
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${logs.slice(-40).join('\n')}`);
    });
    expect(fates.map((o) => o.fate).sort()).toEqual(['dispatched', 'restarted', 'restarted']);
    expect(
      fates
        .filter((o) => o.fate === 'restarted')
        .map((o) => `${o.workload?.namespace}/${o.workload?.name}`)
        .sort(),
    ).toEqual(['blog/front', 'shop/web']);
    for (const [ns, name] of [
      ['shop', 'web'],
      ['blog', 'front'],
    ] as const) {
      const a = await annotations(kube, ns, name);
      expect(a[ANNOTATIONS.digest]).toBe(digest(1));
      expect(a[ANNOTATIONS.eventId]).toBe(eventId);
      expect(a[ANNOTATIONS.restartedAt]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    expect(await annotations(kube, 'shop', 'other')).toEqual({});
    expect(await annotations(kube, 'blog', 'legacy')).toEqual({});
  });

  it('restarts nothing when the same digest is pushed again: the repeat ends `ignored` (duplicate_push)', async () => {
    const before = await annotations(kube, 'shop', 'web');
    const eventId = await publish({
      action: 'INSERT',
      digest: `${REPO}/app@${digest(1)}`,
      tag: `${REPO}/app:1.1`,
    });
    const [repeat] = await eventually("the repeat's fate", async () => {
      const f = await outcomes(eventId);
      return f.length ? f : undefined;
    });
    expect(repeat).toMatchObject({ fate: 'ignored', stage: 'resolver', reason: 'duplicate_push' });
    expect(repeat?.detail).toMatch(/^repeats event gar:\S+, dispatched to the same workloads/);
    expect(await annotations(kube, 'shop', 'web')).toEqual(before);
  });

  it('ends a DELETE as `ignored` and a push nobody runs as `no-match`', async () => {
    const deleted = await publish({ action: 'DELETE', tag: `${REPO}/app:1.1` });
    const nobody = await publish({
      action: 'INSERT',
      digest: `${REPO}/nobody@${digest(2)}`,
      tag: `${REPO}/nobody:1.0`,
    });
    expect(
      (
        await eventually('ignored', async () => {
          const f = await outcomes(deleted);
          return f.length ? f : undefined;
        })
      ).map((o) => o.fate),
    ).toEqual(['ignored']);
    expect(
      (
        await eventually('no-match', async () => {
          const f = await outcomes(nobody);
          return f.length ? f : undefined;
        })
      ).map((o) => o.fate),
    ).toEqual(['no-match']);
  });

  it('dead-letters garbage and an invalid reference with reason codes and the original bytes', async () => {
    const garbage = await publish('this is not json');
    const invalid = await publish({ action: 'INSERT', tag: 'https://example.com/app:1.0' });
    const dead = await eventually('two dead outcomes', async () => {
      const f = [...(await outcomes(garbage)), ...(await outcomes(invalid))];
      return f.length === 2 ? f : undefined;
    });
    expect(dead.map((o) => [o.fate, o.stage, o.reason])).toEqual([
      ['dead', 'parser', 'invalid_json'],
      ['dead', 'parser', 'invalid_reference'],
    ]);
    const listed = JSON.parse(await onpush(['dlq', 'ls', '--stage', 'parser', '--json'])) as {
      entries: { id: number; reason: string }[];
    };
    expect(listed.entries.map((e) => e.reason)).toEqual(['invalid_json', 'invalid_reference']);
    const shown = JSON.parse(
      await onpush(['dlq', 'show', String(listed.entries[0]?.id), '--json']),
    ) as { payload: string; subject: string };
    expect(Buffer.from(shown.payload, 'base64').toString()).toBe('this is not json');
    expect(shown.subject).toBe('onpush.raw.gar');
  });

  it('finds a Deployment created after the resolver started (watch) on the next push', async () => {
    await kube.apps.createNamespacedDeployment({
      namespace: 'shop',
      body: deployment('late', [{ name: 'app', image: `${REPO}/late:3.0` }]),
    });
    await new Promise((r) => setTimeout(r, 500));
    const eventId = await publish({
      action: 'INSERT',
      digest: `${REPO}/late@${digest(3)}`,
      tag: `${REPO}/late:3.0`,
    });
    await eventually('late restarted', async () =>
      (await outcomes(eventId)).some((o) => o.fate === 'restarted'),
    );
    expect((await annotations(kube, 'shop', 'late'))[ANNOTATIONS.digest]).toBe(digest(3));
  });

  it('dead-letters a restart refused with 403', async () => {
    const eventId = await publish({
      action: 'INSERT',
      digest: `${REPO}/locked@${digest(4)}`,
      tag: `${REPO}/locked:2.0`,
    });
    const found = await eventually('dead restart', async () => {
      const f = await outcomes(eventId);
      return f.some((o) => o.fate === 'dead') ? f : undefined;
    });
    const dead = found.find((o) => o.fate === 'dead');
    expect(dead?.stage).toBe('restarter');
    expect(dead?.reason).toBe('http_403');
    expect(dead?.workload).toEqual({ kind: 'Deployment', namespace: 'locked', name: 'api' });
  });

  it('restarts once when Pub/Sub delivers the same message twice (push endpoint)', async () => {
    const body = { action: 'INSERT', digest: `${REPO}/app@${digest(5)}`, tag: `${REPO}/app:1.1` };
    const envelope = {
      message: {
        data: Buffer.from(JSON.stringify(body)).toString('base64'),
        messageId: 'push-5',
        publishTime: new Date().toISOString(),
      },
      subscription: 'projects/p/subscriptions/onpush-push',
    };
    for (let i = 0; i < 2; i += 1) {
      const response = await fetch(`http://127.0.0.1:${ingestPort}${PUSH_PATH}`, {
        method: 'POST',
        headers: pushHeaders(),
        body: JSON.stringify(envelope),
      });
      expect(response.status).toBe(204);
    }
    published.push('gar:push-5');
    await eventually(
      'two restarted',
      async () => (await outcomes('gar:push-5')).filter((o) => o.fate === 'restarted').length === 2,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect((await outcomes('gar:push-5')).map((o) => o.fate).sort()).toEqual([
      'dispatched',
      'restarted',
      'restarted',
    ]);
  });

  it('replays the refused restart with `onpush dlq replay` once the permission is granted', async () => {
    const eventId = await deadRestartEvent();
    const list = JSON.parse(
      await onpush(['dlq', 'ls', '--stage', 'restarter', '--reason', 'http_403', '--json']),
    ) as { entries: { id: number }[] };
    expect(list.entries).toHaveLength(1);
    await grantRestarter(rbac, 'locked');
    await onpush(['dlq', 'replay', String(list.entries[0]?.id)]);
    await eventually('the replayed restart', async () =>
      (await outcomes(eventId ?? '')).some((o) => o.fate === 'restarted'),
    );
    expect((await annotations(kube, 'locked', 'api'))[ANNOTATIONS.digest]).toBe(digest(4));
    const after = JSON.parse(await onpush(['dlq', 'ls', '--stage', 'restarter', '--json'])) as {
      entries: { replayedAt?: string }[];
    };
    expect(after.entries[0]?.replayedAt).toBeTruthy();
  });

  it('accounts for every published event exactly once', async () => {
    const nc = sandbox().need('nats').url;
    for (const eventId of published) {
      const fates = await outcomes(eventId);
      const eventFates = fates.filter((o) => o.workload === undefined);
      const workloadFates = fates.filter((o) => o.workload !== undefined);
      const dispatched = eventFates.find((o) => o.fate === 'dispatched');
      if (dispatched) {
        // Each restart request ends in exactly one workload fate; a replayed one may end twice
        // (dead, then restarted), which the DLQ records as replayed.
        const byWorkload = new Map<string, string[]>();
        for (const o of workloadFates) {
          const key = `${o.workload?.namespace}/${o.workload?.name}`;
          byWorkload.set(key, [...(byWorkload.get(key) ?? []), o.fate]);
        }
        expect(byWorkload.size, `${eventId} (${nc})`).toBe(dispatched.requests);
        for (const [key, list] of byWorkload) {
          expect(
            list.length === 1 || list.join(',') === 'dead,restarted',
            `${eventId} ${key}: ${list.join(',')}`,
          ).toBe(true);
        }
      } else {
        expect(
          eventFates.map((o) => o.fate),
          eventId,
        ).toHaveLength(1);
        expect(workloadFates, eventId).toEqual([]);
      }
    }
  });

  it('drains every service on SIGTERM: each exits 0', async () => {
    stopped = true;
    expect(await stop()).toEqual({
      ingest: 0,
      parser: 0,
      resolver: 0,
      restarter: 0,
      'dlq-manager': 0,
    });
  });

  async function deadRestartEvent(): Promise<string> {
    for (const eventId of published) {
      if ((await outcomes(eventId)).some((o) => o.fate === 'dead' && o.stage === 'restarter'))
        return eventId;
    }
    throw new Error('no dead restart yet');
  }

  const onpush = onpushCli(() => sandbox().need('nats').url);
});
