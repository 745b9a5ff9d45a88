import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Supervisor, SERVICES, type ServiceName } from '@onpush/cli';
import { Sandbox, freePort, waitUntil } from '@onpush/sandbox';
import { benchBroker } from './broker.js';
import { BENCH_REGISTRY, clients, createDeployments, restartWatch } from './cluster.js';
import { apiRequests, cpuSeconds, diff } from './idle.js';
import { storm, throughputStep } from './load.js';
import { benchLookup } from './lookup.js';
import { pubsubLatency, webhookLatency } from './pipeline.js';
import { pubsubBench } from './pushes.js';
import { stageTimes } from './stages.js';

export interface BenchOptions {
  smoke: boolean;
  log: (line: string) => void;
}

export type Results = Record<string, unknown>;

const sizes = (smoke: boolean) => ({
  deployments: smoke ? 40 : 1_000,
  rate: 50,
  latencySeconds: smoke ? 2 : 60,
  idleSeconds: smoke ? 3 : 60,
  throughputSeconds: smoke ? 2 : 30,
  throughputRates: smoke ? [100] : [250, 500, 1_000, 1_500, 2_000],
  stormPushes: smoke ? 300 : 10_000,
  stormWorkloads: 10,
  lookupWorkloads: smoke ? 1_000 : 10_000,
});

async function startServices(
  sandbox: Sandbox,
): Promise<{ supervisor: Supervisor; ports: Record<ServiceName, number> }> {
  const ports = {} as Record<ServiceName, number>;
  for (const s of SERVICES) ports[s] = await freePort();
  const supervisor = new Supervisor({
    env: {
      ...process.env,
      ...sandbox.env,
      PUBSUB_CREATE_SUBSCRIPTION: 'true',
      LOG_LEVEL: 'warn',
      KUBE_QPS: '2000',
      KUBE_BURST: '2000',
    },
    envFor: (service) => ({ PORT: String(ports[service]) }),
    write: () => undefined,
  });
  supervisor.start();
  for (const s of SERVICES) {
    await waitUntil(
      `${s} ready`,
      async () => (await fetch(`http://127.0.0.1:${ports[s]}/readyz`)).ok,
      { timeoutMs: 90_000, intervalMs: 100 },
    );
  }
  return { supervisor, ports };
}

/** Runs every benchmark against real servers and real service processes; returns the results. */
export async function runBench({ smoke, log }: BenchOptions): Promise<Results> {
  const size = sizes(smoke);
  const results: Results = { smoke, startedAt: new Date().toISOString() };
  log(`lookup: ${size.lookupWorkloads} workloads × 5 containers`);
  results['lookup'] = benchLookup(size.lookupWorkloads, 5, smoke ? 20_000 : 200_000);
  const dir = mkdtempSync(join(tmpdir(), 'onpush-bench-'));
  const sandbox = await Sandbox.start({ dir, log: (l) => log(`  ${l}`) });
  try {
    await pipelineBenches(sandbox, size, results, log);
  } finally {
    await sandbox.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

async function pipelineBenches(
  sandbox: Sandbox,
  size: ReturnType<typeof sizes>,
  results: Results,
  log: (l: string) => void,
): Promise<void> {
  const kube = clients(sandbox.need('kube').kubeconfigPath);
  log(`creating ${size.deployments} + ${size.stormWorkloads} opted-in Deployments`);
  await createDeployments(kube, size.deployments, 20);
  await createDeployments(kube, size.stormWorkloads, 2, {
    prefix: 'storm',
    image: () => `${BENCH_REGISTRY}/storm:1.0`,
  });
  log(`bare broker: 3 JetStream hops at ${size.rate}/s for ${size.latencySeconds}s`);
  results['broker'] = await benchBroker(
    sandbox.need('nats').url,
    3,
    size.rate,
    size.latencySeconds,
  );
  const { supervisor, ports } = await startServices(sandbox);
  const watch = await restartWatch(kube);
  const ps = await pubsubBench(sandbox.need('pubsub').host, sandbox.pubsubProject);
  try {
    const target = { workloads: size.deployments, seen: watch.seen };
    log(`push-to-PATCH via webhook at ${size.rate}/s for ${size.latencySeconds}s`);
    results['webhook'] = await webhookLatency(
      ports.ingest,
      target,
      size.rate,
      size.latencySeconds,
      0,
    );
    results['webhookStages'] = await stageTimes(sandbox.need('nats').url, 'gar:wh-');
    log(`push-to-PATCH via Pub/Sub at ${size.rate}/s for ${size.latencySeconds}s`);
    results['pubsub'] = await pubsubLatency(ps, target, size.rate, size.latencySeconds, 100_000);
    results['idle'] = await idle(sandbox, ports, size.idleSeconds, log);
    results['throughput'] = await throughput(ports.ingest, sandbox.need('nats').url, size, log);
    log(`storm: ${size.stormPushes} pushes of one image`);
    results['storm'] = await storm(
      ports.ingest,
      sandbox.need('nats').url,
      size.stormPushes,
      size.stormWorkloads,
      () => restartsOfStorm(watch.byWorkload),
    );
  } finally {
    watch.stop();
    await ps.close();
    results['exitCodes'] = await supervisor.stop();
  }
}

async function idle(
  sandbox: Sandbox,
  ports: Record<ServiceName, number>,
  seconds: number,
  log: (l: string) => void,
): Promise<Results> {
  log(`idle: ${seconds}s without events`);
  await new Promise((r) => setTimeout(r, 2_000)); // let debounced work (snapshot writes) finish
  const kube = sandbox.need('kube');
  const apiBefore = await apiRequests(kube);
  const cpuBefore = Object.fromEntries(
    await Promise.all(SERVICES.map(async (s) => [s, await cpuSeconds(ports[s])] as const)),
  );
  await new Promise((r) => setTimeout(r, seconds * 1_000));
  const apiAfter = await apiRequests(kube);
  const cpu = Object.fromEntries(
    await Promise.all(
      SERVICES.map(
        async (s) =>
          [s, Number(((await cpuSeconds(ports[s])) - (cpuBefore[s] ?? 0)).toFixed(3))] as const,
      ),
    ),
  );
  return { seconds, apiRequests: diff(apiAfter, apiBefore), cpuSeconds: cpu };
}

async function throughput(
  ingestPort: number,
  natsUrl: string,
  size: ReturnType<typeof sizes>,
  log: (l: string) => void,
): Promise<Results> {
  const series: Results = {};
  for (const kind of ['no-match', 'restart'] as const) {
    const steps = [];
    let best = 0;
    for (const [i, rate] of size.throughputRates.entries()) {
      log(`throughput (${kind}): ${rate}/s for ${size.throughputSeconds}s`);
      const offset = (kind === 'restart' ? 10_000_000 : 20_000_000) + 1_000_000 * i;
      const step = await throughputStep(
        ingestPort,
        natsUrl,
        size.deployments,
        rate,
        size.throughputSeconds,
        offset,
        kind,
      );
      steps.push(step);
      if (step.accountedAfterMs === undefined) break;
      best = rate;
      await new Promise((r) => setTimeout(r, 2_000)); // drain before the next step
    }
    series[kind] = { bestSustained: best, steps };
  }
  return series;
}

function restartsOfStorm(byWorkload: Map<string, string[]>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [workload, events] of byWorkload) {
    if (workload.includes('/storm-'))
      counts[workload] = events.filter((e) => e.startsWith('gar:storm-')).length;
  }
  return counts;
}
