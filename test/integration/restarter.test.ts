import { describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import {
  HEADERS,
  encode,
  parseOutcome,
  type Outcome,
  type RestartRequest,
} from '@onpush/contracts';
import {
  ANNOTATIONS,
  PatchStrategy,
  kubeClients,
  kubeHttp,
  loadKubeConfig,
  scopeOf,
  setHeaderOptions,
  type KubeClients,
  type V1Deployment,
} from '@onpush/kube';
import { createHandler, kubeEffects, kubeRequestCounter, TokenBucket } from '@onpush/restarter';
import type { Incoming, Outgoing } from '@onpush/service';
import { createMetrics } from '@onpush/telemetry';
import { useSandbox } from '@onpush/testing';

const DIGEST = `sha256:${'e'.repeat(64)}`;

function deployment(namespace: string, name: string): V1Deployment {
  return {
    metadata: { name, namespace, labels: { app: name, 'onpush.dev/enabled': 'true' } },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'main', image: 'us-docker.pkg.dev/acme/shop/web:1.2.0' }] },
      },
    },
  };
}

function request(
  eventId: string,
  namespace: string,
  name: string,
  observed?: RestartRequest['observed'],
): Incoming {
  const body: RestartRequest = {
    v: 1,
    eventId,
    image: 'us-docker.pkg.dev/acme/shop/web',
    tag: '1.2.0',
    digest: DIGEST,
    pushedAt: new Date(Date.now() - 1_000).toISOString(),
    workload: { kind: 'Deployment', namespace, name, containers: ['main'] },
    ...(observed !== undefined ? { observed } : {}),
  };
  return {
    subject: `onpush.restart.${namespace}`,
    data: encode(body),
    headers: { [HEADERS.eventId]: eventId },
    seq: 1,
    deliveryCount: 1,
  };
}

async function handlerFor(clients: KubeClients, requests = kubeCounter()) {
  const bucket = new TokenBucket({ qps: 50, burst: 100 });
  const http = await kubeHttp(clients.config);
  return createHandler({
    effects: kubeEffects({ http, bucket, requests }),
    scope: scopeOf('labelled'),
  });
}

function kubeCounter() {
  return kubeRequestCounter(createMetrics('restarter-it').registry);
}

/** API calls the handler made, by verb, from its own counter. */
async function callsBy(counter: ReturnType<typeof kubeCounter>): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  for (const v of (await counter.get()).values) {
    const verb = String(v.labels.verb);
    calls[verb] = (calls[verb] ?? 0) + v.value;
  }
  return calls;
}

function outcomeOf(outgoing: Outgoing[]): Outcome {
  expect(outgoing).toHaveLength(1);
  return parseOutcome(outgoing[0]?.data);
}

// Given a real kube-apiserver with etcd and RBAC on, and the restarter's handler (not the service).
describe('restarter handler against the Kubernetes API server', () => {
  const sandbox = useSandbox(['kube'], 'restarter');
  const admin = (): KubeClients =>
    kubeClients(loadKubeConfig(sandbox().need('kube').kubeconfigPath));

  it('restarts a Deployment once per digest, and reports a missing one as gone', async () => {
    const kube = admin();
    await kube.core.createNamespace({ body: { metadata: { name: 'shop' } } });
    await kube.apps.createNamespacedDeployment({
      namespace: 'shop',
      body: deployment('shop', 'web'),
    });
    const handle = await handlerFor(kube);

    const first = outcomeOf(await handle(request('evt-1', 'shop', 'web')));
    expect(first).toMatchObject({
      fate: 'restarted',
      eventId: 'evt-1',
      workload: { kind: 'Deployment', namespace: 'shop', name: 'web' },
    });
    expect(first.durationMs).toBeGreaterThanOrEqual(1_000);
    const live = await kube.apps.readNamespacedDeployment({ namespace: 'shop', name: 'web' });
    const annotations = live.spec?.template.metadata?.annotations ?? {};
    expect(annotations[ANNOTATIONS.digest]).toBe(DIGEST);
    expect(annotations[ANNOTATIONS.eventId]).toBe('evt-1');
    expect(annotations[ANNOTATIONS.restartedAt]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    expect(outcomeOf(await handle(request('evt-2', 'shop', 'web')))).toMatchObject({
      fate: 'unchanged',
      eventId: 'evt-2',
    });
    const after = await kube.apps.readNamespacedDeployment({ namespace: 'shop', name: 'web' });
    expect(after.spec?.template.metadata?.annotations?.[ANNOTATIONS.eventId]).toBe('evt-1');

    expect(outcomeOf(await handle(request('evt-3', 'shop', 'gone')))).toMatchObject({
      fate: 'gone',
      workload: { name: 'gone' },
    });
  });

  it('restarts once when two requests for the same digest race, the PATCH being conditional', async () => {
    const kube = admin();
    await kube.core.createNamespace({ body: { metadata: { name: 'race' } } });
    await kube.apps.createNamespacedDeployment({
      namespace: 'race',
      body: deployment('race', 'web'),
    });
    const handle = await handlerFor(kube);

    const both = await Promise.all([
      handle(request('evt-a', 'race', 'web')),
      handle(request('evt-b', 'race', 'web')),
    ]);
    expect(both.map((out) => outcomeOf(out).fate).sort()).toEqual(['restarted', 'unchanged']);

    const effects = kubeEffects({
      http: await kubeHttp(kube.config),
      bucket: new TokenBucket({ qps: 50, burst: 100 }),
      requests: kubeRequestCounter(createMetrics('restarter-it').registry),
    });
    const web = { kind: 'Deployment', namespace: 'race', name: 'web' } as const;
    const { resourceVersion } = await effects.read(web);
    await kube.apps.patchNamespacedDeployment(
      { namespace: 'race', name: 'web', body: { metadata: { labels: { touched: 'yes' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    await expect(effects.patch(web, { eventId: 'evt-c', resourceVersion })).rejects.toMatchObject({
      type: 'http_409',
      retryable: true,
    });
  });

  it('PATCHes on the watch view without a GET, and reads first when that view is stale', async () => {
    const kube = admin();
    await kube.core.createNamespace({ body: { metadata: { name: 'view' } } });
    const created = await kube.apps.createNamespacedDeployment({
      namespace: 'view',
      body: deployment('view', 'web'),
    });
    const view = (resourceVersion: string) => ({
      resourceVersion,
      marks: {},
      settings: {},
      containers: [{ name: 'main', image: 'us-docker.pkg.dev/acme/shop/web:1.2.0', init: false }],
      labels: { app: 'web', 'onpush.dev/enabled': 'true' },
    });
    const fresh = kubeCounter();
    const handle = await handlerFor(kube, fresh);
    const current = created.metadata?.resourceVersion ?? '';
    const first = outcomeOf(await handle(request('evt-v1', 'view', 'web', view(current))));
    expect(first.fate).toBe('restarted');
    expect(await callsBy(fresh)).toEqual({ patch: 1 });

    // The view is now stale (the PATCH changed the object): 409, a GET, and the truth decides.
    const stale = kubeCounter();
    const again = await handlerFor(kube, stale);
    const second = outcomeOf(await again(request('evt-v2', 'view', 'web', view(current))));
    expect(second.fate).toBe('unchanged');
    expect(await callsBy(stale)).toEqual({ patch: 1, get: 1 });
    const live = await kube.apps.readNamespacedDeployment({ namespace: 'view', name: 'web' });
    expect(live.spec?.template.metadata?.annotations?.[ANNOTATIONS.eventId]).toBe('evt-v1');
  });

  it('fails with a permanent http_403 for a ServiceAccount without the permission', async () => {
    const kube = admin();
    await kube.core.createNamespace({ body: { metadata: { name: 'locked' } } });
    await kube.apps.createNamespacedDeployment({
      namespace: 'locked',
      body: deployment('locked', 'api'),
    });
    await kube.core.createNamespacedServiceAccount({
      namespace: 'locked',
      body: { metadata: { name: 'restarter' } },
    });
    const token = await kube.core.createNamespacedServiceAccountToken({
      namespace: 'locked',
      name: 'restarter',
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const cluster = kube.config.getCurrentCluster();
    if (!cluster) throw new Error('no current cluster');
    const asServiceAccount = new KubeConfig();
    asServiceAccount.loadFromClusterAndUser(cluster, {
      name: 'restarter',
      token: token.status?.token ?? '',
    });

    const handle = await handlerFor(kubeClients(asServiceAccount));
    const error = await handle(request('evt-4', 'locked', 'api')).catch((e: unknown) => e);
    expect(error).toMatchObject({ type: 'http_403', retryable: false });
    expect((error as Error).message).toContain('forbidden');
  });
});
