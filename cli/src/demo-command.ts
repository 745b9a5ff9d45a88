import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import { FLEET_SERVICES } from '@onpush/contracts';
import {
  ANNOTATIONS,
  ignoreConflict,
  kubeClientsFrom,
  type KubeClients,
  type V1Deployment,
} from '@onpush/kube';
import { sandboxUp, waitUntil, type SandboxEnv } from '@onpush/sandbox';
import type { Output } from './output.js';
import { DEFAULT_PORTS, SERVICES, type ServiceName } from './services.js';
import { Supervisor } from './supervisor.js';

const REGISTRY = 'us-docker.pkg.dev/onpush-demo/apps';

interface Sample {
  namespace: string;
  name: string;
  image: string;
  optIn: boolean;
  sidecar?: boolean;
}

const SAMPLES: Sample[] = [
  { namespace: 'demo-shop', name: 'web', image: `${REGISTRY}/web:1.0`, optIn: true },
  {
    namespace: 'demo-blog',
    name: 'frontend',
    image: `${REGISTRY}/web:1.0`,
    optIn: true,
    sidecar: true,
  },
  { namespace: 'demo-shop', name: 'worker', image: `${REGISTRY}/worker:1.0`, optIn: true },
  { namespace: 'demo-blog', name: 'legacy', image: `${REGISTRY}/web:1.0`, optIn: false },
];

function deployment(s: Sample): V1Deployment {
  const containers = s.sidecar
    ? [
        { name: 'nginx', image: 'nginx:1.27' },
        { name: 'app', image: s.image },
      ]
    : [{ name: 'app', image: s.image }];
  return {
    metadata: {
      name: s.name,
      labels: { app: s.name, ...(s.optIn ? { 'onpush.dev/enabled': 'true' } : {}) },
    },
    spec: {
      selector: { matchLabels: { app: s.name } },
      template: { metadata: { labels: { app: s.name } }, spec: { containers } },
    },
  };
}

async function createSamples(kube: KubeClients): Promise<void> {
  for (const ns of new Set(['onpush', ...SAMPLES.map((s) => s.namespace)])) {
    await ignoreConflict(kube.core.createNamespace({ body: { metadata: { name: ns } } }));
  }
  for (const s of SAMPLES) {
    await ignoreConflict(
      kube.apps.createNamespacedDeployment({ namespace: s.namespace, body: deployment(s) }),
    );
  }
}

async function waitReady(
  services: readonly ServiceName[] = SERVICES,
  portOf: (service: ServiceName) => number = (s) => DEFAULT_PORTS[s],
): Promise<void> {
  for (const service of services) {
    const url = `http://127.0.0.1:${portOf(service)}/readyz`;
    await waitUntil(`${service} ready`, async () => (await fetch(url)).ok, {
      timeoutMs: 60_000,
      intervalMs: 200,
    });
  }
}

/**
 * `onpush demo`: sandbox up, sample Deployments, the pipeline, one Artifact Registry push through
 * the Pub/Sub emulator — and which Deployments were restarted, in how many milliseconds.
 */
export async function demoCommand(
  dir: string,
  out: Output,
  clusters?: readonly string[],
): Promise<number> {
  if (clusters) return fleetDemo(`${dir}-fleet`, clusters, out);
  out.info(
    'onpush demo: bringing the sandbox up (nats-server, Pub/Sub emulator, kube-apiserver + etcd)',
  );
  const sandbox = await sandboxUp({ dir, log: (l) => out.info(`  ${l}`) });
  const kube = kubeClientsFrom(sandbox.env.KUBECONFIG);
  await createSamples(kube);
  out.info(
    `created ${SAMPLES.length} sample Deployments (3 opted in with onpush.dev/enabled=true, 1 not)`,
  );

  const logFile = join(dir, 'pipeline.log');
  const supervisor = new Supervisor({
    env: { ...process.env, ...sandbox.env, PUBSUB_CREATE_SUBSCRIPTION: 'true' },
    write: (line) => appendFileSync(logFile, `${line}\n`),
  });
  supervisor.start();
  try {
    await waitReady();
    out.info(`pipeline running: five services (logs in ${logFile})`);
    return await pushAndWatch(kube, sandbox.env, out);
  } finally {
    await supervisor.stop();
    out.info(`pipeline stopped; the sandbox keeps running (npx onpush sandbox down --dir ${dir})`);
    // the push stays in the outcomes stream: the console shows it, and the workloads it restarted
    out.info(`see the push in the web console: . ${join(dir, 'env')} && npx onpush console`);
  }
}

/**
 * `onpush demo --clusters a,b,c`: a fleet sandbox (a hub nats-server, and per cluster a leaf
 * nats-server and its own kube-apiserver), the hub's services (ingest, parser, dlq-manager) and
 * each cluster's (resolver, restarter, dlq-manager), the samples in every cluster, one push.
 */
async function fleetDemo(dir: string, names: readonly string[], out: Output): Promise<number> {
  out.info(
    `onpush demo: bringing a fleet up — a hub and ${names.length} clusters (${names.join(', ')}), each with its own kube-apiserver`,
  );
  const sandbox = await sandboxUp({
    dir,
    fleet: { clusters: names },
    log: (l) => out.info(`  ${l}`),
  });
  const logFile = join(dir, 'pipeline.log');
  const supervisors: Supervisor[] = [];
  const start = (
    env: SandboxEnv & NodeJS.ProcessEnv,
    services: readonly ServiceName[],
    offset: number,
  ) => {
    const supervisor = new Supervisor({
      env: { ...process.env, ...env },
      services,
      envFor: (service) => ({ PORT: String(DEFAULT_PORTS[service] + offset) }),
      write: (line) => appendFileSync(logFile, `${line}\n`),
    });
    supervisor.start();
    supervisors.push(supervisor);
    return waitReady(services, (s) => DEFAULT_PORTS[s] + offset);
  };
  const kubes = new Map<string, KubeClients>();
  try {
    await start({ ...sandbox.env, PUBSUB_CREATE_SUBSCRIPTION: 'true' }, FLEET_SERVICES.hub, 0);
    for (const [i, name] of names.entries()) {
      const env = sandbox.clusters[name]!;
      const kube = kubeClientsFrom(env.KUBECONFIG);
      await createSamples(kube);
      kubes.set(name, kube);
      await start(
        { ...env } as SandboxEnv & NodeJS.ProcessEnv,
        FLEET_SERVICES.cluster,
        100 * (i + 1),
      );
    }
    out.info(
      `pipeline running: ingest, parser, dlq-manager at the hub; resolver, restarter, dlq-manager in each cluster (logs in ${logFile})`,
    );
    return await pushAndWatch(kubes, sandbox.env, out);
  } finally {
    await Promise.all(supervisors.map((s) => s.stop()));
    out.info(`pipeline stopped; the fleet keeps running (npx onpush sandbox down --dir ${dir})`);
  }
}

async function pushAndWatch(
  kube: KubeClients | ReadonlyMap<string, KubeClients>,
  { PUBSUB_EMULATOR_HOST: emulator = '', PUBSUB_PROJECT: project = '' }: SandboxEnv,
  out: Output,
): Promise<number> {
  const digest = `sha256:${createHash('sha256').update(randomBytes(16)).digest('hex')}`;
  const restarted = new Map<string, number>();
  let publishedAt = 0;
  const clusters: [string, KubeClients][] =
    kube instanceof Map
      ? [...(kube as ReadonlyMap<string, KubeClients>)]
      : [['', kube as KubeClients]];
  const watches = await Promise.all(
    clusters.map(([cluster, clients]) =>
      clients.watch.watch(
        '/apis/apps/v1/deployments',
        {},
        (phase: string, obj: V1Deployment) => {
          const annotations = obj.spec?.template.metadata?.annotations ?? {};
          if (publishedAt && phase === 'MODIFIED' && annotations[ANNOTATIONS.digest] === digest) {
            const key = `${cluster ? `${cluster}: ` : ''}${obj.metadata?.namespace}/${obj.metadata?.name}`;
            if (!restarted.has(key)) restarted.set(key, performance.now() - publishedAt);
          }
        },
        () => undefined,
      ),
    ),
  );
  const expected = 2 * clusters.length;
  const pubsub = new PubSub({ projectId: project, apiEndpoint: emulator, emulatorMode: true });
  try {
    const body = {
      action: 'INSERT',
      digest: `${REGISTRY}/web@${digest}`,
      tag: `${REGISTRY}/web:1.0`,
    };
    out.info(`publishing to Pub/Sub topic gcr: ${JSON.stringify(body)}`);
    publishedAt = performance.now();
    await pubsub.topic('gcr').publishMessage({ json: body });
    await waitUntil(
      `the ${expected} opted-in Deployments restarted`,
      () => restarted.size >= expected,
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    await new Promise((r) => setTimeout(r, 500)); // anything else that would (wrongly) restart
    for (const [key, ms] of [...restarted].sort(([a], [b]) => a.localeCompare(b)))
      out.info(`  restarted ${key.padEnd(22)} ${ms.toFixed(1)} ms after the publish`);
    out.info(
      `  not restarted: demo-shop/worker (another image), demo-blog/legacy (not opted in)${clusters.length > 1 ? ', in every cluster' : ''}`,
    );
    out.result({ digest, restarted: Object.fromEntries(restarted) });
    return restarted.size === expected ? 0 : 1;
  } finally {
    for (const watch of watches) watch.abort();
    await pubsub.close();
  }
}
