// A workload's rollout as the API server has it now: one GET, on the restarter's rate limit. For
// what must survive a restart of the restarter — a wave's gate, a rollout followed for an
// automatic rollback — where the tracker's watch (in one process's memory) cannot be relied on.
import type { WorkloadRef } from '@onpush/contracts';
import { KINDS, dig, objectPath, readSettings, toKubeApiError, type KubeHttp } from '@onpush/kube';
import type { KubeRequestCounter } from '../metrics.js';
import { pruned, type RolloutObject } from './status.js';

export interface ReadWorkload {
  /** What its rollout is judged on (rolloutState). */
  readonly object: RolloutObject;
  /** Its `onpush.dev/soak`, ms. */
  readonly soakMs: number | undefined;
  /** onpush's marks, where the kind keeps them (which push it carries, a rollback). */
  readonly marks: Readonly<Record<string, string>>;
  readonly resourceVersion: string | undefined;
  /** The whole object (a JSON merge patch sends container arrays whole). */
  readonly source: unknown;
}

/** The workload now; undefined: it is gone (404). */
export type ReadRollout = (workload: WorkloadRef) => Promise<ReadWorkload | undefined>;

type Json = RolloutObject & {
  metadata?: { annotations?: Record<string, string>; resourceVersion?: string };
};

export function apiRolloutReader(deps: {
  http: KubeHttp;
  bucket: { take(): Promise<void> };
  requests?: Pick<KubeRequestCounter, 'inc'>;
}): ReadRollout {
  return async (workload) => {
    await deps.bucket.take();
    const spec = KINDS[workload.kind];
    try {
      const res = await deps.http.get<Json>(objectPath(spec, workload.namespace, workload.name));
      deps.requests?.inc({ verb: 'get', code: String(res.status) });
      const annotations = res.data.metadata?.annotations;
      const marks =
        spec.marks === 'object'
          ? annotations
          : (dig(res.data, [...spec.templatePath, 'metadata', 'annotations']) as
              | Record<string, string>
              | undefined);
      return {
        object: pruned(res.data),
        soakMs: readSettings(annotations).soakMs,
        marks: marks ?? {},
        resourceVersion: res.data.metadata?.resourceVersion,
        source: res.data,
      };
    } catch (cause) {
      const error = toKubeApiError(cause);
      deps.requests?.inc({ verb: 'get', code: String(error.status ?? 'error') });
      if (error.status === 404) return undefined;
      throw error;
    }
  };
}
