import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditFleet } from '@onpush/cli';
import { STREAMS, fleetWaveGate, fleetWaveSubject } from '@onpush/contracts';
import { ANNOTATIONS, kubeHttp, loadKubeConfig, type KubeHttp } from '@onpush/kube';
import {
  connectNats,
  jetstream,
  jetstreamManager,
  publisher,
  type NatsConnection,
} from '@onpush/nats';
import { eventually, useSandbox } from '@onpush/testing';
import { doneStatus, readWorkload, writeStatus } from '../integration/workloads-harness.js';
import { onpushCli } from '../support/cli.js';
import {
  fleetKube,
  hubOutcomes as hubOutcomesOf,
  pushToHub,
  startFleetServices,
  type FleetServices,
} from '../support/fleet-services.js';
import { deployment } from '../support/kube.js';
import { REPO, digest } from './cluster-fixtures.js';
import { OtlpReceiver, STATUS } from './otlp-receiver.js';

const CLUSTERS = ['staging', 'prod'] as const;
type ClusterName = (typeof CLUSTERS)[number];
const SOAK_MS = 2_000;

// Given a fleet on loopback with waves across its clusters — FLEET_WAVES=staging=1,prod=2 at the
// hub's parser (and in each cluster's provisioning), FLEET_WAVE_SOAK=2s — and in both clusters
// a Deployment shop/web opted in on …/app, whose rollout status the test writes as the Deployment
// controller would (the API servers run no controllers).
describe('fleet waves: prod gets a push only once staging rolled it out healthy', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'fleet-waves', {
    fleet: { clusters: CLUSTERS, partitionable: true, waves: 'staging=1,prod=2' },
  });
  let services: FleetServices;
  let hub: NatsConnection;
  let receiver: OtlpReceiver;
  const http = new Map<ClusterName, KubeHttp>();
  let pushes = 0;

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    for (const [name, clients] of fleetKube(sandbox())) {
      for (const ns of ['onpush', 'shop'])
        await clients.core.createNamespace({ body: { metadata: { name: ns } } });
      await clients.apps.createNamespacedDeployment({
        namespace: 'shop',
        body: deployment('web', `${REPO}/app:1.0`),
      });
      const apiServer = sandbox().need('fleet').cluster(name).kube!;
      http.set(name as ClusterName, await kubeHttp(loadKubeConfig(apiServer.kubeconfigPath)));
    }
    services = await startFleetServices(sandbox(), {
      restarterNamespaces: () => ['shop'],
      followRollouts: true,
      env: { ...receiver.env(), FLEET_WAVE_SOAK: `${SOAK_MS}ms` },
    });
    hub = await connectNats({ url: sandbox().need('nats').url, name: 'onpush-fleet-waves-test' });
  });

  afterAll(async () => {
    await hub?.close();
    await services?.stop();
    await receiver?.close();
  });

  const onpush = onpushCli(() => sandbox().need('nats').url);
  const failWith = (error: unknown): never => {
    throw new Error(`${String(error)}\n${services.recentLogs(25)}`);
  };

  /** One Artifact Registry push of …/app at digest `n`, delivered to the hub's ingest. */
  async function push(n: number): Promise<string> {
    pushes += 1;
    return pushToHub(services.ingestPort, `waves-${pushes}`, 'app', n);
  }

  const hubOutcomes = (eventId: string) => hubOutcomesOf(hub, eventId);

  const outcomeOf = (eventId: string, cluster: ClusterName, fate: string, timeoutMs = 30_000) =>
    eventually(
      `${fate} of ${eventId} in ${cluster}`,
      async () =>
        (await hubOutcomes(eventId)).find((o) => o.cluster === cluster && o.fate === fate),
      { timeoutMs },
    ).catch(failWith);

  const digestIn = async (cluster: ClusterName) => {
    const object = await readWorkload(http.get(cluster)!, 'Deployment', 'shop', 'web');
    const template = (object['spec'] as { template: { metadata?: { annotations?: object } } })
      .template;
    return (template.metadata?.annotations as Record<string, string> | undefined)?.[
      ANNOTATIONS.digest
    ];
  };

  /** Writes the status the Deployment controller writes: rolled out, or out of time. */
  async function rollout(cluster: ClusterName, result: 'done' | 'failed') {
    const client = http.get(cluster)!;
    const object = await readWorkload(client, 'Deployment', 'shop', 'web');
    const done = doneStatus('Deployment', object);
    await writeStatus(client, 'Deployment', 'shop', 'web', {
      ...done,
      ...(result === 'failed' ? { updatedReplicas: 0, availableReplicas: 0 } : {}),
      conditions: [
        result === 'done'
          ? { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }
          : {
              type: 'Progressing',
              status: 'False',
              reason: 'ProgressDeadlineExceeded',
              message: 'ReplicaSet "web-2" has timed out progressing.',
            },
      ],
    });
  }

  /** Staying put for `ms`: nothing of `eventId` reaches prod meanwhile. */
  async function heldFromProd(eventId: string, before: string | undefined, ms = 3_000) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    expect(await digestIn('prod')).toBe(before);
    expect((await hubOutcomes(eventId)).filter((o) => o.cluster === 'prod')).toEqual([]);
  }

  const gateSpan = (eventId: string) =>
    eventually(`the fleet wave gate span of ${eventId}`, () =>
      receiver.spans.find(
        (s) => s.name === 'fleet wave gate' && s.attributes['onpush.event.id'] === eventId,
      ),
    );

  it('restarts prod only after staging’s rollout completed and soaked, across a kill -9 of the hub’s parser, in one trace', async () => {
    const eventId = await push(1);
    await outcomeOf(eventId, 'staging', 'restarted');
    expect(await digestIn('staging')).toBe(digest(1));
    await heldFromProd(eventId, undefined);
    // the hub's audit counts the held push as in flight for prod, not as lost
    const [, prod] = (await auditFleet(sandbox().need('nats').url, new Date(0)))!;
    expect(prod).toMatchObject({ cluster: 'prod', unaccounted: [] });
    expect('inFlight' in prod! && prod.inFlight.map((f) => f.eventId)).toEqual([eventId]);
    // and `onpush status` at the hub shows the gate holding it
    const status = JSON.parse(await onpush(['status', '--json'], true)) as {
      consumers: { consumer: string; cluster?: string; pending: number; ackPending: number }[];
    };
    const held = status.consumers.find((c) => c.consumer === 'fleet-wave-2' && !c.cluster);
    expect(held && held.pending + held.ackPending).toBe(1);

    await rollout('staging', 'done');
    const completed = await outcomeOf(eventId, 'staging', 'rollout-completed');
    // kill -9 of the hub's parser during the soak, its gate holding the push: JetStream keeps the
    // push, and the parser the supervisor starts again reads the clusters' outcomes (staging's
    // completed rollout among them) before it judges
    await services.crashHub('parser');
    // killed with the push in its hands, the gate sees it again only after the ack wait
    const afterCrash = fleetWaveGate(2).ackWaitMs + 30_000;
    const restarted = await outcomeOf(eventId, 'prod', 'restarted', afterCrash);
    expect(await digestIn('prod')).toBe(digest(1));
    // not before the soak: both times are stamped by processes on this one machine
    expect(Date.parse(restarted.at) - Date.parse(completed.at)).toBeGreaterThanOrEqual(
      SOAK_MS - 50,
    );

    const gate = await gateSpan(eventId);
    expect(gate.attributes).toMatchObject({ 'onpush.wave': 2, 'onpush.wave.verdict': 'open' });
    expect(gate.status.code).not.toBe(STATUS.error);
    const trace = await eventually('prod’s restart in the push’s trace', () => {
      const spans = receiver.trace(gate.traceId);
      const prodRestart = spans.find(
        (s) =>
          s.name === 'process onpush.restart.shop' && s.resource['k8s.cluster.name'] === 'prod',
      );
      return prodRestart ? spans : undefined;
    });
    const prodResolve = trace.find(
      (s) => s.name === 'process onpush.pushed' && s.resource['k8s.cluster.name'] === 'prod',
    );
    expect(prodResolve).toBeDefined();
    // prod's copy of the push came from the gate, after it
    expect(prodResolve!.startMs).toBeGreaterThanOrEqual(gate.endMs);
    await rollout('prod', 'done');
  });

  it('a failed rollout in staging halts the push for prod, which keeps what it runs', async () => {
    const eventId = await push(2);
    await outcomeOf(eventId, 'staging', 'restarted');
    await rollout('staging', 'failed');
    await outcomeOf(eventId, 'staging', 'rollout-failed');
    const halted = await outcomeOf(eventId, 'prod', 'halted');
    expect(halted).toMatchObject({
      stage: 'parser',
      reason: 'wave_failed',
      detail: expect.stringMatching(/^staging: Deployment\/shop\/web rollout-failed/) as string,
      image: `${REPO}/app`,
    });
    expect(halted.workload).toBeUndefined();
    expect(await digestIn('prod')).toBe(digest(1));
    const gate = await gateSpan(eventId);
    expect(gate.attributes['onpush.wave.verdict']).toBe('halted');
    expect(gate.status.code).toBe(STATUS.error);
  });

  it('while staging is cut off from the hub, prod waits; when it heals, both get the push once', async () => {
    const fleet = sandbox().need('fleet');
    fleet.cut('staging');
    const eventId = await push(3);
    await heldFromProd(eventId, digest(1));
    fleet.heal('staging');
    await outcomeOf(eventId, 'staging', 'restarted');
    await rollout('staging', 'done');
    await outcomeOf(eventId, 'prod', 'restarted');
    expect(await digestIn('prod')).toBe(digest(3));
    const fates = (await hubOutcomes(eventId)).filter((o) => o.fate === 'restarted');
    expect(fates.map((o) => o.cluster).sort()).toEqual(['prod', 'staging']);
  });

  it('lets no identity but the parser put a push on a wave, and stores nothing it refused', async () => {
    const fleet = sandbox().need('fleet');
    const onWave = async () =>
      (await jetstreamManager(hub)).streams
        .info(STREAMS.main, { subjects_filter: fleetWaveSubject(2) })
        .then((i) => i.state.subjects?.[fleetWaveSubject(2)] ?? 0);
    const before = await onWave();
    for (const identity of ['ingest', 'resolver', 'restarter', 'dlq-manager'] as const) {
      const nc = await connectNats({
        url: fleet.hub.url,
        name: `waves-${identity}`,
        credentialsDir: fleet.credentialsDir,
        identity,
      });
      try {
        const refused = await publisher(jetstream(nc, { timeout: 2_000 }))(
          fleetWaveSubject(2),
          new TextEncoder().encode('{}'),
          { msgId: `forged:${identity}` },
        ).then(
          () => 'stored',
          (error: unknown) => String(error),
        );
        expect(refused, identity).toMatch(/permission|timeout/i);
      } finally {
        await nc.close();
      }
    }
    expect(await onWave()).toBe(before);
  });

  it("the hub's audit is clean in both clusters: every push ended once, halted ones too", async () => {
    const audits = await eventually(
      'a clean audit of both clusters',
      async () => {
        const all = await auditFleet(sandbox().need('nats').url, new Date(0));
        return all?.every(
          (a) => !('error' in a) && a.unaccounted.length === 0 && a.inFlight.length === 0,
        )
          ? all
          : undefined;
      },
      { timeoutMs: 30_000 },
    ).catch(async (error: unknown) => {
      const last = await auditFleet(sandbox().need('nats').url, new Date(0));
      throw new Error(`${String(error)}\n${JSON.stringify(last, null, 1)}`);
    });
    for (const audit of audits) {
      if ('error' in audit) throw new Error(audit.error);
      expect(audit.accounted.pushes, audit.cluster).toBe(pushes);
    }
    const prod = audits.find((a) => a.cluster === 'prod')!;
    expect('fates' in prod && prod.fates['halted']).toBe(1);
  });
});
