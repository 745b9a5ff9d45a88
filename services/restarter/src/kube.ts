import type { WorkloadRef } from '@onpush/contracts';
import { toKubeApiError, type KubeHttp } from '@onpush/kube';
import type { TokenBucket } from '@onpush/service';
import type { CallOptions, PatchInput, Patched, RestartEffects } from './machine.js';
import type { KubeRequestCounter } from './metrics.js';
import { annotatePatchStatus } from './telemetry.js';
import { WORKLOAD_APIS, workloadApi, type ApiResponse, type WorkloadApis } from './workloads.js';

export interface KubeEffectsDeps {
  /** A keep-alive client: the hot path must not open a TLS connection per request. */
  http: KubeHttp;
  /** Every API call waits for a token first. */
  bucket: TokenBucket;
  requests: KubeRequestCounter;
  apis?: WorkloadApis;
  now?: () => Date;
}

/**
 * The restart machine's effects against the real API server: rate-limited, counted by verb and
 * code, and failing with KubeApiError (type `http_<code>` or `network`, retryable, retryAfterMs).
 */
export function kubeEffects(deps: KubeEffectsDeps): RestartEffects {
  const apis = deps.apis ?? WORKLOAD_APIS;
  const now = deps.now ?? (() => new Date());

  async function call<T>(
    verb: 'get' | 'patch',
    request: () => Promise<ApiResponse<T>>,
    options: CallOptions = {},
  ): Promise<T> {
    if (!options.prepaid) await deps.bucket.take();
    try {
      const response = await request();
      deps.requests.inc({ verb, code: String(response.status) });
      if (verb === 'patch') annotatePatchStatus(response.status);
      return response.data;
    } catch (cause) {
      const error = toKubeApiError(cause);
      if (verb === 'patch') annotatePatchStatus(error.status);
      deps.requests.inc({
        verb,
        code: error.status === undefined ? 'error' : String(error.status),
      });
      throw error;
    }
  }

  return {
    async read(workload: WorkloadRef, options?: CallOptions) {
      const api = workloadApi(apis, workload.kind, deps.http);
      return await call('get', () => api.read(workload), options);
    },
    async patch(workload: WorkloadRef, input: PatchInput, options?: CallOptions): Promise<Patched> {
      const { resourceVersion, images, source, eventId, digest, pushedAt, rolledBack } = input;
      const api = workloadApi(apis, workload.kind, deps.http);
      const mark = { eventId, digest, pushedAt, rolledBack, at: now() };
      const change = { mark, images, source };
      const { generation, snapshot } = await call(
        'patch',
        () => api.patch(workload, change, resourceVersion),
        options,
      );
      return { respondedAt: now(), generation, ...(snapshot !== undefined ? { snapshot } : {}) };
    },
  };
}
