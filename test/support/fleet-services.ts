// A fleet's services as real processes against a fleet sandbox (`useSandbox(..., { fleet })`):
// the hub's (ingest with authenticated Pub/Sub push, parser, dlq-manager) and, per cluster,
// resolver, restarter (with its least-privilege identity in that cluster) and dlq-manager.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { FLEET_SERVICES, HEADERS, STREAMS, parseOutcome, type Outcome } from '@onpush/contracts';
import { kubeClients, loadKubeConfig, type KubeClients } from '@onpush/kube';
import { jetstream, scanStream, type NatsConnection } from '@onpush/nats';
import { kubeconfig, type Sandbox } from '@onpush/sandbox';
import { startServices } from '../e2e/pipeline.js';
import { restarterIdentity } from './kube.js';
import { REPO, digest } from '../e2e/cluster-fixtures.js';
import { PUSH_PATH, pushEnv, pushHeaders } from './pubsub-push.js';

export interface FleetServices {
  /** The hub's ingest (Pub/Sub push at PUSH_PATH). */
  ingestPort: number;
  /** Each cluster's API server, as an admin. */
  kube: ReadonlyMap<string, KubeClients>;
  /** Each cluster's RBAC API, as an admin (to grant the restarter more). */
  rbac: ReadonlyMap<string, RbacAuthorizationV1Api>;
  /** The last lines of every service's log. */
  recentLogs(lines?: number): string;
  /** kill -9 of one of the hub's services; it is restarted as after any crash. */
  crashHub(service: (typeof FLEET_SERVICES.hub)[number]): Promise<void>;
  stop(): Promise<void>;
}

/** Each cluster's admin clients: to create namespaces and workloads before the services start. */
export function fleetKube(sandbox: Sandbox): Map<string, KubeClients> {
  const fleet = sandbox.need('fleet');
  return new Map(
    [...fleet.clusters.keys()].map((name) => [
      name,
      kubeClients(loadKubeConfig(fleet.cluster(name).kube!.kubeconfigPath)),
    ]),
  );
}

export async function startFleetServices(
  sandbox: Sandbox,
  options: {
    /** The namespaces the restarter of `cluster` may patch in (namespace `onpush` must exist). */
    restarterNamespaces: (cluster: string) => readonly string[];
    /** Over every service's environment (e.g. an OTLP receiver's). */
    env?: NodeJS.ProcessEnv;
    /** The restarters may watch Deployments and record Events: they follow their rollouts. */
    followRollouts?: boolean;
  },
): Promise<FleetServices> {
  const fleet = sandbox.need('fleet');
  const kube = fleetKube(sandbox);
  const rbac = new Map<string, RbacAuthorizationV1Api>();
  const stops: (() => Promise<unknown>)[] = [];
  const logs: string[][] = [];
  const stop = async () => {
    await Promise.all(stops.map((s) => s()));
  };
  try {
    const hub = await startServices(sandbox, {
      services: FLEET_SERVICES.hub,
      env: options.env ?? {},
      extra: { ingest: pushEnv() },
      label: 'hub',
    });
    stops.push(() => hub.supervisor.stop());
    logs.push(hub.logs);
    for (const [name, clients] of kube) {
      const apiServer = fleet.cluster(name).kube!;
      const api = loadKubeConfig(apiServer.kubeconfigPath).makeApiClient(RbacAuthorizationV1Api);
      rbac.set(name, api);
      const token = await restarterIdentity(clients, api, options.restarterNamespaces(name), {
        rollouts: options.followRollouts ?? false,
      });
      const file = join(sandbox.dir, `restarter-${name}.kubeconfig`);
      writeFileSync(file, kubeconfig(apiServer.server, apiServer.caFile, token));
      const services = await startServices(sandbox, {
        services: FLEET_SERVICES.cluster,
        env: { ...sandbox.clusterEnv(name), ...options.env },
        extra: { restarter: { KUBECONFIG: file } },
        label: name,
      });
      stops.push(() => services.supervisor.stop());
      logs.push(services.logs);
    }
    return {
      ingestPort: hub.ports.ingest!,
      kube,
      rbac,
      recentLogs: (lines = 15) => logs.flatMap((l) => l.slice(-lines)).join('\n'),
      crashHub: async (service) => {
        await hub.supervisor.kill(service, 'SIGKILL');
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** An outcome as a fleet's hub keeps it, with the cluster that made it (header Onpush-Cluster). */
export type HubOutcome = Outcome & { cluster: string | undefined };

/** Every outcome of `eventId` the hub (`hub`: a connection to its nats-server) holds. */
export async function hubOutcomes(hub: NatsConnection, eventId: string): Promise<HubOutcome[]> {
  const found: HubOutcome[] = [];
  for await (const m of scanStream(jetstream(hub), STREAMS.outcomes)) {
    const outcome = parseOutcome(m.data);
    if (outcome.eventId === eventId)
      found.push({ ...outcome, cluster: m.headers?.get(HEADERS.cluster) || undefined });
  }
  return found;
}

/**
 * One Artifact Registry push of `${REPO}/${image}` at digest `n` (message id `id`), delivered to
 * the hub's ingest at `ingestPort` as Pub/Sub push does; its event id. Throws unless ingest
 * answered 204.
 */
export async function pushToHub(
  ingestPort: number,
  id: string,
  image: string,
  n: number,
): Promise<string> {
  const body = {
    action: 'INSERT',
    digest: `${REPO}/${image}@${digest(n)}`,
    tag: `${REPO}/${image}:1.0`,
  };
  const message = {
    data: Buffer.from(JSON.stringify(body)).toString('base64'),
    messageId: id,
    publishTime: new Date().toISOString(),
  };
  const res = await fetch(`http://127.0.0.1:${ingestPort}${PUSH_PATH}`, {
    method: 'POST',
    headers: pushHeaders(),
    body: JSON.stringify({ message, subscription: 'projects/p/subscriptions/onpush-push' }),
  });
  if (res.status !== 204) throw new Error(`ingest answered ${res.status} to push ${id}`);
  return `gar:${id}`;
}
