import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { createDlqMetrics, statsUpdater } from './metrics.js';
import type { DlqStats } from '@onpush/dlq';

afterEach(() => {
  vi.useRealTimers();
});

describe('statsUpdater', () => {
  it('sets the gauges from stream info, coalesces bursts, and refreshes on a timer', async () => {
    vi.useFakeTimers();
    const base = createMetrics('dlq-manager-test');
    const metrics = createDlqMetrics(base.registry);
    let calls = 0;
    let depth = 3;
    const stats = (): Promise<DlqStats> => {
      calls += 1;
      return Promise.resolve({ depth, oldestAgeSeconds: 90 });
    };
    const updater = statsUpdater(
      stats,
      metrics,
      createLogger({}, { write: () => undefined }),
      15_000,
    );
    updater.update();
    updater.update();
    updater.update();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toBe(2); // one running, the burst coalesced into one more
    const text = await base.registry.metrics();
    expect(text).toContain('onpush_dlq_depth{service="dlq-manager-test"} 3');
    expect(text).toContain('onpush_dlq_oldest_age_seconds{service="dlq-manager-test"} 90');
    depth = 0;
    await vi.advanceTimersByTimeAsync(15_000);
    expect(calls).toBe(3);
    expect(await base.registry.metrics()).toContain(
      'onpush_dlq_depth{service="dlq-manager-test"} 0',
    );
    updater.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toBe(3);
  });
});
