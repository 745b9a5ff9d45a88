import { describe, expect, it } from 'vitest';
import {
  HEADERS,
  STREAMS,
  TOPOLOGY,
  encode,
  maxDeliveriesAdvisory,
  parseDeadLetter,
  parseOutcome,
  restartSubject,
  type DeadLetter,
  type Outcome,
  type RestartRequest,
} from '@onpush/contracts';
import { Supervisor } from '@onpush/cli';
import {
  connectNats,
  jetstream,
  jetstreamManager,
  provision,
  publisher,
  type JetStreamManager,
  type NatsConnection,
} from '@onpush/nats';
import { freePort, waitUntil } from '@onpush/sandbox';
import { deadLetterFor, incomingOf, publishAll, tuneConsumer } from '@onpush/service';
import { eventually, useSandbox } from '@onpush/testing';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

function restartRequest(eventId: string, name: string): RestartRequest {
  return {
    v: 1,
    eventId,
    image: 'europe-west1-docker.pkg.dev/p/r/app',
    digest: `sha256:${'a'.repeat(64)}`,
    workload: { kind: 'Deployment', namespace: 'shop', name, containers: ['app'] },
  };
}

const headersOf = (eventId: string, name: string): Record<string, string> => ({
  [HEADERS.eventId]: eventId,
  [HEADERS.workloadKind]: 'Deployment',
  [HEADERS.workloadNamespace]: 'shop',
  [HEADERS.workloadName]: name,
  traceparent: `00-${TRACE}-00f067aa0ba902b7-01`,
});

async function allOf<T>(
  jsm: JetStreamManager,
  stream: string,
  parse: (data: Uint8Array) => T,
): Promise<Array<{ seq: number; value: T }>> {
  const { state } = await jsm.streams.info(stream);
  const found: Array<{ seq: number; value: T }> = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq += 1) {
    const m = await jsm.streams.getMessage(stream, { seq });
    if (m) found.push({ seq, value: parse(m.data) });
  }
  return found;
}

/**
 * A restarter that crashes on every delivery: pulls from its consumer and never acknowledges,
 * until JetStream gave up on `count` messages (its max-deliveries advisories are stored).
 */
async function crashingStage(nc: NatsConnection, jsm: JetStreamManager, count: number) {
  const consumer = await jetstream(nc).consumers.get(STREAMS.main, 'restarter');
  await eventually(
    `${count} max-deliveries advisories stored`,
    async () => {
      await consumer.next({ expires: 1_000 });
      return (await jsm.streams.info(STREAMS.advisories)).state.messages >= count;
    },
    { timeoutMs: 20_000, intervalMs: 10 },
  );
}

// Given a real nats-server whose `restarter` consumer gives up after 2 deliveries (ack wait
// 500 ms), and no dlq-manager running.
describe('max-deliveries advisories', () => {
  const sandbox = useSandbox(['nats'], 'reliability-advisories');

  it('reach the DLQ although the dlq-manager was down when they fired', async () => {
    const nc = await connectNats({ url: sandbox().need('nats').url, name: 'onpush-test' });
    const supervisor = { current: undefined as Supervisor | undefined };
    try {
      const jsm = await jetstreamManager(nc);
      const restarter = tuneConsumer(TOPOLOGY.consumers.restarter, {
        maxDeliver: 2,
        backoffMs: [500],
      });
      await provision(jsm, { ...TOPOLOGY, consumers: { ...TOPOLOGY.consumers, restarter } });
      const publish = publisher(jetstream(nc));
      const send = (eventId: string, name: string) =>
        publish(restartSubject('shop'), encode(restartRequest(eventId, name)), {
          msgId: `${eventId}:Deployment/shop/${name}`,
          headers: headersOf(eventId, name),
        });

      // A stage that dead-letters a message itself (then loses the ack's effect: the advisory
      // names it too) — the DLQ must keep it once.
      const handled = await send('gar:handled', 'api');
      const first = await (
        await jetstream(nc).consumers.get(STREAMS.main, 'restarter')
      ).next({
        expires: 5_000,
      });
      expect(first?.seq).toBe(handled.seq);
      const failure = { type: 'http_403', message: 'forbidden', retryable: false };
      await publishAll(
        publish,
        deadLetterFor('restarter', incomingOf(first!), failure, STREAMS.main),
      );
      await first!.ackAck();
      const forged = {
        type: 'io.nats.jetstream.advisory.v1.max_deliver',
        id: 'forged',
        timestamp: new Date().toISOString(),
        stream: STREAMS.main,
        consumer: 'restarter',
        stream_seq: handled.seq,
        deliveries: 2,
      };
      nc.publish(maxDeliveriesAdvisory(STREAMS.main, 'restarter'), JSON.stringify(forged));

      // When two requests are never acknowledged (the stage crashes on each delivery) ...
      const crashed = await send('gar:crashed', 'web');
      const gone = await send('gar:gone', 'blog');
      await crashingStage(nc, jsm, 3);
      // ... and one of them leaves the stream before anyone looks (age limit, purge).
      await jsm.streams.deleteMessage(STREAMS.main, gone.seq);

      // Then, once the dlq-manager starts, both reach the DLQ.
      const port = await freePort();
      supervisor.current = new Supervisor({
        env: { ...process.env, NATS_URL: sandbox().need('nats').url, LOG_LEVEL: 'warn' },
        envFor: () => ({ PORT: String(port) }),
        services: ['dlq-manager'],
        write: () => undefined,
      });
      supervisor.current.start();
      await waitUntil(
        'dlq-manager ready',
        async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok,
        {
          timeoutMs: 30_000,
          intervalMs: 100,
        },
      );
      const letters = await eventually(
        'three dead letters',
        async () => {
          const found = await allOf(jsm, STREAMS.dlq, parseDeadLetter);
          return found.length >= 3 ? found.map((f) => f.value) : undefined;
        },
        { timeoutMs: 20_000 },
      );
      const bySeq = (seq: number): DeadLetter[] =>
        letters.filter((l) => l.id === `dead:restarter:ONPUSH:${seq}`);

      expect(bySeq(crashed.seq)).toHaveLength(1);
      expect(bySeq(crashed.seq)[0]).toMatchObject({
        stage: 'restarter',
        reason: 'max_deliveries',
        attempts: 2,
        subject: 'onpush.restart.shop',
        headers: headersOf('gar:crashed', 'web'),
        traceId: TRACE,
      });
      const original = bySeq(crashed.seq)[0]!;
      expect(Buffer.from(original.payload, 'base64').toString()).toContain('"gar:crashed"');
      expect(Date.parse(original.firstFailedAt)).toBeLessThan(Date.parse(original.lastFailedAt));
      expect(bySeq(gone.seq)).toMatchObject([
        { reason: 'max_deliveries_original_gone', attempts: 2 },
      ]);
      expect(bySeq(handled.seq)).toMatchObject([{ reason: 'http_403' }]);
      expect(letters).toHaveLength(3);

      // And the DLQ's depth and the age of its oldest entry are metrics.
      const metrics = await eventually('the DLQ gauges', async () => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return /onpush_dlq_depth\{[^}]*\} 3\n/.test(text) ? text : undefined;
      });
      const age = /onpush_dlq_oldest_age_seconds\{[^}]*\} ([\d.e+-]+)/.exec(metrics)?.[1];
      expect(Number(age)).toBeGreaterThanOrEqual(0);

      // And the crashed request has its `dead` workload fate.
      const outcomes = await allOf(jsm, STREAMS.outcomes, parseOutcome);
      const dead = outcomes.map((o) => o.value).filter((o: Outcome) => o.eventId === 'gar:crashed');
      expect(dead).toMatchObject([
        {
          fate: 'dead',
          stage: 'restarter',
          reason: 'max_deliveries',
          workload: { kind: 'Deployment', namespace: 'shop', name: 'web' },
        },
      ]);
    } finally {
      await supervisor.current?.stop();
      await nc.close();
    }
  });
});
