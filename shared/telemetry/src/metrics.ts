import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Seconds; from sub-millisecond hops to multi-second API stalls. */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** One registry per service, with Node's default process metrics and the stage's own. */
export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    messages: new Counter({
      name: 'onpush_messages_total',
      help: 'Messages handled by this stage, by result (acked, retried, dead)',
      labelNames: ['stage', 'result'] as const,
      registers: [registry],
    }),
    handling: new Histogram({
      name: 'onpush_handling_duration_seconds',
      help: 'Time to handle one message in this stage, from delivery to ack or NAK',
      labelNames: ['stage'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    fates: new Counter({
      name: 'onpush_fates_total',
      help: 'Terminal fates published, by fate',
      labelNames: ['fate'] as const,
      registers: [registry],
    }),
    received: new Counter({
      name: 'onpush_events_received_total',
      help: 'Events received, by source',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    ready: new Gauge({
      name: 'onpush_ready',
      help: '1 when the service is running with its dependencies, 0 otherwise',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
export { Counter, Gauge, Histogram, type Registry };
