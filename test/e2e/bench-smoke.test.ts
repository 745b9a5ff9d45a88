import { describe, expect, it } from 'vitest';
import { runBench, table } from '@onpush/bench';

interface Latency {
  sent: number;
  restarted: number;
  latencyMs: { n: number; p50: number };
}

// A few seconds of `npm run bench` on every test run, so the benchmark cannot rot: every
// section runs against the real servers and real service processes and reports numbers.
describe('benchmark smoke run', () => {
  it('measures every section and every push is seen restarted', { timeout: 300_000 }, async () => {
    const lines: string[] = [];
    const results = await runBench({ smoke: true, log: (line) => lines.push(line) });
    console.info(table(results));

    const webhook = results['webhook'] as Latency;
    const pubsub = results['pubsub'] as Latency & { emulatorMs: { n: number } };
    expect(webhook.restarted).toBe(webhook.sent);
    expect(pubsub.restarted).toBe(pubsub.sent);
    expect(pubsub.emulatorMs.n).toBe(pubsub.sent);
    expect((results['broker'] as Latency).latencyMs.n).toBeGreaterThan(0);
    expect((results['floor'] as Latency).latencyMs.n).toBeGreaterThan(0);
    // The API server's own count: a PATCH per push and (nearly) no GET — the restarter decides on
    // the resolver's watch view; only a view gone stale (409) costs a GET and a second PATCH.
    const api = results['webhookApi'] as Record<string, number>;
    expect(api['PATCH deployments']).toBeGreaterThanOrEqual(webhook.sent);
    // A view stale only for the restarter's own last PATCH gives way to that PATCH's response, so
    // even on a loaded machine a GET is rare.
    expect(api['GET deployments'] ?? 0).toBeLessThan(webhook.sent / 10);
    expect((results['lookup'] as { lookupUs: { n: number } }).lookupUs.n).toBeGreaterThan(0);
    // Throughput: the restart series says where the CPU went, the API server's share included.
    const throughput = results['throughput'] as Record<
      'restart' | 'no-match',
      { steps: { sent: number; cpuSeconds: Record<string, number> }[] }
    >;
    for (const series of ['restart', 'no-match'] as const) {
      const [step] = throughput[series].steps;
      expect(step?.sent, series).toBeGreaterThan(0);
      expect(Object.keys(step?.cpuSeconds ?? {}).sort(), series).toEqual([
        'etcd',
        'kube-apiserver',
        'nats-server',
        'services',
      ]);
      expect(step?.cpuSeconds['services'], series).toBeGreaterThan(0);
    }
    expect((results['idle'] as { apiRequests: Record<string, number> }).apiRequests).toEqual({});
    for (const key of ['stormPubsub', 'storm']) {
      const storm = results[key] as {
        pushes: number;
        accountedMs?: number;
        fates?: Record<string, number>;
        restartsPerWorkload: Record<string, number>;
      };
      expect(storm.accountedMs, key).toBeDefined();
      // One digest pushed many times: exactly one restart per workload.
      expect(Object.values(storm.restartsPerWorkload), key).toEqual(Array(10).fill(1));
      // Repeats of the push just dispatched end `ignored` at the resolver instead of fanning out.
      const fates = storm.fates ?? {};
      expect(fates['ignored'], key).toBeGreaterThan(storm.pushes / 2);
      expect((fates['ignored'] ?? 0) + (fates['dispatched'] ?? 0), key).toBe(storm.pushes);
    }
    // A burst of new digests at default settings, as webhooks and as Pub/Sub messages: taken
    // whole (no 429), every Deployment on its last digest, stale-view conflicts and GETs rare
    for (const key of ['burst', 'burstPubsub']) {
      const burst = results[key] as {
        pushes: number;
        workloads: number;
        answers: Record<string, number>;
        conflicts: number;
        onLastPush: number;
        api: Record<string, number>;
      };
      // every push accepted (the Pub/Sub push route answers 204; a publish is 'published')
      const accepted = (answer: string) => answer.startsWith('2') || answer === 'published';
      expect(Object.keys(burst.answers).every(accepted), key).toBe(true);
      expect(
        Object.values(burst.answers).reduce((a, b) => a + b, 0),
        key,
      ).toBe(burst.pushes);
      expect(burst.onLastPush, key).toBe(burst.workloads);
      const burstPatches = burst.api['PATCH deployments'] ?? 0;
      expect(burstPatches, key).toBeGreaterThanOrEqual(burst.workloads);
      expect(burst.conflicts, key).toBeLessThanOrEqual(Math.max(1, burstPatches / 100));
      expect(burst.api['GET deployments'] ?? 0, key).toBeLessThanOrEqual(
        Math.max(1, burst.pushes / 100),
      );
    }
    // A three-node cluster at three replicas, and again while the main stream's leader is killed:
    // every push restarted (during the loss, pushes queued for one workload apply latest first),
    // the pause the loss cost reported.
    const cluster = results['natsCluster'] as {
      webhook: Latency;
      nodeLoss: { pauseMs: number; workloads: number; onLastPush: number };
    };
    expect(cluster.webhook.restarted).toBe(cluster.webhook.sent);
    expect(cluster.nodeLoss.workloads).toBeGreaterThan(0);
    expect(cluster.nodeLoss.onLastPush).toBe(cluster.nodeLoss.workloads);
    expect(cluster.nodeLoss.pauseMs).toBeGreaterThan(0);
    // A hub and three clusters (each its own API server and leaf nats-server): every push seen
    // restarted in every cluster, each cluster's latency and the last cluster's measured.
    const fleet = results['fleet'] as {
      clusters: string[];
      steps: {
        sent: number;
        perCluster: Record<string, Latency>;
        lastClusterMs: { n: number; p50: number };
      }[];
    };
    expect(fleet.clusters).toHaveLength(3);
    expect(fleet.steps.length).toBeGreaterThan(0);
    for (const step of fleet.steps) {
      expect(Object.keys(step.perCluster)).toEqual(fleet.clusters);
      for (const [name, one] of Object.entries(step.perCluster))
        expect(one.restarted, name).toBe(step.sent);
      expect(step.lastClusterMs.n).toBe(step.sent);
      expect(step.lastClusterMs.p50).toBeGreaterThan(0);
    }
    // Latency at a ladder of rates, each beside its floor measured in the same run, and the CPU
    // spent per push: every push restarted at every rate, every number measured.
    const rates = results['rates'] as {
      rate: number;
      pushes: number;
      restarted: number;
      floorMs: { p50: number };
      ratio: { p50: number };
      cpuPerPushMs: { services: number; natsServer: number; byService: Record<string, number> };
      ioPerPush: Record<string, { writes: number; wakeups: number }>;
      stages: Record<string, { p50: number }>;
    }[];
    expect(rates.map((r) => r.rate)).toEqual([2, 50]);
    for (const step of rates) {
      expect(step.restarted, `${step.rate}/s`).toBe(step.pushes);
      // the floor is measured, not taken from an earlier run's marks: under a second at 50/s
      expect(step.floorMs.p50, `${step.rate}/s`).toBeGreaterThan(0);
      expect(step.floorMs.p50, `${step.rate}/s`).toBeLessThan(1_000);
      expect(step.ratio.p50, `${step.rate}/s`).toBeGreaterThan(0);
      expect(step.cpuPerPushMs.services, `${step.rate}/s`).toBeGreaterThan(0);
      expect(step.cpuPerPushMs.natsServer, `${step.rate}/s`).toBeGreaterThan(0);
      // each service's share, and where the time went: every stage timed from the stream's marks
      expect(Object.keys(step.cpuPerPushMs.byService).sort(), `${step.rate}/s`).toEqual([
        'dlq-manager',
        'ingest',
        'parser',
        'resolver',
        'restarter',
      ]);
      expect(Object.keys(step.stages).sort(), `${step.rate}/s`).toEqual([
        'ingest',
        'parser',
        'patchSeen',
        'resolver',
        'restarter',
      ]);
      expect(step.stages['patchSeen']!.p50, `${step.rate}/s`).toBeGreaterThan(0);
      // what the kernel was asked per push, by every process: each service and nats-server
      // writes (a publish, an ack, a PATCH) and is woken at least once per push it handles
      expect(Object.keys(step.ioPerPush).sort(), `${step.rate}/s`).toEqual([
        'dlq-manager',
        'ingest',
        'nats-server',
        'parser',
        'resolver',
        'restarter',
      ]);
      for (const name of ['ingest', 'parser', 'resolver', 'restarter', 'nats-server']) {
        expect(step.ioPerPush[name]!.writes, `${name} at ${step.rate}/s`).toBeGreaterThanOrEqual(1);
        expect(step.ioPerPush[name]!.wakeups, `${name} at ${step.rate}/s`).toBeGreaterThan(0);
      }
      // and nothing wakes a service when nothing happens: at 2/s prom-client's default
      // event-loop sampler alone (every 10 ms) made it ~50 wake-ups per push in every service
      for (const name of ['ingest', 'parser', 'resolver', 'restarter', 'dlq-manager'])
        expect(step.ioPerPush[name]!.wakeups, `${name} at ${step.rate}/s`).toBeLessThan(30);
    }
    // Workloads that did not opt in changing beside followed rollouts: the CPU measured both ways.
    const churn = results['churn'] as {
      changes: number;
      cpuSeconds: { quiet: Record<string, number>; churn: Record<string, number> };
      cpuPerChangeMs: number;
    };
    expect(churn.changes).toBe(100);
    expect(Object.keys(churn.cpuSeconds.churn).sort()).toEqual([
      'dlq-manager',
      'ingest',
      'parser',
      'resolver',
      'restarter',
    ]);
    expect(Number.isFinite(churn.cpuPerChangeMs)).toBe(true);
    expect(results['exitCodes']).toEqual({
      ingest: 0,
      parser: 0,
      resolver: 0,
      restarter: 0,
      'dlq-manager': 0,
    });
  });
});
