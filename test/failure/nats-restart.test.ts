// Failure mode: the NATS server stops in the middle of a storm — once with SIGTERM,
// once with SIGKILL — and starts again on the same port and JetStream store.
//
// Full size: 2,000 pushes over 200 workloads —
//   ONPUSH_FAILURE_SCALE=full npx vitest run --project failure test/failure/nats-restart.test.ts
// CI size: 400 pushes over 40 workloads.
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '@onpush/cli';
import type { NatsServer } from '@onpush/sandbox';
import { eventually, useSandbox } from '@onpush/testing';
import {
  PUSH_ONLY,
  finalPatchNotOnce,
  lastDigests,
  patchedTwice,
  planFleet,
  planStorm,
  readiness,
  scaled,
  sendStorm,
  settled,
  staleWorkloads,
  useFleetPipeline,
} from './harness.js';

const WORKLOADS = scaled(40, 200);
const PUSHES = scaled(400, 2_000);

interface Outage {
  signal: 'SIGTERM' | 'SIGKILL';
  /** Every service answered /readyz 503 while NATS was down. */
  allDegraded: boolean;
  /** How long NATS was down, ms. */
  downMs: number;
  /** From NATS back to every service ready again, ms. */
  recoveredMs: number;
}

// Given a fleet of opted-in Deployments and the five services under the supervisor.
describe('NATS restart: the broker stops mid-storm and comes back on the same store', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'nats-restart');
  /** Everything this file does comes after this: what `onpush audit --since` checks. */
  const since = new Date();
  const fleet = planFleet({ workloads: WORKLOADS, perImage: 2, namespaces: ['nats-a', 'nats-b'] });
  const run = useFleetPipeline(sandbox, { fleet, env: { ingest: PUSH_ONLY } });
  let pids: Record<string, number | undefined> = {};

  beforeAll(() => {
    pids = Object.fromEntries(SERVICES.map((s) => [s, run.supervisor.pid(s)]));
  });

  /** Stops NATS with `signal`, watches every service go degraded, starts NATS again. */
  async function outage(nats: NatsServer, signal: Outage['signal']): Promise<Outage> {
    const down = Date.now();
    if (signal === 'SIGTERM') await nats.stop();
    else await nats.kill();
    const allDegraded = await eventually(
      'every service not ready while NATS is down',
      async () => Object.values(await readiness(run.ports)).every((ready) => !ready),
      { timeoutMs: 15_000, intervalMs: 100 },
    ).catch(() => false);
    await sleep(1_000);
    await nats.start();
    const back = Date.now();
    await eventually(
      'every service ready again',
      async () => Object.values(await readiness(run.ports)).every(Boolean),
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    return { signal, allDegraded, downMs: back - down, recoveredMs: Date.now() - back };
  }

  it('accounts for every event once, patches nothing twice, and restarts no service', async () => {
    const nats = sandbox().need('nats');
    const rounds = planStorm(fleet, PUSHES);
    const pushes = rounds.flat();

    // When NATS is stopped (SIGTERM) and later killed (SIGKILL) while the storm is sent
    const started = Date.now();
    const outages: Outage[] = [];
    const [deliveries] = await Promise.all([
      sendStorm(() => run.ports.ingest, rounds, { roundIntervalMs: 500 }),
      (async () => {
        await sleep(2_000);
        outages.push(await outage(nats, 'SIGTERM'));
        await sleep(2_000);
        outages.push(await outage(nats, 'SIGKILL'));
      })(),
    ]);
    console.info(
      `nats-restart: ${pushes.length} pushes sent in ${Date.now() - started} ms; outages ${JSON.stringify(outages)}`,
    );

    // Then every service went degraded during each outage and came back by itself,
    expect(outages.map((o) => [o.signal, o.allDegraded])).toEqual([
      ['SIGTERM', true],
      ['SIGKILL', true],
    ]);
    // without being restarted: same processes, no restart by the supervisor
    expect(Object.fromEntries(SERVICES.map((s) => [s, run.supervisor.pid(s)]))).toEqual(pids);
    expect(run.supervisor.restarts()).toEqual(Object.fromEntries(SERVICES.map((s) => [s, 0])));
    expect(deliveries.filter((d) => d.status !== 204)).toEqual([]);

    // every event is accounted for exactly once
    const account = await settled(nats.url, since, 180_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${run.logs.slice(-40).join('\n')}`);
    });
    console.info(`nats-restart: settled ${Date.now() - started} ms after the first push`);
    expect(account.audit.unaccounted).toEqual([]);
    expect(account.audit.events).toBe(pushes.length);
    expect(account.audit.requests).toBe(pushes.length * 2);

    // no (workload, digest) was patched twice, and every workload ends on its last digest
    const last = lastDigests(pushes);
    expect(patchedTwice(sandbox())).toEqual([]);
    expect(finalPatchNotOnce(sandbox(), fleet, last, account.ledger.outcomes)).toEqual([]);
    expect(await staleWorkloads(run.kube, fleet, last)).toEqual([]);
  });
});
