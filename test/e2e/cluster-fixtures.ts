// Cluster set-up shared by the telemetry end-to-end tests: opted-in Deployments and a
// least-privilege identity for the restarter.
import type { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import type { KubeClients, V1Deployment } from '@onpush/kube';

export const REPO = 'europe-west1-docker.pkg.dev/p/r';
export const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

export function deployment(name: string, image: string): V1Deployment {
  return {
    metadata: { name, labels: { app: name, 'onpush.dev/enabled': 'true' } },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image }] },
      },
    },
  };
}

/** Lets ServiceAccount onpush/restarter get and patch Deployments in `namespace`. */
export async function grantRestarter(
  rbac: RbacAuthorizationV1Api,
  namespace: string,
): Promise<void> {
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: 'onpush-restarter' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'onpush-restarter',
      },
      subjects: [{ kind: 'ServiceAccount', name: 'restarter', namespace: 'onpush' }],
    },
  });
}

/** The restarter's identity: get and patch Deployments in `namespaces` only; returns its token. */
export async function restarterIdentity(
  kube: KubeClients,
  rbac: RbacAuthorizationV1Api,
  namespaces: readonly string[],
): Promise<string> {
  await kube.core.createNamespacedServiceAccount({
    namespace: 'onpush',
    body: { metadata: { name: 'restarter' } },
  });
  await rbac.createClusterRole({
    body: {
      metadata: { name: 'onpush-restarter' },
      rules: [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'patch'] }],
    },
  });
  for (const namespace of namespaces) await grantRestarter(rbac, namespace);
  const request = await kube.core.createNamespacedServiceAccountToken({
    namespace: 'onpush',
    name: 'restarter',
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  return request.status?.token ?? '';
}
