import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Supervisor, SERVICES, type ServiceName } from '@onpush/cli';
import { Sandbox, freePort, waitUntil } from '@onpush/sandbox';
import { benchBroker } from './broker.js';
import { BENCH_REGISTRY, createDeployments, restartWatch, type RestartWatch } from './cluster.js';
import { kubeClientsFrom, type KubeClients } from '@onpush/kube';
import { apiRequests, diff, processCpuSeconds, servicesCpu, total } from './idle.js';
import { drained, storm, stormBody, throughputStep, webhookBurst } from './load.js';
import { benchKubeFloor } from './floor.js';
import { benchLookup } from './lookup.js';
import { pubsubLatency, webhookLatency } from './pipeline.js';
import { benchBurst, pubsubSend, webhookSend, type BurstResult } from './burst.js';
import { benchFleet } from './fleet.js';
import { benchNatsCluster } from './nats-cluster.js';
import { appImage, garBody, postPush, pubsubBench } from './pushes.js';
import { stageTimes } from './stages.js';
import { pushAuthEnv } from './push-auth.js';
import { benchChurn } from './churn.js';
import { benchRates, rateFloors, type RateFloor, type RateStep } from './rates.js';

export const SECTIONS = [
  'lookup',
  'broker',
  'floor',
  'webhook',
  'pubsub',
  'idle',
  'throughput',
  'storm',
  'burst',
  'cluster',
  'rates',
  'churn',
  'fleet',
] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  smoke: boolean;
  log: (line: string) => void;
  /** The sections to run (default: all). */
  only?: readonly Section[];
  /** The rates section's ladder instead of the default one (`--rates=50:20,200:5`). */
  rates?: readonly RateStep[];
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
  // a registry's burst of new digests (issue 15's scenario): each Deployment gets 2-3 of them
  burstPushes: smoke ? 100 : 500,
  burstSeconds: smoke ? 1 : 3,
  burstWorkloads: smoke ? 40 : 200,
  lookupWorkloads: smoke ? 1_000 : 10_000,
  // workloads that did not opt in, changing in the namespaces onpush follows rollouts in
  churnOthers: smoke ? 40 : 400,
  churnRate: 50,
  churnSeconds: smoke ? 2 : 20,
  // a hub and three clusters on the same machine, each cluster with its own API server
  // (each push a Deployment of its own per cluster in the smoke run: none is superseded)
  fleetWorkloads: smoke ? 40 : 200,
  // three clusters' services and API servers share the two cores: at 50/s that is 150 restarts/s
  fleetSteps: smoke
    ? [{ rate: 20, seconds: 2 }]
    : [
        { rate: 10, seconds: 30 },
        { rate: 50, seconds: 60 },
      ],
  // latency and CPU per push at any load: long enough at each rate for a few dozen samples
  rates: smoke
    ? [
        { rate: 2, seconds: 2 },
        { rate: 50, seconds: 1 },
      ]
    : [
        { rate: 1, seconds: 40 },
        { rate: 10, seconds: 15 },
        { rate: 50, seconds: 10 },
        { rate: 200, seconds: 5 },
      ],
});

async function startServices(
  sandbox: Sandbox,
  /** Over the sandbox's own (e.g. another NATS_URL). */
  env: NodeJS.ProcessEnv = {},
  /** false: the push endpoint with its default rate limit, not the bench's unlimited one. */
  benchLimits = true,
  /** Some of them only (one side of a fleet). */
  services: readonly ServiceName[] = SERVICES,
): Promise<{ supervisor: Supervisor; ports: Record<ServiceName, number> }> {
  const ports = {} as Record<ServiceName, number>;
  for (const s of services) ports[s] = await freePort();
  const ingestAuth = pushAuthEnv(sandbox.dir, benchLimits);
  const supervisor = new Supervisor({
    env: {
      ...process.env,
      ...sandbox.env,
      PUBSUB_CREATE_SUBSCRIPTION: 'true',
      LOG_LEVEL: 'warn',
      KUBE_QPS: '2000',
      KUBE_BURST: '2000',
      ...env,
    },
    envFor: (service) => ({
      PORT: String(ports[service]),
      ...(service === 'ingest' ? ingestAuth : {}),
    }),
    services,
    write: () => undefined,
  });
  supervisor.start();
  for (const s of services) {
    await waitUntil(
      `${s} ready`,
      async () => (await fetch(`http://127.0.0.1:${ports[s]}/readyz`)).ok,
      { timeoutMs: 90_000, intervalMs: 100 },
    );
  }
  return { supervisor, ports };
}

/** Runs every benchmark against real servers and real service processes; returns the results. */
export async function runBench({
  smoke,
  log,
  only = SECTIONS,
  rates,
}: BenchOptions): Promise<Results> {
  const size = { ...sizes(smoke), ...(rates ? { rates: [...rates] } : {}) };
  const want = (section: Section) => only.includes(section);
  const results: Results = {
    smoke,
    startedAt: new Date().toISOString(),
    ...(only.length < SECTIONS.length ? { sections: [...only] } : {}),
  };
  if (want('lookup')) {
    log(`lookup: ${size.lookupWorkloads} workloads × 5 containers`);
    results['lookup'] = benchLookup(size.lookupWorkloads, 5, smoke ? 20_000 : 200_000);
  }
  if (only.every((s) => s === 'lookup')) return results;
  const dir = mkdtempSync(join(tmpdir(), 'onpush-bench-'));
  const sandbox = await Sandbox.start({ dir, log: (l) => log(`  ${l}`) });
  // The benchmark's own connections sign in as admin, as the CLI does.
  process.env['NATS_CREDENTIALS_DIR'] = sandbox.env.NATS_CREDENTIALS_DIR;
  try {
    await pipelineBenches({ sandbox, size, results, log, want });
  } finally {
    await sandbox.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

/** What every section of a run against the sandbox shares. */
interface Run {
  sandbox: Sandbox;
  size: ReturnType<typeof sizes>;
  results: Results;
  log: (l: string) => void;
  want: (section: Section) => boolean;
}

async function pipelineBenches(run: Run): Promise<void> {
  const { sandbox, size, log } = run;
  const kube = kubeClientsFrom(sandbox.need('kube').kubeconfigPath);
  log(`creating ${size.deployments} + ${size.stormWorkloads} opted-in Deployments`);
  await createDeployments(kube, size.deployments, 20);
  await createDeployments(kube, size.stormWorkloads, 2, {
    prefix: 'storm',
    image: () => `${BENCH_REGISTRY}/storm:1.0`,
  });
  if (run.want('churn')) {
    log(`creating ${size.churnOthers} Deployments that did not opt in`);
    await createDeployments(kube, size.churnOthers, 20, {
      prefix: 'other',
      image: (i) => `${BENCH_REGISTRY}/other-${i}:1.0`,
      optIn: false,
    });
  }
  const watch = await restartWatch(kube);
  try {
    const floors = await baselines(run, kube, watch);
    await serviceBenches(run, watch, floors);
    if (run.want('burst')) {
      const { webhook, pubsub } = await burst(run, watch);
      run.results['burst'] = webhook;
      run.results['burstPubsub'] = pubsub;
    }
    if (run.want('cluster')) {
      run.results['natsCluster'] = await benchNatsCluster({
        dir: sandbox.dir,
        startServices: async (env) => {
          const { supervisor, ports } = await startServices(sandbox, env);
          return { ingestPort: ports.ingest, stop: () => supervisor.stop() };
        },
        target: { workloads: size.deployments, seen: watch.seen },
        rate: size.rate,
        seconds: size.latencySeconds,
        offset: 40_000_000,
        log,
      });
    }
    if (run.want('fleet')) {
      run.results['fleet'] = await benchFleet({
        dir: sandbox.dir,
        clusters: ['cluster-1', 'cluster-2', 'cluster-3'],
        workloads: size.fleetWorkloads,
        steps: size.fleetSteps,
        offset: 50_000_000,
        log,
        startServices: async (env, services) => {
          const { supervisor, ports } = await startServices(sandbox, env, true, services);
          return { ports, stop: () => supervisor.stop() };
        },
      });
    }
  } finally {
    watch.stop();
  }
}

/**
 * The burst against services at their defaults (KUBE_QPS, the endpoint's rate limit): POSTed as
 * webhooks, then published to the Pub/Sub topic ingest pulls from — each over its own digests.
 */
async function burst(
  { sandbox, size, log }: Run,
  watch: RestartWatch,
): Promise<{ webhook: BurstResult; pubsub: BurstResult }> {
  const kubeQps = 50;
  const { supervisor, ports } = await startServices(
    sandbox,
    { KUBE_QPS: String(kubeQps), KUBE_BURST: '100' },
    false,
  );
  const ps = await pubsubBench(sandbox.need('pubsub').host, sandbox.pubsubProject);
  try {
    const common = {
      restarterPort: ports.restarter,
      target: { workloads: size.burstWorkloads, seen: watch.seen },
      pushes: size.burstPushes,
      seconds: size.burstSeconds,
      kubeQps,
      apiRequests: () => apiRequests(sandbox.need('kube')),
    };
    const say = (how: string) =>
      log(
        `burst: ${size.burstPushes} ${how} of new digests in ${size.burstSeconds}s ` +
          `over ${size.burstWorkloads} Deployments, default settings`,
      );
    say('webhook pushes');
    const webhook = await benchBurst({
      ...common,
      path: 'webhook',
      send: webhookSend(ports.ingest, 30_000_000),
      offset: 30_000_000,
    });
    say('Pub/Sub messages');
    const pubsub = await benchBurst({
      ...common,
      path: 'pubsub',
      send: pubsubSend(ps.topic),
      offset: 31_000_000,
    });
    return { webhook, pubsub };
  } finally {
    await ps.close();
    await supervisor.stop();
  }
}

/** What onpush is compared with, in the same run: the API server alone, the broker alone. */
async function baselines(
  { sandbox, size, results, log, want }: Run,
  kube: KubeClients,
  watch: RestartWatch,
): Promise<RateFloor[]> {
  if (want('floor')) {
    log(`API server floor: bare PATCH → watch at ${size.rate}/s for ${size.latencySeconds}s`);
    results['floor'] = await benchKubeFloor(
      kube,
      watch.seen,
      { count: size.deployments, namespaces: 20 },
      size.rate,
      size.latencySeconds,
    );
  }
  if (want('broker')) {
    log(`bare broker: 3 JetStream hops at ${size.rate}/s for ${size.latencySeconds}s`);
    results['broker'] = await benchBroker(
      sandbox.need('nats').url,
      3,
      size.rate,
      size.latencySeconds,
    );
  }
  if (!want('rates')) return [];
  return rateFloors(
    size.rates,
    {
      natsUrl: sandbox.need('nats').url,
      patch: (rate, seconds) =>
        benchKubeFloor(
          kube,
          watch.seen,
          { count: size.deployments, namespaces: 20 },
          rate,
          seconds,
          `floor-at-${rate}`,
        ),
    },
    log,
  );
}

async function serviceBenches(
  { sandbox, size, results, log, want }: Run,
  watch: RestartWatch,
  floors: readonly RateFloor[],
): Promise<void> {
  const { supervisor, ports } = await startServices(sandbox);
  const ps = await pubsubBench(sandbox.need('pubsub').host, sandbox.pubsubProject);
  try {
    const target = { workloads: size.deployments, seen: watch.seen };
    if (want('webhook')) {
      log(`push-to-PATCH via webhook at ${size.rate}/s for ${size.latencySeconds}s`);
      const apiBefore = await apiRequests(sandbox.need('kube'));
      const sentAt = new Map<string, number>();
      results['webhook'] = await webhookLatency(
        ports.ingest,
        target,
        size.rate,
        size.latencySeconds,
        0,
        sentAt,
      );
      // What the API server served meanwhile (its own count): a PATCH per push, and no GET.
      results['webhookApi'] = diff(await apiRequests(sandbox.need('kube')), apiBefore);
      results['webhookStages'] = await stageTimes(sandbox.need('nats').url, 'gar:wh-', {
        sentAt,
        seen: watch.seen,
      });
    }
    if (want('rates'))
      results['rates'] = await benchRates({
        floors,
        ingestPort: ports.ingest,
        target,
        servicesCpu: () => servicesCpu(ports),
        natsPid: sandbox.need('nats').pid,
        servicePids: () => Object.fromEntries(SERVICES.map((s) => [s, supervisor.pid(s)])),
        natsUrl: sandbox.need('nats').url,
        offset: 50_000_000,
        log,
      });
    if (want('pubsub')) {
      log(`push-to-PATCH via Pub/Sub at ${size.rate}/s for ${size.latencySeconds}s`);
      results['pubsub'] = await pubsubLatency(ps, target, size.rate, size.latencySeconds, 100_000);
    }
    if (want('idle')) results['idle'] = await idle(sandbox, ports, size.idleSeconds, log);
    if (want('churn')) {
      await drained(sandbox.need('nats').url); // an earlier section's backlog is not the quiet window's
      log(
        `churn: ${size.churnOthers} Deployments that did not opt in changed at ` +
          `${size.churnRate}/s for ${size.churnSeconds}s, beside as long without`,
      );
      results['churn'] = await benchChurn({
        kube: kubeClientsFrom(sandbox.need('kube').kubeconfigPath),
        ports,
        others: size.churnOthers,
        namespaces: 20,
        rate: size.churnRate,
        seconds: size.churnSeconds,
        follow: async () => {
          // a push to a Deployment of each namespace: its rollout is followed there from now on
          const ids = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              postPush(ports.ingest, `follow-${i}`, garBody(appImage(i), 60_000_000 + i)),
            ),
          );
          await waitUntil(
            `the follow pushes restarted`,
            async () => ids.every((id) => watch.seen.has(id)),
            {
              timeoutMs: 30_000,
              intervalMs: 50,
            },
          );
        },
      });
    }
    if (want('throughput')) {
      results['throughput'] = await throughput(
        ports.ingest,
        sandbox.need('nats').url,
        size,
        log,
        cpuByGroup(sandbox, ports),
      );
      // A rate above the sustained one leaves a backlog: let it drain before the storm.
      const drainMs = await drained(sandbox.need('nats').url);
      log(`drained after the throughput ladder in ${drainMs?.toFixed(0) ?? 'more than 300000'} ms`);
      results['throughputDrainMs'] = drainMs;
    }
    if (want('storm')) {
      const natsUrl = sandbox.need('nats').url;
      const senders = {
        // The registry publishes to Pub/Sub (GAR's path): 10,000 messages in well under a second.
        pubsub: () => ps.burst(size.stormPushes, stormBody(1)),
        // The registry POSTs each push: bounded by HTTP on this machine.
        webhook: webhookBurst(ports.ingest, size.stormPushes, stormBody(2), 'storm'),
      };
      for (const [path, send] of Object.entries(senders)) {
        log(`storm via ${path}: ${size.stormPushes} pushes of one image and digest`);
        const before = restartsOfStorm(watch.byWorkload, size.stormWorkloads);
        const cpu = await cpuMeter(ports);
        const result = await storm(natsUrl, size.stormPushes, size.stormWorkloads, send, () => {
          const after = restartsOfStorm(watch.byWorkload, size.stormWorkloads);
          return Object.fromEntries(
            Object.entries(after).map(([w, n]) => [w, n - (before[w] ?? 0)]),
          );
        });
        results[path === 'pubsub' ? 'stormPubsub' : 'storm'] = {
          ...result,
          cpuSeconds: await cpu(),
        };
      }
    }
  } finally {
    await ps.close();
    results['exitCodes'] = await supervisor.stop();
  }
}

/** CPU seconds each service (and the bench itself, the sender) spends from now until called. */
async function cpuMeter(ports: Record<ServiceName, number>): Promise<() => Promise<Results>> {
  const read = () => servicesCpu(ports);
  const before = await read();
  const self = process.cpuUsage();
  return async () => {
    const after = await read();
    const own = process.cpuUsage(self);
    return {
      ...Object.fromEntries(
        SERVICES.map((s) => [s, Number(((after[s] ?? 0) - (before[s] ?? 0)).toFixed(2))]),
      ),
      'bench (sender)': Number(((own.user + own.system) / 1e6).toFixed(2)),
    };
  };
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
  const cpuBefore = await servicesCpu(ports);
  await new Promise((r) => setTimeout(r, seconds * 1_000));
  const apiAfter = await apiRequests(kube);
  const cpuAfter = await servicesCpu(ports);
  const cpu = Object.fromEntries(
    SERVICES.map((s) => [s, Number((cpuAfter[s] - cpuBefore[s]).toFixed(3))]),
  );
  return { seconds, apiRequests: diff(apiAfter, apiBefore), cpuSeconds: cpu };
}

/**
 * CPU seconds used so far by each group of processes on the machine: the five services together,
 * nats-server, kube-apiserver and etcd — whose share of a restart is the API server's.
 */
function cpuByGroup(
  sandbox: Sandbox,
  ports: Record<ServiceName, number>,
): () => Promise<Record<string, number>> {
  return async () => {
    const kube = sandbox.need('kube').pids;
    const nats = sandbox.need('nats').pid;
    return {
      services: total(await servicesCpu(ports)),
      'nats-server': nats ? processCpuSeconds(nats) : Number.NaN,
      'kube-apiserver': processCpuSeconds(kube.apiserver),
      etcd: processCpuSeconds(kube.etcd),
    };
  };
}

async function throughput(
  ingestPort: number,
  natsUrl: string,
  size: ReturnType<typeof sizes>,
  log: (l: string) => void,
  cpu: () => Promise<Record<string, number>>,
): Promise<Results> {
  const series: Results = {};
  for (const kind of ['no-match', 'restart'] as const) {
    const steps = [];
    let best = 0;
    for (const [i, rate] of size.throughputRates.entries()) {
      await drained(natsUrl); // every step starts on an empty pipeline
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
        5_000,
        cpu,
      );
      steps.push(step);
      if (step.accountedAfterMs === undefined) break;
      best = rate;
    }
    series[kind] = { bestSustained: best, steps };
  }
  return series;
}

/** Restarts seen so far on each storm workload (storm-i lives in namespace bench-(i % 2)). */
function restartsOfStorm(
  byWorkload: Map<string, string[]>,
  workloads: number,
): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < workloads; i += 1) {
    const workload = `bench-${i % 2}/storm-${i}`;
    counts[workload] = byWorkload.get(workload)?.length ?? 0;
  }
  return counts;
}
