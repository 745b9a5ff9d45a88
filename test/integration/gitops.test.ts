// onpush beside a GitOps tool (Argo CD, Flux) that applies the same Deployments with server-side
// apply, against a real kube-apiserver: what a re-apply does to what onpush wrote. The restart
// marks (pod-template annotations the manifests do not name) survive a forced re-apply and cause
// no second rollout; an image moved by a `pin` policy is a field the manifest names too — a plain
// re-apply conflicts with onpush, a forced one (self-heal) moves it back. docs/workloads.md
// "Beside Argo CD and Flux" says what to configure.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubernetesObjectApi, PatchStrategy, type V1Deployment } from '@kubernetes/client-node';
import { ANNOTATIONS, kubeClients, type KubeClients, type KubeConfig } from '@onpush/kube';
import { useSandbox } from '@onpush/testing';
import {
  REPO,
  adminConfig,
  createNamespaces,
  digest,
  fates,
  startOnpush,
  type Onpush,
} from './workloads-harness.js';

const NS = 'gitops';
const APP = `${REPO}/app`;
/** How Flux's kustomize-controller (and Argo CD with ServerSideApply=true) names itself. */
const GITOPS = 'kustomize-controller';

/** The Deployment as it is in Git: opted in, `policy` if given, running APP:1.0. */
function manifest(name: string, policy?: string): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: NS,
      labels: { app: name, 'onpush.dev/enabled': 'true' },
      ...(policy ? { annotations: { 'onpush.dev/policy': policy } } : {}),
    },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: `${APP}:1.0` }] },
      },
    },
  };
}

// Given a GitOps tool that applied two Deployments from Git with server-side apply, one under the
// default policy (restart) and one under `pin`, and onpush restarting what runs APP:1.0.
describe('beside a GitOps tool applying the same Deployments (server-side apply)', () => {
  const sandbox = useSandbox(['kube'], 'gitops');
  let admin: KubeConfig;
  let kube: KubeClients;
  let objects: KubernetesObjectApi;
  let onpush: Onpush;

  const apply = (name: string, policy: string | undefined, force: boolean) =>
    objects.patch(
      manifest(name, policy),
      undefined,
      undefined,
      GITOPS,
      force,
      PatchStrategy.ServerSideApply,
    );
  const read = (name: string) => kube.apps.readNamespacedDeployment({ namespace: NS, name });

  beforeAll(async () => {
    admin = adminConfig(sandbox().need('kube').kubeconfigPath);
    kube = kubeClients(admin);
    objects = KubernetesObjectApi.makeApiClient(admin);
    await createNamespaces(admin, [NS]);
    await apply('web', undefined, true);
    await apply('api', 'pin', true);
    onpush = await startOnpush({
      restarter: admin,
      scope: { select: 'labelled', optIn: 'label', namespaces: [NS], exclude: [] },
    });
    expect(fates(await onpush.push({ tag: '1.0', digest: digest(7) }))).toEqual({
      '(event)': 'dispatched',
      [`Deployment/${NS}/web`]: 'restarted',
      [`Deployment/${NS}/api`]: 'restarted',
    });
  });

  afterAll(async () => {
    await onpush?.stop();
  });

  it("keeps onpush's restart marks through a forced re-apply, with no second rollout", async () => {
    const restarted = await read('web');
    const marks = restarted.spec?.template.metadata?.annotations ?? {};
    expect(marks[ANNOTATIONS.digest]).toBe(digest(7));

    // When the tool syncs the unchanged manifest again, forcing its fields (self-heal)
    await apply('web', undefined, true);

    // Then the marks stay (they are onpush's fields, not in the manifest), and nothing rolls out
    const after = await read('web');
    expect(after.spec?.template.metadata?.annotations).toEqual(marks);
    expect(after.metadata?.generation).toBe(restarted.metadata?.generation);
    const managers = (after.metadata?.managedFields ?? []).map(
      (f) => `${f.manager}/${f.operation}`,
    );
    expect(managers.sort()).toEqual([`${GITOPS}/Apply`, 'onpush/Update']);
  });

  it('meets a pinned image as a conflict, and a forced re-apply moves it back (a second rollout)', async () => {
    const pinned = await read('api');
    expect(pinned.spec?.template.spec?.containers[0]?.image).toBe(`${APP}:1.0@${digest(7)}`);

    // When the tool applies its manifest without forcing: the API server refuses, naming onpush
    const conflict = await apply('api', 'pin', false).then(
      () => undefined,
      (error: unknown) => error as { code?: number; body?: unknown },
    );
    expect(conflict?.code).toBe(409);
    expect(JSON.stringify(conflict?.body)).toContain('onpush');

    // and when it forces (self-heal), Git's image comes back and the workload rolls out again
    await apply('api', 'pin', true);
    const reverted = await read('api');
    expect(reverted.spec?.template.spec?.containers[0]?.image).toBe(`${APP}:1.0`);
    expect(reverted.metadata?.generation).toBe((pinned.metadata?.generation ?? 0) + 1);
    // the restart marks are still onpush's: the next push of 1.0 is judged against them
    expect(reverted.spec?.template.metadata?.annotations?.[ANNOTATIONS.digest]).toBe(digest(7));
  });
});
