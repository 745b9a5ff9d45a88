// The production topology loses a node. Three nats-servers in a JetStream cluster, every stream
// and consumer at three replicas, two replicas of every stage, NATS_URL listing all three nodes
// (as k8s/overlays/production runs it). A storm of Pub/Sub pushes — repeats and garbage
// included — while the node that leads the main stream and the restarter's consumer is killed
// with SIGKILL, stays down, and is started again on its store.
//
// What must hold, from what a user sees: every accepted push is exactly one event in `onpush
// audit` (nothing unaccounted, nothing doubled), every garbage message one dead letter with its
// reason, the API server's audit log at most one PATCH per (workload, digest) and every workload on
// its last digest; and while two nodes remain, workloads keep being restarted. The longest
// push → PATCH is reported.
//
// Full size: 200 workloads —
//   ONPUSH_FAILURE_SCALE=full npx vitest run --project failure-cluster test/failure/cluster-node-loss.test.ts
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { SERVICES, type ServiceName } from '@onpush/cli';
import { STREAMS } from '@onpush/contracts';
import { useSandbox } from '@onpush/testing';
import {
  PUSH_ONLY,
  finalPatchNotOnce,
  ingestUrls,
  lastDigests,
  leadConsumerOn,
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
const REPLICAS = 2;
/**
 * How long the killed node stays down: past the recovery JetStream's design allows — an election
 * after 4–9 s (each raft group draws its own timeout; a second round if the first splits the two
 * votes left), then a stage's pull expires and is renewed at the new leader within 5 s. Runs
 * measured the longest push → PATCH at 4.8–14.3 s; one fresh-clone CI run saw no PATCH within the
 * 15 s this window was then.
 */
const DOWN_MS = 25_000;

describe('JetStream cluster: SIGKILL of the node leading the main stream, mid-storm', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'cluster-node-loss', {
    natsCluster: { nodes: 3 },
  });
  const since = new Date();
  const fleet = planFleet({ workloads: WORKLOADS, perImage: 2, namespaces: ['loss-a', 'loss-b'] });
  const run = useFleetPipeline(sandbox, {
    fleet,
    env: { ingest: PUSH_ONLY },
    replicas: Object.fromEntries(SERVICES.map((s) => [s, REPLICAS])) as Record<ServiceName, number>,
  });

  it('loses nothing, doubles nothing, keeps restarting on two nodes, and heals', async () => {
    const cluster = sandbox().need('natsCluster');
    let chaosOver = false;
    const storm = stormUntil(fleet, () => ingestUrls(run.replicaPorts.ingest), {
      label: 'loss',
      done: () => chaosOver,
      minRounds: 6,
      // a round every 1.5 s: ~20 PATCHes/s, under the restarter's API budget (50 requests/s), so
      // push → PATCH measures the stall a node loss causes, not a queue
      intervalMs: 1_500,
    });

    // When, a few seconds into the storm, the node leading the main stream — and, moved there,
    // the restarter's consumer — is killed, left down, then started again on its store
    await sleep(3_000);
    const victim = (await cluster.leaderOf(STREAMS.main)) ?? 0;
    const colocated = await leadConsumerOn(cluster, 'restarter', victim);
    const killedAt = Date.now();
    await cluster.nodes[victim]!.kill();
    await sleep(DOWN_MS);
    const restartedAt = Date.now();
    await cluster.nodes[victim]!.start();
    await cluster.waitHealthy(90_000);
    const healthyAt = Date.now();
    chaosOver = true;
    const sent = await storm;
    console.info(
      `cluster-node-loss: killed n${victim} (led the main stream${colocated ? ' and the restarter consumer' : ''}) ` +
        `for ${restartedAt - killedAt} ms; healthy again ${healthyAt - restartedAt} ms after its start; ` +
        `${sent.pushes.length} messages in ${sent.rounds} rounds`,
    );

    // Then every delivery was accepted in the end (retried while the cluster elected)
    expect(sent.deliveries.filter((d) => d.status < 200 || d.status >= 300)).toEqual([]);
    const accepted = [...sent.acceptedAt.keys()].map((id) => `gar:${id}`);
    await storedAll(cluster.url, accepted, 120_000);
    const account = await settled(cluster.url, since, 240_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${run.logs.slice(-40).join('\n')}`);
    });
    // and `onpush audit` finds each exactly once: nothing unaccounted, no doubled fate
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

    // and with two nodes left, restarts went on (after the election)
    const timing = pushToPatch(sandbox(), fleet, sent);
    const whileDown = timing.patchesBetween(killedAt, restartedAt);
    const { p50, p99 } = percentiles(timing.latencies);
    const phase = (from: number, to: number): string => {
      const x = timing.between(from, to);
      return `${x.n} p50 ${x.p50} p99 ${x.p99}`;
    };
    console.info(
      `cluster-node-loss: push → PATCH p50 ${p50} ms, p99 ${p99} ms, longest ${timing.longest.ms} ms ` +
        `(${timing.longest.what}); ${whileDown} PATCHes while n${victim} was down; ` +
        `pushes accepted before the kill: ${phase(0, killedAt)}, while down: ${phase(killedAt, restartedAt)}, ` +
        `after: ${phase(restartedAt, Infinity)}`,
    );
    expect(whileDown).toBeGreaterThan(0);
  });
});
