import { join } from 'node:path';
import { STREAMS } from '@onpush/contracts';
import { NatsCluster } from '@onpush/sandbox';
import { webhookLatency, type LatencyResult } from './pipeline.js';
import type { Summary } from './stats.js';

export interface ClusterResult {
  nodes: number;
  /** Push → PATCH with every stream at `nodes` replicas. */
  webhook: LatencyResult;
  nodeLoss: {
    /** The node killed (SIGKILL): it led the main stream. */
    killed: string;
    /** ms after the first push of the run the node was killed. */
    killedAtMs: number;
    /** Push → PATCH of every push of the run, the loss included. */
    latencyMs: Summary;
    /** The longest push → PATCH: what the loss cost. */
    pauseMs: number;
    sent: number;
    /** Workloads pushed to during the run, and how many of them were restarted with their last push. */
    workloads: number;
    onLastPush: number;
  };
}

/**
 * The pipeline against a three-node JetStream cluster (streams, consumers and buckets at three
 * replicas, NATS_URL listing the nodes), the same Deployments and the same API server: push →
 * PATCH at `rate` for `seconds`, then again while the node leading the main stream is killed
 * with SIGKILL a third into the run.
 */
export async function benchNatsCluster(options: {
  dir: string;
  /** Starts the five services against `env` (the cluster's NATS_URL and credentials). */
  startServices: (
    env: NodeJS.ProcessEnv,
  ) => Promise<{ ingestPort: number; stop: () => Promise<unknown> }>;
  target: { workloads: number; seen: Map<string, number[]> };
  rate: number;
  seconds: number;
  offset: number;
  log: (line: string) => void;
}): Promise<ClusterResult> {
  const cluster = await NatsCluster.create({
    dir: join(options.dir, 'nats-cluster'),
    nodes: 3,
    log: (l) => options.log(`  ${l}`),
  });
  try {
    const services = await options.startServices({
      NATS_URL: cluster.url,
      NATS_CREDENTIALS_DIR: cluster.credentialsDir,
    });
    try {
      // Not measured: the first pushes after a start meet consumers still electing leaders.
      await webhookLatency(services.ingestPort, options.target, 10, 1, options.offset + 900_000);
      options.log(
        `cluster: push-to-PATCH via webhook at ${options.rate}/s for ${options.seconds}s`,
      );
      const webhook = await webhookLatency(
        services.ingestPort,
        options.target,
        options.rate,
        options.seconds,
        options.offset,
      );
      const victim = (await cluster.leaderOf(STREAMS.main)) ?? 0;
      options.log(`cluster: the same while n${victim} (main stream leader) is killed`);
      const started = performance.now();
      const killAfterMs = (options.seconds * 1_000) / 3;
      const kill = new Promise<number>((resolve) =>
        setTimeout(() => {
          const at = performance.now() - started;
          void cluster.nodes[victim]!.kill().then(() => resolve(at));
        }, killAfterMs),
      );
      const lossOffset = options.offset + 1_000_000;
      const loss = await webhookLatency(
        services.ingestPort,
        options.target,
        options.rate,
        options.seconds,
        lossOffset,
        new Map(),
        true, // ingest answers 503 while the stream has no leader; a sender tries again
      );
      const killedAtMs = await kill;
      // Pushes to one workload that queued behind the pause are applied latest first (the
      // earlier ones end superseded): what must hold is every workload on its last push.
      const lastPush = new Map<number, string>();
      for (let n = 0; n < loss.sent; n += 1)
        lastPush.set((lossOffset + n) % options.target.workloads, `gar:wh-${lossOffset + n}`);
      return {
        nodes: 3,
        webhook,
        nodeLoss: {
          killed: `n${victim}`,
          killedAtMs: Math.round(killedAtMs),
          latencyMs: loss.latencyMs,
          pauseMs: Math.round(loss.latencyMs.max),
          sent: loss.sent,
          workloads: lastPush.size,
          onLastPush: [...lastPush.values()].filter((id) => options.target.seen.has(id)).length,
        },
      };
    } finally {
      await services.stop();
    }
  } finally {
    await cluster.stop();
  }
}
