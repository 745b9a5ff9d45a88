#!/usr/bin/env node
import { configOrExit } from '@onpush/config';
import { ImageIndex } from '@onpush/image-index';
import { kubeClientsFrom, namespaceInScope, scopeFromConfig } from '@onpush/kube';
import { defineStage, runService, stageSettings } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { kubeconfigFile, resolverSchema, wavePlan } from './config.js';
import { createDiscovery } from './discovery.js';
import { createHandler } from './handler.js';
import { registerIndexMetrics } from './metrics.js';
import { createRebuilder } from './rebuild.js';
import { openSharedState } from './shared-state.js';
import { createSnapshotStore } from './snapshot.js';
import { createSnapshotter } from './snapshot-writer.js';
import { createWatcher, observedView } from './watch.js';
import { serveWorkloadQueries } from './workload-query.js';

const config = configOrExit(resolverSchema, process.env, 'resolver');
const log = createLogger({ service: 'resolver' }, { level: config.LOG_LEVEL });
const metrics = createMetrics('resolver', config.CLUSTER_NAME);
const kube = kubeClientsFrom(kubeconfigFile(config.KUBECONFIG));
const scope = scopeFromConfig(config);

const index = new ImageIndex();
const discovery = createDiscovery({
  kubeConfig: kube.config,
  wanted: config.ONPUSH_KINDS,
  scope,
  waves: wavePlan(config),
  log,
});
const watcher = createWatcher({ sources: discovery.sources, index, log });
const snapshot = createSnapshotter({
  store: createSnapshotStore({ api: kube.core, namespace: config.ONPUSH_NAMESPACE }),
  index,
  debounceMs: config.SNAPSHOT_DEBOUNCE,
  keep: (id) => discovery.serves(id.kind) && namespaceInScope(scope, id.namespace),
  log,
});
const rebuilder = createRebuilder({
  sources: discovery.sources,
  index,
  minIntervalMs: config.REBUILD_MIN_INTERVAL,
  log,
});
registerIndexMetrics(metrics.registry, index, watcher, rebuilder);

const stage = defineStage({
  stage: 'resolver',
  ...stageSettings(config, log, metrics),
  start: async ({ nc, js }) => {
    await discovery.discover();
    if (!watcher.synced) await snapshot.load();
    watcher.start();
    const handle = createHandler({
      index,
      canAnswer: () => (watcher.synced || snapshot.loaded) && !watcher.broken,
      rebuild: () => rebuilder.rebuild(),
      observe: (match) => observedView(watcher, match),
      ...(await openSharedState(js, config.DUPLICATE_WINDOW)),
    });
    // the console's workload view: how the watch sees one workload (workload-query.ts)
    const stopQueries = serveWorkloadQueries(nc, (ref) => observedView(watcher, ref), log);
    const close = async (): Promise<void> => {
      stopQueries();
      await watcher.stop();
      await snapshot.close();
    };
    return { handle, close };
  },
});

await runService({
  name: 'resolver',
  port: config.PORT,
  host: config.BIND_ADDRESS,
  log,
  metrics,
  ready: () => watcher.synced || snapshot.loaded,
  effects: stage,
});
process.exit(0);
