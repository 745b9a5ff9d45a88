import { describe, expect, it } from 'vitest';
import { encode, parseRestartRequest, type ImagePushed } from '@onpush/contracts';
import { ImageIndex } from '@onpush/image-index';
import { kubeClients, loadKubeConfig, type V1Deployment } from '@onpush/kube';
import {
  createHandler,
  createSnapshotStore,
  createSnapshotter,
  createWatcher,
  decisionBook,
  deploymentSource,
  type Decision,
} from '@onpush/resolver';
import { createLogger } from '@onpush/telemetry';
import { MemoryCasStore, eventually, useSandbox } from '@onpush/testing';

const log = createLogger({ service: 'resolver-test' }, { level: 'error' });
const IMAGE = 'europe-docker.pkg.dev/p/r/api';

function deployment(name: string): V1Deployment {
  return {
    metadata: { name, labels: { app: name, 'onpush.dev/enabled': 'true' } },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'api', image: `${IMAGE}:2.0` }] },
      },
    },
  };
}

// Given a resolver that indexed the cluster and wrote its ConfigMap snapshot, a new resolver
// loads that snapshot at start and answers a push before its own watch has listed anything.
describe('resolver snapshot (real kube-apiserver)', () => {
  const sandbox = useSandbox(['kube'], 'snapshot');

  it('answers from the ConfigMap snapshot before its watch syncs, with no list call', async () => {
    const kube = kubeClients(loadKubeConfig(sandbox().need('kube').kubeconfigPath));
    for (const ns of ['onpush', 'shop'])
      await kube.core.createNamespace({ body: { metadata: { name: ns } } });
    await kube.apps.createNamespacedDeployment({ namespace: 'shop', body: deployment('api') });
    const store = createSnapshotStore({ api: kube.core, namespace: 'onpush' });

    // The first resolver: watch, index, snapshot.
    const first = new ImageIndex();
    const watcher = createWatcher({
      sources: [deploymentSource(kube, 'labelled')],
      index: first,
      log,
    });
    const writer = createSnapshotter({ store, index: first, debounceMs: 0, log });
    watcher.start();
    await eventually('the first watch to sync', () => watcher.synced);
    await writer.close();
    await watcher.stop();
    const configMap = await kube.core.readNamespacedConfigMap({
      name: 'onpush-image-index',
      namespace: 'onpush',
    });
    expect(Object.keys(configMap.data ?? {}).length).toBeGreaterThan(0);

    // The second resolver: snapshot loaded, watch created but not yet synced.
    const index = new ImageIndex();
    const reader = createSnapshotter({ store, index, debounceMs: 60_000, log });
    const unsynced = createWatcher({ sources: [deploymentSource(kube, 'labelled')], index, log });
    expect(await reader.load()).toBe(true);
    let lists = 0;
    const handle = createHandler({
      index,
      canAnswer: () => (unsynced.synced || reader.loaded) && !unsynced.broken,
      rebuild: () => {
        lists += 1;
        return Promise.reject(new Error('no list expected'));
      },
      decisions: decisionBook(new MemoryCasStore<Decision>()),
    });
    const pushed: ImagePushed = {
      v: 1,
      id: 'gar:snap-1',
      source: 'gar',
      image: IMAGE,
      registry: 'europe-docker.pkg.dev',
      repository: 'p/r/api',
      tag: '2.0',
      receivedAt: new Date().toISOString(),
    };
    const out = await handle({
      subject: 'onpush.pushed',
      data: encode(pushed),
      headers: {},
      seq: 1,
      deliveryCount: 1,
    });

    expect(unsynced.synced).toBe(false);
    expect(lists).toBe(0);
    const requests = out
      .filter((o) => o.subject.startsWith('onpush.restart.'))
      .map((o) => parseRestartRequest(o.data));
    expect(requests.map((r) => r.workload)).toEqual([
      { kind: 'Deployment', namespace: 'shop', name: 'api', containers: ['api'] },
    ]);
    await reader.close();
  });
});
