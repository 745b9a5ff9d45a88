import { Counter, type Registry } from '@onpush/telemetry';

export type KubeRequestCounter = Counter<'verb' | 'code'>;

/** `onpush_kube_requests_total{verb, code}`: every Kubernetes API call; code `error` when no response came. */
export function kubeRequestCounter(registry: Registry): KubeRequestCounter {
  return new Counter({
    name: 'onpush_kube_requests_total',
    help: 'Kubernetes API requests, by verb and HTTP status code (error: no response)',
    labelNames: ['verb', 'code'] as const,
    registers: [registry],
  });
}
