import { describe, expect, it, vi } from 'vitest';
import type { LifecycleEvent } from '@onpush/service';
import { createLogger } from '@onpush/telemetry';
import { NatsLink } from './nats-link.js';

const log = createLogger({ service: 'ingest-test' }, { write: () => undefined });

/** A status stream the test pushes into. */
function statusStream() {
  const queue: { type: string }[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  const iterable: AsyncIterable<{ type: string }> = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const next = queue.shift();
        if (next) yield next;
        else if (ended) return;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
  const push = (type: string): void => {
    queue.push({ type });
    wake?.();
  };
  const end = (): void => {
    ended = true;
    wake?.();
  };
  return { iterable, push, end };
}

function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function setup(provision: () => Promise<void>) {
  const link = new NatsLink({ provision, log, retryDelayMs: () => 1 });
  const events: LifecycleEvent[] = [];
  const statuses = statusStream();
  link.up();
  const following = link.follow(statuses.iterable, (event) => events.push(event));
  return { link, events, statuses, following };
}

const lost = { type: 'DEPENDENCY_LOST', dependency: 'nats' };
const back = { type: 'DEPENDENCY_BACK', dependency: 'nats' };

describe('NatsLink', () => {
  it('is unusable at once on a disconnect, and usable again only once provisioned after the reconnect', async () => {
    const provisioned = deferred();
    const { link, events, statuses, following } = setup(() => provisioned.promise);
    expect(link.usable).toBe(true);

    statuses.push('disconnect');
    await vi.waitFor(() => expect(events).toEqual([lost]));
    expect(link.usable).toBe(false);
    expect(link.why).toBe('not connected to NATS');

    statuses.push('reconnect');
    await vi.waitFor(() =>
      expect(link.why).toBe('reconnected to NATS; checking the streams are there'),
    );
    expect(link.usable).toBe(false);
    expect(events).toEqual([lost]);

    provisioned.resolve();
    await vi.waitFor(() => expect(link.usable).toBe(true));
    expect(events).toEqual([lost, back]);
    statuses.end();
    await following;
  });

  it('retries provisioning until it succeeds (a broker whose JetStream is not ready yet)', async () => {
    let attempts = 0;
    const { link, events, statuses } = setup(() =>
      ++attempts < 3 ? Promise.reject(new Error('jetstream not enabled')) : Promise.resolve(),
    );
    statuses.push('disconnect');
    statuses.push('reconnect');
    await vi.waitFor(() => expect(events).toEqual([lost, back]));
    expect(link.usable).toBe(true);
    expect(attempts).toBe(3);
  });

  it('a provisioning overtaken by another disconnect reports nothing back', async () => {
    const first = deferred();
    const { link, events, statuses } = setup(() => first.promise);
    statuses.push('disconnect');
    statuses.push('reconnect');
    await vi.waitFor(() => expect(link.why).toContain('checking the streams'));
    statuses.push('disconnect');
    await vi.waitFor(() => expect(events).toEqual([lost, lost]));
    first.resolve();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(link.usable).toBe(false);
    expect(events).toEqual([lost, lost]);
  });

  it('stops provisioning on stop (drain)', async () => {
    const { link, events, statuses } = setup(() => Promise.reject(new Error('no')));
    statuses.push('disconnect');
    statuses.push('reconnect');
    await vi.waitFor(() => expect(link.why).toContain('checking the streams'));
    link.stop();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(link.usable).toBe(false);
    expect(events).toEqual([lost]);
  });
});
