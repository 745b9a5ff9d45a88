// Failure mode: kill -9 each service in turn during a storm of pushes.
//
// Full size: 2,000 pushes over 200 workloads —
//   ONPUSH_FAILURE_SCALE=full npx vitest run --project failure test/failure/crash-storm.test.ts
// CI size: 400 pushes over 40 workloads (20 images, each run by two workloads in two namespaces),
// plus one unparseable notification per round so the dlq-manager has work when it is killed.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { SERVICES, type ServiceName } from '@onpush/cli';
import { eventually, useSandbox } from '@onpush/testing';
import {
  PUSH_ONLY,
  finalPatchNotOnce,
  lastDigests,
  patchedTwice,
  planFleet,
  planStorm,
  readiness,
  realPushes,
  scaled,
  sendStorm,
  settled,
  staleWorkloads,
  unacked,
  useFleetPipeline,
} from './harness.js';

const WORKLOADS = scaled(40, 200);
const PUSHES = scaled(400, 2_000);

// Given a fleet of opted-in Deployments and the five services running under the supervisor,
// with ingest taking Pub/Sub push deliveries over HTTP and the restarter at its default API rate
// limit (50 requests/s), so a storm keeps it busy.
describe('crash storm: kill -9 each service in turn while pushes arrive', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'crash-storm');
  /** Everything this file does comes after this: what `onpush audit --since` checks. */
  const since = new Date();
  const fleet = planFleet({
    workloads: WORKLOADS,
    perImage: 2,
    namespaces: ['storm-a', 'storm-b', 'storm-c', 'storm-d'],
  });
  const run = useFleetPipeline(sandbox, { fleet, env: { ingest: PUSH_ONLY } });

  /** Kills each service in flow order, when its consumer holds unacked messages if it can. */
  async function killEachInTurn(): Promise<
    { service: ServiceName; busy: number; exit: number | null }[]
  > {
    const natsUrl = sandbox().need('nats').url;
    const killed: { service: ServiceName; busy: number; exit: number | null }[] = [];
    await sleep(1_000);
    for (const service of SERVICES) {
      let busy = 0;
      if (service !== 'ingest') {
        // Wait (bounded) until the stage holds messages, so the crash loses work in flight.
        const until = Date.now() + 5_000;
        while (busy === 0 && Date.now() < until) {
          busy = await unacked(natsUrl, service);
          if (busy === 0) await sleep(10);
        }
      }
      const exit = await run.supervisor.kill(service, 'SIGKILL');
      killed.push({ service, busy, exit });
      await eventually(
        `${service} ready after its restart`,
        async () => (await readiness({ [service]: run.ports[service] }))[service],
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      await sleep(500);
    }
    return killed;
  }

  it('accounts for every event once, patches no (workload, digest) twice, ends on the last digests', async () => {
    const rounds = planStorm(fleet, PUSHES, { garbagePerRound: 1 });
    const pushes = rounds.flat();

    // When the storm is sent while each service in turn is killed with SIGKILL
    const started = Date.now();
    const [deliveries, killed] = await Promise.all([
      sendStorm(() => run.ports.ingest, rounds, { roundIntervalMs: 500 }),
      killEachInTurn(),
    ]);
    console.info(
      `crash-storm: ${pushes.length} pushes sent in ${Date.now() - started} ms; killed ${killed
        .map((k) => `${k.service} (${k.busy} unacked)`)
        .join(', ')}`,
    );

    // Then every push was accepted, and each service died once and was restarted
    expect(deliveries.filter((d) => d.status !== 204)).toEqual([]);
    expect(killed.map((k) => [k.service, k.exit])).toEqual(SERVICES.map((s) => [s, null]));
    expect(run.supervisor.restarts()).toEqual(Object.fromEntries(SERVICES.map((s) => [s, 1])));
    // The restarter (rate-limited, so backlogged) was killed holding requests in flight.
    expect(killed.find((k) => k.service === 'restarter')?.busy).toBeGreaterThan(0);

    // and, once the broker's redeliveries are done, every event is accounted for exactly once
    const account = await settled(sandbox().need('nats').url, since, 180_000).catch(
      (error: unknown) => {
        throw new Error(`${String(error)}\n${run.logs.slice(-40).join('\n')}`);
      },
    );
    console.info(`crash-storm: settled ${Date.now() - started} ms after the first push`);
    expect(account.audit.unaccounted).toEqual([]);
    expect(account.audit.events).toBe(pushes.length);
    expect(account.audit.requests).toBe(realPushes(pushes).length * 2);
    const garbage = account.ledger.outcomes.filter((o) => o.fate === 'dead');
    expect(garbage.map((o) => [o.stage, o.reason])).toEqual(
      Array.from({ length: rounds.length }, () => ['parser', 'invalid_json']),
    );

    // the API server's audit log shows no (workload, digest) patched twice
    const last = lastDigests(pushes);
    expect(patchedTwice(sandbox())).toEqual([]);
    expect(finalPatchNotOnce(sandbox(), fleet, last, account.ledger.outcomes)).toEqual([]);

    // and every workload carries the last digest pushed for its image
    expect(await staleWorkloads(run.kube, fleet, last)).toEqual([]);
  });
});
