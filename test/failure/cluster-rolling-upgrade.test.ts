// A rolling upgrade of the JetStream cluster mid-storm, as a StatefulSet rollout does it: one node
// at a time is stopped the way Kubernetes stops a pod of k8s/base/nats.yaml (preStop lame-duck
// mode, then SIGTERM), started again on its store, and the next waits until every node is healthy
// again (`/healthz`: JetStream current — the startup probe the StatefulSet waits on).
//
// What must hold: zero lost, zero doubled (`onpush audit`, the DLQ, the API server's audit log),
// every workload on its last digest; the longest push → PATCH is reported.
//
// Full size: 200 workloads —
//   ONPUSH_FAILURE_SCALE=full npx vitest run --project failure-cluster test/failure/cluster-rolling-upgrade.test.ts
import { describe, expect, it } from 'vitest';
import { SERVICES, type ServiceName } from '@onpush/cli';
import { useSandbox } from '@onpush/testing';
import {
  PUSH_ONLY,
  finalPatchNotOnce,
  ingestUrls,
  lastDigests,
  patchedTwice,
  percentiles,
  planFleet,
  pushToPatch,
  realPushes,
  scaled,
  settled,
  staleWorkloads,
  storedAll,
  stormUntil,
  useFleetPipeline,
} from './harness.js';

const WORKLOADS = scaled(30, 200);

describe('JetStream cluster: a rolling restart of every node, mid-storm', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'cluster-rolling', { natsCluster: { nodes: 3 } });
  const since = new Date();
  const fleet = planFleet({ workloads: WORKLOADS, perImage: 2, namespaces: ['roll-a', 'roll-b'] });
  const run = useFleetPipeline(sandbox, {
    fleet,
    env: { ingest: PUSH_ONLY },
    replicas: Object.fromEntries(SERVICES.map((s) => [s, 2])) as Record<ServiceName, number>,
  });

  it('loses nothing and doubles nothing while each node in turn leaves and comes back', async () => {
    const cluster = sandbox().need('natsCluster');
    let rolled = false;
    const storm = stormUntil(fleet, () => ingestUrls(run.replicaPorts.ingest), {
      label: 'roll',
      done: () => rolled,
      minRounds: 6,
      // ~20 PATCHes/s, under the restarter's API budget: push → PATCH measures the stalls
      intervalMs: 1_500,
    });

    // When each node in turn is stopped as its pod would be, started on its store, and the next
    // waits until the cluster is healthy again
    const steps: string[] = [];
    for (const [i, node] of cluster.nodes.entries()) {
      const exitMs = await node.lameDuck();
      const startedAt = Date.now();
      await node.start();
      await cluster.waitHealthy(120_000);
      steps.push(
        `n${i}: left in ${exitMs} ms, healthy ${Date.now() - startedAt} ms after its start`,
      );
    }
    rolled = true;
    const sent = await storm;
    console.info(
      `cluster-rolling-upgrade: ${steps.join('; ')}; ${sent.pushes.length} messages in ${sent.rounds} rounds`,
    );

    // Then every delivery was accepted, stored once, and accounted for exactly once
    expect(sent.deliveries.filter((d) => d.status < 200 || d.status >= 300)).toEqual([]);
    await storedAll(
      cluster.url,
      [...sent.acceptedAt.keys()].map((id) => `gar:${id}`),
      120_000,
    );
    const account = await settled(cluster.url, since, 240_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${run.logs.slice(-40).join('\n')}`);
    });
    expect(account.audit.unaccounted).toEqual([]);
    expect(account.audit.events).toBe(sent.pushes.length);
    const dead = account.ledger.outcomes.filter((o) => o.fate === 'dead');
    expect(dead.map((o) => [o.stage, o.reason])).toEqual(
      Array.from({ length: sent.rounds }, () => ['parser', 'invalid_json']),
    );
    // and the API server saw at most one PATCH per (workload, digest), the last digest once
    const last = lastDigests(realPushes(sent.pushes));
    expect(patchedTwice(sandbox())).toEqual([]);
    expect(finalPatchNotOnce(sandbox(), fleet, last, account.ledger.outcomes)).toEqual([]);
    expect(await staleWorkloads(run.kube, fleet, last)).toEqual([]);

    const timing = pushToPatch(sandbox(), fleet, sent);
    const { p50, p99 } = percentiles(timing.latencies);
    console.info(
      `cluster-rolling-upgrade: push → PATCH p50 ${p50} ms, p99 ${p99} ms, longest ${timing.longest.ms} ms (${timing.longest.what})`,
    );
  });
});
