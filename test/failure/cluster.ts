// What the JetStream-cluster failure tests share: a storm that runs until the chaos is over,
// sent to every ingest replica in turn and timed per push; leadership moves; and, from the API
// server's audit log, how long each push took to become a PATCH — the pause a node loss costs.
import { setTimeout as sleep } from 'node:timers/promises';
import { ANNOTATIONS } from '@onpush/kube';
import { TOPOLOGY, type ConsumerStage } from '@onpush/contracts';
import { auditedDeploymentWrites, type NatsCluster, type Sandbox } from '@onpush/sandbox';
import { PUSH_PATH, pushHeaders } from '../support/pubsub-push.js';
import { digestOf, keyOf, type Fleet } from './fleet.js';
import { deliverTo, envelope, garbageOf, pushOf, type Delivery, type Push } from './storm.js';

/** A storm's record: what was sent, and when ingest accepted each message id. */
export interface TimedStorm {
  pushes: Push[];
  rounds: number;
  /** message id → when ingest answered 2xx (ms since the epoch). */
  acceptedAt: Map<string, number>;
  deliveries: Delivery[];
}

/**
 * Sends rounds of pushes — round r pushes digest r of every image — `intervalMs` apart, until
 * `done()` is true and at least `minRounds` went out. Each round also repeats every fifth push
 * (the same message delivered twice, as Pub/Sub may) and carries one garbage message. Each POST
 * goes to the next ingest replica (`urls`), as a Service spreads them. Each message is retried on
 * its own until accepted, as a push subscription retries it, while later rounds go out on time
 * (at most `inFlight` POSTs at once): one message ingest cannot store yet holds back no other.
 */
export async function stormUntil(
  fleet: Fleet,
  urls: () => string[],
  options: {
    label: string;
    done: () => boolean;
    minRounds: number;
    intervalMs: number;
    inFlight?: number;
  },
): Promise<TimedStorm> {
  const storm: TimedStorm = { pushes: [], rounds: 0, acceptedAt: new Map(), deliveries: [] };
  let next = 0;
  const url = (): string => {
    const all = urls();
    next = (next + 1) % all.length;
    return `${all[next]}${PUSH_PATH}`;
  };
  const slots = limiter(options.inFlight ?? 48);
  const send = async (push: Push, publishTime: Date): Promise<void> => {
    const delivery = await slots(() =>
      deliverTo(url, envelope(push.messageId, push.body, publishTime), pushHeaders(), 180_000),
    );
    storm.deliveries.push(delivery);
    if (!storm.acceptedAt.has(push.messageId)) storm.acceptedAt.set(push.messageId, Date.now());
  };
  const sending: Promise<void>[] = [];
  for (let r = 0; r < options.minRounds || !options.done(); r += 1) {
    const started = Date.now();
    const round = fleet.images.map((image, i) =>
      pushOf(`${options.label}-${r}-${i}`, image, digestOf(image, r)),
    );
    const sends = [...round, ...round.filter((_, i) => i % 5 === 0)];
    sends.push(garbageOf(`${options.label}-garbage-${r}`));
    storm.pushes.push(...round, sends.at(-1)!);
    storm.rounds += 1;
    // published now: a message sent twice, or retried, keeps its publish time (as in Pub/Sub)
    const publishTime = new Date();
    sending.push(...sends.map((push) => send(push, publishTime)));
    await sleep(Math.max(0, options.intervalMs - (Date.now() - started)));
  }
  await Promise.all(sending);
  return storm;
}

/** Runs at most `limit` of the tasks given to it at once, the others in order as slots free up. */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    // a slot is taken here, or handed over by the task that frees it
    if (running < limit) running += 1;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const nextTask = waiting.shift();
      if (nextTask) nextTask();
      else running -= 1;
    }
  };
}

/** The ingest replicas' base URLs. */
export const ingestUrls = (ports: readonly number[]): string[] =>
  ports.map((p) => `http://127.0.0.1:${p}`);

/**
 * Moves the leadership of `stream` — or of its consumer `durable` — to node `node` (asking its
 * leader to step down until an election lands it there); true when it got there.
 */
export async function leadOn(
  cluster: NatsCluster,
  node: number,
  stream: string,
  durable?: string,
): Promise<boolean> {
  const stepDown =
    durable === undefined
      ? `$JS.API.STREAM.LEADER.STEPDOWN.${stream}`
      : `$JS.API.CONSUMER.LEADER.STEPDOWN.${stream}.${durable}`;
  for (let attempt = 0; attempt < 12; attempt += 1) {
    if ((await cluster.leaderOf(stream, durable)) === node) return true;
    const nc = await cluster.connect('onpush-failure-stepdown');
    try {
      await nc.request(stepDown, undefined, { timeout: 5_000 });
    } catch {
      /* no leader at the moment: ask again */
    } finally {
      await nc.close();
    }
    await sleep(500);
  }
  return (await cluster.leaderOf(stream, durable)) === node;
}

/** Moves the leadership of `stage`'s durable consumer to node `node` (leadOn). */
export function leadConsumerOn(
  cluster: NatsCluster,
  stage: ConsumerStage,
  node: number,
): Promise<boolean> {
  const { stream, durable } = TOPOLOGY.consumers[stage];
  return leadOn(cluster, node, stream, durable);
}

/** Push → PATCH: per applied (workload, digest), the time from ingest's 2xx to the PATCH. */
export interface PushToPatch {
  /** ms, sorted. */
  latencies: number[];
  /** Each (push, workload) patched: when ingest accepted the push, and how long it took. */
  samples: { acceptedAt: number; ms: number }[];
  /** p50/p99 of the pushes ingest accepted within [from, to). */
  between: (from: number, to: number) => { n: number; p50: number; p99: number };
  longest: { ms: number; what: string };
  /** Applied PATCHes the API server received within [from, to] (ms since the epoch). */
  patchesBetween: (from: number, to: number) => number;
}

/**
 * From the API server's audit log: for every push of the storm, the first applied PATCH that
 * put its digest on each workload running its image (pushes superseded before their turn have
 * none and are left out).
 */
export function pushToPatch(sandbox: Sandbox, fleet: Fleet, storm: TimedStorm): PushToPatch {
  const firstPatch = new Map<string, number>();
  const applied: number[] = [];
  for (const w of auditedDeploymentWrites(sandbox.need('kube').auditLogPath)) {
    if (w.verb !== 'patch' || w.code !== 200) continue;
    const at = Date.parse(w.at);
    applied.push(at);
    const key = `${w.namespace}/${w.name} ${w.templateAnnotations[ANNOTATIONS.digest] ?? '-'}`;
    if (!firstPatch.has(key)) firstPatch.set(key, at);
  }
  const latencies: number[] = [];
  const samples: { acceptedAt: number; ms: number }[] = [];
  let longest = { ms: 0, what: 'nothing patched' };
  for (const push of storm.pushes) {
    const accepted = storm.acceptedAt.get(push.messageId);
    if (push.image === '' || accepted === undefined) continue;
    for (const w of fleet.workloads.filter((x) => x.image === push.image)) {
      const at = firstPatch.get(`${keyOf(w)} ${push.digest}`);
      if (at === undefined) continue;
      const ms = Math.max(0, at - accepted);
      latencies.push(ms);
      samples.push({ acceptedAt: accepted, ms });
      if (ms > longest.ms) longest = { ms, what: `${push.messageId} → ${keyOf(w)}` };
    }
  }
  latencies.sort((a, b) => a - b);
  return {
    latencies,
    samples,
    between: (from, to) => {
      const inside = samples
        .filter((x) => x.acceptedAt >= from && x.acceptedAt < to)
        .map((x) => x.ms)
        .sort((a, b) => a - b);
      return { n: inside.length, ...percentiles(inside) };
    },
    longest,
    patchesBetween: (from, to) => applied.filter((at) => at >= from && at <= to).length,
  };
}

/** p50 and p99 of sorted `values`, for the report. */
export function percentiles(values: readonly number[]): { p50: number; p99: number } {
  const at = (q: number): number =>
    values.length === 0 ? 0 : values[Math.min(values.length - 1, Math.floor(q * values.length))]!;
  return { p50: at(0.5), p99: at(0.99) };
}
