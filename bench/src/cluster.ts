import { ANNOTATIONS, ignoreConflict, type KubeClients, type V1Deployment } from '@onpush/kube';

export const BENCH_REGISTRY = 'europe-docker.pkg.dev/onpush-bench/apps';

/**
 * `count` Deployments in `namespaces` namespaces, Deployment i running app-i:1.0 — opted in to
 * onpush unless `optIn` is false.
 */
export async function createDeployments(
  kube: KubeClients,
  count: number,
  namespaces: number,
  { prefix = 'app', image = (i: number) => `${BENCH_REGISTRY}/app-${i}:1.0`, optIn = true } = {},
): Promise<void> {
  for (let n = 0; n < namespaces; n += 1) {
    await ignoreConflict(kube.core.createNamespace({ body: { metadata: { name: `bench-${n}` } } }));
  }
  await ignoreConflict(kube.core.createNamespace({ body: { metadata: { name: 'onpush' } } }));
  const queue = Array.from({ length: count }, (_, i) => i);
  const worker = async (): Promise<void> => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
      const body: V1Deployment = {
        metadata: {
          name: `${prefix}-${i}`,
          labels: { app: `${prefix}-${i}`, ...(optIn ? { 'onpush.dev/enabled': 'true' } : {}) },
        },
        spec: {
          selector: { matchLabels: { app: `${prefix}-${i}` } },
          template: {
            metadata: { labels: { app: `${prefix}-${i}` } },
            spec: { containers: [{ name: 'app', image: image(i) }] },
          },
        },
      };
      await ignoreConflict(
        kube.apps.createNamespacedDeployment({ namespace: `bench-${i % namespaces}`, body }),
      );
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/**
 * Watches every Deployment and records when the API server shows each event id's restart —
 * the moment a user would see it, not our logs.
 */
export interface RestartWatch {
  /** Event id → when the API server showed each workload restarted for it. */
  seen: Map<string, number[]>;
  /** Workload (namespace/name) → event ids it was restarted for, in order. */
  byWorkload: Map<string, string[]>;
  stop: () => void;
}

export async function restartWatch(kube: KubeClients): Promise<RestartWatch> {
  const seen = new Map<string, number[]>();
  const byWorkload = new Map<string, string[]>();
  const last = new Map<string, string>();
  const controller = await kube.watch.watch(
    '/apis/apps/v1/deployments',
    {},
    (phase, obj: V1Deployment) => {
      if (phase !== 'MODIFIED') return;
      const at = performance.now();
      const eventId = obj.spec?.template.metadata?.annotations?.[ANNOTATIONS.eventId];
      const key = `${obj.metadata?.namespace}/${obj.metadata?.name}`;
      if (!eventId || last.get(key) === eventId) return;
      last.set(key, eventId);
      seen.set(eventId, [...(seen.get(eventId) ?? []), at]);
      byWorkload.set(key, [...(byWorkload.get(key) ?? []), eventId]);
    },
    () => undefined,
  );
  return { seen, byWorkload, stop: () => controller.abort() };
}
