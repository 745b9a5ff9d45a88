// A network partition in the JetStream cluster mid-storm: the node leading the main stream is cut
// off from the other two (its route links reset and refused) for a minute, its client port still
// open — services and ingest replicas connected to it stay connected to a node that can commit
// nothing — then the partition heals.
//
// What must hold: the minority node acknowledges no publish (a publish made through it fails, and
// the stream never holds it); the majority goes on restarting workloads (clients stranded on the
// minority move to it); after healing, zero lost, zero doubled (`onpush audit`, the DLQ, the API
// server's audit log), every workload on its last digest.
//
// Full size: 200 workloads —
//   ONPUSH_FAILURE_SCALE=full npx vitest run --project failure-cluster test/failure/cluster-partition.test.ts
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { SERVICES, type ServiceName } from '@onpush/cli';
import { HEADERS, STREAMS, rawSubject } from '@onpush/contracts';
import { connectNats, jetstream, publisher } from '@onpush/nats';
import { useSandbox } from '@onpush/testing';
import {
  PUSH_ONLY,
  finalPatchNotOnce,
  ingestUrls,
  leadOn,
  lastDigests,
  patchedTwice,
  percentiles,
  planFleet,
  pushToPatch,
  readLedger,
  realPushes,
  scaled,
  settled,
  staleWorkloads,
  storedAll,
  stormUntil,
  summarized,
  useFleetPipeline,
} from './harness.js';

const WORKLOADS = scaled(30, 200);
const CUT_MS = 60_000;
/** How long the pushes go on after the partition heals. */
const PUSHING_AFTER_HEAL_MS = 5_000;

describe('JetStream cluster: the main stream leader partitioned from the other two for a minute', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'cluster-partition', {
    natsCluster: { nodes: 3, partitionable: true },
  });
  const since = new Date();
  const fleet = planFleet({ workloads: WORKLOADS, perImage: 2, namespaces: ['cut-a', 'cut-b'] });
  const run = useFleetPipeline(sandbox, {
    fleet,
    env: { ingest: PUSH_ONLY },
    replicas: Object.fromEntries(SERVICES.map((s) => [s, 2])) as Record<ServiceName, number>,
  });

  it('commits nothing on the minority, goes on with the majority, loses and doubles nothing', async () => {
    const cluster = sandbox().need('natsCluster');
    // The pushes go on across the heal for a few seconds, then stop: a node catching up after a
    // minute cut off does so while the stream is still written to, and on two shared cores a storm
    // that lasted until every node was healthy kept one from becoming current for minutes.
    let stopAt = Number.POSITIVE_INFINITY;
    const storm = stormUntil(fleet, () => ingestUrls(run.replicaPorts.ingest), {
      label: 'cut',
      done: () => Date.now() >= stopAt,
      minRounds: 6,
      intervalMs: 1_500,
    });

    // When the main stream's leader — moved to the node most ingest replicas are connected to,
    // so that pushes come in through the node that is about to be cut off — is cut off from the
    // other two nodes
    await sleep(3_000);
    const ingests = await cluster.clientsNamed('onpush-ingest');
    const minority = ingests.indexOf(Math.max(...ingests));
    expect(await leadOn(cluster, minority, STREAMS.main)).toBe(true);
    const cutAt = Date.now();
    const logsAtCut = run.logs.length;
    cluster.cut(minority);

    // Then, once the minority knows it is alone, a publish made through it is not acknowledged
    await sleep(15_000);
    const probe = await connectNats({
      url: cluster.nodes[minority]!.url,
      name: 'onpush-failure-minority',
      credentialsDir: cluster.credentialsDir,
    });
    let probeError = '';
    try {
      await publisher(jetstream(probe))(rawSubject('gar'), new TextEncoder().encode('{}'), {
        msgId: 'gar:minority-probe',
        headers: { [HEADERS.eventId]: 'gar:minority-probe' },
        timeoutMs: 3_000,
      });
    } catch (error) {
      probeError = String(error);
    } finally {
      await probe.close();
    }
    expect(probeError).not.toBe('');

    await sleep(Math.max(0, CUT_MS - (Date.now() - cutAt)));
    const healAt = Date.now();
    const logsAtHeal = run.logs.length;
    cluster.heal(minority);
    stopAt = Date.now() + PUSHING_AFTER_HEAL_MS;
    await cluster.waitHealthy(120_000);
    const sent = await storm;
    console.info(
      `cluster-partition: n${minority} cut off for ${healAt - cutAt} ms with ${ingests[minority]} of ` +
        `${ingests.reduce((a, b) => a + b, 0)} ingest replicas on it (probe through it: ${probeError}); ` +
        `${sent.pushes.length} messages in ${sent.rounds} rounds`,
    );

    // and after healing every delivery was accepted, stored once, accounted for exactly once
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
    // the minority's publish was never stored, not even after healing
    expect(
      (await readLedger(cluster.url)).raw.filter((r) => r.eventId === 'gar:minority-probe'),
    ).toEqual([]);
    const dead = account.ledger.outcomes.filter((o) => o.fate === 'dead');
    expect(dead.map((o) => [o.stage, o.reason])).toEqual(
      Array.from({ length: sent.rounds }, () => ['parser', 'invalid_json']),
    );
    const last = lastDigests(realPushes(sent.pushes));
    expect(patchedTwice(sandbox())).toEqual([]);
    expect(finalPatchNotOnce(sandbox(), fleet, last, account.ledger.outcomes)).toEqual([]);
    expect(await staleWorkloads(run.kube, fleet, last)).toEqual([]);

    // and the majority went on restarting workloads during the partition
    const timing = pushToPatch(sandbox(), fleet, sent);
    const during = timing.patchesBetween(cutAt + 15_000, healAt);
    const { p50, p99 } = percentiles(timing.latencies);
    const cut = timing.between(cutAt, healAt);
    console.info(
      `cluster-partition: push → PATCH p50 ${p50} ms, p99 ${p99} ms, longest ${timing.longest.ms} ms ` +
        `(${timing.longest.what}); pushes accepted during the partition: ${cut.n}, p50 ${cut.p50} ms, ` +
        `p99 ${cut.p99} ms; ${during} PATCHes from 15 s into the partition to its end`,
    );
    const windows: string[] = [];
    for (let t = cutAt - 10_000; t < healAt + 20_000; t += 10_000) {
      const w = timing.between(t, t + 10_000);
      windows.push(`${Math.round((t - cutAt) / 1000)}s: ${w.n} p50 ${w.p50}`);
    }
    const moved = (s: ServiceName): number =>
      run.logs.filter((l) => l.includes(`[${s}`) && l.includes('moving to another')).length;
    const moves = SERVICES.map((s) => `${s} ${moved(s)}`);
    console.info(
      `cluster-partition: push → PATCH per 10 s of acceptance (from the cut): ${windows.join('; ')}; ` +
        `moves to another server: ${moves.join(', ')}`,
    );
    // (on failure, what the services said while the cut lasted)
    const said = summarized(
      run.logs.slice(logsAtCut, logsAtHeal).filter((l) => /warn|error/i.test(l)),
    );
    // the ingest replicas stranded on the minority moved off it
    expect(moved('ingest'), `ingest's moves\n${said.join('\n')}`).toBeGreaterThanOrEqual(
      ingests[minority]!,
    );
    expect(cut.n, `pushes accepted during the cut\n${said.join('\n')}`).toBeGreaterThan(0);
    expect(during, `PATCHes during the cut\n${said.join('\n')}`).toBeGreaterThan(0);
  });
});
