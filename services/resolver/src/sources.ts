// Where workloads come from: one source per kind (and per namespace when the namespaces are a
// fixed list, so a Role per namespace is all the resolver needs). A source lists its kind in one
// call (the rebuild), watches it (an informer: list + watch, re-listing on 410 Gone) and reads the
// counted containers and the policy out of an object. Every kind goes through the same generic
// path (`/apis/<group>/<version>/...`), custom resources (Argo Rollouts) included.
import {
  CustomObjectsApi,
  ListWatch,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
  type Informer,
  type V1Deployment,
  type V1PodSpec,
} from '@kubernetes/client-node';
import type { WorkloadKind } from '@onpush/contracts';
import {
  ANNOTATIONS,
  KINDS,
  collectionPath,
  counts,
  readSettings,
  templateContainers,
  fieldSelector,
  labelSelector,
  namespaceInScope,
  optedIn,
  scopeOf,
  type KubeClients,
  type Scope,
  type Selection,
} from '@onpush/kube';
import type { ContainerImage, IndexedWorkload, WorkloadId } from '@onpush/image-index';
import type { WavePlan } from './config.js';

export type WorkloadInformer<T extends KubernetesObject> = Informer<T> &
  Pick<ObjectCache<T>, 'list' | 'get'>;

export interface WorkloadSource<T extends KubernetesObject = KubernetesObject> {
  readonly kind: WorkloadKind;
  /** The one namespace this source watches; undefined: every namespace. */
  readonly namespace?: string | undefined;
  /** Every selected workload of this kind (in its namespace), in one list call. */
  list(): Promise<IndexedWorkload[]>;
  /** A new informer (not started) over the same selection. */
  informer(): WorkloadInformer<T>;
  /** The workload an object describes, or undefined when it is not selected (or has no name). */
  toWorkload(object: T): IndexedWorkload | undefined;
  /** The workload an object names, selected or not (so one that left the selection is dropped). */
  idOf(object: T): WorkloadId | undefined;
}

export { labelSelector, type Selection } from '@onpush/kube';

/** Init containers (native sidecars among them) first, then the app containers. */
export function podContainers(spec: V1PodSpec | undefined): ContainerImage[] {
  const all = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
  return all.flatMap((c) => (c.image ? [{ name: c.name, image: c.image }] : []));
}

function idOf(kind: WorkloadKind, object: KubernetesObject): WorkloadId | undefined {
  const namespace = object.metadata?.namespace;
  const name = object.metadata?.name;
  return namespace && name ? { kind, namespace, name } : undefined;
}

/** The workload as the index holds it: counted containers and policy; undefined when not selected. */
export function workloadOf(
  kind: WorkloadKind,
  scope: Scope,
  object: KubernetesObject,
  waves?: WavePlan,
): IndexedWorkload | undefined {
  const id = idOf(kind, object);
  if (!id || !namespaceInScope(scope, id.namespace) || !optedIn(scope, object.metadata)) {
    return undefined;
  }
  const annotations = object.metadata?.annotations;
  const settings = readSettings(annotations, waves?.names);
  const containers = templateContainers(KINDS[kind], object)
    .filter((c) => counts(settings, c.name))
    .map(({ name, image }) => ({ name, image }));
  const policy = annotations?.[ANNOTATIONS.policy];
  // its own wave, else its namespace's (WAVE_NAMESPACES)
  const wave = settings.wave ?? waves?.namespaces[id.namespace];
  return {
    ...id,
    containers,
    ...(policy !== undefined ? { policy } : {}),
    ...(wave !== undefined ? { wave } : {}),
  };
}

export function deploymentWorkload(deployment: V1Deployment): IndexedWorkload | undefined {
  return workloadOf('Deployment', scopeOf('all'), deployment);
}

/** Workloads of `kind` in the scope, in `namespace` (or in every namespace). */
export function workloadSource(
  config: KubeConfig,
  kind: WorkloadKind,
  selection: Selection | Scope,
  namespace?: string,
  waves?: WavePlan,
): WorkloadSource {
  const scope = scopeOf(selection);
  const { group, version, plural } = KINDS[kind];
  const custom = config.makeApiClient(CustomObjectsApi);
  const labels = labelSelector(scope);
  const fields = namespace === undefined ? fieldSelector(scope) : undefined;
  const filters = {
    ...(labels !== undefined ? { labelSelector: labels } : {}),
    ...(fields !== undefined ? { fieldSelector: fields } : {}),
  };
  const listAll = (): Promise<KubernetesListObject<KubernetesObject>> =>
    namespace === undefined
      ? custom.listClusterCustomObject({ group, version, plural, ...filters })
      : custom.listNamespacedCustomObject({ group, version, namespace, plural, ...filters });
  const toWorkload = (object: KubernetesObject) => workloadOf(kind, scope, object, waves);
  return {
    kind,
    namespace,
    async list() {
      return (await listAll()).items.flatMap((o) => toWorkload(o) ?? []);
    },
    informer: () =>
      new ListWatch(
        collectionPath(KINDS[kind], namespace),
        new Watch(config),
        listAll,
        false,
        labels,
        fields,
      ),
    toWorkload,
    idOf: (object) => idOf(kind, object),
  };
}

/** Every source the scope needs: each kind, in each watched namespace. */
export function workloadSources(
  config: KubeConfig,
  kinds: readonly WorkloadKind[],
  scope: Scope,
  namespaces: readonly (string | undefined)[],
  waves?: WavePlan,
): WorkloadSource[] {
  return kinds.flatMap((kind) =>
    namespaces.map((ns) => workloadSource(config, kind, scope, ns, waves)),
  );
}

/** Deployments across all namespaces (kept for callers of the first version). */
export function deploymentSource(
  kube: Pick<KubeClients, 'config'>,
  selection: Selection,
): WorkloadSource {
  return workloadSource(kube.config, 'Deployment', selection);
}
