import { setTimeout as sleep } from 'node:timers/promises';
import { PubSub } from '@google-cloud/pubsub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADERS, STREAMS, TOPOLOGY, rawSubject } from '@onpush/contracts';
import {
  ensureSubscription,
  ingestMetrics,
  pullSubscription,
  startPull,
  type PullHandle,
} from '@onpush/ingest';
import {
  connectNats,
  dedupId,
  jetstream,
  jetstreamManager,
  provision,
  publisher,
  type NatsConnection,
  type Publish,
} from '@onpush/nats';
import type { LifecycleEvent } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { eventually, useSandbox } from '@onpush/testing';

const log = createLogger({ service: 'ingest-test' }, { write: () => undefined });

/** The stored Nats-Msg-Id: the publisher scopes the event's key by subject (`dedupId`). */
function expectMsgId(stored: string, msgId: string): void {
  expect(stored).toBe(dedupId(rawSubject('gar'), msgId));
}

interface Pulling {
  handle: PullHandle;
  handled: Promise<unknown>[];
  events: LifecycleEvent[];
}

// Given a real nats-server with the onpush topology and the Pub/Sub emulator with topic `gcr`.
describe('ingest streaming pull', () => {
  const sandbox = useSandbox(['nats', 'pubsub'], 'ingest');
  let pubsub: PubSub;
  let nc: NatsConnection;
  let publish: Publish;

  beforeAll(async () => {
    pubsub = new PubSub({
      projectId: sandbox().pubsubProject,
      apiEndpoint: sandbox().need('pubsub').host,
      emulatorMode: true,
    });
    nc = await connectNats({ url: sandbox().need('nats').url, name: 'onpush-ingest-test' });
    await provision(await jetstreamManager(nc), TOPOLOGY);
    publish = publisher(jetstream(nc));
  });

  afterAll(async () => {
    await nc?.close();
    await pubsub?.close();
  });

  function pull(subscription: string, via: Publish = publish): Pulling {
    const handled: Promise<unknown>[] = [];
    const events: LifecycleEvent[] = [];
    const source = pullSubscription(pubsub, subscription, 10);
    const handle = startPull(source, {
      publish: via,
      metrics: ingestMetrics(createMetrics('ingest-test')),
      log,
      report: (event) => events.push(event),
      track: (task) => handled.push(task),
      probe: async () => void (await source.getMetadata()),
    });
    return { handle, handled, events };
  }

  async function storedRaw(seqAfter: number) {
    const jsm = await jetstreamManager(nc);
    const message = await jsm.streams
      .getMessage(STREAMS.main, { last_by_subj: rawSubject('gar') })
      .catch(() => null);
    return message && message.seq > seqAfter ? message : undefined;
  }

  async function lastSeq(): Promise<number> {
    const info = await (await jetstreamManager(nc)).streams.info(STREAMS.main);
    return info.state.last_seq;
  }

  it('stores the untouched bytes on onpush.raw.gar keyed gar:<messageId>, acks, and is not redelivered', async () => {
    await ensureSubscription(pubsub, 'gcr', 'onpush-gcr');
    const before = await lastSeq();
    const first = pull('onpush-gcr');
    const body = Buffer.from('{"action":"INSERT","tag":"us-docker.pkg.dev/p/r/app:1.1"}\n  ');

    // When the registry publishes a notification on topic gcr.
    const messageId = await pubsub
      .topic('gcr')
      .publishMessage({ data: body, attributes: { origin: 'test' } });

    // Then it is in the ONPUSH stream, byte for byte, with its key and transport headers.
    const stored = await eventually('the raw delivery in ONPUSH', () => storedRaw(before));
    expect(Buffer.from(stored.data).equals(body)).toBe(true);
    expect(stored.header.get(HEADERS.eventId)).toBe(`gar:${messageId}`);
    expectMsgId(stored.header.get(HEADERS.msgId), `gar:${messageId}`);
    // The same key again is a duplicate: that is what makes a Pub/Sub redelivery harmless.
    expect((await publish(rawSubject('gar'), body, { msgId: `gar:${messageId}` })).duplicate).toBe(
      true,
    );
    expect(stored.header.get('Onpush-Transport-origin')).toBe('test');
    expect(stored.header.get('Onpush-Transport-via')).toBe('pull');
    expect(await Promise.all(first.handled)).toEqual(['ack']);
    await first.handle.close();

    // And once acked, a new subscriber on the same subscription receives nothing again.
    const second = pull('onpush-gcr');
    await sleep(2_000);
    await second.handle.close();
    expect(second.handled).toHaveLength(0);
    expect(first.events).toEqual([]);
  });

  it('nacks when JetStream does not store it; the redelivery is stored once and acked', async () => {
    await ensureSubscription(pubsub, 'gcr', 'onpush-gcr-retry');
    const before = await lastSeq();
    let attempts = 0;
    const flaky: Publish = (subject, data, options) =>
      ++attempts === 1
        ? Promise.reject(new Error('simulated JetStream timeout'))
        : publish(subject, data, options);
    const pulling = pull('onpush-gcr-retry', flaky);

    const messageId = await pubsub
      .topic('gcr')
      .publishMessage({ data: Buffer.from('{"action":"INSERT"}') });

    const stored = await eventually('the redelivered message in ONPUSH', () => storedRaw(before));
    expectMsgId(stored.header.get(HEADERS.msgId), `gar:${messageId}`);
    expect(await lastSeq()).toBe(stored.seq);
    await eventually('two deliveries settled', () => pulling.handled.length >= 2);
    expect(await Promise.all(pulling.handled)).toEqual(['nack', 'ack']);
    await pulling.handle.close();
  });

  it('reports pubsub lost while the subscription is missing, and back once it exists', async () => {
    const pulling = pull('onpush-gcr-late');
    await eventually('DEPENDENCY_LOST pubsub', () => pulling.events.length >= 1);
    expect(pulling.events[0]).toEqual({ type: 'DEPENDENCY_LOST', dependency: 'pubsub' });

    // Re-opening keeps failing while it is missing, and nothing claims it is back.
    await sleep(1_000);
    expect(pulling.events).toHaveLength(1);

    await ensureSubscription(pubsub, 'gcr', 'onpush-gcr-late');
    const before = await lastSeq();
    await pubsub.topic('gcr').publishMessage({ data: Buffer.from('{"action":"INSERT"}') });
    await eventually('the message after the subscription appeared', () => storedRaw(before), {
      timeoutMs: 30_000,
    });
    expect(pulling.events.at(-1)).toEqual({ type: 'DEPENDENCY_BACK', dependency: 'pubsub' });
    await pulling.handle.close();
  });
});
