import { describe, expect, it } from 'vitest';
import { ApiException, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import {
  ANNOTATIONS,
  PatchStrategy,
  kubeClients,
  loadKubeConfig,
  restartPatch,
  setHeaderOptions,
  type V1Deployment,
} from '@onpush/kube';
import { eventually, useSandbox } from '@onpush/testing';

function deployment(namespace: string, name: string, image: string): V1Deployment {
  return {
    metadata: { name, namespace, labels: { app: name, 'onpush.dev/enabled': 'true' } },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'main', image }] },
      },
    },
  };
}

// Given a real kube-apiserver with etcd and RBAC on.
describe('Kubernetes API server', () => {
  const sandbox = useSandbox(['kube'], 'kube');

  it('watches a Deployment and sees a rollout-restart patch of its pod template', async () => {
    const kube = kubeClients(loadKubeConfig(sandbox().need('kube').kubeconfigPath));
    await kube.core.createNamespace({ body: { metadata: { name: 'shop' } } });
    await kube.apps.createNamespacedDeployment({
      namespace: 'shop',
      body: deployment('shop', 'web', 'us-docker.pkg.dev/p/r/app:1.1'),
    });

    const seen: Record<string, string>[] = [];
    const watch = await kube.watch.watch(
      '/apis/apps/v1/namespaces/shop/deployments',
      {},
      (phase, obj: V1Deployment) => {
        if (phase === 'MODIFIED') seen.push(obj.spec?.template.metadata?.annotations ?? {});
      },
      () => undefined,
    );
    try {
      const at = new Date('2026-11-26T10:00:00Z');
      await kube.apps.patchNamespacedDeployment(
        {
          namespace: 'shop',
          name: 'web',
          body: restartPatch({ at, eventId: 'evt-1', digest: 'sha256:' + 'a'.repeat(64) }),
        },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
      const annotations = await eventually('the watch to see the patch', () => seen[0]);
      expect(annotations).toEqual({
        [ANNOTATIONS.restartedAt]: '2026-11-26T10:00:00Z',
        [ANNOTATIONS.eventId]: 'evt-1',
        [ANNOTATIONS.digest]: 'sha256:' + 'a'.repeat(64),
      });
    } finally {
      watch.abort();
    }
  });

  it('refuses a ServiceAccount without the permission with 403, and allows it once granted', async () => {
    const admin = loadKubeConfig(sandbox().need('kube').kubeconfigPath);
    const kube = kubeClients(admin);
    await kube.core.createNamespace({ body: { metadata: { name: 'locked' } } });
    await kube.apps.createNamespacedDeployment({
      namespace: 'locked',
      body: deployment('locked', 'api', 'nginx:1.27'),
    });
    await kube.core.createNamespacedServiceAccount({
      namespace: 'locked',
      body: { metadata: { name: 'restarter' } },
    });
    const request = await kube.core.createNamespacedServiceAccountToken({
      namespace: 'locked',
      name: 'restarter',
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const token = request.status?.token;
    expect(token).toMatch(/^ey/);

    const asServiceAccount = new KubeConfig();
    const cluster = admin.getCurrentCluster();
    if (!cluster) throw new Error('no current cluster');
    asServiceAccount.loadFromClusterAndUser(cluster, { name: 'restarter', token: token ?? '' });
    const restarter = kubeClients(asServiceAccount);
    const patch = (): Promise<V1Deployment> =>
      restarter.apps.patchNamespacedDeployment(
        {
          namespace: 'locked',
          name: 'api',
          body: restartPatch({ at: new Date(), eventId: 'evt-2' }),
        },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );

    const refused = await patch().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiException);
    expect((refused as ApiException<unknown>).code).toBe(403);

    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: 'locked',
      body: {
        metadata: { name: 'restart-deployments' },
        rules: [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'patch'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: 'locked',
      body: {
        metadata: { name: 'restarter' },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'Role',
          name: 'restart-deployments',
        },
        subjects: [{ kind: 'ServiceAccount', name: 'restarter', namespace: 'locked' }],
      },
    });
    const patched = await eventually('RBAC to allow the patch', () =>
      patch().catch(() => undefined),
    );
    expect(patched.spec?.template.metadata?.annotations?.[ANNOTATIONS.eventId]).toBe('evt-2');
  });
});
