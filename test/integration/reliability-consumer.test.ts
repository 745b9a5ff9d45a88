import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  HEADERS,
  PUSHED,
  STREAMS,
  TOPOLOGY,
  parseDeadLetter,
  rawSubject,
  restartSubject,
  type ConsumerStage,
} from '@onpush/contracts';
import {
  connectNats,
  consumerConfig,
  jetstream,
  jetstreamManager,
  provision,
  publisher,
  type NatsConnection,
} from '@onpush/nats';
import { NATS_SERVER_VERSION } from '@onpush/sandbox';
import {
  defineStage,
  tuneConsumer,
  type ConsumerTuning,
  type Incoming,
  type Outgoing,
} from '@onpush/service';
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

/** The time between consecutive deliveries, in ms. */
const gapsOf = (times: readonly number[]): number[] =>
  times.slice(1).map((time, i) => Math.round(time - times[i]!));

/** One stage of the real runtime, in this process, with `handle` as its handler. */
async function runStage(
  url: string,
  stage: ConsumerStage,
  tuning: ConsumerTuning,
  handle: (msg: Incoming) => Promise<Outgoing[]>,
  retryScheduleMs: readonly number[] = [200],
): Promise<() => Promise<void>> {
  const effects = defineStage({
    stage,
    natsUrl: url,
    start: () => ({ handle }),
    maxInFlight: 4,
    retryScheduleMs,
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

  it('runs the nats-server release docker-compose and k8s ship', async () => {
    await withConnection(url(), (nc) => {
      // NATS_SERVER_BIN, or scripts/build-nats-server.sh's build (findNatsServer).
      expect(`v${nc.info?.version}`, 'the broker under test').toBe(NATS_SERVER_VERSION);
      return Promise.resolve();
    });
  });

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

  /**
   * One message through the real stage runtime on the restarter's consumer (with `tuning`),
   * failing transiently on its first `delaysMs.length` deliveries (NAKed with those delays, the
   * RETRY_SCHEDULE) and acked on the next. Resolves the gaps between deliveries, in ms.
   */
  async function nakGaps(
    msgId: string,
    tuning: ConsumerTuning,
    delaysMs: readonly number[],
    timeoutMs: number,
  ): Promise<number[]> {
    const times: number[] = [];
    const counts: number[] = [];
    const stop = await runStage(
      url(),
      'restarter',
      tuning,
      (msg) => {
        if (msg.headers[HEADERS.eventId] !== msgId) return Promise.resolve([]);
        times.push(performance.now());
        counts.push(msg.deliveryCount);
        if (msg.deliveryCount <= delaysMs.length)
          return Promise.reject(
            Object.assign(new Error('503'), { type: 'http_503', retryable: true }),
          );
        return Promise.resolve([]);
      },
      delaysMs,
    );
    try {
      await withConnection(url(), async (nc) => {
        await publisher(jetstream(nc))(restartSubject('shop'), encoder.encode('{}'), {
          msgId,
          headers: { [HEADERS.eventId]: msgId },
        });
        await eventually(
          `delivery ${delaysMs.length + 1} of ${msgId}`,
          () => counts.length > delaysMs.length,
          { timeoutMs },
        );
      });
    } finally {
      console.info(
        `${msgId}: NAK delays ${delaysMs.join(', ')} ms -> delivery gaps ${gapsOf(times).join(', ')} ms`,
      );
      await stop();
    }
    expect(counts).toEqual(delaysMs.map((_, i) => i + 1).concat(delaysMs.length + 1));
    return gapsOf(times);
  }

  // The broker, on nats-server 2.9.10 and on 2.15.3 (the release onpush ships) alike: on a
  // consumer with a backoff, it redelivers a NAK of delivery n >= 2 after the delay plus
  // (backoff[n - 1] - ack wait): it offsets the NAK from the ack wait (backoff[0]) but compares it
  // with the backoff step of that delivery (server/consumer.go processNak, checkPending). This is
  // why TOPOLOGY declares no backoff (subjects.ts); a CONSUMER_BACKOFF brings the stretch back.
  it('with a CONSUMER_BACKOFF, NAK delays after the first retry are stretched by the backoff step minus the ack wait (the broker)', async () => {
    const backoffMs = [1_000, 2_000, 3_000];
    const delays = [300, 600, 900];
    const gaps = await nakGaps('nak-stretched', { maxDeliver: 5, backoffMs }, delays, 15_000);
    const expected = delays.map((delay, i) => delay + backoffMs[i]! - backoffMs[0]!);
    gaps.forEach((gap, i) => {
      expect(gap, `gap after delivery ${i + 1}`).toBeGreaterThanOrEqual(expected[i]!);
      expect(gap, `gap after delivery ${i + 1}`).toBeLessThan(expected[i]! + 500);
    });
  });

  // What RETRY_SCHEDULE promises (docs/reliability.md, G5), on every delivery.
  it('redelivers after each NAK delay on every delivery (the restarter consumer as TOPOLOGY declares it)', async () => {
    const delays = [300, 600, 900, 1_200];
    const gaps = await nakGaps('nak-topology', {}, delays, 8_000);
    gaps.forEach((gap, i) => {
      expect(gap, `gap after delivery ${i + 1}`).toBeGreaterThanOrEqual(delays[i]! - 20);
      expect(gap, `gap after delivery ${i + 1}`).toBeLessThan(delays[i]! + 1_000);
    });
  });

  it('redelivers an unacknowledged message (a crash) after each backoff step in turn', async () => {
    const backoffMs = [500, 1_000, 1_500];
    const resolver = tuneConsumer(TOPOLOGY.consumers.resolver, { maxDeliver: 5, backoffMs });
    await withConnection(url(), async (nc) => {
      const jsm = await jetstreamManager(nc);
      await provision(jsm, { ...TOPOLOGY, consumers: { ...TOPOLOGY.consumers, resolver } });
      expect((await jsm.consumers.info(STREAMS.main, 'resolver')).config).toMatchObject(
        consumerConfig(resolver),
      );
      await publisher(jetstream(nc))(PUSHED, encoder.encode('{}'), { msgId: 'crash-1' });

      // A stage that takes each delivery and dies before acknowledging it: always a pull
      // waiting, never an ack, a NAK or working().
      const consumer = await jetstream(nc).consumers.get(STREAMS.main, 'resolver');
      const times: number[] = [];
      const counts: number[] = [];
      const started = performance.now();
      while (counts.length < backoffMs.length + 1 && performance.now() - started < 15_000) {
        const m = await consumer.next({ expires: 2_000 });
        if (!m) continue;
        times.push(performance.now());
        counts.push(m.info.deliveryCount);
        if (counts.length === backoffMs.length + 1) await m.ackAck();
      }
      expect(counts).toEqual([1, 2, 3, 4]);
      const gaps = gapsOf(times);
      console.info(`backoff ${backoffMs.join(', ')} ms -> delivery gaps ${gaps.join(', ')} ms`);
      // The broker times each step from its own send; the client's receive may lag a little
      // more on one delivery than on the next.
      gaps.forEach((gap, i) => {
        expect(gap, `gap after delivery ${i + 1}`).toBeGreaterThanOrEqual(backoffMs[i]! - 50);
        expect(gap, `gap after delivery ${i + 1}`).toBeLessThan(backoffMs[i]! + 500);
      });
    });
  });
});
