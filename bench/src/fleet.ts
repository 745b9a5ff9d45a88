import { join } from 'node:path';
import { FLEET_SERVICES } from '@onpush/contracts';
import { kubeClientsFrom } from '@onpush/kube';
import { Fleet } from '@onpush/sandbox';
import { createDeployments, restartWatch, type RestartWatch } from './cluster.js';
import { webhookLatency } from './pipeline.js';
import { summarize, type Summary } from './stats.js';

export interface FleetStep {
  rate: number;
  seconds: number;
  sent: number;
  /** Webhook POST at the hub → the PATCH seen by a watch on each cluster's API server. */
  perCluster: Record<string, { restarted: number; latencyMs: Summary }>;
  /** POST → the PATCH seen in the last of the clusters to apply it. */
  lastClusterMs: Summary;
}

export interface FleetResult {
  clusters: string[];
  /** Deployments per cluster (the same images in each). */
  workloads: number;
  steps: FleetStep[];
}

type Services = readonly ('ingest' | 'parser' | 'resolver' | 'restarter' | 'dlq-manager')[];

/**
 * A fleet on the same machine: a hub nats-server running ingest, parser and dlq-manager, and
 * `clusters` clusters, each with its own kube-apiserver + etcd, a leaf nats-server (its own
 * JetStream domain) and its resolver, restarter and dlq-manager. Pushes at `rate` for `seconds`
 * to the hub's ingest, each restarting one Deployment in every cluster.
 */
export async function benchFleet(options: {
  dir: string;
  clusters: readonly string[];
  workloads: number;
  steps: readonly { rate: number; seconds: number }[];
  offset: number;
  log: (line: string) => void;
  startServices: (
    env: NodeJS.ProcessEnv,
    services: Services,
  ) => Promise<{ ports: Partial<Record<string, number>>; stop: () => Promise<unknown> }>;
}): Promise<FleetResult> {
  const { log } = options;
  const fleet = await Fleet.create({
    dir: join(options.dir, 'fleet'),
    clusters: options.clusters,
    log: (l) => log(`  ${l}`),
  });
  const stops: (() => Promise<unknown>)[] = [];
  const watches = new Map<string, RestartWatch>();
  try {
    const hub = await options.startServices(
      {
        NATS_URL: fleet.hub.url,
        NATS_CREDENTIALS_DIR: fleet.credentialsDir,
        PUBSUB_PULL: 'false',
        PUBSUB_CREATE_SUBSCRIPTION: 'false',
      },
      FLEET_SERVICES.hub,
    );
    stops.push(hub.stop);
    for (const name of options.clusters) {
      const cluster = fleet.cluster(name);
      const kube = kubeClientsFrom(cluster.kube!.kubeconfigPath);
      log(`fleet: ${options.workloads} Deployments in cluster ${name}`);
      await createDeployments(kube, options.workloads, 10);
      watches.set(name, await restartWatch(kube));
      const services = await options.startServices(
        {
          NATS_URL: cluster.nats.url,
          NATS_CREDENTIALS_DIR: fleet.credentialsDir,
          KUBECONFIG: cluster.kube!.kubeconfigPath,
          CLUSTER_NAME: name,
        },
        FLEET_SERVICES.cluster,
      );
      stops.push(services.stop);
    }
    const ingestPort = hub.ports['ingest']!;
    const [first, ...others] = [...watches.values()];
    const target = { workloads: options.workloads, seen: first!.seen };
    const settled = async (sentAt: Map<string, number>) => {
      for (const watch of others) {
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline && [...sentAt.keys()].some((id) => !watch.seen.has(id)))
          await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    // Not measured: the first pushes after a start meet services still compiling their code and
    // sources and consumers warming up (as the rates section, 3 s of pushes first).
    const warm = new Map<string, number>();
    await webhookLatency(ingestPort, target, 10, 3, options.offset + 900_000, warm);
    await settled(warm);
    const steps: FleetStep[] = [];
    for (const [i, { rate, seconds }] of options.steps.entries()) {
      log(
        `fleet: push-to-PATCH via webhook at ${rate}/s for ${seconds}s, ` +
          `each push restarting one Deployment in each of ${options.clusters.length} clusters`,
      );
      const sentAt = new Map<string, number>();
      const offset = options.offset + i * 100_000;
      const run = await webhookLatency(ingestPort, target, rate, seconds, offset, sentAt);
      await settled(sentAt);
      const perCluster: FleetStep['perCluster'] = {};
      for (const [name, watch] of watches) {
        const latencies = [...sentAt].flatMap(([id, t0]) => {
          const at = watch.seen.get(id)?.[0];
          return at === undefined ? [] : [at - t0];
        });
        perCluster[name] = { restarted: latencies.length, latencyMs: summarize(latencies) };
      }
      const last = [...sentAt].flatMap(([id, t0]) => {
        const seen = [...watches.values()].map((w) => w.seen.get(id)?.[0]);
        return seen.every((at) => at !== undefined) ? [Math.max(...seen) - t0] : [];
      });
      steps.push({ rate, seconds, sent: run.sent, perCluster, lastClusterMs: summarize(last) });
    }
    return { clusters: [...options.clusters], workloads: options.workloads, steps };
  } finally {
    for (const watch of watches.values()) watch.stop();
    await Promise.all(stops.map((stop) => stop()));
    await fleet.stop();
  }
}
