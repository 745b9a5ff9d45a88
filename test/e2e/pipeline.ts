import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PubSub, type Topic } from '@google-cloud/pubsub';
import { STREAMS, parseOutcome, type Outcome } from '@onpush/contracts';
import { Supervisor, SERVICES, type ServiceName } from '@onpush/cli';
import { connectNats, jetstream, jetstreamManager, type NatsConnection } from '@onpush/nats';
import { freePort, kubeconfig, waitUntil, type Sandbox } from '@onpush/sandbox';

/** The pipeline's processes: ports of replica 0 per service, and of every replica. */
export interface Pipeline {
  supervisor: Supervisor;
  /** The dlq-manager's API wants it: `Authorization: Bearer <adminToken>`. */
  adminToken: string;
  ports: Record<ServiceName, number>;
  replicaPorts: Record<ServiceName, number[]>;
  logs: string[];
}

/**
 * The five services as real processes against a sandbox, on free ports; `replicas` processes of
 * a service share its durable consumer (and, for ingest, the Pub/Sub subscription).
 */
export async function startPipeline(
  sandbox: Sandbox,
  extra: Partial<Record<ServiceName, NodeJS.ProcessEnv>> = {},
  replicas: Partial<Record<ServiceName, number>> = {},
): Promise<Pipeline> {
  const started = await startServices(sandbox, { services: SERVICES, extra, replicas });
  return started as Pipeline;
}

/**
 * Some of the services as real processes, on free ports, with `env` over the sandbox's (a fleet's
 * cluster: its own NATS_URL, KUBECONFIG and CLUSTER_NAME). Ready when every one answers /readyz.
 */
export async function startServices(
  sandbox: Sandbox,
  options: {
    services: readonly ServiceName[];
    env?: NodeJS.ProcessEnv;
    extra?: Partial<Record<ServiceName, NodeJS.ProcessEnv>>;
    replicas?: Partial<Record<ServiceName, number>>;
    /** Where the dlq-manager's admin token goes (default: `admin-token` in the sandbox's dir). */
    label?: string;
  },
): Promise<
  Omit<Pipeline, 'ports' | 'replicaPorts'> & {
    ports: Partial<Record<ServiceName, number>>;
    replicaPorts: Partial<Record<ServiceName, number[]>>;
  }
> {
  const { services, extra = {}, replicas = {} } = options;
  const replicaPorts: Partial<Record<ServiceName, number[]>> = {};
  for (const s of services) {
    const ports: number[] = [];
    for (let r = 0; r < Math.max(1, replicas[s] ?? 1); r += 1) ports.push(await freePort());
    replicaPorts[s] = ports;
  }
  const ports = Object.fromEntries(services.map((s) => [s, replicaPorts[s]![0]!]));
  const logs: string[] = [];
  const adminToken = randomBytes(24).toString('base64url');
  const adminTokenFile = join(sandbox.dir, `${options.label ?? 'admin'}-token`);
  writeFileSync(adminTokenFile, adminToken, { mode: 0o600 });
  const supervisor = new Supervisor({
    env: {
      ...process.env,
      ...sandbox.env,
      ...options.env,
      // Without the emulator ingest takes HTTP deliveries only.
      ...(sandbox.pubsub ? { PUBSUB_CREATE_SUBSCRIPTION: 'true' } : { PUBSUB_PULL: 'false' }),
      LOG_LEVEL: 'info',
    },
    envFor: (service, replica) => ({
      PORT: String(replicaPorts[service]![replica]),
      ...(service === 'dlq-manager' ? { ADMIN_TOKEN_FILE: adminTokenFile } : {}),
      ...extra[service],
    }),
    services,
    replicas,
    write: (line) => logs.push(line),
  });
  supervisor.start();
  for (const port of services.flatMap((s) => replicaPorts[s]!)) {
    await waitUntil(
      `the service on port ${port} ready`,
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok,
      { timeoutMs: 60_000, intervalMs: 100 },
    ).catch(async (error: unknown) => {
      await supervisor.stop(5_000); // a caller that never gets the supervisor cannot stop it
      throw new Error(`${(error as Error).message}\n${logs.slice(-30).join('\n')}`);
    });
  }
  return { supervisor, adminToken, ports, replicaPorts, logs };
}

/** A kubeconfig file for a ServiceAccount token (to run a service with least privilege). */
export function writeTokenKubeconfig(sandbox: Sandbox, name: string, token: string): string {
  const kube = sandbox.need('kube');
  const path = join(sandbox.dir, `${name}.kubeconfig`);
  writeFileSync(path, kubeconfig(kube.server, kube.caFile, token));
  return path;
}

/** Every outcome on ONPUSH_OUTCOMES, read from the stream (what an auditor sees). */
export async function readOutcomes(nc: NatsConnection): Promise<Outcome[]> {
  const last = (await (await jetstreamManager(nc)).streams.info(STREAMS.outcomes)).state.last_seq;
  const consumer = await jetstream(nc).consumers.get(STREAMS.outcomes);
  const outcomes: Outcome[] = [];
  while (last > 0) {
    const msg = await consumer.next({ expires: 1_000 });
    if (!msg) break;
    outcomes.push(parseOutcome(msg.data));
    if (msg.seq >= last) break;
  }
  return outcomes;
}

export async function outcomesOf(url: string, eventId: string): Promise<Outcome[]> {
  const nc = await connectNats({ url, name: 'onpush-e2e' });
  try {
    return (await readOutcomes(nc)).filter(
      (o) => o.eventId === eventId || o.eventId.startsWith(`${eventId}#`),
    );
  } finally {
    await nc.close();
  }
}

/** A client of the sandbox's Pub/Sub emulator and the `gcr` topic Artifact Registry publishes to. */
export function gcrTopic(sandbox: Sandbox): { pubsub: PubSub; topic: Topic } {
  const pubsub = new PubSub({
    projectId: sandbox.pubsubProject,
    apiEndpoint: sandbox.need('pubsub').host,
    emulatorMode: true,
  });
  return { pubsub, topic: pubsub.topic('gcr') };
}
