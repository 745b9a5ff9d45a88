import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HEADERS,
  TOPOLOGY,
  encode,
  restartSubject,
  type Outcome,
  type RestartRequest,
} from '@onpush/contracts';
import { Supervisor } from '@onpush/cli';
import { ANNOTATIONS, kubeClients, loadKubeConfig, type KubeClients } from '@onpush/kube';
import {
  connectNats,
  jetstream,
  jetstreamManager,
  provision,
  publisher,
  type NatsConnection,
} from '@onpush/nats';
import { freePort, waitUntil } from '@onpush/sandbox';
import { eventually, useSandbox } from '@onpush/testing';
import { readOutcomes } from '../e2e/pipeline.js';

const IMAGE = 'europe-west1-docker.pkg.dev/p/r/app';
const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const T0 = Date.parse('2026-11-26T10:00:00.000Z');

function restart(eventId: string, n: number): RestartRequest {
  return {
    v: 1,
    eventId,
    image: IMAGE,
    tag: '1.0',
    digest: digest(n),
    pushedAt: new Date(T0 + n * 1_000).toISOString(),
    workload: { kind: 'Deployment', namespace: 'shop', name: 'web', containers: ['app'] },
  };
}

// Given a Deployment shop/web and the restarter running as a process with a 500 ms window.
describe('bursts: pushes of one image within the window restart a workload once', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'reliability-coalesce');
  let kube: KubeClients;
  let nc: NatsConnection;
  let supervisor: Supervisor | undefined;
  const logs: string[] = [];

  beforeAll(async () => {
    kube = kubeClients(loadKubeConfig(sandbox().need('kube').kubeconfigPath));
    await kube.core.createNamespace({ body: { metadata: { name: 'shop' } } });
    await kube.apps.createNamespacedDeployment({
      namespace: 'shop',
      body: {
        metadata: { name: 'web', labels: { 'onpush.dev/enabled': 'true' } },
        spec: {
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'app', image: `${IMAGE}:1.0` }] },
          },
        },
      },
    });
    nc = await connectNats({ url: sandbox().need('nats').url, name: 'onpush-test' });
    await provision(await jetstreamManager(nc), TOPOLOGY);
    const port = await freePort();
    supervisor = new Supervisor({
      env: { ...process.env, ...sandbox().env, LOG_LEVEL: 'info' },
      // Trailing mode: exactly one restart per burst (the default, leading, restarts the first push
      // at once and the latest at the window's end — unit-tested in services/restarter).
      envFor: () => ({ PORT: String(port), COALESCE_WINDOW: '500ms', COALESCE_MODE: 'trailing' }),
      services: ['restarter'],
      write: (line) => logs.push(line),
    });
    supervisor.start();
    await waitUntil(
      'restarter ready',
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok,
      {
        timeoutMs: 60_000,
        intervalMs: 100,
      },
    );
  });

  afterAll(async () => {
    await supervisor?.stop();
    await nc?.close();
  });

  const send = async (request: RestartRequest): Promise<void> => {
    const { kind, namespace, name } = request.workload;
    await publisher(jetstream(nc))(restartSubject(namespace), encode(request), {
      msgId: `${request.eventId}:${kind}/${namespace}/${name}`,
      headers: {
        [HEADERS.eventId]: request.eventId,
        [HEADERS.workloadKind]: kind,
        [HEADERS.workloadNamespace]: namespace,
        [HEADERS.workloadName]: name,
      },
    });
  };

  const generation = async (): Promise<number> =>
    (await kube.apps.readNamespacedDeployment({ namespace: 'shop', name: 'web' })).metadata
      ?.generation ?? 0;

  const fatesOf = async (prefix: string, count: number): Promise<Outcome[]> =>
    eventually(
      `${count} outcomes of ${prefix}*`,
      async () => {
        const found = (await readOutcomes(nc)).filter((o) => o.eventId.startsWith(prefix));
        return found.length >= count ? found : undefined;
      },
      { timeoutMs: 20_000 },
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${logs.slice(-20).join('\n')}`);
    });

  it('trailing mode: restarts once with the latest digest; the others end unchanged, superseded', async () => {
    const before = await generation();
    // Out of order on purpose: the latest push (5) is not the last to arrive.
    for (const n of [1, 2, 5, 3, 4]) await send(restart(`burst:${n}`, n));
    const outcomes = await fatesOf('burst:', 5);

    expect(outcomes.map((o) => [o.eventId, o.fate, o.reason]).sort()).toEqual([
      ['burst:1', 'unchanged', 'superseded'],
      ['burst:2', 'unchanged', 'superseded'],
      ['burst:3', 'unchanged', 'superseded'],
      ['burst:4', 'unchanged', 'superseded'],
      ['burst:5', 'restarted', undefined],
    ]);
    const d = await kube.apps.readNamespacedDeployment({ namespace: 'shop', name: 'web' });
    expect(d.spec?.template.metadata?.annotations?.[ANNOTATIONS.digest]).toBe(digest(5));
    expect(d.metadata?.generation).toBe(before + 1);
  });

  it('never goes back to an older push that arrives later, and restarts for a newer one', async () => {
    const before = await generation();
    await send(restart('late:0', 0));
    const [late] = await fatesOf('late:', 1);
    expect([late?.fate, late?.reason]).toEqual(['unchanged', 'superseded']);
    expect(await generation()).toBe(before);

    await send(restart('next:6', 6));
    const [next] = await fatesOf('next:', 1);
    expect(next?.fate).toBe('restarted');
    expect(await generation()).toBe(before + 1);
  });
});
