import type { WorkloadKind, WorkloadRef } from '@onpush/contracts';
import { PatchStrategy, restartPatch, type KubeHttp, type RestartMark } from '@onpush/kube';
import { RestartError } from './errors.js';
import type { WorkloadSnapshot } from './machine.js';

/** One API response: the HTTP status (for metrics) and what the caller needs from the body. */
export interface ApiResponse<T> {
  status: number;
  data: T;
}

/** How to read and restart one kind of workload. Calls reject with KubeApiError. */
export interface WorkloadApi {
  /** GET: the pod template's annotations and the object's resourceVersion. */
  read(ref: WorkloadRef): Promise<ApiResponse<WorkloadSnapshot>>;
  /**
   * PATCH: the restart mark onto the pod template, as `kubectl rollout restart` does; with a
   * resourceVersion, only if the object still has it (else 409 Conflict).
   */
  patch(
    ref: WorkloadRef,
    mark: RestartMark,
    resourceVersion: string | undefined,
  ): Promise<ApiResponse<undefined>>;
}

export type WorkloadApis = Partial<Record<WorkloadKind, (http: KubeHttp) => WorkloadApi>>;

/** A patch that carries `metadata.resourceVersion` is applied only to that version of the object. */
function conditional<T extends object>(patch: T, resourceVersion: string | undefined): T {
  return resourceVersion === undefined ? patch : { ...patch, metadata: { resourceVersion } };
}

interface PodTemplateOwner {
  metadata?: { resourceVersion?: string };
  spec?: { template?: { metadata?: { annotations?: Record<string, string> } } };
}

/** A kind whose pod template is `spec.template` (Deployment, StatefulSet, DaemonSet). */
function templated(group: string, plural: string) {
  return (http: KubeHttp): WorkloadApi => {
    const path = ({ namespace, name }: WorkloadRef): string =>
      `/apis/${group}/namespaces/${encodeURIComponent(namespace)}/${plural}/${encodeURIComponent(name)}`;
    return {
      async read(ref) {
        const res = await http.get<PodTemplateOwner>(path(ref));
        const annotations = res.data.spec?.template?.metadata?.annotations ?? {};
        return {
          status: res.status,
          data: { annotations, resourceVersion: res.data.metadata?.resourceVersion },
        };
      },
      async patch(ref, mark, resourceVersion) {
        const body = conditional(restartPatch(mark), resourceVersion);
        const res = await http.patch(path(ref), body, PatchStrategy.StrategicMergePatch);
        return { status: res.status, data: undefined };
      },
    };
  };
}

const deployment = templated('apps/v1', 'deployments');

/**
 * The kinds the restarter can restart. StatefulSet and DaemonSet take the same patch on
 * `spec.template` through their own endpoints; CronJob's template is under `spec.jobTemplate`.
 */
export const WORKLOAD_APIS: WorkloadApis = {
  Deployment: deployment,
};

/** The API for `kind`, or a permanent `unsupported_kind` error. */
export function workloadApi(apis: WorkloadApis, kind: WorkloadKind, http: KubeHttp): WorkloadApi {
  const api = apis[kind];
  if (api === undefined) {
    const known = Object.keys(apis).join(', ');
    throw new RestartError('unsupported_kind', `cannot restart a ${kind} (supported: ${known})`);
  }
  return api(http);
}
