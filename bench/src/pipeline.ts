import { summarize, type Summary } from './stats.js';
import { appImage, garBody, postPush, type PubsubBench } from './pushes.js';

export interface LatencyResult {
  path: 'webhook' | 'pubsub';
  rate: number;
  seconds: number;
  sent: number;
  restarted: number;
  latencyMs: Summary;
  /** Pub/Sub only: the emulator's own publish-to-delivery time, same run. */
  emulatorMs?: Summary;
}

interface Target {
  workloads: number;
  seen: Map<string, number[]>;
}

/** Sends `rate` pushes per second for `seconds`, each to the next Deployment's image. */
async function steady(
  rate: number,
  seconds: number,
  send: (n: number) => Promise<void>,
): Promise<number> {
  const total = Math.max(1, Math.round(rate * seconds));
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let n = 0; n < total; n += 1) {
    const wait = start + (n * 1_000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(send(n));
  }
  await Promise.all(inFlight);
  return total;
}

async function settle(
  expected: string[],
  seen: Map<string, unknown>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && expected.some((id) => !seen.has(id)))
    await new Promise((r) => setTimeout(r, 50));
}

/** (a) registry webhook: HTTP POST to ingest → the watch sees the Deployment's new annotation. */
export async function webhookLatency(
  ingestPort: number,
  target: Target,
  rate: number,
  seconds: number,
  offset: number,
  /** Filled with each event's send time (performance.now()), for the per-stage view. */
  sentAt = new Map<string, number>(),
  /**
   * Send a push again (every 100 ms, for up to 30 s) while ingest does not accept it, as Pub/Sub
   * push does: for runs that break the bus on purpose. The latency counts from the first try.
   */
  retry = false,
): Promise<LatencyResult> {
  const post = retry ? postPushUntilAccepted : postPush;
  const sent = await steady(rate, seconds, async (n) => {
    const id = `wh-${offset + n}`;
    sentAt.set(`gar:${id}`, performance.now());
    await post(ingestPort, id, garBody(appImage((offset + n) % target.workloads), offset + n));
  });
  await settle([...sentAt.keys()], target.seen);
  return result('webhook', rate, seconds, sent, sentAt, target.seen);
}

async function postPushUntilAccepted(port: number, id: string, body: string): Promise<string> {
  const deadline = performance.now() + 30_000;
  const published = new Date(); // as Pub/Sub redelivers: the same message, the same publishTime
  for (;;) {
    try {
      return await postPush(port, id, body, published);
    } catch (error) {
      if (performance.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** (b) Pub/Sub: the publish call → the watch sees the annotation; and the emulator's own delivery. */
export async function pubsubLatency(
  bench: PubsubBench,
  target: Target,
  rate: number,
  seconds: number,
  offset: number,
): Promise<LatencyResult> {
  const sentAt = new Map<string, number>();
  const startedBy = new Map<string, number>();
  const sent = await steady(rate, seconds, async (n) => {
    const t0 = performance.now();
    const id = await bench.topic.publishMessage({
      data: Buffer.from(garBody(appImage((offset + n) % target.workloads), offset + n)),
    });
    sentAt.set(`gar:${id}`, t0);
    startedBy.set(id, t0);
  });
  await settle([...sentAt.keys()], target.seen);
  // The bare subscriber is a separate subscription: its deliveries may trail onpush's.
  await settle([...startedBy.keys()], bench.bareDelivery);
  const emulator = [...startedBy].flatMap(([id, t0]) => {
    const at = bench.bareDelivery.get(id);
    return at === undefined ? [] : [at - t0];
  });
  return {
    ...result('pubsub', rate, seconds, sent, sentAt, target.seen),
    emulatorMs: summarize(emulator),
  };
}

function result(
  path: LatencyResult['path'],
  rate: number,
  seconds: number,
  sent: number,
  sentAt: Map<string, number>,
  seen: Map<string, number[]>,
): LatencyResult {
  const latencies = [...sentAt].flatMap(([id, t0]) => {
    const at = seen.get(id)?.[0];
    return at === undefined ? [] : [at - t0];
  });
  return {
    path,
    rate,
    seconds,
    sent,
    restarted: latencies.length,
    latencyMs: summarize(latencies),
  };
}
