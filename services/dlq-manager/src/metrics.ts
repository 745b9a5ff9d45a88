import { counter, Gauge, type Logger, type Registry } from '@onpush/telemetry';
import type { DlqStats } from '@onpush/dlq';

/** The dlq-manager's own metrics, beside the common ones of createMetrics. */
export function createDlqMetrics(registry: Registry) {
  return {
    depth: new Gauge({
      name: 'onpush_dlq_depth',
      help: 'Dead letters stored in ONPUSH_DLQ',
      registers: [registry],
    }),
    oldestAge: new Gauge({
      name: 'onpush_dlq_oldest_age_seconds',
      help: 'Age of the oldest dead letter in ONPUSH_DLQ, 0 when it is empty',
      registers: [registry],
    }),
    deadLetters: counter(
      registry,
      'onpush_dead_letters_total',
      'Dead letters seen by the dlq-manager, by stage and reason (invalid_entry: not a DeadLetter)',
      ['stage', 'reason'],
    ),
  };
}

export type DlqMetrics = ReturnType<typeof createDlqMetrics>;

export interface StatsUpdater {
  /** Asks for a refresh; calls during a refresh coalesce into one more. */
  update(): void;
  stop(): void;
}

/**
 * Keeps the depth and oldest-age gauges current from stream info: every `intervalMs` (purges
 * and age-outs happen without a message) and after each dead letter, one request at a time.
 */
export function statsUpdater(
  stats: () => Promise<DlqStats>,
  metrics: DlqMetrics,
  log: Logger,
  intervalMs: number,
): StatsUpdater {
  let running = false;
  let again = false;
  const update = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    void stats()
      .then((s) => {
        metrics.depth.set(s.depth);
        metrics.oldestAge.set(s.oldestAgeSeconds);
      })
      .catch((error: unknown) => log.warn('dlq stats unavailable', { error }))
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          update();
        }
      });
  };
  const timer = setInterval(update, intervalMs);
  timer.unref();
  return { update, stop: () => clearInterval(timer) };
}
