import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import {
  ANNOTATIONS,
  ignoreConflict,
  kubeClientsFrom,
  type KubeClients,
  type V1Deployment,
} from '@onpush/kube';
import { sandboxUp, waitUntil } from '@onpush/sandbox';
import type { Output } from './output.js';
import { DEFAULT_PORTS, SERVICES } from './services.js';
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

async function waitReady(): Promise<void> {
  for (const service of SERVICES) {
    const url = `http://127.0.0.1:${DEFAULT_PORTS[service]}/readyz`;
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
export async function demoCommand(dir: string, out: Output): Promise<number> {
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
    return await pushAndWatch(
      kube,
      sandbox.env.PUBSUB_EMULATOR_HOST ?? '',
      sandbox.env.PUBSUB_PROJECT ?? '',
      out,
    );
  } finally {
    await supervisor.stop();
    out.info(`pipeline stopped; the sandbox keeps running (npx onpush sandbox down --dir ${dir})`);
  }
}

async function pushAndWatch(
  kube: KubeClients,
  emulator: string,
  project: string,
  out: Output,
): Promise<number> {
  const digest = `sha256:${createHash('sha256').update(randomBytes(16)).digest('hex')}`;
  const restarted = new Map<string, number>();
  let publishedAt = 0;
  const watch = await kube.watch.watch(
    '/apis/apps/v1/deployments',
    {},
    (phase, obj: V1Deployment) => {
      const annotations = obj.spec?.template.metadata?.annotations ?? {};
      if (publishedAt && phase === 'MODIFIED' && annotations[ANNOTATIONS.digest] === digest) {
        const key = `${obj.metadata?.namespace}/${obj.metadata?.name}`;
        if (!restarted.has(key)) restarted.set(key, performance.now() - publishedAt);
      }
    },
    () => undefined,
  );
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
    await waitUntil('both opted-in Deployments restarted', () => restarted.size >= 2, {
      timeoutMs: 30_000,
      intervalMs: 20,
    });
    await new Promise((r) => setTimeout(r, 500)); // anything else that would (wrongly) restart
    for (const [key, ms] of restarted)
      out.info(`  restarted ${key.padEnd(22)} ${ms.toFixed(1)} ms after the publish`);
    out.info('  not restarted: demo-shop/worker (another image), demo-blog/legacy (not opted in)');
    out.result({ digest, restarted: Object.fromEntries(restarted) });
    return restarted.size === 2 ? 0 : 1;
  } finally {
    watch.abort();
    await pubsub.close();
  }
}
