import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@onpush/config';
import { TOPOLOGY } from '@onpush/contracts';
import { baseServiceSchema } from './config.js';
import { consumerTuning, mayExtend, tuneConsumer, workingPlan, WorkingKeeper } from './consumer.js';

const restarter = TOPOLOGY.consumers.restarter;
const tuningOf = (env: Record<string, string>) =>
  consumerTuning(loadConfig(baseServiceSchema, { PORT: '0', ...env }));

function problems(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => p.variable);
    throw error;
  }
  return [];
}

describe('tuneConsumer', () => {
  it('keeps the topology when nothing is set', () => {
    expect(tuneConsumer(restarter, tuningOf({}))).toEqual(restarter);
  });

  it.each([
    [
      'a backoff, whose first step is the ack wait',
      { CONSUMER_BACKOFF: '1s,5s,30s' },
      { maxDeliver: 8, backoffMs: [1_000, 5_000, 30_000], ackWaitMs: 1_000 },
    ],
    [
      'an ack wait, with no backoff declared',
      { CONSUMER_ACK_WAIT: '10s' },
      { maxDeliver: 8, backoffMs: [], ackWaitMs: 10_000 },
    ],
    [
      'an ack wait, which replaces the first step of a backoff',
      { CONSUMER_ACK_WAIT: '10s', CONSUMER_BACKOFF: '10s,1m' },
      { maxDeliver: 8, backoffMs: [10_000, 60_000], ackWaitMs: 10_000 },
    ],
    [
      'a smaller max deliver',
      { CONSUMER_MAX_DELIVER: '3' },
      { maxDeliver: 3, backoffMs: [], ackWaitMs: 30_000 },
    ],
    [
      'one delivery: no backoff at all',
      { CONSUMER_MAX_DELIVER: '1', CONSUMER_ACK_WAIT: '2s' },
      { maxDeliver: 1, backoffMs: [], ackWaitMs: 2_000 },
    ],
    [
      'all three, consistent',
      { CONSUMER_MAX_DELIVER: '4', CONSUMER_BACKOFF: '2s,4s', CONSUMER_ACK_WAIT: '2s' },
      { maxDeliver: 4, backoffMs: [2_000, 4_000], ackWaitMs: 2_000 },
    ],
  ])('applies %s', (_, env, expected) => {
    expect(tuneConsumer(restarter, tuningOf(env))).toMatchObject(expected);
  });

  it('refuses what JetStream would refuse, naming the variable', () => {
    expect(
      problems(() =>
        tuneConsumer(restarter, tuningOf({ CONSUMER_BACKOFF: '1s,2s,3s,4s,5s,6s,7s,8s' })),
      ),
    ).toEqual(['CONSUMER_BACKOFF']);
    expect(
      problems(() =>
        tuneConsumer(restarter, tuningOf({ CONSUMER_BACKOFF: '1s,2s', CONSUMER_MAX_DELIVER: '2' })),
      ),
    ).toEqual(['CONSUMER_MAX_DELIVER']);
    expect(
      problems(() =>
        tuneConsumer(restarter, tuningOf({ CONSUMER_BACKOFF: '1s,2s', CONSUMER_ACK_WAIT: '5s' })),
      ),
    ).toEqual(['CONSUMER_ACK_WAIT']);
  });

  it('checks the variables themselves at load', () => {
    expect(
      problems(() =>
        tuningOf({ CONSUMER_MAX_DELIVER: '0', CONSUMER_BACKOFF: 'soon', CONSUMER_ACK_WAIT: '1ms' }),
      ).sort(),
    ).toEqual(['CONSUMER_ACK_WAIT', 'CONSUMER_BACKOFF', 'CONSUMER_MAX_DELIVER']);
  });
});

describe('working()', () => {
  it('is sent every third of the ack wait, for at most ten ack waits', () => {
    expect(workingPlan(30_000)).toEqual({ intervalMs: 10_000, maxHoldMs: 300_000 });
    expect(workingPlan(15).intervalMs).toBe(10);
    const plan = workingPlan(3_000);
    expect(mayExtend(0, plan)).toBe(true);
    expect(mayExtend(29_000, plan)).toBe(true);
    expect(mayExtend(29_500, plan)).toBe(false);
  });
});

describe('WorkingKeeper: one timer extends every delivery being handled', () => {
  const clock = () => {
    let t = 0;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  };
  const delivery = () => {
    const sent: number[] = [];
    return { sent, m: { working: () => void sent.push(sent.length + 1) } };
  };

  it('extends each delivery once its period passed, until it is let go', () => {
    const time = clock();
    const keeper = new WorkingKeeper(workingPlan(3_000), time.now);
    const a = delivery();
    const letGoA = keeper.hold(a.m);
    time.advance(500);
    const b = delivery();
    keeper.hold(b.m);
    time.advance(499); // a: 999 ms held, not yet a period
    keeper.sweep();
    expect([a.sent.length, b.sent.length]).toEqual([0, 0]);
    time.advance(1); // a: 1 s — one period
    keeper.sweep();
    expect([a.sent.length, b.sent.length]).toEqual([1, 0]);
    time.advance(500); // b: 1 s
    keeper.sweep();
    expect([a.sent.length, b.sent.length]).toEqual([1, 1]);
    letGoA();
    time.advance(5_000);
    keeper.sweep();
    expect([a.sent.length, b.sent.length]).toEqual([1, 2]);
    expect(keeper.size).toBe(1);
    keeper.stop();
  });

  it('stops extending after ten ack waits, so the broker redelivers a hung delivery', () => {
    const time = clock();
    const keeper = new WorkingKeeper(workingPlan(3_000), time.now);
    const hung = delivery();
    keeper.hold(hung.m);
    for (let s = 0; s < 60; s++) {
      time.advance(500);
      keeper.sweep();
    }
    // every second for 29 s (the last period that still ends within 30 s), then nothing
    expect(hung.sent.length).toBe(29);
    expect(keeper.size).toBe(0);
    keeper.stop();
  });

  it('survives a delivery whose connection closed', () => {
    const time = clock();
    const keeper = new WorkingKeeper(workingPlan(3_000), time.now);
    const ok = delivery();
    keeper.hold({
      working: () => {
        throw new Error('closed');
      },
    });
    keeper.hold(ok.m);
    time.advance(1_000);
    keeper.sweep();
    expect(ok.sent.length).toBe(1);
    keeper.stop();
  });
});
