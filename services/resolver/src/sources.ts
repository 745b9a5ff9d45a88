// Where workloads come from, one source per kind. A source knows how to list its kind in one
// call (the rebuild), how to watch it (an informer: list + watch, re-listing on 410 Gone) and
// how to read the containers out of an object. StatefulSets, DaemonSets and CronJobs are one
// more source each.
import {
  makeInformer,
  type Informer,
  type KubernetesObject,
  type ObjectCache,
  type V1Deployment,
  type V1PodSpec,
} from '@kubernetes/client-node';
import type { WorkloadKind } from '@onpush/contracts';
import { LABELS, type KubeClients } from '@onpush/kube';
import type { ContainerImage, IndexedWorkload } from './index-store.js';

/** `labelled`: only workloads labelled `onpush.dev/enabled=true`; `all`: every workload. */
export type Selection = 'labelled' | 'all';

export type WorkloadInformer<T extends KubernetesObject> = Informer<T> &
  Pick<ObjectCache<T>, 'list'>;

export interface WorkloadSource<T extends KubernetesObject = KubernetesObject> {
  readonly kind: WorkloadKind;
  /** Every selected workload of this kind, in one list call. */
  list(): Promise<IndexedWorkload[]>;
  /** A new informer (not started) over the same selection. */
  informer(): WorkloadInformer<T>;
  /** The workload an object describes, or undefined when it has no name or namespace. */
  toWorkload(object: T): IndexedWorkload | undefined;
}

export function labelSelector(selection: Selection): string | undefined {
  return selection === 'labelled' ? `${LABELS.enabled}=true` : undefined;
}

/** Init containers (native sidecars among them) first, then the app containers. */
export function podContainers(spec: V1PodSpec | undefined): ContainerImage[] {
  const all = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
  return all.flatMap((c) => (c.image ? [{ name: c.name, image: c.image }] : []));
}

export function deploymentWorkload(deployment: V1Deployment): IndexedWorkload | undefined {
  const namespace = deployment.metadata?.namespace;
  const name = deployment.metadata?.name;
  if (!namespace || !name) return undefined;
  return {
    kind: 'Deployment',
    namespace,
    name,
    containers: podContainers(deployment.spec?.template.spec),
  };
}

/** Deployments across all namespaces, through the apps/v1 API. */
export function deploymentSource(
  kube: Pick<KubeClients, 'config' | 'apps'>,
  selection: Selection,
): WorkloadSource<V1Deployment> {
  const selector = labelSelector(selection);
  const listAll = () =>
    kube.apps.listDeploymentForAllNamespaces(
      selector === undefined ? {} : { labelSelector: selector },
    );
  return {
    kind: 'Deployment',
    async list() {
      const listed = await listAll();
      return listed.items.flatMap((d) => deploymentWorkload(d) ?? []);
    },
    informer: () => makeInformer(kube.config, '/apis/apps/v1/deployments', listAll, selector),
    toWorkload: deploymentWorkload,
  };
}
