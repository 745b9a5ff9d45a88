// The kinds the resolver watches: the configured ones, Argo Rollouts only when the API server
// serves them (its CRD may well not be installed). Checked once, when the resolver connects; a
// failed check fails the connect, which the service retries — "unknown" never means "absent".
import type { WorkloadKind } from '@onpush/contracts';
import type { Logger } from '@onpush/telemetry';

export async function activeKinds(
  wanted: readonly WorkloadKind[],
  hasRollouts: () => Promise<boolean>,
  log: Logger,
): Promise<WorkloadKind[]> {
  const kinds = wanted.filter((kind) => kind !== 'Rollout');
  if (!wanted.includes('Rollout')) return kinds;
  if (await hasRollouts()) return [...kinds, 'Rollout'];
  log.info('Argo Rollouts not served by this cluster: Rollouts are not watched');
  return kinds;
}
