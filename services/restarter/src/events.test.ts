import { describe, expect, it } from 'vitest';
import type { Outcome } from '@onpush/contracts';
import { createLogger } from '@onpush/telemetry';
import {
  createEventRecorder,
  eventBody,
  eventOfHold,
  eventOfOutcome,
  microTime,
} from './events.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const outcome = (fate: Outcome['fate'], extra: Partial<Outcome> = {}): Outcome => ({
  v: 1,
  eventId: 'gar:1',
  fate,
  stage: 'restarter',
  workload: { kind: 'Deployment', namespace: 'shop', name: 'web' },
  image: 'europe-docker.pkg.dev/p/r/web',
  tag: '1.2',
  digest: DIGEST,
  at: '2026-12-06T21:00:00.000Z',
  ...extra,
});

describe('the Event an outcome is worth', () => {
  it('says what onpush decided, for which push, and why', () => {
    expect(eventOfOutcome(outcome('restarted', { durationMs: 12.4 }))).toEqual({
      workload: { kind: 'Deployment', namespace: 'shop', name: 'web' },
      type: 'Normal',
      reason: 'Restarted',
      action: 'Restart',
      note: `restarted for europe-docker.pkg.dev/p/r/web:1.2@${DIGEST} (event gar:1), 12 ms after the push`,
    });
    const refused = eventOfOutcome(
      outcome('refused', { reason: 'not_opted_in', detail: 'no label' }),
    );
    expect(refused).toMatchObject({ type: 'Warning', reason: 'RestartRefused' });
    expect(refused?.note).toMatch(/not_opted_in: no label$/);
    expect(eventOfOutcome(outcome('unchanged', { reason: 'cooldown' }))).toMatchObject({
      type: 'Normal',
      reason: 'RestartSkipped',
    });
    expect(eventOfOutcome(outcome('would-restart'))).toMatchObject({ reason: 'WouldRestart' });
    const completed = eventOfOutcome(outcome('rollout-completed', { durationMs: 3_000 }));
    expect(completed).toMatchObject({
      type: 'Normal',
      reason: 'RolloutCompleted',
      action: 'Rollout',
    });
    expect(completed?.note).toMatch(/completed in 3000 ms$/);
    expect(
      eventOfOutcome(outcome('rollout-failed', { reason: 'progress_deadline_exceeded' })),
    ).toMatchObject({ type: 'Warning', reason: 'RolloutFailed' });
  });

  it('says until when a push is held for the maturity delay', () => {
    const held = eventOfHold(
      {
        eventId: 'gar:2',
        image: 'europe-docker.pkg.dev/p/r/web',
        tag: '1.2',
        workload: { kind: 'Deployment', namespace: 'shop', name: 'web', containers: ['app'] },
      },
      new Date('2026-12-06T21:10:00.000Z'),
    );
    expect(held).toMatchObject({ type: 'Normal', reason: 'RestartDelayed', action: 'Restart' });
    expect(held.note).toBe(
      'held for its maturity delay until 2026-12-06T21:10:00.000Z: europe-docker.pkg.dev/p/r/web:1.2 (event gar:2)',
    );
  });

  it('is none for a push superseded in a burst, a gone workload, or a namespace out of scope', () => {
    expect(eventOfOutcome(outcome('unchanged', { reason: 'superseded' }))).toBeUndefined();
    expect(eventOfOutcome(outcome('gone'))).toBeUndefined();
    expect(
      eventOfOutcome(outcome('refused', { reason: 'namespace_out_of_scope' })),
    ).toBeUndefined();
  });

  it('keeps a note within the 1 KiB Kubernetes allows', () => {
    const note = eventOfOutcome(
      outcome('refused', { reason: 'x', detail: 'y'.repeat(5_000) }),
    )?.note;
    expect(note?.length).toBe(1024);
  });
});

describe('the events.k8s.io/v1 Event', () => {
  it('regards the workload through its own API group and carries a MicroTime', () => {
    const event = eventOfOutcome(outcome('restarted'))!;
    const body = eventBody(event, 'restarter-7d9f', new Date('2026-12-06T21:00:00.123Z'));
    expect(body).toMatchObject({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { namespace: 'shop' },
      eventTime: '2026-12-06T21:00:00.123000Z',
      reportingController: 'onpush.dev/restarter',
      reportingInstance: 'restarter-7d9f',
      regarding: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web' },
    });
    expect((body as { metadata: { name: string } }).metadata.name).toMatch(/^web\.[0-9a-f]{16}$/);
    expect(microTime(new Date('2026-01-02T03:04:05.006Z'))).toBe('2026-01-02T03:04:05.006000Z');
  });
});

describe('the Event recorder: best effort, never in the way', () => {
  const counts = () => {
    const seen: Record<string, number> = {};
    return {
      seen,
      inc: ({ result }: { result: string }) => void (seen[result] = (seen[result] ?? 0) + 1),
    };
  };
  const log = createLogger({ service: 'test' }, { level: 'error' });
  const free = { take: () => Promise.resolve() };

  it('posts each Event to its namespace, in order', async () => {
    const posted: string[] = [];
    const counter = counts();
    const recorder = createEventRecorder({
      http: {
        post: <T>(path: string, body: unknown) => {
          posted.push(`${path} ${(body as { reason: string }).reason}`);
          return Promise.resolve({ status: 201, data: body as T });
        },
      },
      bucket: free,
      queueSize: 10,
      counter,
      log,
      instance: 'r-1',
    });
    recorder.record(outcome('restarted'));
    recorder.record(outcome('unchanged', { reason: 'superseded' }));
    recorder.record(outcome('rollout-completed'));
    await recorder.close();
    expect(posted).toEqual([
      '/apis/events.k8s.io/v1/namespaces/shop/events?fieldManager=onpush Restarted',
      '/apis/events.k8s.io/v1/namespaces/shop/events?fieldManager=onpush RolloutCompleted',
    ]);
    expect(counter.seen).toEqual({ sent: 2 });
  });

  it('drops what does not fit its queue, and counts a refused Event without throwing', async () => {
    const counter = counts();
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const recorder = createEventRecorder({
      http: { post: () => Promise.reject(Object.assign(new Error('forbidden'), { status: 403 })) },
      bucket: { take: () => held },
      queueSize: 2,
      counter,
      log,
    });
    // the first is taken out of the queue to be sent; two wait; the fourth finds it full
    for (let i = 0; i < 4; i++) recorder.record(outcome('restarted'));
    release();
    await recorder.close();
    expect(counter.seen).toEqual({ dropped: 1, failed: 3 });
  });
});
