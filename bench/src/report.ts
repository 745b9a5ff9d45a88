import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Summary } from './stats.js';
import type { Results } from './run.js';

const ms = (s: Summary | undefined): string =>
  s && s.n > 0
    ? `p50 ${s.p50.toFixed(1)} · p90 ${s.p90.toFixed(1)} · p99 ${s.p99.toFixed(1)} · max ${s.max.toFixed(1)} ms (n=${s.n})`
    : 'no samples';

/** The rows a reader needs, with the targets of the issue beside them. */
export function rows(r: Results): [string, string, string][] {
  const get = <T>(key: string): T | undefined => r[key] as T | undefined;
  const webhook = get<{ latencyMs: Summary; sent: number; restarted: number }>('webhook');
  const pubsub = get<{ latencyMs: Summary; emulatorMs?: Summary }>('pubsub');
  const broker = get<{ latencyMs: Summary }>('broker');
  const lookup = get<{
    workloads: number;
    containers: number;
    buildMs: number;
    lookupUs: Summary;
    heapMiB: number;
    snapshotBytes: number;
    shards: number;
  }>('lookup');
  const idle = get<{
    seconds: number;
    apiRequests: Record<string, number>;
    cpuSeconds: Record<string, number>;
  }>('idle');
  const tp =
    get<Record<'restart' | 'no-match', { bestSustained: number } | undefined>>('throughput');
  const storm = get<{
    pushes: number;
    sendMs: number;
    accountedMs?: number;
    restartsPerWorkload: Record<string, number>;
  }>('storm');
  const stages = get<Record<'parser' | 'resolver' | 'restarter', Summary>>('webhookStages');
  const ratio = webhook && broker ? webhook.latencyMs.p50 / broker.latencyMs.p50 : Number.NaN;
  const added = pubsub?.emulatorMs ? pubsub.latencyMs.p50 - pubsub.emulatorMs.p50 : Number.NaN;
  const restarts = Object.values(storm?.restartsPerWorkload ?? {});
  return [
    ['webhook POST → PATCH seen', ms(webhook?.latencyMs), 'p50 ≤ 10 ms, p99 ≤ 30 ms'],
    ['  stage: parser (raw → pushed stored)', ms(stages?.parser), '—'],
    ['  stage: resolver (pushed → restart stored)', ms(stages?.resolver), '—'],
    ['  stage: restarter (restart → outcome, GET+PATCH)', ms(stages?.restarter), '—'],
    ['bare broker, 3 hops', ms(broker?.latencyMs), '—'],
    ['webhook / bare broker (p50)', `${ratio.toFixed(2)}×`, '≤ 3×'],
    ['Pub/Sub publish → PATCH seen', ms(pubsub?.latencyMs), '—'],
    ['emulator publish → bare delivery', ms(pubsub?.emulatorMs), '—'],
    ['onpush added above the emulator (p50)', `${added.toFixed(1)} ms`, '≤ 10 ms'],
    [
      'throughput, sustained (pushes nobody runs)',
      `${tp?.['no-match']?.bestSustained ?? 0} pushes/s`,
      '≥ 1,000/s',
    ],
    [
      'throughput, sustained (each push restarts a Deployment)',
      `${tp?.restart?.bestSustained ?? 0} pushes/s`,
      '—',
    ],
    [
      'lookup',
      lookup
        ? `p50 ${lookup.lookupUs.p50} µs · p99 ${lookup.lookupUs.p99} µs at ${lookup.workloads} workloads / ${lookup.containers} containers; build ${lookup.buildMs} ms; ${lookup.heapMiB} MiB; snapshot ${(lookup.snapshotBytes / 1024).toFixed(0)} KiB in ${lookup.shards} shard(s)`
        : '—',
      'p99 ≤ 20 µs',
    ],
    [
      'idle API requests',
      idle
        ? `${Object.values(idle.apiRequests).reduce((a, b) => a + b, 0)} in ${idle.seconds} s ${JSON.stringify(idle.apiRequests)}`
        : '—',
      '0',
    ],
    ['idle CPU seconds', idle ? JSON.stringify(idle.cpuSeconds) : '—', '—'],
    [
      'storm',
      storm
        ? `${storm.pushes} pushes sent in ${storm.sendMs.toFixed(0)} ms; accounted after ${storm.accountedMs?.toFixed(0) ?? 'NOT within 120 s'} ms; restarts per workload ${JSON.stringify([...new Set(restarts)])} over ${restarts.length} workloads`
        : '—',
      'exactly 1 per workload',
    ],
  ];
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
  return `# onpush benchmark — ${String(r['startedAt'])}\n\n${machine}\n\n${lines.join('\n')}\n`;
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
