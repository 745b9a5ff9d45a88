import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  HEADERS,
  PUSHED,
  STREAMS,
  TOPOLOGY,
  parseDeadLetter,
  rawSubject,
  type ConsumerStage,
} from '@onpush/contracts';
import {
  connectNats,
  jetstream,
  jetstreamManager,
  provision,
  publisher,
  type NatsConnection,
} from '@onpush/nats';
import { stageEffects, type ConsumerTuning, type Incoming, type Outgoing } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { eventually, useSandbox } from '@onpush/testing';

const encoder = new TextEncoder();
const log = createLogger({ service: 'reliability-test' }, { level: 'error' });
const ns = (ms: number): number => ms * 1_000_000;

async function withConnection<T>(url: string, run: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connectNats({ url, name: 'onpush-test' });
  try {
    return await run(nc);
  } finally {
    await nc.close();
  }
}

/** One stage of the real runtime, in this process, with `handle` as its handler. */
async function runStage(
  url: string,
  stage: ConsumerStage,
  tuning: ConsumerTuning,
  handle: (msg: Incoming) => Promise<Outgoing[]>,
): Promise<() => Promise<void>> {
  const effects = stageEffects({
    stage,
    natsUrl: url,
    handle,
    maxInFlight: 4,
    retryScheduleMs: [200],
    tuning,
    log,
    metrics: createMetrics(`reliability-${stage}`),
  });
  await effects.connect();
  const stop = effects.run(() => undefined);
  return async () => {
    stop();
    await effects.drain();
  };
}

// Given a real nats-server; each stage runs the real stage runtime in this process.
describe('broker-native retries', () => {
  const sandbox = useSandbox(['nats'], 'reliability-consumer');
  const url = (): string => sandbox().need('nats').url;

  it('provisions a stage consumer with CONSUMER_* tuning, which other provisioning keeps', async () => {
    const stop = await runStage(
      url(),
      'restarter',
      { maxDeliver: 3, backoffMs: [400, 1_000] },
      () => Promise.resolve([]),
    );
    await stop();
    await withConnection(url(), async (nc) => {
      const jsm = await jetstreamManager(nc);
      const tuned = { max_deliver: 3, backoff: [ns(400), ns(1_000)], ack_wait: ns(400) };
      expect((await jsm.consumers.info(STREAMS.main, 'restarter')).config).toMatchObject(tuned);

      // When ingest or another stage provisions (streams and missing consumers only) ...
      const changes = await provision(jsm, TOPOLOGY, { consumers: ['parser'] });
      expect(changes.find((c) => c.name === 'ONPUSH/restarter')?.action).toBe('unchanged');
      expect((await jsm.consumers.info(STREAMS.main, 'restarter')).config).toMatchObject(tuned);
      // ... and the advisory stream exists, capturing the work stream's advisories.
      const advisories = await jsm.streams.info(STREAMS.advisories);
      expect(advisories.config.subjects).toEqual([
        '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ONPUSH.*',
      ]);
    });
  });

  it('keeps a delivery handled for longer than the ack wait with working(): no redelivery', async () => {
    const deliveries: number[] = [];
    const stop = await runStage(url(), 'resolver', { backoffMs: [600, 2_000] }, async (msg) => {
      deliveries.push(msg.deliveryCount);
      await sleep(2_000);
      return [];
    });
    try {
      await withConnection(url(), async (nc) => {
        await publisher(jetstream(nc))(PUSHED, encoder.encode('{}'), { msgId: 'slow-1' });
        const jsm = await jetstreamManager(nc);
        await eventually(
          'the slow delivery acked',
          async () => {
            const info = await jsm.consumers.info(STREAMS.main, 'resolver');
            return info.ack_floor.stream_seq > 0 && info.num_ack_pending === 0;
          },
          { timeoutMs: 10_000 },
        );
        expect(deliveries).toEqual([1]);
        expect((await jsm.consumers.info(STREAMS.main, 'resolver')).num_redelivered).toBe(0);
      });
    } finally {
      await stop();
    }
  });

  it('NAKs a transient failure with Retry-After, dead-letters a permanent one at once, and gives up after max deliver', async () => {
    const seen = new Map<string, number[]>();
    const stop = await runStage(url(), 'parser', { maxDeliver: 2, backoffMs: [1_000] }, (msg) => {
      const id = msg.headers[HEADERS.eventId] ?? '';
      seen.set(id, [...(seen.get(id) ?? []), Date.now()]);
      if (id === 'flaky' && msg.deliveryCount === 1)
        return Promise.reject(
          Object.assign(new Error('429'), { retryable: true, retryAfterMs: 300 }),
        );
      if (id === 'poison')
        return Promise.reject(
          Object.assign(new Error('not json'), { type: 'invalid_json', retryable: false }),
        );
      if (id === 'down')
        return Promise.reject(
          Object.assign(new Error('503'), { type: 'http_503', retryable: true }),
        );
      return Promise.resolve([]);
    });
    try {
      await withConnection(url(), async (nc) => {
        const publish = publisher(jetstream(nc));
        for (const id of ['flaky', 'poison', 'down'])
          await publish(rawSubject('gar'), encoder.encode(id), {
            msgId: id,
            headers: { [HEADERS.eventId]: id },
          });
        const dead = await eventually(
          'two dead letters',
          async () => {
            const jsm = await jetstreamManager(nc);
            const { state } = await jsm.streams.info(STREAMS.dlq);
            if (state.messages < 2 || (seen.get('flaky') ?? []).length < 2) return undefined;
            const letters = [];
            for (let seq = state.first_seq; seq <= state.last_seq; seq += 1) {
              const m = await jsm.streams.getMessage(STREAMS.dlq, { seq });
              if (m) letters.push(parseDeadLetter(m.data));
            }
            return letters;
          },
          { timeoutMs: 10_000 },
        );
        const flaky = seen.get('flaky') ?? [];
        expect(flaky).toHaveLength(2);
        expect(flaky[1]! - flaky[0]!).toBeGreaterThanOrEqual(250);
        expect(seen.get('poison')).toHaveLength(1);
        expect(seen.get('down')).toHaveLength(2);
        const byEvent = new Map(dead.map((d) => [d.headers[HEADERS.eventId], d]));
        expect(byEvent.get('poison')).toMatchObject({ reason: 'invalid_json', attempts: 1 });
        expect(byEvent.get('down')).toMatchObject({ reason: 'max_deliveries', attempts: 2 });
        expect(byEvent.has('flaky')).toBe(false);
      });
    } finally {
      await stop();
    }
  });
});
