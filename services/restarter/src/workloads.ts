// How each kind is read and patched, by path over the keep-alive KubeHttp (the hot path), from
// the one kind table of @onpush/kube. A plain restart of a built-in kind sends exactly the
// strategic-merge patch `kubectl rollout restart` sends (plus onpush's marks), conditional on the
// resourceVersion read; an Argo Rollout gets `spec.restartAt` by JSON merge patch, its marks on
// its own metadata. Image changes (pin, semver/glob/regex) merge by container name (built-in
// kinds) or send the container arrays whole (a custom resource: merge patch replaces arrays).
import type { WorkloadKind, WorkloadRef } from '@onpush/contracts';
import {
  KINDS,
  PatchStrategy,
  dig,
  nest,
  managedBy,
  objectPath,
  restartMarks,
  restartTime,
  viewOf,
  type KindSpec,
  type KubeHttp,
  type RestartMark,
} from '@onpush/kube';
import { snapshotFromView, type ImageChange, type WorkloadSnapshot } from './decide.js';
import { RestartError } from './errors.js';

/** One API response: the HTTP status (for metrics) and what the caller needs from the body. */
export interface ApiResponse<T> {
  status: number;
  data: T;
}

/** What to write: the marks (and restart), and the containers that move to another image. */
export interface WorkloadChange {
  mark: RestartMark;
  images?: readonly ImageChange[] | undefined;
  /** The object as read; needed to send container arrays whole (JSON merge patch). */
  source?: unknown;
}

/** How to read and restart one kind of workload. Calls reject with KubeApiError. */
export interface WorkloadApi {
  /** GET: the marks, the object's annotations, the template's containers, the resourceVersion. */
  read(ref: WorkloadRef): Promise<ApiResponse<WorkloadSnapshot>>;
  /** PATCH the change; with a resourceVersion, only if the object still has it (else 409). */
  patch(
    ref: WorkloadRef,
    change: WorkloadChange,
    resourceVersion: string | undefined,
  ): Promise<ApiResponse<{ generation?: number | undefined; snapshot?: WorkloadSnapshot }>>;
}

export type WorkloadApis = Partial<Record<WorkloadKind, (http: KubeHttp) => WorkloadApi>>;

interface KubeObject {
  metadata?: {
    resourceVersion?: string;
    generation?: number;
    annotations?: Record<string, string>;
  };
}

type Json = Record<string, unknown>;

/** For a strategic merge: `[{name, image}]` per changed container list (merged by name). */
function strategicContainers(images: readonly ImageChange[]): Json {
  const list = (init: boolean) =>
    images.filter((m) => m.init === init).map((m) => ({ name: m.container, image: m.to }));
  const [init, app] = [list(true), list(false)];
  return {
    ...(init.length ? { initContainers: init } : {}),
    ...(app.length ? { containers: app } : {}),
  };
}

/** For a merge patch: each changed list whole, as read, with the new images. */
function wholeContainers(spec: KindSpec, source: unknown, images: readonly ImageChange[]): Json {
  const podSpec = dig(source, [...spec.templatePath, 'spec']) as Json | undefined;
  const out: Json = {};
  for (const [field, init] of [
    ['initContainers', true],
    ['containers', false],
  ] as const) {
    const moved = images.filter((m) => m.init === init);
    const list = podSpec?.[field];
    if (moved.length === 0 || !Array.isArray(list)) continue;
    out[field] = (list as Json[]).map((c) => {
      const to = moved.find((m) => m.container === c['name'])?.to;
      return to === undefined ? c : { ...c, image: to };
    });
  }
  return out;
}

/** The patch body for `change` on a kind (see the file comment). */
export function patchBody(
  spec: KindSpec,
  change: WorkloadChange,
  resourceVersion: string | undefined,
): Json {
  const images = change.images ?? [];
  const marks = restartMarks(change.mark);
  const metadata: Json = {
    ...(resourceVersion !== undefined ? { resourceVersion } : {}),
    ...(spec.marks === 'object' ? { annotations: marks } : {}),
  };
  const containers =
    images.length === 0
      ? {}
      : spec.patch === 'strategic'
        ? strategicContainers(images)
        : wholeContainers(spec, change.source, images);
  const template: Json = {
    ...(spec.marks === 'template' ? { metadata: { annotations: marks } } : {}),
    ...(Object.keys(containers).length ? { spec: containers } : {}),
  };
  const body: Json = Object.keys(template).length ? nest(spec.templatePath, template) : {};
  if (spec.restart === 'restartAt' && images.length === 0) {
    body['spec'] = {
      ...(body['spec'] as Json | undefined),
      restartAt: restartTime(change.mark.at),
    };
  }
  return Object.keys(metadata).length ? { metadata, ...body } : body;
}

/** The snapshot the decision needs, from a GET's body. */
export function snapshotOf(spec: KindSpec, object: KubeObject): WorkloadSnapshot {
  return { ...snapshotFromView(viewOf(spec, object)), source: object };
}

/** The API of one kind, from the kind table. */
export function kindApi(spec: KindSpec) {
  return (http: KubeHttp): WorkloadApi => {
    const path = ({ namespace, name }: WorkloadRef) => objectPath(spec, namespace, name);
    const contentType =
      spec.patch === 'strategic' ? PatchStrategy.StrategicMergePatch : PatchStrategy.MergePatch;
    return {
      async read(ref) {
        const res = await http.get<KubeObject>(path(ref));
        return { status: res.status, data: snapshotOf(spec, res.data) };
      },
      async patch(ref, change, resourceVersion) {
        const body = patchBody(spec, change, resourceVersion);
        const res = await http.patch<KubeObject | undefined>(
          managedBy(path(ref)),
          body,
          contentType,
        );
        const object = res.data;
        return {
          status: res.status,
          data: {
            generation: object?.metadata?.generation,
            // the object as our PATCH left it: a fresher view than the watch's, for the next push
            ...(object?.metadata !== undefined ? { snapshot: snapshotOf(spec, object) } : {}),
          },
        };
      },
    };
  };
}

/** The kinds the restarter can restart: every kind of the table. */
export const WORKLOAD_APIS: WorkloadApis = {
  Deployment: kindApi(KINDS.Deployment),
  StatefulSet: kindApi(KINDS.StatefulSet),
  DaemonSet: kindApi(KINDS.DaemonSet),
  CronJob: kindApi(KINDS.CronJob),
  Rollout: kindApi(KINDS.Rollout),
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
