import { AckPolicy, DeliverPolicy, StorageType, type ConsumerMessages } from '@nats-io/jetstream';
import { connectNats, jetstream, jetstreamManager, type NatsConnection } from '@onpush/nats';
import { summarize, type Summary } from './stats.js';

export interface BrokerResult {
  hops: number;
  rate: number;
  seconds: number;
  latencyMs: Summary;
}

const STREAM = 'BENCH_RELAY';

async function relayChain(nc: NatsConnection, hops: number): Promise<ConsumerMessages[]> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(STREAM).catch(() => undefined);
  await jsm.streams.add({
    name: STREAM,
    subjects: ['bench.relay.>'],
    storage: StorageType.File,
    duplicate_window: 120_000_000_000,
  });
  const js = jetstream(nc);
  const readers: ConsumerMessages[] = [];
  for (let hop = 1; hop <= hops; hop += 1) {
    await jsm.consumers.add(STREAM, {
      durable_name: `hop${hop}`,
      filter_subject: `bench.relay.${hop}`,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      max_ack_pending: 1_000,
    });
    const consumer = await js.consumers.get(STREAM, `hop${hop}`);
    readers.push(await consumer.consume({ max_messages: 256 }));
  }
  return readers;
}

/**
 * The bare broker: the same number of JetStream hops as onpush (publish, then consume and
 * publish again per stage) with the same client library, file storage and explicit acks,
 * and nothing else — no parsing, no Kubernetes.
 */
export async function benchBroker(
  url: string,
  hops: number,
  rate: number,
  seconds: number,
): Promise<BrokerResult> {
  const nc = await connectNats({ url, name: 'onpush-bench-broker' });
  const js = jetstream(nc);
  const readers = await relayChain(nc, hops);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const total = Math.max(1, Math.round(rate * seconds));
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  readers.forEach((reader, i) => {
    const last = i === readers.length - 1;
    void (async () => {
      for await (const m of reader) {
        const id = m.headers?.get('Nats-Msg-Id')?.split('|')[0] ?? '';
        if (last) {
          latencies.push(performance.now() - (sentAt.get(id) ?? performance.now()));
          m.ack();
          if (latencies.length >= total) done();
        } else {
          await js.publish(`bench.relay.${i + 2}`, m.data, { msgID: `${id}|${i + 2}` });
          m.ack();
        }
      }
    })();
  });
  const interval = 1_000 / rate;
  const start = performance.now();
  for (let n = 0; n < total; n += 1) {
    const due = start + n * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const id = `m${n}`;
    sentAt.set(id, performance.now());
    await js.publish('bench.relay.1', new TextEncoder().encode(`{"n":${n}}`), { msgID: `${id}|1` });
  }
  await Promise.race([finished, new Promise((r) => setTimeout(r, 30_000))]);
  for (const reader of readers) await reader.close();
  await (await jetstreamManager(nc)).streams.delete(STREAM).catch(() => undefined);
  await nc.close();
  return { hops, rate, seconds, latencyMs: summarize(latencies) };
}
