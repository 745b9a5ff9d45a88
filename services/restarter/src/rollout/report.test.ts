import { describe, expect, it, vi } from 'vitest';
import type { Outcome, RestartRequest } from '@onpush/contracts';
import { notificationOf, type Notifier, type TraceContext } from '@onpush/notify';
import { createLogger } from '@onpush/telemetry';
import { rolloutOutcome, trackRequest } from './outcome.js';
import { rolloutReporter } from './report.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

/** A notifier that only hands each notification to `notify`. */
const notifierOf = (notify: Notifier['notify']): Notifier => ({
  notify,
  announce: () => undefined,
  pending: 0,
  close: () => Promise.resolve(),
});

/** A completed rollout of shop/web, restarted by `eventId`. */
const completed = (eventId: string): Outcome =>
  rolloutOutcome(
    trackRequest(
      {
        v: 1,
        eventId,
        image: 'ghcr.io/acme/web',
        workload: { kind: 'Deployment', namespace: 'shop', name: 'web', containers: ['main'] },
      },
      { respondedAt: new Date('2026-11-26T10:00:00.000Z') },
    ),
    { end: 'completed', detail: 'ready' },
    new Date('2026-11-26T10:01:00.000Z'),
  );

describe('rollout reporter', () => {
  it("notifies a rollout's outcome with the trace id of the push that restarted it", async () => {
    const request: RestartRequest = {
      v: 1,
      eventId: 'evt-1',
      image: 'ghcr.io/acme/web',
      tag: '1.2',
      workload: { kind: 'Deployment', namespace: 'shop', name: 'web', containers: ['main'] },
    };
    const tracked = trackRequest(
      request,
      { respondedAt: new Date('2026-11-26T10:00:00.000Z'), notify: ['ops'] },
      { traceparent: TRACEPARENT },
    );
    expect(tracked.traceparent).toBe(TRACEPARENT);
    const outcome = rolloutOutcome(
      tracked,
      { end: 'failed', reason: 'timeout', detail: 'not ready' },
      new Date('2026-11-26T10:10:00.000Z'),
    );

    const notified: [Outcome, readonly string[] | undefined, TraceContext | undefined][] = [];
    const notifier = notifierOf(
      (o, annotation, trace) => void notified.push([o, annotation, trace]),
    );
    const report = rolloutReporter({
      publish: () => undefined,
      notifier,
      log: createLogger({ test: 'report' }, { write: () => undefined }),
      retriesMs: [],
    });
    report(outcome, tracked.notify, tracked.traceparent);

    // (told once the publish ended: here it failed, and people are told all the same)
    await vi.waitFor(() => expect(notified).toHaveLength(1));
    const [o, annotation, trace] = notified[0]!;
    expect(annotation).toEqual(['ops']);
    expect(notificationOf(o, trace)).toMatchObject({
      event: 'rollout-failed',
      traceId: TRACE_ID,
      traceparent: TRACEPARENT,
    });
  });

  it('tells nobody of a rollout another replica stored first (same message id)', async () => {
    const outcome = completed('evt-2');
    const told: string[] = [];
    const stored = new Set<string>();
    const report = rolloutReporter({
      publish:
        () =>
        (_subject, _data, { msgId }) => {
          const duplicate = stored.has(msgId);
          stored.add(msgId);
          return Promise.resolve({ stream: 'ONPUSH_OUTCOMES', seq: stored.size, duplicate });
        },
      notifier: notifierOf((o) => void told.push(`notified ${o.eventId}`)),
      log: createLogger({ test: 'report' }, { write: () => undefined }),
      onOutcome: (o) => told.push(`event ${o.eventId}`),
    });
    report(outcome, undefined);
    report(outcome, undefined);
    await vi.waitFor(() => expect(told).toEqual(['notified evt-2', 'event evt-2']));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(told).toHaveLength(2);
  });

  it('tells when a retry finds its own first attempt stored (its answer was lost)', async () => {
    const outcome = completed('evt-3');
    const told: string[] = [];
    let attempts = 0;
    const report = rolloutReporter({
      // stored on the first attempt, but the answer never came
      publish: () => () => {
        attempts += 1;
        return attempts === 1
          ? Promise.reject(new Error('timeout'))
          : Promise.resolve({ stream: 'ONPUSH_OUTCOMES', seq: 1, duplicate: true });
      },
      notifier: notifierOf((o) => void told.push(o.eventId)),
      log: createLogger({ test: 'report' }, { write: () => undefined }),
      retriesMs: [1],
    });
    report(outcome, undefined);
    await vi.waitFor(() => expect(told).toEqual(['evt-3']));
    expect(attempts).toBe(2);
  });
});
