import { KubeApiError } from './errors.js';
import type { KubeHttp } from './http.js';
import { KINDS } from './kinds.js';

interface ResourceList {
  resources?: { name?: string }[];
}

/**
 * True when the API server serves Argo Rollouts (`argoproj.io/v1alpha1`, resource `rollouts`):
 * the discovery document every authenticated client may read (no RBAC rule needed). False on a
 * 404 (the CRD is not installed); any other failure is thrown (KubeApiError), since "unknown" must
 * not silently become "absent".
 */
export async function discoverRollouts(http: Pick<KubeHttp, 'get'>): Promise<boolean> {
  const { group, version, plural } = KINDS.Rollout;
  try {
    const res = await http.get<ResourceList>(`/apis/${group}/${version}`);
    return (res.data.resources ?? []).some((r) => r.name === plural);
  } catch (error) {
    if (error instanceof KubeApiError && error.status === 404) return false;
    throw error;
  }
}
