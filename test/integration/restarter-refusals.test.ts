// Whoever can publish on onpush.restart.<namespace>, the restarter patches only what the resolver
// would have selected: it checks the object it reads from the API server — opted in, in the
// namespace scope, of the request's repository — and ends any other request `refused`, never a
// PATCH.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestartRequest } from '@onpush/contracts';
import { kubeClients, loadKubeConfig, type KubeClients } from '@onpush/kube';
import { eventually, useSandbox } from '@onpush/testing';
import { deployment, ensureNamespaces } from '../support/kube.js';
import { startRestarter, type RestarterProcess } from './restarter-harness.js';

const IMAGE = 'europe-west1-docker.pkg.dev/p/r/app';
const DIGEST = `sha256:${'f'.repeat(64)}`;

function forged(eventId: string, namespace: string, name: string, image = IMAGE): RestartRequest {
  return {
    v: 1,
    eventId,
    image,
    tag: '1.0',
    digest: DIGEST,
    workload: { kind: 'Deployment', namespace, name, containers: ['app'] },
  };
}

// Given the restarter running as a process with ONPUSH_EXCLUDE_NAMESPACES=kube-system, and
// Deployments: shop/legacy (not opted in), kube-system/dns (opted in, but out of scope),
// shop/web (opted in, running the image).
describe('restarter: forged restart requests end refused, with no PATCH', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'restarter-refusals');
  let kube: KubeClients;
  let restarter: RestarterProcess;

  beforeAll(async () => {
    kube = kubeClients(loadKubeConfig(sandbox().need('kube').kubeconfigPath));
    await ensureNamespaces(kube, ['shop', 'kube-system']);
    const image = `${IMAGE}:1.0`;
    for (const [namespace, body] of [
      ['shop', deployment('legacy', image, { optIn: false })],
      ['kube-system', deployment('dns', image)],
      ['shop', deployment('web', image)],
    ] as const) {
      await kube.apps.createNamespacedDeployment({ namespace, body });
    }
    restarter = await startRestarter(sandbox(), { ONPUSH_EXCLUDE_NAMESPACES: 'kube-system' });
  });

  afterAll(async () => {
    await restarter?.stop();
  });

  const send = (request: RestartRequest) => restarter.send(request);
  const outcomeOf = (eventId: string) => restarter.outcomeOf(eventId);

  /** What a PATCH would change: the pod template's annotations and the generation. */
  const state = async (namespace: string, name: string) => {
    const d = await kube.apps.readNamespacedDeployment({ namespace, name });
    return {
      annotations: d.spec?.template.metadata?.annotations ?? {},
      generation: d.metadata?.generation,
      resourceVersion: d.metadata?.resourceVersion,
    };
  };

  it('refuses a Deployment that did not opt in', async () => {
    const before = await state('shop', 'legacy');
    await send(forged('forged:legacy', 'shop', 'legacy'));
    expect(await outcomeOf('forged:legacy')).toMatchObject({
      fate: 'refused',
      reason: 'not_opted_in',
      stage: 'restarter',
      workload: { kind: 'Deployment', namespace: 'shop', name: 'legacy' },
    });
    expect(await state('shop', 'legacy')).toEqual(before);
    // and `kubectl describe deployment legacy` says why (a Warning Event from onpush)
    const warning = await eventually('the Event on shop/legacy', async () =>
      (await kube.core.listNamespacedEvent({ namespace: 'shop' })).items.find(
        (e) => e.involvedObject.name === 'legacy' && e.reason === 'RestartRefused',
      ),
    );
    expect(warning.type).toBe('Warning');
    expect(warning.reportingComponent).toBe('onpush.dev/restarter');
    expect(warning.message).toContain('forged:legacy');
    expect(warning.message).toContain('not_opted_in');
  });

  it('refuses an opted-in Deployment in a namespace out of scope', async () => {
    const before = await state('kube-system', 'dns');
    await send(forged('forged:dns', 'kube-system', 'dns'));
    expect(await outcomeOf('forged:dns')).toMatchObject({
      fate: 'refused',
      reason: 'namespace_out_of_scope',
      workload: { namespace: 'kube-system', name: 'dns' },
    });
    expect(await state('kube-system', 'dns')).toEqual(before);
  });

  it("refuses a request for a repository the workload's container does not run", async () => {
    const before = await state('shop', 'web');
    await send(forged('forged:repo', 'shop', 'web', 'docker.io/library/busybox'));
    expect(await outcomeOf('forged:repo')).toMatchObject({
      fate: 'refused',
      reason: 'repository_mismatch',
    });
    expect(await state('shop', 'web')).toEqual(before);
  });

  it('still restarts what is in scope, and counts each fate by reason', async () => {
    const before = await state('shop', 'web');
    await send(forged('real:web', 'shop', 'web'));
    expect(await outcomeOf('real:web')).toMatchObject({ fate: 'restarted' });
    expect((await state('shop', 'web')).generation).toBe((before.generation ?? 0) + 1);
    const metrics = await (await fetch(restarter.metricsUrl)).text();
    for (const reason of ['not_opted_in', 'namespace_out_of_scope', 'repository_mismatch']) {
      expect(metrics).toMatch(
        new RegExp(
          `onpush_restarter_outcomes_total\\{[^}]*fate="refused",reason="${reason}"[^}]*\\} 1`,
        ),
      );
    }
  });
});
