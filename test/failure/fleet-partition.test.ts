// A fleet's cluster cut off from the hub for a minute while pushes keep coming: its leaf-node link
// to the hub is reset and refused, the hub goes on taking pushes in and the other cluster goes on
// restarting; then the link heals.
//
// What must hold: the cut-off cluster restarts nothing of what it missed while cut, then receives
// every push it missed (its JetStream source resumes where it stopped) and decides each once —
// every Deployment in both clusters ends on its last push, and in each cluster every push ends in
// exactly one event fate and one fate per workload, as many restarted outcomes per Deployment as
// the API server saw new generations; the hub's audit of both clusters is clean.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditFleet } from '@onpush/cli';
import { HEADERS, STREAMS, parseOutcome, type Outcome } from '@onpush/contracts';
import { ANNOTATIONS, type KubeClients } from '@onpush/kube';
import { connectNats, jetstream, scanStream } from '@onpush/nats';
import { eventually, useSandbox } from '@onpush/testing';
import { fleetKube, startFleetServices, type FleetServices } from '../support/fleet-services.js';
import { deployment } from '../support/kube.js';
import { PUSH_PATH, pushHeaders } from '../support/pubsub-push.js';
import { REPO, digest } from '../e2e/cluster-fixtures.js';

const CLUSTERS = ['east', 'west'] as const;
const WORKLOADS = 24;
const RATE = 8;
const CUT_AFTER_MS = 8_000;
const CUT_MS = 60_000;
const STREAM_MS = CUT_AFTER_MS + CUT_MS + 8_000;

const image = (i: number) => `${REPO}/part-${i}`;

describe('fleet: a cluster cut off from the hub for a minute during a stream of pushes', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'fleet-partition', {
    fleet: { clusters: CLUSTERS, partitionable: true },
  });
  let services: FleetServices;

  beforeAll(async () => {
    for (const clients of fleetKube(sandbox()).values()) {
      for (const ns of ['onpush', 'part'])
        await clients.core.createNamespace({ body: { metadata: { name: ns } } });
      for (let i = 0; i < WORKLOADS; i += 1)
        await clients.apps.createNamespacedDeployment({
          namespace: 'part',
          body: deployment(`app-${i}`, `${image(i)}:1.0`),
        });
    }
    services = await startFleetServices(sandbox(), { restarterNamespaces: () => ['part'] });
  });

  afterAll(async () => {
    await services?.stop();
  });

  /** Push n: a new digest of image n % WORKLOADS, as Pub/Sub push delivers it to the hub. */
  async function push(n: number): Promise<string> {
    const i = n % WORKLOADS;
    const body = { action: 'INSERT', digest: `${image(i)}@${digest(n)}`, tag: `${image(i)}:1.0` };
    const message = {
      data: Buffer.from(JSON.stringify(body)).toString('base64'),
      messageId: `part-${n}`,
      publishTime: new Date().toISOString(),
    };
    const res = await fetch(`http://127.0.0.1:${services.ingestPort}${PUSH_PATH}`, {
      method: 'POST',
      headers: pushHeaders(),
      body: JSON.stringify({ message, subscription: 'projects/p/subscriptions/onpush-push' }),
    });
    if (res.status !== 204) throw new Error(`push ${n}: ${res.status} ${await res.text()}`);
    return `gar:part-${n}`;
  }

  const digestsIn = async (kube: KubeClients): Promise<Map<string, string | undefined>> => {
    const list = await kube.apps.listNamespacedDeployment({ namespace: 'part' });
    return new Map(
      list.items.map((d) => [
        d.metadata!.name!,
        d.spec?.template.metadata?.annotations?.[ANNOTATIONS.digest],
      ]),
    );
  };

  it('applies every push it missed once when the link heals; the hub audits both clusters clean', async () => {
    const fleet = sandbox().need('fleet');
    const since = new Date();
    const sent: string[] = [];
    const started = Date.now();
    const total = Math.round((STREAM_MS / 1_000) * RATE);
    const stream = (async () => {
      for (let n = 0; n < total; n += 1) {
        const wait = started + (n * 1_000) / RATE - Date.now();
        if (wait > 0) await sleep(wait);
        sent.push(await push(n));
      }
    })();

    await sleep(CUT_AFTER_MS);
    fleet.cut('west');
    const cutAt = sent.length;
    await sleep(CUT_MS / 2);
    // Meanwhile: east keeps up; west restarts nothing of what was pushed since the cut.
    const eastMid = await digestsIn(services.kube.get('east')!);
    const westMid = await digestsIn(services.kube.get('west')!);
    const pushedSinceCut = (d: string | undefined) =>
      d !== undefined && Number.parseInt(d.slice('sha256:'.length), 16) >= cutAt + WORKLOADS;
    expect([...eastMid.values()].some(pushedSinceCut)).toBe(true);
    expect([...westMid.values()].filter(pushedSinceCut)).toEqual([]);
    await sleep(CUT_MS / 2);
    fleet.heal('west');
    await stream;

    // Then: every Deployment in both clusters on its last push.
    const last = new Map<string, string>();
    for (let n = 0; n < total; n += 1) last.set(`app-${n % WORKLOADS}`, digest(n));
    for (const cluster of CLUSTERS)
      await eventually(
        `${cluster}: every Deployment on its last push`,
        async () => {
          const now = await digestsIn(services.kube.get(cluster)!);
          return [...last].every(([name, d]) => now.get(name) === d);
        },
        { timeoutMs: 120_000, intervalMs: 500 },
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${services.recentLogs()}`);
      });

    // Every push ended once in each cluster, and the hub accounts for it (outcomes copied back).
    const nc = await connectNats({ url: sandbox().need('nats').url, name: 'onpush-partition' });
    try {
      const ids = new Set(sent);
      const byCluster = await eventually(
        'every cluster outcome of every push at the hub',
        async () => {
          const found = new Map<string, Outcome[]>(CLUSTERS.map((c) => [c, []]));
          for await (const m of scanStream(jetstream(nc), STREAMS.outcomes, { since })) {
            const o = parseOutcome(m.data);
            const cluster = m.headers?.get(HEADERS.cluster) ?? '';
            if (ids.has(o.eventId) && found.has(cluster)) found.get(cluster)!.push(o);
          }
          const complete = [...found.values()].every(
            (list) => list.filter((o) => o.workload && o.fate !== 'rollout-failed').length >= total,
          );
          return complete ? found : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 1_000 },
      );
      for (const [cluster, outcomes] of byCluster) {
        const events = outcomes.filter((o) => !o.workload);
        const fates = outcomes.filter((o) => o.workload && !o.fate.startsWith('rollout-'));
        expect(events.length, cluster).toBe(total);
        expect(new Set(events.map((o) => o.eventId)).size, cluster).toBe(total);
        expect(fates.length, cluster).toBe(total);
        expect(new Set(fates.map((o) => o.eventId)).size, cluster).toBe(total);
        // No restart without its outcome, none twice: a new generation per restarted outcome.
        const list = await services.kube.get(cluster)!.apps.listNamespacedDeployment({
          namespace: 'part',
        });
        for (const d of list.items) {
          const name = d.metadata!.name!;
          const restarted = fates.filter(
            (o) => o.fate === 'restarted' && o.workload?.name === name,
          ).length;
          expect((d.metadata?.generation ?? 1) - 1, `${cluster} ${name}`).toBe(restarted);
        }
      }
    } finally {
      await nc.close();
    }
    const audits = await eventually(
      'a clean audit of both clusters at the hub',
      async () => {
        const result = await auditFleet(sandbox().need('nats').url, since);
        const clean = result?.every(
          (a) => !('error' in a) && a.unaccounted.length === 0 && a.inFlight.length === 0,
        );
        return clean ? result : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 2_000 },
    );
    expect(audits.map((a) => a.cluster)).toEqual([...CLUSTERS]);
  });
});
