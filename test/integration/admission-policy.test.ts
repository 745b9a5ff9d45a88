// The ValidatingAdmissionPolicy of k8s/base/admission-policy.yaml, on a real kube-apiserver: the
// restarter's own identity, used directly (bypassing the restarter), can change only opted-in
// workloads, and only their restart annotations and images of the same repository; the
// restarter itself (its real PATCHes) passes; every other user is untouched.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  KubeConfig,
  KubernetesObjectApi,
  RbacAuthorizationV1Api,
  loadAllYaml,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { encode, parseOutcome, type RestartRequest } from '@onpush/contracts';
import {
  ANNOTATIONS,
  KINDS,
  PatchStrategy,
  kubeClients,
  kubeHttp,
  loadKubeConfig,
  objectPath,
  scopeOf,
  type KubeClients,
  type KubeHttp,
} from '@onpush/kube';
import { TokenBucket, createHandler, kubeEffects, kubeRequestCounter } from '@onpush/restarter';
import { createMetrics } from '@onpush/telemetry';
import { eventually, useSandbox } from '@onpush/testing';
import {
  deployment,
  ensureNamespaces,
  grantRestarter,
  restarterIdentity,
} from '../support/kube.js';

const POLICY = resolve(import.meta.dirname, '..', '..', 'k8s', 'base', 'admission-policy.yaml');
const REPO = 'europe-docker.pkg.dev/acme/shop/app';

/** The HTTP status and message of a refused call, or 200 when it went through. */
async function answer(call: () => Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await call();
    return { status: 200, message: '' };
  } catch (error) {
    const e = error as { status?: number; message?: string };
    return { status: e.status ?? 0, message: e.message ?? String(error) };
  }
}

describe('admission policy: what the restarter ServiceAccount may change', () => {
  const sandbox = useSandbox(['kube'], 'admission-policy');
  let admin: KubeClients;
  let restarter: KubeHttp;

  /** A strategic-merge PATCH of Deployment namespace/name as the restarter's ServiceAccount. */
  const patch = (namespace: string, name: string, body: object) =>
    answer(() =>
      restarter.patch(
        objectPath(KINDS.Deployment, namespace, name),
        body,
        PatchStrategy.StrategicMergePatch,
      ),
    );
  const restartMark = (at: string) => ({
    spec: { template: { metadata: { annotations: { [ANNOTATIONS.restartedAt]: at } } } },
  });
  const image = (to: string) => ({
    spec: { template: { spec: { containers: [{ name: 'app', image: to }] } } },
  });
  const live = async (namespace: string, name: string) =>
    admin.apps.readNamespacedDeployment({ namespace, name });

  beforeAll(async () => {
    const config = loadKubeConfig(sandbox().need('kube').kubeconfigPath);
    admin = kubeClients(config);
    await ensureNamespaces(admin, ['onpush', 'shop', 'kube-system']);
    const rbac = config.makeApiClient(RbacAuthorizationV1Api);
    const token = await restarterIdentity(admin, rbac, ['shop']);
    // RBAC lets it into kube-system too: what stops it there must be the policy.
    await grantRestarter(rbac, 'kube-system');
    const objects = KubernetesObjectApi.makeApiClient(config);
    // As the overlays ship them: kustomize gives the two cluster-scoped objects the namespace
    // `onpush`, which the API server drops.
    for (const object of loadAllYaml(readFileSync(POLICY, 'utf8')) as KubernetesObject[]) {
      await objects.create({ ...object, metadata: { ...object.metadata, namespace: 'onpush' } });
    }
    for (const [namespace, body] of [
      ['kube-system', deployment('dns', `${REPO}:1.0`, { optIn: false })],
      ['shop', deployment('web', `${REPO}:1.0`)],
      ['shop', deployment('legacy', `${REPO}:1.0`, { optIn: false })],
    ] as const) {
      await admin.apps.createNamespacedDeployment({ namespace, body });
    }
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error('no current cluster');
    const asRestarter = new KubeConfig();
    asRestarter.loadFromClusterAndUser(cluster, { name: 'restarter', token });
    restarter = await kubeHttp(asRestarter);
    // The policy takes effect once the API server has loaded it.
    await eventually(
      'the policy to be enforced',
      async () =>
        (await patch('kube-system', 'dns', restartMark('2026-12-05T00:00:00Z'))).status === 403,
      { timeoutMs: 20_000 },
    );
  });

  it('refuses a restart of a Deployment that did not opt in, with the policy message', async () => {
    const before = await live('kube-system', 'dns');
    const refused = await patch('kube-system', 'dns', restartMark('2026-12-05T10:00:00Z'));
    expect(refused.status).toBe(403);
    expect(refused.message).toContain('onpush-restarter');
    expect(refused.message).toContain(
      'may change only workloads that opted in (onpush.dev/enabled: "true")',
    );
    const after = await live('kube-system', 'dns');
    expect(after.metadata?.generation).toBe(before.metadata?.generation);
    expect(after.spec?.template.metadata?.annotations).toEqual(
      before.spec?.template.metadata?.annotations,
    );
  });

  it('lets a restart and a move to another tag of the same repository through on an opted-in Deployment', async () => {
    expect(await patch('shop', 'web', restartMark('2026-12-05T10:00:00Z'))).toEqual({
      status: 200,
      message: '',
    });
    expect((await patch('shop', 'web', image(`${REPO}:1.1`))).status).toBe(200);
    const digest = `sha256:${'a'.repeat(64)}`;
    expect((await patch('shop', 'web', image(`${REPO}:1.1@${digest}`))).status).toBe(200);
    const after = await live('shop', 'web');
    expect(after.spec?.template.metadata?.annotations?.[ANNOTATIONS.restartedAt]).toBe(
      '2026-12-05T10:00:00Z',
    );
    expect(after.spec?.template.spec?.containers[0]?.image).toBe(`${REPO}:1.1@${digest}`);
    // an automatic rollback: the earlier digest pinned, onpush.dev/rolled-back naming the push
    const rollback = {
      spec: {
        template: {
          metadata: { annotations: { [ANNOTATIONS.rolledBack]: digest } },
          spec: { containers: [{ name: 'app', image: `${REPO}:1.0@sha256:${'b'.repeat(64)}` }] },
        },
      },
    };
    expect((await patch('shop', 'web', rollback)).status).toBe(200);
    const back = await live('shop', 'web');
    expect(back.spec?.template.metadata?.annotations?.[ANNOTATIONS.rolledBack]).toBe(digest);
  });

  it('refuses anything else on an opted-in Deployment: another repository, other fields, other annotations', async () => {
    const before = await live('shop', 'web');
    const refusals = [
      await patch('shop', 'web', image('docker.io/library/busybox:1.36')),
      await patch('shop', 'web', image(`${REPO}-evil:1.1`)),
      await patch('shop', 'web', { spec: { replicas: 5 } }),
      await patch('shop', 'web', { metadata: { labels: { 'onpush.dev/enabled': 'false' } } }),
      await patch('shop', 'web', {
        spec: { template: { metadata: { annotations: { 'example.com/other': 'x' } } } },
      }),
      await patch('shop', 'web', {
        spec: { template: { spec: { containers: [{ name: 'app', command: ['sh'] }] } } },
      }),
      await patch('shop', 'web', {
        spec: { template: { spec: { serviceAccountName: 'admin' } } },
      }),
    ];
    expect(refusals.map((r) => r.status)).toEqual([403, 403, 403, 403, 403, 403, 403]);
    expect(refusals[0]?.message).toContain('another tag or digest of the image repository');
    expect(refusals[2]?.message).toContain("only the pod template's restart annotations");
    const after = await live('shop', 'web');
    expect(after.metadata?.generation).toBe(before.metadata?.generation);
  });

  it("passes the restarter's own PATCHes, and leaves every other user alone", async () => {
    const http = restarter;
    const handle = createHandler({
      effects: kubeEffects({
        http,
        bucket: new TokenBucket({ qps: 50, burst: 50 }),
        requests: kubeRequestCounter(createMetrics('admission-policy').registry),
      }),
      scope: scopeOf('labelled'),
    });
    const request: RestartRequest = {
      v: 1,
      eventId: 'it:admission',
      image: REPO,
      tag: '1.1',
      digest: `sha256:${'b'.repeat(64)}`,
      workload: { kind: 'Deployment', namespace: 'shop', name: 'web', containers: ['app'] },
    };
    const [out] = await handle({
      subject: 'onpush.restart.shop',
      data: encode(request),
      headers: {},
      seq: 1,
      deliveryCount: 1,
    });
    expect(parseOutcome(out?.data).fate).toBe('restarted');

    // The cluster's admin changes a workload that did not opt in as it likes.
    await admin.apps.patchNamespacedDeployment({
      namespace: 'shop',
      name: 'legacy',
      body: [{ op: 'replace', path: '/spec/replicas', value: 2 }],
    });
    expect((await live('shop', 'legacy')).spec?.replicas).toBe(2);
  });
});
