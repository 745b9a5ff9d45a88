// A maturity delay (`onpush.dev/delay`) held by the broker, not by a timer: the restarter NAKs a
// push younger than the workload's delay, JetStream redelivers it when the delay ends — across a
// kill -9 of the restarter — and a newer push of the same tag during the delay is the only one
// applied (latest wins, across replicas through a KV bucket). Real nats-server, kube-apiserver and
// restarter process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestartRequest } from '@onpush/contracts';
import { ANNOTATIONS, kubeClients, loadKubeConfig, type KubeClients } from '@onpush/kube';
import { useSandbox } from '@onpush/testing';
import { readOutcomes } from '../e2e/pipeline.js';
import { deployment, ensureNamespaces } from '../support/kube.js';
import { startRestarter, type RestarterProcess } from './restarter-harness.js';

const IMAGE = 'europe-west1-docker.pkg.dev/p/r/app';
const DELAY_MS = 4_000;
const digest = (n: number) => `sha256:${String(n).repeat(64)}`;

function push(eventId: string, name: string, n: number, pushedAt: Date): RestartRequest {
  return {
    v: 1,
    eventId,
    image: IMAGE,
    tag: '1.0',
    digest: digest(n),
    pushedAt: pushedAt.toISOString(),
    workload: { kind: 'Deployment', namespace: 'shop', name, containers: ['app'] },
  };
}

// Given Deployments under `onpush.dev/delay: 4s` and the restarter running as a process.
describe('maturity delay: held by JetStream, latest wins, survives kill -9', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'restarter-delay');
  let kube: KubeClients;
  let restarter: RestarterProcess;

  beforeAll(async () => {
    kube = kubeClients(loadKubeConfig(sandbox().need('kube').kubeconfigPath));
    await ensureNamespaces(kube, ['shop']);
    for (const name of ['web', 'api']) {
      const body = deployment(name, `${IMAGE}:1.0`);
      body.metadata!.annotations = { [ANNOTATIONS.delay]: `${DELAY_MS / 1000}s` };
      await kube.apps.createNamespacedDeployment({ namespace: 'shop', body });
    }
    restarter = await startRestarter(sandbox());
  });

  afterAll(async () => {
    await restarter?.stop();
  });

  const send = (request: RestartRequest) => restarter.send(request);
  const outcomeOf = (eventId: string) => restarter.outcomeOf(eventId, 30_000);
  const marks = async (name: string) =>
    (await kube.apps.readNamespacedDeployment({ namespace: 'shop', name })).spec?.template.metadata
      ?.annotations ?? {};

  it('applies a push only once it is as old as the delay, even across a kill -9 of the restarter', async () => {
    const pushedAt = new Date();
    await send(push('delay:web', 'web', 1, pushedAt));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // held: nothing written yet, no fate yet
    expect(await marks('web')).toEqual({});
    expect((await readOutcomes(restarter.nc)).some((o) => o.eventId === 'delay:web')).toBe(false);

    // When the restarter is killed while the push waits (its supervisor starts it again)
    await restarter.crash();

    // Then the push is applied once its delay is over, not before
    const outcome = await outcomeOf('delay:web');
    expect(outcome).toMatchObject({ fate: 'restarted' });
    expect(Date.parse(outcome.at) - pushedAt.getTime()).toBeGreaterThanOrEqual(DELAY_MS);
    expect((await marks('web'))[ANNOTATIONS.digest]).toBe(digest(1));
    expect(restarter.supervisor.restarts()['restarter']).toBe(1);
    // and `kubectl describe` said why it waited
    const events = await kube.core.listNamespacedEvent({ namespace: 'shop' });
    expect(
      events.items
        .filter((e) => e.involvedObject.name === 'web')
        .map((e) => e.reason)
        .sort(),
    ).toEqual(['RestartDelayed', 'Restarted']);
  });

  it('applies only the newer of two pushes of one tag made during the delay', async () => {
    await send(push('delay:api:1', 'api', 2, new Date()));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await send(push('delay:api:2', 'api', 3, new Date()));

    expect(await outcomeOf('delay:api:1')).toMatchObject({
      fate: 'unchanged',
      reason: 'superseded',
    });
    expect(await outcomeOf('delay:api:2')).toMatchObject({ fate: 'restarted' });
    expect((await marks('api'))[ANNOTATIONS.digest]).toBe(digest(3));
    // one rollout: the older push was never applied
    const api = await kube.apps.readNamespacedDeployment({ namespace: 'shop', name: 'api' });
    expect(api.metadata?.generation).toBe(2);
  });
});
