import { STREAMS } from '@onpush/contracts';
import { auditUrl, consumerState } from '@onpush/cli';
import { connectNats, jetstreamManager } from '@onpush/nats';
import { BENCH_REGISTRY } from './cluster.js';
import { digestOf, garBody, postPush } from './pushes.js';

/** Outcome messages stored so far (each push to one workload ends in two: dispatched + its fate). */
export async function outcomeCount(natsUrl: string): Promise<number> {
  const nc = await connectNats({ url: natsUrl, name: 'onpush-bench' });
  try {
    return (await (await jetstreamManager(nc)).streams.info(STREAMS.outcomes)).state.messages;
  } finally {
    await nc.close();
  }
}

async function waitForOutcomes(
  natsUrl: string,
  target: number,
  timeoutMs: number,
): Promise<number | undefined> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if ((await outcomeCount(natsUrl)) >= target) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

/** Sends `total` pushes as fast as `concurrency` allows, each through `send`. */
async function blast(
  total: number,
  concurrency: number,
  send: (n: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let n = next++; n < total; n = next++) await send(n);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export interface ThroughputStep {
  rate: number;
  seconds: number;
  sent: number;
  accountedAfterMs: number | undefined;
  /** CPU seconds by process group (the services, nats-server, kube-apiserver, etcd) over the step. */
  cpuSeconds?: Record<string, number>;
}

/**
 * One step at `rate` pushes/s: every push accounted for within `graceMs` of the last send?
 * `restart` pushes each restart one of `workloads` Deployments (two outcomes: dispatched and the
 * workload's fate); `no-match` pushes name images nobody runs (one outcome) — the pipeline alone.
 */
export async function throughputStep(
  ingestPort: number,
  natsUrl: string,
  workloads: number,
  rate: number,
  seconds: number,
  offset: number,
  kind: 'restart' | 'no-match' = 'restart',
  graceMs = 5_000,
  /** CPU seconds used so far, by process group. */
  cpu?: () => Promise<Record<string, number>>,
): Promise<ThroughputStep> {
  const before = await outcomeCount(natsUrl);
  const cpuBefore = await cpu?.();
  const total = Math.round(rate * seconds);
  const start = performance.now();
  await blast(total, 64, async (n) => {
    const wait = start + (n * 1_000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const i = offset + n;
    const image =
      kind === 'restart'
        ? `${BENCH_REGISTRY}/app-${i % workloads}`
        : `${BENCH_REGISTRY}/nobody-${i % 997}`;
    await postPush(ingestPort, `tp-${kind}-${i}`, garBody(image, i));
  });
  const perPush = kind === 'restart' ? 2 : 1;
  const accountedAfterMs = await waitForOutcomes(natsUrl, before + perPush * total, graceMs);
  const cpuAfter = await cpu?.();
  const cpuSeconds =
    cpuBefore && cpuAfter
      ? Object.fromEntries(
          Object.entries(cpuAfter).map(([group, s]) => [
            group,
            Number((s - (cpuBefore[group] ?? 0)).toFixed(2)),
          ]),
        )
      : undefined;
  return { rate, seconds, sent: total, accountedAfterMs, ...(cpuSeconds ? { cpuSeconds } : {}) };
}

export interface StormResult {
  pushes: number;
  workloads: number;
  sendMs: number;
  /** From the first send to the last outcome stored, once `onpush audit` finds nothing open. */
  accountedMs: number | undefined;
  /** What the audit found: event fates by fate and the restart requests made. */
  fates?: Record<string, number>;
  requests?: number;
  restartsPerWorkload: Record<string, number>;
}

/**
 * Waits until no stage has work pending or unacknowledged (a section that overloaded the pipeline
 * must not leak its backlog into the next one); returns how long that took, or undefined.
 */
export async function drained(natsUrl: string, timeoutMs = 300_000): Promise<number | undefined> {
  const nc = await connectNats({ url: natsUrl, name: 'onpush-bench' });
  const started = performance.now();
  try {
    const jsm = await jetstreamManager(nc);
    while (performance.now() - started < timeoutMs) {
      const states = await Promise.all(
        (['parser', 'resolver', 'restarter'] as const).map((c) => consumerState(jsm, c)),
      );
      if (states.every((s) => s.pending + s.ackPending === 0)) return performance.now() - started;
      await new Promise((r) => setTimeout(r, 250));
    }
    return undefined;
  } finally {
    await nc.close();
  }
}

/** The time of the last message on ONPUSH_OUTCOMES (epoch ms). */
async function lastOutcomeAt(natsUrl: string): Promise<number> {
  const nc = await connectNats({ url: natsUrl, name: 'onpush-bench' });
  try {
    const info = await (await jetstreamManager(nc)).streams.info(STREAMS.outcomes);
    return Date.parse(info.state.last_ts);
  } finally {
    await nc.close();
  }
}

/**
 * Waits until `onpush audit` since `since` finds every event of `prefix` accounted for and nothing
 * in flight; returns the audit's counts, or undefined at the timeout.
 */
async function auditedClean(
  natsUrl: string,
  since: Date,
  events: number,
  timeoutMs: number,
): Promise<{ fates: Record<string, number>; requests: number } | undefined> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const report = await auditUrl(natsUrl, since);
    const done =
      report.events >= events && report.unaccounted.length === 0 && report.inFlight.length === 0;
    if (done) return { fates: { ...report.fates }, requests: report.requests };
    await new Promise((r) => setTimeout(r, 500));
  }
  return undefined;
}

/** The body of a storm push: one image, one digest per storm (`n`). */
export function stormBody(n: number): string {
  return JSON.stringify({
    action: 'INSERT',
    tag: `${BENCH_REGISTRY}/storm:1.0`,
    digest: `${BENCH_REGISTRY}/storm@${digestOf(-1 - n)}`,
  });
}

/** Sends `pushes` copies of `body` over the webhook path, as fast as 200 connections allow. */
export function webhookBurst(ingestPort: number, pushes: number, body: string, prefix: string) {
  return () =>
    blast(pushes, 200, async (n) => {
      await postPush(ingestPort, `${prefix}-${n}`, body);
    });
}

/**
 * `pushes` pushes of one image (same digest), sent by `send`; restarts per workload (from the
 * watch, counted by the caller) and the time until the audit finds every event accounted for.
 */
export async function storm(
  natsUrl: string,
  pushes: number,
  workloads: number,
  send: () => Promise<void>,
  restarts: () => Record<string, number>,
): Promise<StormResult> {
  const since = new Date();
  const started = Date.now();
  await send();
  const sendMs = Date.now() - started;
  const audited = await auditedClean(natsUrl, since, pushes, 120_000);
  const accountedMs = audited === undefined ? undefined : (await lastOutcomeAt(natsUrl)) - started;
  return {
    pushes,
    workloads,
    sendMs,
    accountedMs,
    ...(audited ?? {}),
    restartsPerWorkload: restarts(),
  };
}
