import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, toPromise } from 'xstate';
import {
  Held,
  messageMachine,
  retryDelayMs,
  wasHeld,
  type Incoming,
  type Outgoing,
} from './message-machine.js';

const msg = (deliveryCount = 1): Incoming => ({
  subject: 'onpush.raw.gar',
  data: new TextEncoder().encode('{}'),
  headers: {},
  seq: 7,
  deliveryCount,
});

function run(
  handle: () => Promise<Outgoing[]>,
  options: { deliveryCount?: number; publishFails?: boolean; deadFails?: boolean } = {},
) {
  const effects = {
    published: [] as Outgoing[],
    acked: 0,
    naks: [] as number[],
    dead: [] as string[],
  };
  const machine = messageMachine.provide({
    actors: {
      handle: fromPromise(handle),
      publish: fromPromise(async ({ input }) => {
        if (options.publishFails)
          throw Object.assign(new Error('nats down'), {
            type: 'nats_unavailable',
            retryable: true,
          });
        effects.published.push(...input.outgoing);
      }),
      ack: fromPromise(async () => {
        effects.acked += 1;
      }),
      nak: fromPromise(async ({ input }) => {
        effects.naks.push(input.delayMs);
      }),
      deadLetter: fromPromise(async ({ input }) => {
        if (options.deadFails) throw new Error('dlq full');
        effects.dead.push(input.failure.type);
      }),
    },
  });
  const actor = createActor(machine, {
    input: { msg: msg(options.deliveryCount), maxDeliver: 3, retryScheduleMs: [100, 1_000] },
  }).start();
  return toPromise(actor).then((output) => ({ ...output, effects }));
}

const out: Outgoing = { subject: 'onpush.pushed', data: new Uint8Array(), msgId: 'e1' };

describe('message machine', () => {
  it('publishes what the handler returned, then acks', async () => {
    const { result, effects } = await run(() => Promise.resolve([out]));
    expect(result).toBe('acked');
    expect(effects.published).toEqual([out]);
    expect(effects.acked).toBe(1);
  });

  it('dead-letters a permanent failure at once and acks the original', async () => {
    const failure = Object.assign(new Error('not json'), {
      type: 'invalid_json',
      retryable: false,
    });
    const { result, effects } = await run(() => Promise.reject(failure));
    expect(result).toBe('dead');
    expect(effects.dead).toEqual(['invalid_json']);
    expect(effects.acked).toBe(1);
    expect(effects.naks).toEqual([]);
  });

  it('NAKs a transient failure with the schedule delay, or Retry-After when given', async () => {
    const transient = Object.assign(new Error('503'), { type: 'http_503', retryable: true });
    expect((await run(() => Promise.reject(transient), { deliveryCount: 2 })).effects.naks).toEqual(
      [1_000],
    );
    const throttled = Object.assign(new Error('429'), {
      type: 'http_429',
      retryable: true,
      retryAfterMs: 2_500,
    });
    const { result, effects } = await run(() => Promise.reject(throttled));
    expect(result).toBe('retried');
    expect(effects.naks).toEqual([2_500]);
    expect(effects.acked).toBe(0);
  });

  it('holds a delivery on purpose: a NAK for the time asked, nothing published, not a failure', async () => {
    const handled = await run(() => Promise.reject(new Held('maturity delay', 540_000)));
    expect(handled.result).toBe('retried');
    expect(handled.effects.naks).toEqual([540_000]);
    expect(handled.effects.published).toEqual([]);
    expect(handled.effects.acked).toBe(0);
    expect(wasHeld(handled)).toBe(true);
    const transient = Object.assign(new Error('503'), { type: 'http_503', retryable: true });
    expect(wasHeld(await run(() => Promise.reject(transient)))).toBe(false);
  });

  it('dead-letters a transient failure on the last allowed delivery', async () => {
    const transient = Object.assign(new Error('503'), { type: 'http_503', retryable: true });
    const { result, effects } = await run(() => Promise.reject(transient), { deliveryCount: 3 });
    expect(result).toBe('dead');
    expect(effects.dead).toEqual(['http_503']);
  });

  it('never acks when the downstream publish failed: the broker redelivers', async () => {
    const { result, effects } = await run(() => Promise.resolve([out]), { publishFails: true });
    expect(result).toBe('retried');
    expect(effects.acked).toBe(0);
    expect(effects.naks).toEqual([100]);
  });

  it('keeps the message (NAK) when even the dead letter cannot be stored', async () => {
    const failure = Object.assign(new Error('bad'), { type: 'invalid_json', retryable: false });
    const {
      result,
      failure: reported,
      effects,
    } = await run(() => Promise.reject(failure), {
      deadFails: true,
    });
    expect(effects.acked).toBe(0);
    expect(effects.naks).toHaveLength(1);
    // What is reported (and logged) is the store that failed, not the parse that did not.
    expect(result).toBe('retried');
    expect(reported).toMatchObject({ type: 'dead_letter_not_stored', retryable: true });
    expect(reported?.message).toContain('storing the dead letter failed');
    expect(reported?.message).toContain('dlq full');
    expect(reported?.message).toContain('[invalid_json] bad');
  });
});

describe('retryDelayMs', () => {
  it('walks the schedule and repeats its last step', () => {
    const info = { type: 'x', message: 'x', retryable: true };
    expect([1, 2, 3, 9].map((n) => retryDelayMs(n, info, [10, 20, 30]))).toEqual([10, 20, 30, 30]);
    expect(retryDelayMs(1, { ...info, retryAfterMs: 1_234.2 }, [10])).toBe(1_235);
  });
});
