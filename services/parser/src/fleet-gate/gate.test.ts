import { describe, expect, it } from 'vitest';
import {
  encode,
  parseFleetWaves,
  parseOutcome,
  type Fate,
  type ImagePushed,
  type Outcome,
} from '@onpush/contracts';
import { Held, type Incoming } from '@onpush/service';
import { createWaveGate, holdMs, verdictOf } from './gate.js';
import { Settlements } from './settlements.js';

const T0 = Date.parse('2026-12-07T10:00:00Z');
const EVENT = 'gar:1';
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const web = { kind: 'Deployment', namespace: 'shop', name: 'web' } as const;
const api = { kind: 'Deployment', namespace: 'shop', name: 'api' } as const;

function outcome(fate: Fate, s: number, extra: Partial<Outcome> = {}): Outcome {
  return { v: 1, eventId: EVENT, fate, stage: 'restarter', at: at(s), ...extra };
}

describe('fleet wave gate: what settles a push in a cluster', () => {
  it('a push the cluster runs nothing of settles when its resolver says so', () => {
    const s = new Settlements();
    expect(s.judge(EVENT, 'staging')).toMatchObject({ state: 'pending' });
    s.fold(outcome('no-match', 2, { stage: 'resolver' }), 'staging');
    expect(s.judge(EVENT, 'staging')).toEqual({ state: 'settled', at: T0 + 2000 });
    // another cluster's outcomes, and the hub's own, settle nothing here
    expect(s.judge(EVENT, 'prod')).toMatchObject({ state: 'pending' });
    s.fold(outcome('ignored', 3, { stage: 'parser', eventId: 'gar:2' }), undefined);
    expect(s.judge('gar:2', 'staging')).toMatchObject({ state: 'pending' });
  });

  it('a dispatched push settles once every request concluded and every rollout completed', () => {
    const s = new Settlements();
    s.fold(outcome('dispatched', 1, { stage: 'resolver', requests: 2 }), 'staging');
    expect(s.judge(EVENT, 'staging')).toEqual({
      state: 'pending',
      waiting: 'staging: 0 of 2 workloads concluded',
    });
    s.fold(outcome('restarted', 2, { workload: web }), 'staging');
    s.fold(outcome('unchanged', 2, { workload: api }), 'staging');
    expect(s.judge(EVENT, 'staging')).toEqual({
      state: 'pending',
      waiting: 'staging: rollout of Deployment/shop/web not complete',
    });
    s.fold(outcome('rollout-completed', 9, { workload: web }), 'staging');
    expect(s.judge(EVENT, 'staging')).toEqual({ state: 'settled', at: T0 + 9000 });
  });

  it.each<[Fate, string]>([
    ['rollout-failed', 'staging: Deployment/shop/web rollout-failed (ProgressDeadlineExceeded)'],
    ['rolled-back', 'staging: Deployment/shop/web rolled-back (ProgressDeadlineExceeded)'],
  ])('a %s fails it, naming the workload', (fate, detail) => {
    const s = new Settlements();
    s.fold(outcome('dispatched', 1, { stage: 'resolver', requests: 1 }), 'staging');
    s.fold(outcome('restarted', 2, { workload: web }), 'staging');
    s.fold(outcome(fate, 5, { workload: web, detail: 'ProgressDeadlineExceeded' }), 'staging');
    expect(s.judge(EVENT, 'staging')).toEqual({ state: 'failed', detail });
  });

  it.each<Fate>(['dead', 'halted', 'rejected', 'expired'])('a workload %s fails it', (fate) => {
    const s = new Settlements();
    s.fold(outcome('dispatched', 1, { stage: 'resolver', requests: 1 }), 'staging');
    s.fold(outcome(fate, 2, { workload: web }), 'staging');
    expect(s.judge(EVENT, 'staging')).toMatchObject({ state: 'failed' });
  });

  it('a push dead-lettered, or halted by an earlier wave, fails it too', () => {
    const s = new Settlements();
    s.fold(outcome('halted', 2, { stage: 'parser', detail: 'staging: x rollout-failed' }), 'prod');
    expect(s.judge(EVENT, 'prod')).toEqual({
      state: 'failed',
      detail: 'prod: the push ended halted (staging: x rollout-failed)',
    });
  });

  it('forgets pushes whose last outcome is older than the window', () => {
    const s = new Settlements();
    s.fold(outcome('no-match', 1, { stage: 'resolver' }), 'staging');
    s.fold(outcome('no-match', 100, { stage: 'resolver', eventId: 'gar:2' }), 'staging');
    s.forget(T0 + 50_000);
    expect(s.size).toBe(1);
    expect(s.judge('gar:2', 'staging')).toMatchObject({ state: 'settled' });
  });
});

describe('fleet wave gate: the verdict', () => {
  const options = { soakMs: 10_000, timeoutMs: 60_000, now: T0 + 30_000, deliveryCount: 1 };

  it('waits while an earlier cluster has not settled, then halts at the timeout', () => {
    const pending = { state: 'pending', waiting: 'staging: rollout of x not complete' } as const;
    expect(verdictOf([pending], ['staging'], 30_000, options)).toEqual({
      state: 'waiting',
      detail: 'staging: rollout of x not complete',
      forMs: 500,
    });
    expect(verdictOf([pending], ['staging'], 60_000, options)).toEqual({
      state: 'halted',
      reason: 'wave_timeout',
      detail: 'not settled within 60000 ms: staging: rollout of x not complete',
    });
  });

  it('opens once every earlier cluster settled and the soak passed', () => {
    const settled = (s: number) => ({ state: 'settled', at: T0 + s * 1000 }) as const;
    expect(verdictOf([settled(10), settled(25)], ['a', 'b'], 30_000, options)).toEqual({
      state: 'waiting',
      detail: 'soaking (a, b)',
      forMs: 5_000,
    });
    expect(verdictOf([settled(10), settled(20)], ['a', 'b'], 30_000, options)).toEqual({
      state: 'open',
      detail: 'settled in a, b',
    });
    // no earlier cluster at all (a wave declared before it has none): open at once
    expect(verdictOf([], [], 0, options)).toMatchObject({ state: 'open' });
  });

  it('halts at the first failure, whatever else is pending', () => {
    const verdict = verdictOf(
      [
        { state: 'pending', waiting: 'a' },
        { state: 'failed', detail: 'b: Deployment/shop/web rollout-failed' },
      ],
      ['a', 'b'],
      1_000,
      options,
    );
    expect(verdict).toEqual({
      state: 'halted',
      reason: 'wave_failed',
      detail: 'b: Deployment/shop/web rollout-failed',
    });
  });

  it('holds briefly at first, then every 5 s', () => {
    expect([1, 2, 4, 10, 100].map(holdMs)).toEqual([500, 1_000, 2_000, 5_000, 5_000]);
  });
});

describe('fleet wave gate: the handler', () => {
  const waves = parseFleetWaves('staging=1,prod-*=2');
  const pushed: ImagePushed = {
    v: 1,
    id: EVENT,
    source: 'gar',
    image: 'europe-docker.pkg.dev/p/r/app',
    registry: 'europe-docker.pkg.dev',
    repository: 'p/r/app',
    tag: '1.0',
    receivedAt: at(0),
  };
  const msg: Incoming = {
    subject: 'onpush.pushed',
    data: encode(pushed),
    headers: {
      'Nats-Msg-Id': EVENT,
      'Onpush-Event-Id': EVENT,
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    },
    seq: 7,
    deliveryCount: 1,
    storedAt: new Date(T0),
  };
  const gate = (settlements: Settlements, caughtUp = true) =>
    createWaveGate({
      wave: 2,
      waves,
      clusters: () => ['staging', 'prod-a', 'prod-b', 'dev'],
      settlements,
      caughtUp: () => caughtUp,
      soakMs: 0,
      timeoutMs: 60_000,
      now: () => T0 + 5_000,
    });

  it('holds the push until the outcomes before it were read, and while staging has not settled', async () => {
    const s = new Settlements();
    expect(() => gate(s, false)(msg)).toThrow(Held);
    expect(() => gate(s)(msg)).toThrow('wave 2 waits: staging has not concluded it yet');
  });

  it('lets it through on onpush.fleet.wave.2 once staging settled, with its trace and id', async () => {
    const s = new Settlements();
    s.fold(outcome('no-match', 1, { stage: 'resolver' }), 'staging');
    const [out, ...rest] = await gate(s)(msg);
    expect(rest).toEqual([]);
    expect(out).toMatchObject({
      subject: 'onpush.fleet.wave.2',
      msgId: `${EVENT}:wave:2`,
      headers: { 'Onpush-Event-Id': EVENT, traceparent: msg.headers['traceparent'] },
    });
    expect(out!.headers).not.toHaveProperty('Nats-Msg-Id');
    expect(out!.data).toEqual(msg.data);
  });

  it("ends it halted for each of the wave's clusters (and only those) when staging failed", async () => {
    const s = new Settlements();
    s.fold(outcome('dispatched', 1, { stage: 'resolver', requests: 1 }), 'staging');
    s.fold(outcome('restarted', 2, { workload: web }), 'staging');
    s.fold(outcome('rollout-failed', 4, { workload: web }), 'staging');
    const out = await gate(s)(msg);
    expect(out.map((o) => o.headers?.['Onpush-Cluster'])).toEqual(['prod-a', 'prod-b']);
    expect(out.map((o) => o.msgId)).toEqual([`${EVENT}:halted:prod-a`, `${EVENT}:halted:prod-b`]);
    const halted = parseOutcome(out[0]!.data);
    expect(halted).toMatchObject({
      eventId: EVENT,
      fate: 'halted',
      stage: 'parser',
      reason: 'wave_failed',
      detail: 'staging: Deployment/shop/web rollout-failed',
      image: pushed.image,
      tag: '1.0',
    });
    expect(halted.workload).toBeUndefined();
    expect(out[0]!.subject).toBe('onpush.outcome.halted');
  });
});
