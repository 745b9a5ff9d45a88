import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Seconds; from sub-millisecond hops to multi-second API stalls. */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** A counter registered in `registry`, counted by `labels`. */
export function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labels: readonly L[],
): Counter<L> {
  return new Counter({ name, help, labelNames: labels, registers: [registry] });
}

/**
 * How often the event-loop delay histogram (`nodejs_eventloop_lag_p99_seconds`, …) samples, in ms.
 * prom-client's default, 10 ms, wakes every process 100 times a second to take a sample: on the
 * benchmark's machine that was most of a service's CPU at low rates (3.7 ms of CPU per second per
 * process idle, measured; more on a busy machine, where each wake-up costs more). At 250 ms a
 * 30 s scrape still holds 120 samples and a stall of a quarter of a second is always seen; the
 * `nodejs_eventloop_lag_seconds` gauge is measured at each scrape, as before.
 */
export const EVENT_LOOP_SAMPLE_MS = 250;

/** One registry per service, with Node's default process metrics and the stage's own. */
export function createMetrics(
  service: string,
  /** A fleet cluster's name (CLUSTER_NAME): label `k8s_cluster_name` on every series. */
  cluster?: string,
) {
  const registry = new Registry();
  registry.setDefaultLabels({ service, ...(cluster ? { k8s_cluster_name: cluster } : {}) });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  return {
    registry,
    messages: counter(
      registry,
      'onpush_messages_total',
      'Messages handled by this stage, by result (acked, retried, dead)',
      ['stage', 'result'],
    ),
    handling: new Histogram({
      name: 'onpush_handling_duration_seconds',
      help: 'Time to handle one message in this stage, from delivery to ack or NAK',
      labelNames: ['stage'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    fates: counter(registry, 'onpush_fates_total', 'Terminal fates published, by fate', ['fate']),
    received: counter(registry, 'onpush_events_received_total', 'Events received, by source', [
      'source',
    ]),
    ready: new Gauge({
      name: 'onpush_ready',
      help: '1 when the service is running with its dependencies, 0 otherwise',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
export { Counter, Gauge, Histogram, type Registry };

/** Seconds from a registry's push to the PATCH response: sub-second to minutes (backlog, retries). */
export const PUSH_TO_RESTART_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** `onpush_push_to_restart_seconds`: the registry's publish time to the PATCH response. */
export function pushToRestartHistogram(registry: Registry): Histogram {
  return new Histogram({
    name: 'onpush_push_to_restart_seconds',
    help: "Time from the registry's publish of a push to the response of the PATCH that restarted a workload",
    buckets: PUSH_TO_RESTART_BUCKETS,
    registers: [registry],
  });
}

export interface ConsumerLag {
  /** Messages in the stream not yet delivered to the consumer (num_pending). */
  pending: number;
  /** Messages delivered and not yet acknowledged (num_ack_pending). */
  ackPending: number;
}

type LagReader = () => Promise<ConsumerLag | undefined>;
const lagReaders = new WeakMap<Registry, Map<string, LagReader>>();

/** Reads every consumer's lag once per scrape (both gauges share it); a failed read is skipped. */
function lagSnapshot(readers: Map<string, LagReader>): () => Promise<Map<string, ConsumerLag>> {
  let last: Promise<Map<string, ConsumerLag>> | undefined;
  const read = async (): Promise<Map<string, ConsumerLag>> => {
    const entries = await Promise.all(
      [...readers].map(
        async ([consumer, reader]) => [consumer, await reader().catch(() => undefined)] as const,
      ),
    );
    return new Map(entries.filter((e): e is [string, ConsumerLag] => e[1] !== undefined));
  };
  return () => (last ??= read().finally(() => setTimeout(() => (last = undefined), 100).unref()));
}

function lagGauges(registry: Registry, readers: Map<string, LagReader>): void {
  const snapshot = lagSnapshot(readers);
  const gauge = (name: string, help: string, pick: (lag: ConsumerLag) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['consumer'] as const,
      registers: [registry],
      async collect() {
        for (const [consumer, lag] of await snapshot()) this.set({ consumer }, pick(lag));
      },
    });
  };
  gauge(
    'onpush_consumer_pending_messages',
    'Messages in the stream not yet delivered to the durable consumer (num_pending)',
    (lag) => lag.pending,
  );
  gauge(
    'onpush_consumer_ack_pending_messages',
    'Messages delivered to the durable consumer and not yet acknowledged (num_ack_pending)',
    (lag) => lag.ackPending,
  );
}

/**
 * `onpush_consumer_pending_messages{consumer}` and `onpush_consumer_ack_pending_messages{consumer}`,
 * read from the consumer's info when Prometheus scrapes. Several consumers of one service (the
 * dlq-manager has two) share the gauges. A failed read keeps the last values.
 */
export function consumerLagGauges(registry: Registry, consumer: string, read: LagReader): void {
  let readers = lagReaders.get(registry);
  if (readers === undefined) {
    readers = new Map();
    lagReaders.set(registry, readers);
    lagGauges(registry, readers);
  }
  readers.set(consumer, read);
}
