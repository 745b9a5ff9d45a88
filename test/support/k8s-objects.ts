// Rendered Kubernetes objects as the deployment tests read them (test/integration/chart.test.ts):
// picking objects by kind, the pods their workloads will create, what is wrong with how a service
// runs, minimal CRDs for the kinds of KEDA and the Prometheus Operator, and the API server's words
// for a refusal. The same checks as test/integration/manifests.test.ts makes of the kustomize
// overlays, so that the chart is held to the same posture.
import {
  ApiException,
  AuthorizationV1Api,
  KubeConfig,
  CoreV1Api,
  type V1Pod,
  type V1NetworkPolicy,
  type KubernetesObject,
  type V1CustomResourceDefinition,
  type V1Deployment,
  type V1Job,
  type V1PodDisruptionBudget,
  type V1PodTemplateSpec,
  type V1ServiceAccount,
  type V1StatefulSet,
} from '@kubernetes/client-node';

export type Obj = KubernetesObject & { metadata: { name: string; namespace?: string } };

export const ofKind = <T>(objects: readonly Obj[], kind: string): (T & Obj)[] =>
  objects.filter((o) => o.kind === kind) as (T & Obj)[];

/** The object of `kind` named `name`, if any. */
export const named = <T>(
  objects: readonly Obj[],
  kind: string,
  name: string,
): (T & Obj) | undefined => ofKind<T>(objects, kind).find((o) => o.metadata.name === name);

/** A minimal CRD: the kind exists; the contents are the operator's business. */
export function crd(
  group: string,
  version: string,
  kind: string,
  plural: string,
  required: string[],
): V1CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              required: ['spec'],
              properties: {
                spec: { type: 'object', required, x_kubernetes_preserve_unknown_fields: true },
              },
            },
          },
        },
      ],
    },
  };
}

/** KEDA's and the Prometheus Operator's kinds, as far as the API server needs to admit them. */
export const OPERATOR_CRDS = [
  crd('keda.sh', 'v1alpha1', 'ScaledObject', 'scaledobjects', ['scaleTargetRef', 'triggers']),
  crd('keda.sh', 'v1alpha1', 'TriggerAuthentication', 'triggerauthentications', []),
  crd('monitoring.coreos.com', 'v1', 'ServiceMonitor', 'servicemonitors', [
    'selector',
    'endpoints',
  ]),
  crd('monitoring.coreos.com', 'v1', 'PrometheusRule', 'prometheusrules', ['groups']),
];

/** Every pod a workload will create, as the controller would write it. */
export function podTemplates(
  objects: readonly Obj[],
): { owner: string; template: V1PodTemplateSpec }[] {
  const out: { owner: string; template: V1PodTemplateSpec }[] = [];
  for (const d of ofKind<V1Deployment>(objects, 'Deployment'))
    if (d.spec) out.push({ owner: `Deployment/${d.metadata.name}`, template: d.spec.template });
  for (const j of ofKind<V1Job>(objects, 'Job'))
    if (j.spec) out.push({ owner: `Job/${j.metadata.name}`, template: j.spec.template });
  for (const s of ofKind<V1StatefulSet>(objects, 'StatefulSet')) {
    const spec = s.spec?.template.spec;
    if (!s.spec || !spec) continue;
    const claims = (s.spec.volumeClaimTemplates ?? []).map((c) => ({
      name: c.metadata?.name ?? '',
      persistentVolumeClaim: { claimName: `${c.metadata?.name ?? ''}-${s.metadata.name}-0` },
    }));
    const template = {
      ...s.spec.template,
      spec: { ...spec, volumes: [...(spec.volumes ?? []), ...claims] },
    };
    out.push({ owner: `StatefulSet/${s.metadata.name}`, template });
  }
  return out;
}

/** Whether a label selector's matchLabels and matchExpressions select pods with `labels`. */
export function selects(
  selector:
    | {
        matchLabels?: Record<string, string>;
        matchExpressions?: { key: string; operator: string; values?: string[] }[];
      }
    | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector) return false;
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpression = (selector.matchExpressions ?? []).every((e) => {
    const value = labels[e.key];
    switch (e.operator) {
      case 'In':
        return value !== undefined && (e.values ?? []).includes(value);
      case 'NotIn':
        return value === undefined || !(e.values ?? []).includes(value);
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
      default:
        return false;
    }
  });
  return byLabel && byExpression;
}

/** What is wrong with how a service's Deployment runs; empty when nothing is. */
export function serviceFindings(name: string, objects: readonly Obj[]): string[] {
  const found: string[] = [];
  const d = named<V1Deployment>(objects, 'Deployment', name);
  const pod = d?.spec?.template.spec;
  const c = pod?.containers[0];
  if (!d || !pod || !c) return [`${name}: no Deployment`];
  const check = (ok: unknown, what: string) => {
    if (!ok) found.push(`${name}: ${what}`);
  };
  check(JSON.stringify(c.args) === JSON.stringify(['run', name]), `args ${String(c.args)}`);
  check(/:[\w.-]+$/.test(c.image ?? '') && !c.image?.endsWith(':latest'), `image ${c.image}`);
  check(pod.securityContext?.runAsNonRoot, 'runAsNonRoot');
  check(pod.securityContext?.seccompProfile?.type === 'RuntimeDefault', 'seccomp RuntimeDefault');
  check(c.securityContext?.readOnlyRootFilesystem, 'readOnlyRootFilesystem');
  check(c.securityContext?.allowPrivilegeEscalation === false, 'allowPrivilegeEscalation');
  check(c.securityContext?.capabilities?.drop?.includes('ALL'), 'drop ALL capabilities');
  check(c.resources?.requests?.['cpu'] && c.resources.requests['memory'], 'resource requests');
  check(c.resources?.limits?.['memory'], 'memory limit');
  check(c.livenessProbe?.httpGet?.path === '/healthz', 'liveness probe on /healthz');
  check(c.readinessProbe?.httpGet?.path === '/readyz', 'readiness probe on /readyz');
  check((pod.topologySpreadConstraints ?? []).length > 0, 'topology spread');
  const labels = d.spec?.template.metadata?.labels ?? {};
  const pdbs = ofKind<V1PodDisruptionBudget>(objects, 'PodDisruptionBudget').filter((p) =>
    selects(p.spec?.selector, labels),
  );
  check(pdbs.length === 1, `one PodDisruptionBudget (has ${pdbs.length})`);
  const needsApi = name === 'resolver' || name === 'restarter';
  const sa = ofKind<V1ServiceAccount>(objects, 'ServiceAccount').find(
    (s) => s.metadata.name === pod.serviceAccountName,
  );
  check(sa, `ServiceAccount ${pod.serviceAccountName}`);
  if (!needsApi) {
    check(pod.automountServiceAccountToken === false, 'no API token in the pod');
    check(sa?.automountServiceAccountToken === false, 'no API token on its ServiceAccount');
  }
  return found;
}

/** The API server's own words for a refusal. */
export function reason(error: unknown): string {
  if (error instanceof ApiException) {
    try {
      return `${error.code} ${(JSON.parse(String(error.body)) as { message?: string }).message}`;
    } catch {
      return `${error.code} ${String(error.body)}`;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * Whether ServiceAccount `home`/`sa` may `verb` a `resource` (`plural.group`, e.g.
 * `deployments.apps`) in `namespace` ('' = every namespace), by name when given: the API
 * server's answer to a SubjectAccessReview.
 */
export async function canAccess(
  authz: AuthorizationV1Api,
  [home, sa, verb, resource, namespace, name]: [
    string,
    string,
    string,
    string,
    string,
    (string | undefined)?,
  ],
): Promise<boolean> {
  const [plural = resource, group = ''] = resource.split(/\.(.*)/);
  const review = await authz.createSubjectAccessReview({
    body: {
      spec: {
        user: `system:serviceaccount:${home}:${sa}`,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${home}`],
        resourceAttributes: {
          verb,
          group,
          resource: plural,
          namespace,
          ...(name !== undefined ? { name } : {}),
        },
      },
    },
  });
  return review.status?.allowed === true;
}

/**
 * The NetworkPolicies' posture: whether one denies all traffic of every pod by default (selects
 * all, both directions, no rule), and which admit ingress from anywhere (a rule without `from`).
 */
export function networkPosture(objects: readonly Obj[]): { denyAll: boolean; openToAll: string[] } {
  const policies = ofKind<V1NetworkPolicy>(objects, 'NetworkPolicy');
  const denyAll = policies.some(
    (p) =>
      Object.keys(p.spec?.podSelector?.matchLabels ?? {}).length === 0 &&
      !p.spec?.podSelector?.matchExpressions &&
      p.spec?.policyTypes?.includes('Ingress') &&
      p.spec.policyTypes.includes('Egress') &&
      !p.spec.ingress &&
      !p.spec.egress,
  );
  const openToAll = policies
    .filter((p) => (p.spec?.ingress ?? []).some((rule) => !rule._from))
    .map((p) => p.metadata.name);
  return { denyAll, openToAll };
}

/**
 * The pods of `templates` the API server refuses in `namespace` (a dry-run create each: what a
 * namespace enforcing a Pod Security Standard admits), as `<owner>: <its words>`.
 */
export async function refusedPods(
  core: CoreV1Api,
  namespace: string,
  templates: ReturnType<typeof podTemplates>,
): Promise<string[]> {
  const refused: string[] = [];
  for (const { owner, template } of templates) {
    const body: V1Pod = {
      metadata: { name: `${owner.split('/')[1]}-dry-run`, labels: template.metadata?.labels ?? {} },
      spec: template.spec ?? { containers: [] },
    };
    await core
      .createNamespacedPod({ namespace, body, dryRun: 'All' })
      .catch((error: unknown) => refused.push(`${owner}: ${reason(error)}`));
  }
  return refused;
}

/**
 * Every rule ServiceAccount `home`/`sa` has in `namespace`, as it sees them itself with its own
 * token (a SelfSubjectRulesReview): `verb resource.group`, sorted, its own reviews left out.
 */
export async function ownRules(
  admin: KubeConfig,
  home: string,
  sa: string,
  namespace: string,
): Promise<string[]> {
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster');
  const request = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    namespace: home,
    name: sa,
    body: { spec: { audiences: [], expirationSeconds: 600 } },
  });
  const asSa = new KubeConfig();
  asSa.loadFromClusterAndUser(cluster, { name: sa, token: request.status?.token ?? '' });
  const review = await asSa
    .makeApiClient(AuthorizationV1Api)
    .createSelfSubjectRulesReview({ body: { spec: { namespace } } });
  return (review.status?.resourceRules ?? [])
    .flatMap((r) =>
      (r.apiGroups ?? []).flatMap((g) =>
        (r.resources ?? []).flatMap((res) => r.verbs.map((v) => `${v} ${res}${g ? `.${g}` : ''}`)),
      ),
    )
    .filter((rule) => !/ self\w+\.(authorization|authentication)\.k8s\.io$/.test(rule))
    .sort();
}

/**
 * What each ServiceAccount may do, all of it: in onpush's own namespace `home` and in a
 * workload namespace `other` (cluster-wide RBAC).
 */
export function expectedRules(
  home: string,
  other: string,
): Record<string, Record<string, string[]>> {
  const workloads = [
    'deployments.apps',
    'statefulsets.apps',
    'daemonsets.apps',
    'cronjobs.batch',
    'rollouts.argoproj.io',
  ];
  const times = (verbs: string[], resources: string[]) =>
    verbs.flatMap((v) => resources.map((r) => `${v} ${r}`));
  // The snapshot's verbs (get, update and delete limited to its shards' names).
  const snapshot = times(['get', 'create', 'update', 'delete'], ['configmaps']);
  // What rolls out is followed (watch); a CronJob's change waits for its next run.
  const rollingOut = workloads.filter((w) => w !== 'cronjobs.batch');
  // ... and what it did is told on the workload as a Kubernetes Event.
  const restarterRules = [
    ...times(['get', 'patch'], workloads),
    ...times(['watch'], rollingOut),
    'create events.events.k8s.io',
  ];
  const none = { [home]: [], [other]: [] };
  return {
    ingest: none,
    parser: none,
    'dlq-manager': none,
    restarter: { [home]: restarterRules, [other]: restarterRules },
    resolver: {
      [home]: [...times(['get', 'list', 'watch'], workloads), ...snapshot],
      [other]: times(['get', 'list', 'watch'], workloads),
    },
  };
}

/**
 * The NATS identity Secrets (`onpush-nats-*`) each pod of a Deployment or Job mounts, by the pod's
 * `app.kubernetes.io/name` (NATS's own pods left out).
 */
export function mountedIdentities(objects: readonly Obj[]): Record<string, (string | undefined)[]> {
  return Object.fromEntries(
    podTemplates(objects)
      .filter(({ owner }) => !owner.startsWith('StatefulSet/'))
      .map(({ template }): [string, (string | undefined)[]] => [
        template.metadata?.labels?.['app.kubernetes.io/name'] ?? '',
        (template.spec?.volumes ?? [])
          .map((v) => v.secret?.secretName)
          .filter((secret) => secret?.startsWith('onpush-nats-')),
      ]),
  );
}

/**
 * What the console the dlq-manager serves can ask for its health view: the services it is given
 * a URL of (ONPUSH_<SERVICE>_URL), and those whose pods the NetworkPolicies let it reach on their
 * http port (8080) — egress allowed from the dlq-manager's pods and ingress into theirs.
 */
export function consoleReach(objects: readonly Obj[]): { urls: string[]; reachable: string[] } {
  const HTTP = 8080;
  const pods = podTemplates(objects);
  const nameOf = (t: (typeof pods)[number]) =>
    t.template.metadata?.labels?.['app.kubernetes.io/name'] ?? '';
  const dlq = pods.find((p) => nameOf(p) === 'dlq-manager');
  if (dlq === undefined) return { urls: [], reachable: [] };
  const dlqLabels = dlq.template.metadata?.labels ?? {};
  const urls = (dlq.template.spec?.containers[0]?.env ?? [])
    .map((e) => /^ONPUSH_([A-Z_]+)_URL$/.exec(e.name)?.[1])
    .filter((s): s is string => s !== undefined)
    .map((s) => s.toLowerCase().replaceAll('_', '-'))
    .sort();
  const policies = ofKind<V1NetworkPolicy>(objects, 'NetworkPolicy');
  const onHttp = (ports: { port?: number | string }[] | undefined) =>
    ports === undefined || ports.some((p) => p.port === HTTP);
  const reachable = pods
    .filter((p) => p !== dlq && nameOf(p) !== 'nats')
    .filter((p) => {
      const labels = p.template.metadata?.labels ?? {};
      const out = policies.some(
        (np) =>
          selects(np.spec?.podSelector, dlqLabels) &&
          (np.spec?.egress ?? []).some(
            (rule) =>
              onHttp(rule.ports) &&
              (rule.to === undefined || rule.to.some((to) => selects(to.podSelector, labels))),
          ),
      );
      const into = policies.some(
        (np) =>
          selects(np.spec?.podSelector, labels) &&
          (np.spec?.ingress ?? []).some(
            (rule) =>
              onHttp(rule.ports) &&
              (rule._from === undefined ||
                rule._from.some((from) => selects(from.podSelector, dlqLabels))),
          ),
      );
      return out && into;
    })
    .map(nameOf)
    .sort();
  return { urls, reachable };
}
