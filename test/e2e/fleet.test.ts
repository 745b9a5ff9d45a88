import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditFleet } from '@onpush/cli';
import { STREAMS } from '@onpush/contracts';
import type { Push as ConsolePush } from '@onpush/console';
import type { DlqSummary } from '@onpush/dlq';
import { ANNOTATIONS } from '@onpush/kube';
import { connectNats, jetstreamManager, type NatsConnection } from '@onpush/nats';
import { freePort } from '@onpush/sandbox';
import { eventually, useSandbox } from '@onpush/testing';
import { onpushCli, onpushConsole } from '../support/cli.js';
import {
  fleetKube,
  hubOutcomes as hubOutcomesOf,
  pushToHub,
  startFleetServices,
  type FleetServices,
  type HubOutcome,
} from '../support/fleet-services.js';
import { deployment, grantRestarter } from '../support/kube.js';
import { REPO, digest } from './cluster-fixtures.js';
import { OtlpReceiver, one } from './otlp-receiver.js';
import { childOf } from './trace-assertions.js';

const CLUSTERS = ['staging', 'prod-a', 'prod-b'] as const;
type ClusterName = (typeof CLUSTERS)[number];

// Given a fleet on loopback — a hub nats-server running ingest, parser and dlq-manager, and three
// clusters, each with its own kube-apiserver + etcd and its own nats-server joined to the hub as
// a leaf node, running resolver, restarter and dlq-manager — and in every cluster a Deployment
// shop/web opted in on …/app, plus in staging one not opted in on the same image and in prod-b
// one opted in on another image.
describe('fleet: one push at the hub restarts what runs the image in every cluster', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'fleet', {
    fleet: { clusters: CLUSTERS, partitionable: true },
  });
  let services: FleetServices;
  let hub: NatsConnection;
  let receiver: OtlpReceiver;
  let pushes = 0;
  let ingestPort = 0;
  /** The pushes the console test looks up: one restarted everywhere, one dead then replayed. */
  const seen: { everywhere?: string; locked?: string } = {};
  const kube = (cluster: ClusterName) => services.kube.get(cluster)!;

  beforeAll(async () => {
    // Every service of the fleet exports its spans here, as to one tracing backend.
    receiver = await OtlpReceiver.start();
    for (const [name, clients] of fleetKube(sandbox())) {
      for (const ns of ['onpush', 'shop', 'locked'])
        await clients.core.createNamespace({ body: { metadata: { name: ns } } });
      const create = (d: ReturnType<typeof deployment>, namespace = 'shop') =>
        clients.apps.createNamespacedDeployment({ namespace, body: d });
      if (name !== 'prod-b') await create(deployment('api', `${REPO}/locked:1.0`), 'locked');
      await create(deployment('web', `${REPO}/app:1.0`));
      if (name === 'staging')
        await create(deployment('legacy', `${REPO}/app:1.0`, { optIn: false }));
      if (name === 'prod-b') await create(deployment('other', `${REPO}/other:1.0`));
    }
    // Namespace `locked` is the restarter's in staging only: prod-a's answers 403.
    services = await startFleetServices(sandbox(), {
      restarterNamespaces: (name) => (name === 'staging' ? ['shop', 'locked'] : ['shop']),
      env: receiver.env(),
    });
    ingestPort = services.ingestPort;
    hub = await connectNats({ url: sandbox().need('nats').url, name: 'onpush-fleet-test' });
  });

  afterAll(async () => {
    await hub?.close();
    await services?.stop();
    await receiver?.close();
  });

  const recentLogs = (): string => services.recentLogs();

  /** One Artifact Registry push, delivered to the hub's ingest as Pub/Sub push does. */
  async function push(image: string, n: number): Promise<string> {
    pushes += 1;
    return pushToHub(ingestPort, `fleet-${pushes}`, image, n);
  }

  const hubOutcomes = (eventId: string): Promise<HubOutcome[]> => hubOutcomesOf(hub, eventId);

  const read = (cluster: ClusterName, name: string, namespace = 'shop') =>
    kube(cluster).apps.readNamespacedDeployment({ namespace, name });
  const template = async (cluster: ClusterName, name: string, namespace = 'shop') =>
    (await read(cluster, name, namespace)).spec?.template.metadata?.annotations ?? {};

  /** The onpush CLI at the hub. */
  const onpush = onpushCli(() => sandbox().need('nats').url);

  it('restarts shop/web in all three clusters once, and nothing else', async () => {
    const eventId = await push('app', 1);
    seen.everywhere = eventId;

    const outcomes = await eventually(
      'a restarted outcome from every cluster at the hub',
      async () => {
        const found = await hubOutcomes(eventId);
        return found.filter((o) => o.fate === 'restarted').length === CLUSTERS.length
          ? found
          : undefined;
      },
      { timeoutMs: 60_000 },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${recentLogs()}`);
    });

    const byCluster = (fate: string) =>
      outcomes
        .filter((o) => o.fate === fate)
        .map(
          (o) => `${o.cluster} ${o.workload ? `${o.workload.namespace}/${o.workload.name}` : ''}`,
        )
        .sort();
    expect(byCluster('dispatched')).toEqual(['prod-a ', 'prod-b ', 'staging ']);
    expect(byCluster('restarted')).toEqual([
      'prod-a shop/web',
      'prod-b shop/web',
      'staging shop/web',
    ]);
    for (const cluster of CLUSTERS)
      expect((await template(cluster, 'web'))[ANNOTATIONS.digest]).toBe(digest(1));
    expect((await template('staging', 'legacy'))[ANNOTATIONS.digest]).toBeUndefined();
    expect((await template('prod-b', 'other'))[ANNOTATIONS.digest]).toBeUndefined();

    // One trace from the push at the hub into every cluster's restart.
    const trace = await eventually(
      'the trace of the push in every cluster',
      () => {
        const anchor = receiver.spans.find((s) => s.attributes['onpush.event.id'] === eventId);
        const spans = anchor ? receiver.trace(anchor.traceId) : [];
        const restarts = spans.filter((s) => s.name === 'process onpush.restart.shop');
        return restarts.length === CLUSTERS.length ? spans : undefined;
      },
      { timeoutMs: 30_000 },
    );
    const pushed = one(trace, { name: 'publish onpush.pushed', service: 'onpush-parser' });
    expect(pushed.resource['k8s.cluster.name']).toBeUndefined(); // the hub's
    const resolves = trace.filter(
      (s) => s.name === 'process onpush.pushed' && s.parentSpanId === pushed.spanId,
    );
    expect(resolves.map((s) => s.resource['k8s.cluster.name']).sort()).toEqual(
      [...CLUSTERS].sort(),
    );
    for (const resolve of resolves) {
      const cluster = resolve.resource['k8s.cluster.name'];
      const request = childOf(trace, resolve, { name: 'publish onpush.restart.shop' });
      const restart = childOf(trace, request, { name: 'process onpush.restart.shop' });
      expect(restart.resource['k8s.cluster.name'], String(cluster)).toBe(cluster);
    }
  });

  it('a cluster cut off from the hub gets every push it missed, in order, once, when the link heals', async () => {
    const fleet = sandbox().need('fleet');
    const generation = async (cluster: ClusterName) =>
      (await kube(cluster).apps.readNamespacedDeployment({ namespace: 'shop', name: 'web' }))
        .metadata?.generation ?? 0;
    const before = await generation('prod-b');
    fleet.cut('prod-b');
    const missed = [await push('app', 2), await push('app', 3)];
    // The others go on meanwhile.
    for (const cluster of ['staging', 'prod-a'] as const)
      await eventually(
        `${cluster} on the last push`,
        async () => (await template(cluster, 'web'))[ANNOTATIONS.digest] === digest(3),
        { timeoutMs: 30_000 },
      );
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect((await template('prod-b', 'web'))[ANNOTATIONS.digest]).toBe(digest(1));
    expect(await generation('prod-b')).toBe(before);

    fleet.heal('prod-b');
    await eventually(
      'prod-b on the last push',
      async () => (await template('prod-b', 'web'))[ANNOTATIONS.digest] === digest(3),
      { timeoutMs: 120_000 },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${recentLogs()}`);
    });
    // Every missed push reached prod-b once and was decided there (restarted, or unchanged when a
    // later one was applied first), and its outcomes came back to the hub.
    for (const eventId of missed) {
      const fromProdB = await eventually(
        `${eventId}: prod-b's outcomes at the hub`,
        async () => {
          const found = (await hubOutcomes(eventId)).filter((o) => o.cluster === 'prod-b');
          return found.some((o) => o.workload) ? found : undefined;
        },
        { timeoutMs: 30_000 },
      );
      expect(fromProdB.filter((o) => o.fate === 'dispatched')).toHaveLength(1);
      expect(fromProdB.filter((o) => o.workload && o.fate !== 'rollout-failed')).toHaveLength(1);
    }
    // One new generation per applied push at most: never the same push twice.
    expect(await generation('prod-b')).toBeGreaterThan(before);
    expect(await generation('prod-b')).toBeLessThanOrEqual(before + 2);
  });

  it("a cluster's 403 lands in the hub's DLQ with its name, and replays into that cluster only", async () => {
    const eventId = await push('locked', 5);
    seen.locked = eventId;
    await eventually(
      'staging restarts locked/api',
      async () => (await template('staging', 'api', 'locked'))[ANNOTATIONS.digest] === digest(5),
      { timeoutMs: 30_000 },
    );
    const listed = await eventually(
      "prod-a's dead letter in the hub's DLQ",
      async () => {
        const out = await onpush(['dlq', 'ls', '--cluster', 'prod-a', '--json']);
        const { entries } = JSON.parse(out) as { entries: DlqSummary[] };
        return entries.length ? entries : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(listed.map((e) => [e.cluster, e.stage, e.reason])).toEqual([
      ['prod-a', 'restarter', 'http_403'],
    ]);
    const none = JSON.parse(await onpush(['dlq', 'ls', '--cluster', 'staging', '--json'])) as {
      entries: DlqSummary[];
    };
    expect(none.entries).toEqual([]);
    const stagingGeneration = (await read('staging', 'api', 'locked')).metadata?.generation;

    await grantRestarter(services.rbac.get('prod-a')!, 'locked');
    await onpush(['dlq', 'replay', String(listed[0]!.id)]);

    await eventually(
      'prod-a restarts locked/api',
      async () => (await template('prod-a', 'api', 'locked'))[ANNOTATIONS.digest] === digest(5),
      { timeoutMs: 30_000 },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${recentLogs()}`);
    });
    const fromProdA = await eventually(
      "prod-a's restarted outcome at the hub",
      async () => {
        const found = (await hubOutcomes(eventId)).filter((o) => o.cluster === 'prod-a');
        return found.some((o) => o.fate === 'restarted') ? found : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(fromProdA.map((o) => o.fate).sort()).toEqual(['dead', 'dispatched', 'restarted']);
    // The replay went into prod-a alone: staging did not restart its locked/api again.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await read('staging', 'api', 'locked')).metadata?.generation).toBe(stagingGeneration);
  });

  it("the hub reads a cluster's streams but can neither purge nor delete them", async () => {
    const remote = await jetstreamManager(hub, { domain: 'prod-a', timeout: 2_000 });
    expect((await remote.streams.info(STREAMS.outcomes)).state.messages).toBeGreaterThan(0);
    await expect(remote.streams.purge(STREAMS.outcomes)).rejects.toThrow();
    await expect(remote.streams.delete(STREAMS.main)).rejects.toThrow();
    await expect(remote.streams.update(STREAMS.main, { max_age: 1 })).rejects.toThrow();
    expect((await remote.streams.info(STREAMS.main)).config.max_age).not.toBe(1);
  });

  it("shows every cluster's consumers in onpush status at the hub", async () => {
    const report = JSON.parse(await onpush(['status', '--json'], true)) as {
      consumers: { consumer: string; cluster?: string; pending: number }[];
      services: { service: string }[];
      clusters: string[];
    };
    // The hub's own services only: resolver and restarter run in the clusters.
    expect(report.services.map((s) => s.service)).toEqual(['ingest', 'parser', 'dlq-manager']);
    expect(report.clusters).toEqual([...CLUSTERS]);
    const names = report.consumers.map((c) =>
      c.cluster ? `${c.consumer}@${c.cluster}` : c.consumer,
    );
    for (const cluster of CLUSTERS)
      for (const consumer of ['resolver', 'restarter'])
        expect(names).toContain(`${consumer}@${cluster}`);
    expect(names).toContain('parser');
    expect(names).not.toContain('resolver');
  });

  it("the console at the hub follows each push into every cluster, each workload's fate labelled with its cluster", async () => {
    const token = randomBytes(24).toString('base64url');
    const port = await freePort();
    const child = await onpushConsole(
      { NATS_URL: sandbox().need('nats').url, ONPUSH_CONSOLE_TOKEN: token },
      port,
    );
    try {
      const get = async (path: string) => {
        const res = await fetch(`http://127.0.0.1:${port}/console/api/${path}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(res.status, path).toBe(200);
        return (await res.json()) as { pushes: ConsolePush[] };
      };
      const fates = (p: ConsolePush | undefined) =>
        (p?.workloads ?? [])
          .map(
            (w) => `${w.cluster} ${w.workload.namespace}/${w.workload.name} ${w.history.join('>')}`,
          )
          .sort();
      const find = async (eventId: string | undefined, query = '') =>
        (await get(`pushes?${query}`)).pushes.find((p) => p.eventId === eventId);
      const everywhere = await eventually('the console caught up with the history', async () => {
        const p = await find(seen.everywhere);
        return fates(p).length === CLUSTERS.length ? p : undefined;
      });
      expect([...everywhere.clusters].sort()).toEqual([...CLUSTERS].sort());
      expect(fates(everywhere)).toEqual([
        'prod-a shop/web restarted',
        'prod-b shop/web restarted',
        'staging shop/web restarted',
      ]);
      // prod-a's dead letter and its replay, staging's restart; prod-b runs no locked/api
      const locked = await find(seen.locked);
      expect(fates(locked)).toEqual([
        'prod-a locked/api dead>restarted',
        'staging locked/api restarted',
      ]);
      expect([...(locked?.clusters ?? [])].sort()).toEqual([...CLUSTERS].sort());
      // narrowed to one cluster, and to one that is not in the fleet
      expect(await find(seen.everywhere, 'cluster=prod-b')).toBeDefined();
      expect((await get('pushes?cluster=nowhere')).pushes).toEqual([]);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('audits every cluster at the hub: each push ended once in each, nothing unaccounted for', async () => {
    const result = await eventually(
      'a clean audit of every cluster',
      async () => {
        const audits = await auditFleet(sandbox().need('nats').url, new Date(0));
        const clean = audits?.every((a) => !('error' in a) && a.unaccounted.length === 0);
        return clean && audits?.every((a) => 'inFlight' in a && a.inFlight.length === 0)
          ? audits
          : undefined;
      },
      { timeoutMs: 30_000 },
    ).catch(async (error: unknown) => {
      const last = await auditFleet(sandbox().need('nats').url, new Date(0));
      throw new Error(`${String(error)}\n${JSON.stringify(last, null, 1)}`);
    });
    expect(result.map((a) => a.cluster)).toEqual([...CLUSTERS]);
    for (const one of result) {
      if ('error' in one) throw new Error(one.error);
      expect(one.pushes, one.cluster).toBe(pushes);
      expect(one.accounted.pushes, one.cluster).toBe(pushes);
    }
    const only = JSON.parse(await onpush(['audit', '--cluster', 'prod-b', '--json'])) as {
      clusters: { cluster: string; unaccounted: unknown[] }[];
    };
    expect(only.clusters.map((a) => [a.cluster, a.unaccounted.length])).toEqual([['prod-b', 0]]);
  });
});
