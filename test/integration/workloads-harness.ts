// The resolver and the restarter, in process, against a real kube-apiserver: the resolver's
// watch-fed index and handler, the restarter's handler (GET → decide → conditional PATCH) and
// rollout tracker, joined by a function instead of NATS. A push goes in; the outcomes a user
// would read on ONPUSH_OUTCOMES come out. Plus the cluster set-up those tests share: namespaces,
// workloads of every kind, the Argo Rollouts CRD, and status writes as a controller would make.
import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  KubeConfig,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import {
  encode,
  parseOutcome,
  parseRestartRequest,
  type ImagePushed,
  type Outcome,
  type WorkloadKind,
} from '@onpush/contracts';
import { ImageIndex } from '@onpush/image-index';
import {
  KINDS,
  collectionPath,
  dig,
  templateContainers,
  kubeClients,
  kubeHttp,
  loadKubeConfig,
  objectPath,
  watchStart,
  PatchStrategy,
  type KubeHttp,
} from '@onpush/kube';
import {
  createHandler as createResolverHandler,
  createWatcher,
  decisionBook,
  scopeOf,
  watchedNamespaces,
  workloadSources,
  type Decision,
  type Scope,
  type Watcher,
} from '@onpush/resolver';
import {
  TokenBucket,
  createEventRecorder,
  createHandler as createRestarterHandler,
  createTracker,
  kubeEffects,
  kubeRequestCounter,
  trackRequest,
  type Tracker,
} from '@onpush/restarter';
import type { Incoming } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { MemoryCasStore, eventually } from '@onpush/testing';

export const log = createLogger({ test: 'workloads' }, { level: 'error' });
export const REPO = 'europe-docker.pkg.dev/acme/shop';
export const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

export interface Onpush {
  /** Pushes one image; resolves with every outcome it led to (dispatch and workload fates). */
  push(pushed: Partial<ImagePushed> & { tag?: string; digest?: string }): Promise<Outcome[]>;
  /** Rollout outcomes reported so far. */
  readonly rollouts: Outcome[];
  /** Kubernetes Events recorded so far, by result (sent, failed, dropped). */
  readonly eventResults: Readonly<Record<string, number>>;
  readonly index: ImageIndex;
  readonly watcher: Watcher;
  readonly tracker: Tracker;
  stop(): Promise<void>;
}

export interface OnpushOptions {
  /** The resolver's identity (default: the restarter's). */
  resolver?: KubeConfig;
  restarter: KubeConfig;
  scope?: Scope;
  kinds?: readonly WorkloadKind[];
  dryRun?: boolean;
  rolloutTimeoutMs?: number;
}

let pushes = 0;

function incoming(subject: string, data: Uint8Array): Incoming {
  return { subject, data, headers: {}, seq: ++pushes, deliveryCount: 1 };
}

/** The two services' cores wired together; resolves once the watch synced. */
export async function startOnpush(options: OnpushOptions): Promise<Onpush> {
  const scope = options.scope ?? scopeOf('labelled');
  const kinds = options.kinds ?? ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob'];
  const index = new ImageIndex();
  const sources = workloadSources(
    options.resolver ?? options.restarter,
    kinds,
    scope,
    watchedNamespaces(scope),
  );
  const watcher = createWatcher({ sources, index, log });
  watcher.start();
  await eventually('the resolver watch to sync', () => watcher.synced && !watcher.broken);
  const resolve = createResolverHandler({
    index,
    canAnswer: () => watcher.synced && !watcher.broken,
    rebuild: () => Promise.reject(new Error('the index should answer')),
    decisions: decisionBook(new MemoryCasStore<Decision>()),
  });
  const http = await kubeHttp(options.restarter);
  // Kubernetes Events, as the restarter records them (EVENTS, on by default)
  const eventResults: Record<string, number> = {};
  const events = createEventRecorder({
    http,
    bucket: new TokenBucket({ qps: 100, burst: 100 }),
    queueSize: 1_000,
    counter: { inc: ({ result }) => void (eventResults[result] = (eventResults[result] ?? 0) + 1) },
    log,
  });
  const rollouts: Outcome[] = [];
  const tracker = createTracker({
    watch: watchStart(options.restarter),
    timeoutMs: options.rolloutTimeoutMs ?? 120_000,
    report: (outcome) => {
      rollouts.push(outcome);
      events.record(outcome);
    },
    log,
  });
  const restart = createRestarterHandler({
    scope,
    effects: kubeEffects({
      http,
      bucket: new TokenBucket({ qps: 100, burst: 100 }),
      requests: kubeRequestCounter(createMetrics('workloads-it').registry),
    }),
    ...(options.dryRun !== undefined ? { dryRun: options.dryRun } : {}),
    onRestarted: (request, result) => tracker.track(trackRequest(request, result)),
    onOutcome: (outcome) => events.record(outcome),
  });
  return {
    rollouts,
    eventResults,
    index,
    watcher,
    tracker,
    async push(pushed) {
      const event: ImagePushed = {
        v: 1,
        id: `it:${++pushes}`,
        source: 'gar',
        image: REPO + '/app',
        registry: 'europe-docker.pkg.dev',
        repository: 'acme/shop/app',
        receivedAt: new Date().toISOString(),
        ...pushed,
      } as ImagePushed;
      const out = await resolve(incoming('onpush.pushed', encode(event)));
      const outcomes: Outcome[] = [];
      for (const o of out) {
        if (o.subject.startsWith('onpush.outcome.')) outcomes.push(parseOutcome(o.data));
        else {
          parseRestartRequest(o.data);
          const fates = await restart(incoming(o.subject, o.data));
          outcomes.push(...fates.map((f) => parseOutcome(f.data)));
        }
      }
      return outcomes;
    },
    async stop() {
      await tracker.stop();
      await events.close();
      await watcher.stop();
      http.close();
    },
  };
}

/** `fate` of each workload an outcome names, as `Kind/ns/name → fate[:reason]`. */
export function fates(outcomes: readonly Outcome[]): Record<string, string> {
  const byWorkload: Record<string, string> = {};
  for (const o of outcomes) {
    const w = o.workload;
    const key = w ? `${w.kind}/${w.namespace}/${w.name}` : '(event)';
    byWorkload[key] = `${o.fate}${o.reason ? `:${o.reason}` : ''}`;
  }
  return byWorkload;
}

/** A ServiceAccount's kubeconfig (its own token), for least-privilege runs. */
export async function serviceAccountConfig(
  admin: KubeConfig,
  namespace: string,
  name: string,
): Promise<KubeConfig> {
  const core = kubeClients(admin).core;
  const token = await core.createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster');
  const config = new KubeConfig();
  config.loadFromClusterAndUser(cluster, { name, token: token.status?.token ?? '' });
  return config;
}

export const adminConfig = (kubeconfigPath: string): KubeConfig => loadKubeConfig(kubeconfigPath);

/**
 * A pod template with these containers: names starting with `init-` are init containers, and
 * `init-sidecar…` native sidecars (an init container with restartPolicy Always).
 */
export function podTemplate(name: string, images: Record<string, string>) {
  const all = Object.entries(images).map(([n, image]) => ({
    name: n,
    image,
    ...(n.startsWith('init-sidecar') ? { restartPolicy: 'Always' } : {}),
  }));
  return {
    metadata: { labels: { app: name } },
    spec: {
      initContainers: all.filter((c) => c.name.startsWith('init-')),
      containers: all.filter((c) => !c.name.startsWith('init-')),
    },
  };
}

export interface WorkloadSpec {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  images: Record<string, string>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The object of a workload of any kind, minimal but valid. */
export function workloadObject(w: WorkloadSpec): Record<string, unknown> {
  const { group, version } = KINDS[w.kind];
  const template = podTemplate(w.name, w.images);
  const selector = { matchLabels: { app: w.name } };
  const metadata = {
    name: w.name,
    namespace: w.namespace,
    labels: { app: w.name, 'onpush.dev/enabled': 'true', ...w.labels },
    annotations: w.annotations ?? {},
  };
  const base = {
    apiVersion: `${group === '' ? '' : `${group}/`}${version}`,
    kind: w.kind,
    metadata,
  };
  switch (w.kind) {
    case 'CronJob':
      return {
        ...base,
        spec: {
          schedule: '0 3 * * *',
          jobTemplate: {
            spec: {
              template: { ...template, spec: { ...template.spec, restartPolicy: 'OnFailure' } },
            },
          },
        },
      };
    case 'StatefulSet':
      return { ...base, spec: { selector, serviceName: w.name, template } };
    case 'Rollout':
      return { ...base, spec: { replicas: 1, selector, template, strategy: { canary: {} } } };
    default:
      return { ...base, spec: { selector, template } };
  }
}

/** Creates workloads of any kind (built-in or the Rollout CRD), through the generic API. */
export async function createWorkloads(
  admin: KubeConfig,
  workloads: readonly WorkloadSpec[],
): Promise<void> {
  const custom = admin.makeApiClient(CustomObjectsApi);
  for (const w of workloads) {
    const { group, version, plural } = KINDS[w.kind];
    await custom.createNamespacedCustomObject({
      group,
      version,
      namespace: w.namespace,
      plural,
      body: workloadObject(w),
    });
  }
}

export async function createNamespaces(admin: KubeConfig, names: readonly string[]): Promise<void> {
  const core = kubeClients(admin).core;
  for (const name of names) await core.createNamespace({ body: { metadata: { name } } });
}

/** The live object, as JSON. */
export async function readWorkload(
  http: KubeHttp,
  kind: WorkloadKind,
  namespace: string,
  name: string,
): Promise<Record<string, unknown>> {
  return (await http.get<Record<string, unknown>>(objectPath(KINDS[kind], namespace, name))).data;
}

/** Container name → image, init containers included, of a live workload. */
export async function imagesOf(
  http: KubeHttp,
  kind: WorkloadKind,
  namespace: string,
  name: string,
): Promise<Record<string, string>> {
  const object = await readWorkload(http, kind, namespace, name);
  const all = templateContainers(KINDS[kind], object);
  return Object.fromEntries(all.map((c) => [c.name, c.image]));
}

/** Where onpush wrote its marks on a live workload (the template, or the Rollout itself). */
export async function marksOf(
  http: KubeHttp,
  kind: WorkloadKind,
  namespace: string,
  name: string,
): Promise<Record<string, string>> {
  const object = await readWorkload(http, kind, namespace, name);
  const path =
    KINDS[kind].marks === 'object'
      ? ['metadata', 'annotations']
      : [...KINDS[kind].templatePath, 'metadata', 'annotations'];
  return (dig(object, path) as Record<string, string> | undefined) ?? {};
}

/** What a controller would write to the status subresource once the rollout is done. */
export function doneStatus(kind: WorkloadKind, object: unknown): Record<string, unknown> {
  const generation = Number(dig(object, ['metadata', 'generation']) ?? 1);
  switch (kind) {
    case 'StatefulSet':
      return {
        observedGeneration: generation,
        replicas: 1,
        readyReplicas: 1,
        updatedReplicas: 1,
        availableReplicas: 1,
        currentRevision: `rev-${generation}`,
        updateRevision: `rev-${generation}`,
      };
    case 'DaemonSet':
      return {
        observedGeneration: generation,
        desiredNumberScheduled: 2,
        currentNumberScheduled: 2,
        numberMisscheduled: 0,
        numberReady: 2,
        updatedNumberScheduled: 2,
        numberAvailable: 2,
      };
    case 'Rollout':
      return {
        observedGeneration: String(generation),
        phase: 'Healthy',
        restartedAt: dig(object, ['spec', 'restartAt']),
        replicas: 1,
        updatedReplicas: 1,
        readyReplicas: 1,
        availableReplicas: 1,
      };
    default:
      return {
        observedGeneration: generation,
        replicas: 1,
        updatedReplicas: 1,
        readyReplicas: 1,
        availableReplicas: 1,
      };
  }
}

/** Writes `status` to the workload's status subresource, as its controller would. */
export async function writeStatus(
  http: KubeHttp,
  kind: WorkloadKind,
  namespace: string,
  name: string,
  status: Record<string, unknown>,
): Promise<void> {
  await http.patch(
    `${objectPath(KINDS[kind], namespace, name)}/status`,
    { status },
    PatchStrategy.MergePatch,
  );
}

/** The minimal Argo Rollouts CRD (argoproj.io/v1alpha1 rollouts) with a status subresource. */
export async function installRolloutCrd(admin: KubeConfig): Promise<void> {
  const extensions = admin.makeApiClient(ApiextensionsV1Api);
  const open = { type: 'object', x_kubernetes_preserve_unknown_fields: true };
  const body: V1CustomResourceDefinition = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'rollouts.argoproj.io' },
    spec: {
      group: 'argoproj.io',
      scope: 'Namespaced',
      names: { kind: 'Rollout', plural: 'rollouts', singular: 'rollout', listKind: 'RolloutList' },
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: { openAPIV3Schema: { type: 'object', properties: { spec: open, status: open } } },
        },
      ],
    },
  };
  await extensions.createCustomResourceDefinition({ body });
  const http = await kubeHttp(admin);
  try {
    await eventually('the Rollout kind to be served', async () => {
      await http.get(collectionPath(KINDS.Rollout));
      return true;
    });
  } finally {
    http.close();
  }
}
