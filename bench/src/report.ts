import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { round, type Summary } from './stats.js';
import type { LookupResult } from './lookup.js';
import type { BurstResult } from './burst.js';
import type { RateResult } from './rates.js';
import type { ChurnResult } from './churn.js';
import type { ClusterResult } from './nats-cluster.js';
import type { FleetResult } from './fleet.js';
import type { Results } from './run.js';

const ms = (s: Summary | undefined): string =>
  s && s.n > 0
    ? `p50 ${s.p50.toFixed(1)} · p90 ${s.p90.toFixed(1)} · p99 ${s.p99.toFixed(1)} · max ${s.max.toFixed(1)} ms (n=${s.n})`
    : 'no samples';

/** The rows a reader needs, with onpush's targets (BENCH.md) beside them. */
export function rows(r: Results): [string, string, string][] {
  const get = <T>(key: string): T | undefined => r[key] as T | undefined;
  const webhook = get<{ latencyMs: Summary; sent: number; restarted: number }>('webhook');
  const pubsub = get<{ latencyMs: Summary; emulatorMs?: Summary }>('pubsub');
  const broker = get<{ latencyMs: Summary }>('broker');
  const lookup = get<LookupResult>('lookup');
  const idle = get<{
    seconds: number;
    apiRequests: Record<string, number>;
    cpuSeconds: Record<string, number>;
  }>('idle');
  const tp =
    get<Record<'restart' | 'no-match', { bestSustained: number } | undefined>>('throughput');
  type Storm = {
    pushes: number;
    sendMs: number;
    accountedMs?: number;
    fates?: Record<string, number>;
    cpuSeconds?: Record<string, number>;
    restartsPerWorkload: Record<string, number>;
  };
  const storms: [string, Storm | undefined][] = [
    ['storm via Pub/Sub', get<Storm>('stormPubsub')],
    ['storm via webhook', get<Storm>('storm')],
  ];
  const stages = get<
    Record<'parser' | 'resolver' | 'restarter', Summary> &
      Partial<Record<'ingest' | 'patchSeen', Summary>>
  >('webhookStages');
  const floor = get<{ latencyMs: Summary }>('floor');
  const out: [string, string, string][] = [];
  if (webhook) {
    out.push(['webhook POST → PATCH seen', ms(webhook.latencyMs), 'p50 ≤ 10 ms, p99 ≤ 30 ms']);
    if (stages) {
      if (stages.ingest)
        out.push(['  stage: ingest (POST sent → raw stored)', ms(stages.ingest), '—']);
      out.push(
        ['  stage: parser (raw → pushed stored)', ms(stages.parser), '—'],
        ['  stage: resolver (pushed → restart stored)', ms(stages.resolver), '—'],
      );
      if (stages.patchSeen)
        out.push([
          '  stage: restarter + API server (restart stored → PATCH seen)',
          ms(stages.patchSeen),
          '—',
        ]);
      out.push(['  stage: restarter (restart → outcome stored)', ms(stages.restarter), '—']);
    }
  }
  const api = get<Record<string, number>>('webhookApi');
  if (webhook && api) {
    out.push([
      '  API requests during the webhook run',
      `${JSON.stringify(api)} for ${webhook.sent} pushes`,
      '—',
    ]);
  }
  if (broker) out.push(['bare broker, 3 hops', ms(broker.latencyMs), '—']);
  if (floor) out.push(['bare PATCH → watch (API server alone)', ms(floor.latencyMs), '—']);
  if (webhook && broker) {
    const ratio = webhook.latencyMs.p50 / broker.latencyMs.p50;
    out.push(['webhook / bare broker (p50)', `${ratio.toFixed(2)}×`, '≤ 3×']);
    if (floor) {
      const both = broker.latencyMs.p50 + floor.latencyMs.p50;
      const own = webhook.latencyMs.p50 - both;
      out.push([
        'webhook / (bare broker + bare PATCH) (p50)',
        `${(webhook.latencyMs.p50 / both).toFixed(2)}× (onpush's own share ${own.toFixed(1)} ms)`,
        '—',
      ]);
    }
  }
  if (pubsub) {
    const added = pubsub.emulatorMs ? pubsub.latencyMs.p50 - pubsub.emulatorMs.p50 : Number.NaN;
    out.push(
      ['Pub/Sub publish → PATCH seen', ms(pubsub.latencyMs), '—'],
      ['emulator publish → bare delivery', ms(pubsub.emulatorMs), '—'],
      ['onpush added above the emulator (p50)', `${added.toFixed(1)} ms`, '≤ 10 ms'],
    );
  }
  if (tp) {
    out.push(
      [
        'throughput, sustained (pushes nobody runs)',
        `${tp['no-match']?.bestSustained ?? 0} pushes/s`,
        '≥ 1,000/s',
      ],
      [
        'throughput, sustained (each push restarts a Deployment)',
        `${tp.restart?.bestSustained ?? 0} pushes/s`,
        '—',
      ],
    );
    type Step = { rate: number; accountedAfterMs?: number; cpuSeconds?: Record<string, number> };
    const steps = (tp.restart as { steps?: Step[] } | undefined)?.steps ?? [];
    for (const step of steps) {
      const cpu = step.cpuSeconds;
      if (!cpu) continue;
      const api = (cpu['kube-apiserver'] ?? 0) + (cpu['etcd'] ?? 0);
      const total = api + (cpu['services'] ?? 0) + (cpu['nats-server'] ?? 0);
      out.push([
        `  restarts at ${step.rate}/s: CPU by process`,
        `${step.accountedAfterMs === undefined ? 'not sustained' : 'sustained'}; kube-apiserver + etcd ${api.toFixed(1)} s ` +
          `(${((api / total) * 100).toFixed(0)}%), the five services ${cpu['services']?.toFixed(1)} s, nats-server ${cpu['nats-server']?.toFixed(1)} s`,
        '—',
      ]);
    }
  }
  if (lookup) {
    out.push([
      'lookup',
      `p50 ${lookup.lookupUs.p50} µs · p99 ${lookup.lookupUs.p99} µs at ${lookup.workloads} workloads / ${lookup.containers} containers; build ${lookup.buildMs} ms; ${lookup.heapMiB} MiB; snapshot ${(lookup.snapshotBytes / 1024).toFixed(0)} KiB in ${lookup.shards} shard(s)`,
      'p99 ≤ 20 µs',
    ]);
  }
  if (idle) {
    const total = Object.values(idle.apiRequests).reduce((a, b) => a + b, 0);
    out.push(
      [
        'idle API requests',
        `${total} in ${idle.seconds} s ${JSON.stringify(idle.apiRequests)}`,
        '0',
      ],
      ['idle CPU seconds', JSON.stringify(idle.cpuSeconds), '—'],
    );
  }
  for (const [name, storm] of storms) {
    if (!storm) continue;
    const restarts = Object.values(storm.restartsPerWorkload);
    const accounted =
      storm.accountedMs === undefined ? 'NOT within 120 s' : `${storm.accountedMs.toFixed(0)} ms`;
    out.push([
      name,
      `${storm.pushes} pushes sent in ${storm.sendMs.toFixed(0)} ms; all accounted (audit) after ${accounted}; fates ${JSON.stringify(storm.fates ?? {})}; restarts per workload ${JSON.stringify([...new Set(restarts)])} over ${restarts.length} workloads`,
      'exactly 1 per workload',
    ]);
    if (storm.cpuSeconds) out.push(['  CPU seconds', JSON.stringify(storm.cpuSeconds), '—']);
  }
  for (const burst of [get<BurstResult>('burst'), get<BurstResult>('burstPubsub')]) {
    if (!burst) continue;
    const patches = burst.api['PATCH deployments'] ?? 0;
    const gets = burst.api['GET deployments'] ?? 0;
    const what = burst.path === 'pubsub' ? 'Pub/Sub messages' : 'webhook pushes';
    out.push([
      `burst: ${burst.pushes} ${what} of new digests in ${burst.sendMs} ms over ${burst.workloads} Deployments (defaults, KUBE_QPS ${burst.kubeQps})`,
      `${burst.path === 'pubsub' ? 'published' : 'ingest answered'} ${JSON.stringify(burst.answers)}`,
      burst.path === 'pubsub' ? '—' : 'no 429',
    ]);
    out.push([
      '  API requests (PATCH / GET / PATCH refused 409)',
      `${patches} (${(patches / burst.workloads).toFixed(2)} per Deployment) / ${gets} / ${burst.conflicts}`,
      '409 ≤ 1% of PATCHes, GET ≤ 1% of pushes',
    ]);
    out.push([
      '  every Deployment on its last digest',
      burst.settledAfterLastSendMs === undefined
        ? `not within 60 s (${burst.onLastPush} of ${burst.workloads})`
        : `${burst.settledAfterLastSendMs} ms after the last send; the API rate alone needs ${burst.rateRequiredMs} ms for these PATCHes`,
      '≤ 1 s + the rate’s time',
    ]);
  }
  const rates = get<RateResult[]>('rates');
  if (rates) {
    const lone = rates[0];
    for (const step of rates) {
      out.push([
        `webhook POST → PATCH at ${step.rate}/s (${step.pushes} pushes) ÷ its floor`,
        `${ms(step.latencyMs)}; floor p50 ${step.floorMs.p50} · p99 ${step.floorMs.p99} ms → ` +
          `${step.ratio.p50}× · ${step.ratio.p99}×; CPU per push ${step.cpuPerPushMs.services} ms ` +
          `(services: ${Object.entries(step.cpuPerPushMs.byService)
            .map(([s, ms]) => `${s} ${ms}`)
            .join(', ')}) + ${step.cpuPerPushMs.natsServer} ms (nats-server)`,
        '≤ 1.5× the floor',
      ]);
      const p50s = (['ingest', 'parser', 'resolver', 'restarter', 'patchSeen'] as const).map(
        (stage) => `${stage} ${step.stages[stage] ? round(step.stages[stage].p50, 1) : '—'}`,
      );
      out.push([`  stage p50s at ${step.rate}/s (ms)`, p50s.join(' · '), '—']);
      const io = Object.entries(step.ioPerPush ?? {}).map(
        ([name, { writes, wakeups }]) => `${name} ${writes} · ${wakeups}`,
      );
      if (io.length > 0)
        out.push([`  write calls · wake-ups per push at ${step.rate}/s`, io.join(', '), '—']);
    }
    const busy = rates.find((s) => s.rate === 50);
    if (lone && busy)
      out.push([
        `  p50 at ${lone.rate}/s ÷ p50 at 50/s`,
        // The machine's own share: the bare floor is slower alone too (idle cores wake late).
        `${(lone.latencyMs.p50 / busy.latencyMs.p50).toFixed(2)}× (the floor's own: ` +
          `${(lone.floorMs.p50 / busy.floorMs.p50).toFixed(2)}×)`,
        '≤ 1.2×',
      ]);
  }
  const churn = get<ChurnResult>('churn');
  if (churn) {
    const sum = (cpu: Record<string, number>) =>
      Object.values(cpu)
        .reduce((a, b) => a + b, 0)
        .toFixed(2);
    out.push([
      `churn: ${churn.changes} changes of ${churn.others} Deployments that did not opt in (${churn.rate}/s for ${churn.seconds}s), rollouts followed in their namespaces`,
      `CPU of the five services ${sum(churn.cpuSeconds.churn)} s (resolver ${churn.cpuSeconds.churn['resolver']}, restarter ${churn.cpuSeconds.churn['restarter']}) beside ${sum(churn.cpuSeconds.quiet)} s without; ${churn.cpuPerChangeMs} ms per change`,
      '—',
    ]);
  }
  const fleet = get<FleetResult>('fleet');
  for (const step of fleet?.steps ?? []) {
    out.push([
      `fleet: webhook POST at the hub → PATCH seen in each of ${fleet!.clusters.length} clusters (${step.rate}/s for ${step.seconds}s; each cluster its own API server and leaf nats-server, ${fleet!.workloads} Deployments)`,
      Object.entries(step.perCluster)
        .map(([name, c]) => `${name} ${ms(c.latencyMs)} (${c.restarted}/${step.sent})`)
        .join('; '),
      '—',
    ]);
    const single = webhook && webhook.latencyMs && step.rate === 50 ? webhook : undefined;
    out.push([
      '  → PATCH seen in the last of the clusters',
      `${ms(step.lastClusterMs)}${
        single
          ? `; ÷ one cluster's p50 at 50/s (webhook above): ${(step.lastClusterMs.p50 / single.latencyMs.p50).toFixed(2)}×`
          : ''
      }`,
      '—',
    ]);
  }
  const cluster = get<ClusterResult>('natsCluster');
  if (cluster) {
    out.push([
      `webhook POST → PATCH, ${cluster.nodes}-node JetStream cluster (R${cluster.nodes})`,
      ms(cluster.webhook.latencyMs),
      '—',
    ]);
    if (webhook)
      out.push([
        '  cluster / one node (p50)',
        `${(cluster.webhook.latencyMs.p50 / webhook.latencyMs.p50).toFixed(2)}×`,
        '—',
      ]);
    out.push([
      `  ${cluster.nodeLoss.killed} (main stream leader) SIGKILLed at ${cluster.nodeLoss.killedAtMs} ms`,
      `${ms(cluster.nodeLoss.latencyMs)}; the loss cost a pause of ${cluster.nodeLoss.pauseMs} ms; ` +
        `${cluster.nodeLoss.onLastPush} of ${cluster.nodeLoss.workloads} workloads on their last push`,
      '—',
    ]);
  }
  return out;
}

export function table(r: Results): string {
  const data = rows(r);
  const w = [0, 1, 2].map((i) => Math.max(...data.map((row) => row[i]!.length), 6));
  return data.map((row) => row.map((c, i) => c.padEnd(w[i]!)).join('  ')).join('\n');
}

export function markdown(r: Results, machine: string): string {
  const lines = [
    '| measure | result | target |',
    '|---|---|---|',
    ...rows(r).map((row) => `| ${row.join(' | ')} |`),
  ];
  const partial = Array.isArray(r['sections']) ? ` (sections: ${r['sections'].join(', ')})` : '';
  return `# onpush benchmark — ${String(r['startedAt'])}${partial}\n\n${machine}\n\n${lines.join('\n')}\n`;
}

export function writeResults(
  dir: string,
  r: Results,
  machine: string,
): { json: string; md: string } {
  mkdirSync(dir, { recursive: true });
  const stamp = String(r['startedAt']).replaceAll(':', '-');
  const json = join(dir, `${stamp}${r['smoke'] ? '-smoke' : ''}.json`);
  const md = join(dir, `${stamp}${r['smoke'] ? '-smoke' : ''}.md`);
  writeFileSync(json, `${JSON.stringify({ ...r, machine }, null, 2)}\n`);
  writeFileSync(md, markdown(r, machine));
  return { json, md };
}
