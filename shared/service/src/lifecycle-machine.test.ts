import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromCallback, fromPromise } from 'xstate';
import { lifecycleMachine, type LifecycleEvent } from './lifecycle-machine.js';

describe('lifecycle machine', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function start(connect: () => Promise<void>) {
    let report: ((e: LifecycleEvent) => void) | undefined;
    const drained = vi.fn(() => Promise.resolve());
    const actor = createActor(
      lifecycleMachine.provide({
        actors: {
          connect: fromPromise(connect),
          run: fromCallback<LifecycleEvent>(({ sendBack }) => {
            report = sendBack;
          }),
          drain: fromPromise(drained),
        },
      }),
    ).start();
    return { actor, drained, report: (e: LifecycleEvent) => report?.(e) };
  }

  it('retries a failed connect after a growing delay, then runs', async () => {
    const connect = vi
      .fn()
      .mockRejectedValueOnce(new Error('refused'))
      .mockResolvedValue(undefined);
    const { actor } = start(connect);
    await vi.advanceTimersByTimeAsync(0);
    expect(actor.getSnapshot().value).toBe('waiting');
    expect(actor.getSnapshot().context.lastError).toBe('refused');
    await vi.advanceTimersByTimeAsync(250);
    expect(actor.getSnapshot().value).toEqual({ active: 'running' });
    expect(connect).toHaveBeenCalledTimes(2);
  });

  it('is degraded while a dependency is lost and running again when all returned', async () => {
    const { actor, report } = start(() => Promise.resolve());
    await vi.advanceTimersByTimeAsync(0);
    report({ type: 'DEPENDENCY_LOST', dependency: 'nats' });
    report({ type: 'DEPENDENCY_LOST', dependency: 'pubsub' });
    report({ type: 'DEPENDENCY_BACK', dependency: 'nats' });
    expect(actor.getSnapshot().value).toEqual({ active: 'degraded' });
    report({ type: 'DEPENDENCY_BACK', dependency: 'pubsub' });
    expect(actor.getSnapshot().value).toEqual({ active: 'running' });
  });

  it('drains on STOP and ends stopped', async () => {
    const { actor, drained } = start(() => Promise.resolve());
    await vi.advanceTimersByTimeAsync(0);
    actor.send({ type: 'STOP' });
    await vi.advanceTimersByTimeAsync(0);
    expect(drained).toHaveBeenCalledTimes(1);
    expect(actor.getSnapshot().status).toBe('done');
  });
});
