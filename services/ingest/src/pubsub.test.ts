import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi, type Mock } from 'vitest';
import { parseDeadLetter } from '@onpush/contracts';
import type { Publish, Published } from '@onpush/nats';
import type { LifecycleEvent } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { ingestMetrics } from './metrics.js';
import { PayloadTooLargeError } from './payload-limit.js';
import { handlePulled, startPull, type PulledMessage, type PullSubscription } from './pubsub.js';

const log = createLogger({ service: 'ingest-test' }, { write: () => undefined });

function deferred<T>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: Error) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function fakeMessage(id = '42'): PulledMessage & { ack: Mock<() => void>; nack: Mock<() => void> } {
  return {
    id,
    data: Buffer.from('{"action":"INSERT"}'),
    attributes: { kind: 'gcr' },
    publishTime: new Date('2025-01-01T00:00:00.000Z'),
    ack: vi.fn<() => void>(),
    nack: vi.fn<() => void>(),
  };
}

class FakeSubscription extends EventEmitter implements PullSubscription {
  readonly name = 'projects/p/subscriptions/onpush-gcr';
  isOpen = false;
  opened = 0;
  open(): void {
    this.isOpen = true;
    this.opened += 1;
  }
  close(): Promise<void> {
    this.isOpen = false;
    return Promise.resolve();
  }
  /** The library gave up on the stream: it closes and tells its listeners. */
  lose(error: Error): void {
    this.emit('error', error);
    this.isOpen = false;
    this.emit('close');
  }
}

const stored: Published = { stream: 'ONPUSH', seq: 1, duplicate: false };

describe('handlePulled', () => {
  it('acks only once JetStream acknowledged the publish', async () => {
    const metrics = ingestMetrics(createMetrics('ingest-test'));
    const pending = deferred<Published>();
    const publish = vi.fn<Publish>(() => pending.promise);
    const message = fakeMessage();

    const handled = handlePulled(message, { publish, metrics, log });
    await Promise.resolve();
    expect(publish).toHaveBeenCalledOnce();
    expect(publish.mock.calls[0]?.[2].msgId).toBe('gar:42');
    expect(message.ack).not.toHaveBeenCalled();

    pending.resolve(stored);
    expect(await handled).toBe('ack');
    expect(message.ack).toHaveBeenCalledOnce();
    expect(message.nack).not.toHaveBeenCalled();
    expect((await metrics.received.get()).values[0]?.value).toBe(1);
  });

  it('nacks (Pub/Sub redelivers) when the publish is rejected, and never acks', async () => {
    const metrics = ingestMetrics(createMetrics('ingest-test'));
    const message = fakeMessage();
    const publish: Publish = () => Promise.reject(new Error('JetStream timeout'));

    expect(await handlePulled(message, { publish, metrics, log })).toBe('nack');
    expect(message.nack).toHaveBeenCalledOnce();
    expect(message.ack).not.toHaveBeenCalled();
    const settled = await metrics.pubsubSettled.get();
    expect(settled.values).toEqual([
      expect.objectContaining({ labels: { action: 'nack' }, value: 1 }),
    ]);
  });

  it('acks a redelivery JetStream already held, without counting a new event', async () => {
    const metrics = ingestMetrics(createMetrics('ingest-test'));
    const message = fakeMessage();
    const publish: Publish = () => Promise.resolve({ ...stored, duplicate: true });

    expect(await handlePulled(message, { publish, metrics, log })).toBe('ack');
    expect((await metrics.received.get()).values).toEqual([]);
  });
});

describe('handlePulled: a message larger than JetStream accepts', () => {
  const tooLarge = new PayloadTooLargeError(2 * 1024 * 1024, 300, 1024 * 1024);
  const deps = { subscription: 'projects/p/subscriptions/onpush-gcr', log };

  /** Refuses the raw delivery as too large; `letter` decides what the dead-letter publishes get. */
  function broker(letter: (subject: string) => Promise<Published>) {
    const subjects: string[] = [];
    const publish = vi.fn<Publish>((subject) => {
      subjects.push(subject);
      return subject === 'onpush.raw.gar' ? Promise.reject(tooLarge) : letter(subject);
    });
    return { publish, subjects };
  }

  it('dead-letters it and acks once the dead letter and then the dead outcome are stored', async () => {
    const metrics = ingestMetrics(createMetrics('ingest-test'));
    const message = fakeMessage('9');
    const pending = deferred<Published>();
    const { publish, subjects } = broker((subject) =>
      subject === 'onpush.outcome.dead' ? pending.promise : Promise.resolve(stored),
    );

    const handled = handlePulled(message, { ...deps, publish, metrics });
    await vi.waitFor(() => expect(subjects).toHaveLength(3));
    expect(subjects).toEqual(['onpush.raw.gar', 'onpush.dead.ingest', 'onpush.outcome.dead']);
    expect(publish.mock.calls[1]?.[2].msgId).toBe('dead:ingest:gar:9');
    expect(publish.mock.calls[2]?.[2].msgId).toBe('dead:ingest:gar:9:outcome');
    expect(message.ack).not.toHaveBeenCalled(); // the outcome is not stored yet

    pending.resolve(stored);
    expect(await handled).toBe('ack');
    expect(message.ack).toHaveBeenCalledOnce();
    expect(message.nack).not.toHaveBeenCalled();
    const letter = parseDeadLetter(publish.mock.calls[1]![1]);
    expect(letter).toMatchObject({ stage: 'ingest', reason: 'payload_too_large' });
    expect(letter.subject).toBe('projects/p/subscriptions/onpush-gcr');
    const deliveries = await metrics.deliveries.get();
    expect(deliveries.values).toEqual([
      expect.objectContaining({ labels: { via: 'pull', result: 'dead' }, value: 1 }),
    ]);
    expect((await metrics.received.get()).values).toEqual([]);
  });

  it('nacks when the dead letter could not be stored (the redelivery tries again)', async () => {
    const metrics = ingestMetrics(createMetrics('ingest-test'));
    const message = fakeMessage();
    const { publish } = broker(() => Promise.reject(new Error('JetStream timeout')));

    expect(await handlePulled(message, { ...deps, publish, metrics })).toBe('nack');
    expect(message.ack).not.toHaveBeenCalled();
    expect(message.nack).toHaveBeenCalledOnce();
  });

  it('cuts the dead letter to fit when even it is over max_payload (long attributes)', async () => {
    const metrics = ingestMetrics(createMetrics('ingest-test'));
    const attributes: Record<string, string> = {};
    for (let i = 0; i < 40; i += 1) attributes[`attr${i}`] = 'v'.repeat(1_000);
    const message = { ...fakeMessage(), data: Buffer.alloc(100_000, 'd'), attributes };
    const limit = 32 * 1024;
    const subjects: string[] = [];
    const publish = vi.fn<Publish>((subject) => {
      subjects.push(subject);
      return subject === 'onpush.raw.gar'
        ? Promise.reject(new PayloadTooLargeError(100_000, 45_000, limit))
        : Promise.resolve(stored);
    });

    expect(await handlePulled(message, { ...deps, publish, metrics })).toBe('ack');
    expect(subjects).toEqual(['onpush.raw.gar', 'onpush.dead.ingest', 'onpush.outcome.dead']);
    const letter = publish.mock.calls[1]![1];
    expect(letter.byteLength).toBeLessThan(limit);
    const dead = parseDeadLetter(letter);
    expect(dead.headers).toMatchObject({ 'Onpush-Event-Id': 'gar:42', 'Onpush-Source': 'gar' });
    expect(dead.headers).not.toHaveProperty('Onpush-Transport-attr0');
    // 40 attributes and ingest's transport headers; the original size stays in `truncated`.
    expect(dead.truncated).toMatchObject({ originalBytes: 100_000, droppedHeaders: 45 });
    expect(Buffer.from(dead.payload, 'base64').length).toBe(dead.truncated!.keptBytes);
  });
});

describe('startPull', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function setup(overrides: { publish?: Publish; beforeReopen?: () => Promise<void> } = {}) {
    const subscription = new FakeSubscription();
    const events: LifecycleEvent[] = [];
    const tasks: Promise<unknown>[] = [];
    const handle = startPull(subscription, {
      publish: overrides.publish ?? (() => Promise.resolve(stored)),
      metrics: ingestMetrics(createMetrics('ingest-test')),
      log,
      report: (event) => events.push(event),
      track: (task) => tasks.push(task),
      probe: () => Promise.resolve(),
      reopenDelayMs: (attempt) => attempt * 100,
      ...(overrides.beforeReopen ? { beforeReopen: overrides.beforeReopen } : {}),
    });
    return { subscription, events, tasks, handle };
  }

  it('opens the subscription and acks every message once stored', async () => {
    const { subscription, tasks } = setup();
    expect(subscription.isOpen).toBe(true);
    const message = fakeMessage('7');
    subscription.emit('message', message);
    await Promise.all(tasks);
    expect(message.ack).toHaveBeenCalledOnce();
  });

  it('reports pubsub lost on an error, and back when messages flow again', async () => {
    const { subscription, events, tasks } = setup();
    subscription.emit('error', new Error('14 UNAVAILABLE'));
    subscription.emit('error', new Error('14 UNAVAILABLE'));
    subscription.emit('message', fakeMessage());
    await Promise.all(tasks);
    expect(events).toEqual([
      { type: 'DEPENDENCY_LOST', dependency: 'pubsub' },
      { type: 'DEPENDENCY_BACK', dependency: 'pubsub' },
    ]);
  });

  it('re-opens a subscription the library closed, with a growing delay, and reports it back', async () => {
    vi.useFakeTimers();
    let creates = 0;
    const beforeReopen = (): Promise<void> =>
      ++creates === 1 ? Promise.reject(new Error('5 NOT_FOUND')) : Promise.resolve();
    const { subscription, events } = setup({ beforeReopen });
    subscription.lose(new Error('5 NOT_FOUND'));
    expect(events).toEqual([{ type: 'DEPENDENCY_LOST', dependency: 'pubsub' }]);

    await vi.advanceTimersByTimeAsync(100); // attempt 1: beforeReopen fails, nothing opened
    expect(subscription.opened).toBe(1);
    await vi.advanceTimersByTimeAsync(200); // attempt 2
    expect(subscription.opened).toBe(2);
    expect(events.at(-1)).toEqual({ type: 'DEPENDENCY_BACK', dependency: 'pubsub' });
  });

  it('on close stops pulling and re-opens nothing', async () => {
    vi.useFakeTimers();
    const { subscription, events, handle } = setup();
    subscription.lose(new Error('13 INTERNAL'));
    await handle.close();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(subscription.isOpen).toBe(false);
    expect(subscription.opened).toBe(1);
    expect(events).toEqual([{ type: 'DEPENDENCY_LOST', dependency: 'pubsub' }]);
  });
});
