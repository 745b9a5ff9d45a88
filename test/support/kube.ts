// Cluster fixtures shared by the end-to-end, failure and integration tests: opted-in
// Deployments, namespaces, and the restarter's least-privilege identity (ServiceAccount
// onpush/restarter, ClusterRole onpush-restarter, one RoleBinding per namespace it may restart in).
import type { RbacAuthorizationV1Api, V1Container } from '@kubernetes/client-node';
import type { KubeClients, V1Deployment } from '@onpush/kube';

/**
 * A Deployment `name` (label app=`name`) running `image` in a container `app`, or the given
 * containers; opted in to onpush unless `optIn` is false.
 */
export function deployment(
  name: string,
  image: string | V1Container[],
  options: { optIn?: boolean; replicas?: number } = {},
): V1Deployment {
  const { optIn = true, replicas } = options;
  const containers = typeof image === 'string' ? [{ name: 'app', image }] : image;
  return {
    metadata: { name, labels: { app: name, ...(optIn ? { 'onpush.dev/enabled': 'true' } : {}) } },
    spec: {
      ...(replicas === undefined ? {} : { replicas }),
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers } },
    },
  };
}

/** Creates those of `names` that do not exist yet. */
export async function ensureNamespaces(kube: KubeClients, names: readonly string[]): Promise<void> {
  const existing = new Set(
    (await kube.core.listNamespace()).items.map((n) => n.metadata?.name ?? ''),
  );
  for (const name of names) {
    if (existing.has(name)) continue;
    await kube.core.createNamespace({ body: { metadata: { name } } });
    existing.add(name);
  }
}

/** The RoleBinding that lets ServiceAccount onpush/restarter get and patch Deployments in `namespace`. */
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

/**
 * The restarter's identity: ServiceAccount onpush/restarter (namespace `onpush` must exist),
 * allowed to get and patch Deployments in `namespaces` only (least privilege; grant more later
 * with grantRestarter); with `rollouts`, also to watch them and record Events, as the shipped
 * role allows (to follow its rollouts); returns its token.
 */
export async function restarterIdentity(
  kube: KubeClients,
  rbac: RbacAuthorizationV1Api,
  namespaces: readonly string[],
  options: { rollouts?: boolean } = {},
): Promise<string> {
  await kube.core.createNamespacedServiceAccount({
    namespace: 'onpush',
    body: { metadata: { name: 'restarter' } },
  });
  await rbac.createClusterRole({
    body: {
      metadata: { name: 'onpush-restarter' },
      rules: options.rollouts
        ? [
            { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'patch', 'watch'] },
            { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create'] },
          ]
        : [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'patch'] }],
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
