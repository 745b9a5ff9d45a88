// Least privilege: the RBAC that k8s/overlays/namespaced ships — a Role per namespace of
// ONPUSH_NAMESPACES, no ClusterRole — applied for real, and the resolver and the restarter run
// with their ServiceAccounts' own tokens. Everything they need works (watch, snapshot, restart,
// rollout tracking); reading a Secret or patching a workload in another namespace is refused.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KubernetesObjectApi,
  PatchStrategy as ClientPatchStrategy,
  loadAllYaml,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { encode, parseOutcome, type RestartRequest } from '@onpush/contracts';
import {
  KINDS,
  PatchStrategy,
  kubeClients,
  kubeHttp,
  objectPath,
  type KubeConfig,
  type KubeHttp,
} from '@onpush/kube';
import { ImageIndex } from '@onpush/image-index';
import { createSnapshotStore } from '@onpush/resolver';
import {
  TokenBucket,
  createHandler,
  eventBody,
  eventOfOutcome,
  kubeEffects,
  kubeRequestCounter,
} from '@onpush/restarter';
import { cacheDir } from '@onpush/sandbox';
import { createMetrics } from '@onpush/telemetry';
import { eventually, useSandbox } from '@onpush/testing';
import {
  REPO,
  adminConfig,
  createNamespaces,
  createWorkloads,
  digest,
  doneStatus,
  fates,
  marksOf,
  readWorkload,
  serviceAccountConfig,
  startOnpush,
  writeStatus,
  type Onpush,
} from './workloads-harness.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');
const RBAC_KINDS = [
  'Namespace',
  'ServiceAccount',
  'Role',
  'RoleBinding',
  'ClusterRole',
  'ClusterRoleBinding',
];
const APP = `${REPO}/app`;

/** The shipped overlay, built by kubectl's kustomize or the one scripts/install-deploy-tools.sh built. */
async function build(overlay: string): Promise<KubernetesObject[]> {
  const dir = join(ROOT, 'k8s', 'overlays', overlay);
  const onPath = (name: string) =>
    (process.env['PATH'] ?? '')
      .split(delimiter)
      .map((d) => join(d, name))
      .find((f) => existsSync(f));
  const built = join(cacheDir(), 'tools', 'bin', 'kustomize');
  const [command, args] = onPath('kubectl')
    ? ['kubectl', ['kustomize', dir]]
    : [onPath('kustomize') ?? built, ['build', dir]];
  const { stdout } = await run(command, args, { maxBuffer: 16 * 1024 * 1024 });
  return (loadAllYaml(stdout) as (KubernetesObject | null)[]).filter((o) => o !== null);
}

/** The HTTP status a call was refused with (undefined: it was not refused). */
async function refusal(call: () => Promise<unknown>): Promise<number | undefined> {
  try {
    await call();
    return undefined;
  } catch (error) {
    const e = error as { code?: number; status?: number };
    return e.code ?? e.status ?? -1;
  }
}

// Given the namespaced overlay's RBAC for namespaces shop and blog, a third namespace ops, and a
// Secret in shop and in onpush.
describe('least privilege: the shipped namespaced RBAC (real kube-apiserver)', () => {
  const sandbox = useSandbox(['kube'], 'workloads-rbac');
  let admin: KubeConfig;
  let adminHttp: KubeHttp;
  let resolverConfig: KubeConfig;
  let restarterConfig: KubeConfig;
  let onpush: Onpush;

  beforeAll(async () => {
    admin = adminConfig(sandbox().need('kube').kubeconfigPath);
    adminHttp = await kubeHttp(admin);
    const rbac = (await build('namespaced')).filter((o) => RBAC_KINDS.includes(o.kind ?? ''));
    expect(rbac.filter((o) => o.kind?.startsWith('Cluster'))).toEqual([]);
    await createNamespaces(admin, ['shop', 'blog', 'ops']);
    const api = KubernetesObjectApi.makeApiClient(admin);
    for (const o of rbac)
      await api.patch(
        o,
        undefined,
        undefined,
        'workloads-rbac',
        true,
        ClientPatchStrategy.ServerSideApply,
      );
    const core = kubeClients(admin).core;
    for (const namespace of ['shop', 'onpush'])
      await core.createNamespacedSecret({
        namespace,
        body: { metadata: { name: 'db-password' }, stringData: { password: 'hunter2' } },
      });
    await createWorkloads(admin, [
      { kind: 'Deployment', namespace: 'shop', name: 'web', images: { app: `${APP}:5.0` } },
      { kind: 'StatefulSet', namespace: 'blog', name: 'db', images: { app: `${APP}:5.0` } },
      { kind: 'Deployment', namespace: 'ops', name: 'tool', images: { app: `${APP}:5.0` } },
    ]);
    resolverConfig = await serviceAccountConfig(admin, 'onpush', 'resolver');
    restarterConfig = await serviceAccountConfig(admin, 'onpush', 'restarter');
    await eventually(
      'the Roles to take effect',
      async () =>
        (await refusal(() =>
          kubeClients(resolverConfig).apps.listNamespacedDeployment({ namespace: 'shop' }),
        )) === undefined,
    );
  });

  afterAll(async () => {
    await onpush?.stop();
    adminHttp?.close();
  });

  it('watches, restarts and follows rollouts in its namespaces with nothing more than those Roles', async () => {
    onpush = await startOnpush({
      resolver: resolverConfig,
      restarter: restarterConfig,
      scope: { select: 'labelled', optIn: 'label', namespaces: ['shop', 'blog'], exclude: [] },
    });
    expect(fates(await onpush.push({ tag: '5.0', digest: digest(1) }))).toEqual({
      '(event)': 'dispatched',
      'Deployment/shop/web': 'restarted',
      'StatefulSet/blog/db': 'restarted',
    });
    for (const [kind, namespace, name] of [
      ['Deployment', 'shop', 'web'],
      ['StatefulSet', 'blog', 'db'],
    ] as const) {
      await writeStatus(
        adminHttp,
        kind,
        namespace,
        name,
        doneStatus(kind, await readWorkload(adminHttp, kind, namespace, name)),
      );
    }
    const rollouts = await eventually('two rollouts completed', () =>
      onpush.rollouts.length === 2 ? onpush.rollouts : undefined,
    );
    expect(fates(rollouts)).toEqual({
      'Deployment/shop/web': 'rollout-completed',
      'StatefulSet/blog/db': 'rollout-completed',
    });
    expect(await marksOf(adminHttp, 'Deployment', 'ops', 'tool')).toEqual({});

    // Every write names onpush as its field manager, as `kubectl rollout restart` names its own:
    // `kubectl get -o yaml --show-managed-fields` shows onpush owning the restart marks.
    const web = await kubeClients(admin).apps.readNamespacedDeployment({
      namespace: 'shop',
      name: 'web',
    });
    const byOnpush = (web.metadata?.managedFields ?? []).filter((f) => f.manager === 'onpush');
    expect(byOnpush.map((f) => f.operation)).toEqual(['Update']);
    const owned = JSON.stringify(byOnpush[0]?.fieldsV1);
    expect(owned).toContain('f:kubectl.kubernetes.io/restartedAt');
    expect(owned).toContain('f:onpush.dev/digest');

    // Each decision and rollout result is a Kubernetes Event on the workload, as `kubectl
    // describe` shows it — recorded with nothing more than those Roles.
    const core = kubeClients(admin).core;
    const eventsOf = async (namespace: string, name: string) =>
      (await core.listNamespacedEvent({ namespace })).items
        .filter(
          (e) => e.involvedObject.name === name && e.reportingComponent === 'onpush.dev/restarter',
        )
        .map((e) => `${e.type} ${e.reason} ${e.involvedObject.kind}`)
        .sort();
    expect(
      await eventually('the Events of shop/web', async () => {
        const seen = await eventsOf('shop', 'web');
        return seen.length === 2 ? seen : undefined;
      }),
    ).toEqual(['Normal Restarted Deployment', 'Normal RolloutCompleted Deployment']);
    expect(await eventsOf('blog', 'db')).toEqual([
      'Normal Restarted StatefulSet',
      'Normal RolloutCompleted StatefulSet',
    ]);
    expect(onpush.eventResults).toEqual({ sent: 4 });
  });

  it('keeps the index snapshot in ConfigMaps of its own namespace, and only there', async () => {
    const resolverCore = kubeClients(resolverConfig).core;
    const store = createSnapshotStore({ api: resolverCore, namespace: 'onpush' });
    expect(await store.save(onpush.index.serialize())).toBe(1);
    expect(ImageIndex.deserialize((await store.load()) ?? '').stats().workloads).toBe(2);
    const shard = await resolverCore.readNamespacedConfigMap({
      namespace: 'onpush',
      name: 'onpush-image-index',
    });
    expect(shard.metadata?.managedFields?.map((f) => f.manager)).toEqual(['onpush']);
    const elsewhere = createSnapshotStore({ api: resolverCore, namespace: 'shop' });
    await expect(elsewhere.save('{}')).rejects.toMatchObject({ status: 403 });
  });

  it('refuses to read any Secret, to list workloads cluster-wide, or to touch an excluded namespace', async () => {
    const resolver = kubeClients(resolverConfig);
    const restarter = kubeClients(restarterConfig);
    expect(
      await refusal(() =>
        resolver.core.readNamespacedSecret({ namespace: 'onpush', name: 'db-password' }),
      ),
    ).toBe(403);
    expect(await refusal(() => resolver.core.listSecretForAllNamespaces())).toBe(403);
    expect(
      await refusal(() =>
        restarter.core.readNamespacedSecret({ namespace: 'shop', name: 'db-password' }),
      ),
    ).toBe(403);
    expect(await refusal(() => resolver.apps.listDeploymentForAllNamespaces())).toBe(403);
    expect(await refusal(() => resolver.apps.listNamespacedDeployment({ namespace: 'ops' }))).toBe(
      403,
    );
    expect(
      await refusal(() =>
        resolver.apps.patchNamespacedDeployment({ namespace: 'shop', name: 'web', body: {} }),
      ),
    ).toBe(403);

    // A restart request for a namespace outside the scope (a replay, a hand-made message) ends
    // `refused` at the restarter, before any API call; and were the restarter's scope wider than
    // its Roles, the API server would refuse it: a permanent http_403, which the stage
    // dead-letters.
    const http = await kubeHttp(restarterConfig);
    try {
      // nor may it write an Event where it may not restart
      const event = eventOfOutcome({
        v: 1,
        eventId: 'it:ops',
        fate: 'restarted',
        stage: 'restarter',
        workload: { kind: 'Deployment', namespace: 'ops', name: 'tool' },
        at: new Date().toISOString(),
      })!;
      expect(
        await refusal(() =>
          http.post(
            '/apis/events.k8s.io/v1/namespaces/ops/events',
            eventBody(event, 'it', new Date()),
          ),
        ),
      ).toBe(403);
      const handlerWith = (namespaces: string[]) =>
        createHandler({
          effects: kubeEffects({
            http,
            bucket: new TokenBucket({ qps: 10, burst: 10 }),
            requests: kubeRequestCounter(createMetrics('workloads-rbac').registry),
          }),
          scope: { select: 'all', optIn: 'label', namespaces, exclude: [] },
        });
      const request: RestartRequest = {
        v: 1,
        eventId: 'it:ops',
        image: APP,
        tag: '5.0',
        digest: digest(2),
        workload: { kind: 'Deployment', namespace: 'ops', name: 'tool', containers: ['app'] },
      };
      const incoming = {
        subject: 'onpush.restart.ops',
        data: encode(request),
        headers: {},
        seq: 1,
        deliveryCount: 1,
      };
      const [refused] = await handlerWith(['shop', 'blog'])(incoming);
      expect(parseOutcome(refused?.data)).toMatchObject({
        fate: 'refused',
        reason: 'namespace_out_of_scope',
      });
      const error = await handlerWith([])(incoming).catch((e: unknown) => e);
      expect(error).toMatchObject({ type: 'http_403', retryable: false });
      expect(
        await refusal(() =>
          http.patch(
            objectPath(KINDS.Deployment, 'ops', 'tool'),
            { metadata: { labels: { x: 'y' } } },
            PatchStrategy.StrategicMergePatch,
          ),
        ),
      ).toBe(403);
    } finally {
      http.close();
    }
    expect(await marksOf(adminHttp, 'Deployment', 'ops', 'tool')).toEqual({});
  });
});
