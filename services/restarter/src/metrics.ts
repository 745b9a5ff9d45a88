import { counter, Gauge, type Counter, type Registry } from '@onpush/telemetry';

export type KubeRequestCounter = Counter<'verb' | 'code'>;
export type OutcomeCounter = Counter<'fate' | 'reason'>;

/** `onpush_restarter_outcomes_total{fate, reason}`: every workload fate, `refused` with why. */
export function outcomeCounter(registry: Registry): OutcomeCounter {
  return counter(
    registry,
    'onpush_restarter_outcomes_total',
    'Workload fates the restarter published, by fate and reason (refused: not_opted_in, namespace_out_of_scope, selector_mismatch, repository_mismatch)',
    ['fate', 'reason'],
  );
}

/** `onpush_kube_requests_total{verb, code}`: every Kubernetes API call; code `error` when no response came. */
export function kubeRequestCounter(registry: Registry): KubeRequestCounter {
  return counter(
    registry,
    'onpush_kube_requests_total',
    'Kubernetes API requests, by verb and HTTP status code (error: no response)',
    ['verb', 'code'],
  );
}

/** `onpush_rollouts_total{kind, result}`: rollouts followed, by how they ended. */
export function rolloutCounter(registry: Registry): Counter<'kind' | 'result'> {
  return counter(
    registry,
    'onpush_rollouts_total',
    'Rollouts followed after a restart, by kind and result (completed, failed, untracked, stopped, dropped)',
    ['kind', 'result'],
  );
}

/** `onpush_rollouts_following`: rollouts being followed now, read when Prometheus scrapes. */
export function followingGauge(registry: Registry, size: () => number): Gauge {
  return new Gauge({
    name: 'onpush_rollouts_following',
    help: 'Rollouts this replica follows now',
    registers: [registry],
    collect() {
      this.set(size());
    },
  });
}
