// Failure mode: the resolver's watch breaks — the API server is stopped and started
// again on the same etcd (same port, certificates and tokens) — while pushes keep arriving. The
// index must resync, and no push of an image some workload runs may end `no-match`.
//
// Size: 20 workloads (10 images), one push of every image per second for 20 s; the full size is
// 200 workloads (100 images) for 30 s —
//   ONPUSH_FAILURE_SCALE=full npx vitest run --project failure test/failure/watch-broken.test.ts
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { eventually, useSandbox } from '@onpush/testing';
import {
  PUSH_ONLY,
  createFleet,
  finalPatchNotOnce,
  lastDigests,
  metric,
  patchedTwice,
  planFleet,
  planStorm,
  scaled,
  sendStorm,
  settled,
  staleWorkloads,
  useFleetPipeline,
  type Fleet,
} from './harness.js';

const WORKLOADS = scaled(20, 200);
const SECONDS = scaled(20, 30);

// Given a fleet of Deployments watched by the resolver, and the five services running.
describe('watch broken: the API server restarts while pushes arrive', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'watch-broken');
  /** Everything this file does comes after this: what `onpush audit --since` checks. */
  const since = new Date();
  const fleet = planFleet({
    workloads: WORKLOADS,
    perImage: 2,
    namespaces: ['watch-a', 'watch-b'],
  });
  const late = planFleet({ workloads: 2, perImage: 2, namespaces: ['watch-a'], prefix: 'late' });
  const run = useFleetPipeline(sandbox, { fleet, env: { ingest: PUSH_ONLY } });

  const watchState = async (state: 'synced' | 'broken'): Promise<number> =>
    metric(run.ports.resolver, 'onpush_resolver_watch_state', { state });

  it('resyncs the index and ends no push of a running image as no-match', async () => {
    const api = sandbox().need('kube');
    const rounds = planStorm(fleet, fleet.images.length * SECONDS, { label: 'watch' });
    const pushes = rounds.flat();
    let sawBroken = false;

    // When the API server is stopped (for 3 s) and started again while the storm is sent,
    const started = Date.now();
    const storm = sendStorm(() => run.ports.ingest, rounds, { roundIntervalMs: 1_000 });
    await sleep(3_000);
    let restarting = true;
    const down = Date.now();
    const restart = api.restartApiServer({ downMs: 3_000 }).finally(() => (restarting = false));
    while (restarting) {
      sawBroken ||= (await watchState('broken')) === 1;
      await sleep(100);
    }
    await restart;
    const back = Date.now();
    // and, once the resolver's watch is synced again, a Deployment of a new image is created
    await eventually(
      'the watch synced again',
      async () => {
        sawBroken ||= (await watchState('broken')) === 1;
        return (await watchState('broken')) === 0 && (await watchState('synced')) === 1;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    const resynced = Date.now();
    await createFleet(run.kube, late);
    await sleep(500);
    const latePushes = planStorm(late, 3, { label: 'late' });
    const [deliveries, lateDeliveries] = await Promise.all([
      storm,
      sendStorm(() => run.ports.ingest, latePushes, { roundIntervalMs: 1_000 }),
    ]);
    console.info(
      `watch-broken: API server restart (stop, 3 s down, start) took ${back - down} ms; watch resynced ${resynced - back} ms after it was back`,
    );

    // Then the resolver saw its watch broken and resynced,
    expect(sawBroken).toBe(true);
    expect([...deliveries, ...lateDeliveries].filter((d) => d.status !== 204)).toEqual([]);
    // every event is accounted for and none ended no-match,
    const account = await settled(sandbox().need('nats').url, since, 240_000).catch(
      (error: unknown) => {
        throw new Error(`${String(error)}\n${run.logs.slice(-40).join('\n')}`);
      },
    );
    console.info(`watch-broken: settled ${Date.now() - started} ms after the first push`);
    expect(account.audit.unaccounted).toEqual([]);
    const fates = account.ledger.outcomes.filter((o) => o.workload === undefined);
    expect(fates.filter((o) => o.fate !== 'dispatched')).toEqual([]);
    expect(fates).toHaveLength(pushes.length + latePushes.flat().length);
    // and every workload, the new one too, ends on its last digest, none patched twice
    const all: Fleet = {
      namespaces: fleet.namespaces,
      images: [...fleet.images, ...late.images],
      workloads: [...fleet.workloads, ...late.workloads],
    };
    const last = lastDigests([...pushes, ...latePushes.flat()]);
    expect(await staleWorkloads(run.kube, all, last)).toEqual([]);
    expect(patchedTwice(sandbox())).toEqual([]);
    expect(finalPatchNotOnce(sandbox(), all, last, account.ledger.outcomes)).toEqual([]);
  });
});
