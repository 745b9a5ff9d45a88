#!/usr/bin/env node
import { configOrExit } from '@onpush/config';
import { kubeClients, loadKubeConfig } from '@onpush/kube';
import { consumerTuning, natsCredentials, runService, stageEffects } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { kubeconfigFile, resolverSchema } from './config.js';
import { createHandler } from './handler.js';
import { ImageIndex } from './index-store.js';
import { registerIndexMetrics } from './metrics.js';
import { createRebuilder } from './rebuild.js';
import { createSnapshotStore } from './snapshot.js';
import { createSnapshotter } from './snapshot-writer.js';
import { deploymentSource } from './sources.js';
import { createWatcher } from './watch.js';

const config = configOrExit(resolverSchema, process.env, 'resolver');
const log = createLogger({ service: 'resolver' }, { level: config.LOG_LEVEL });
const metrics = createMetrics('resolver');
const kube = kubeClients(loadKubeConfig(kubeconfigFile(config.KUBECONFIG)));

const index = new ImageIndex();
const sources = [deploymentSource(kube, config.ONPUSH_SELECT)];
const watcher = createWatcher({ sources, index, log });
const snapshot = createSnapshotter({
  store: createSnapshotStore({ api: kube.core, namespace: config.ONPUSH_NAMESPACE }),
  index,
  debounceMs: config.SNAPSHOT_DEBOUNCE,
  log,
});
const rebuilder = createRebuilder({
  sources,
  index,
  minIntervalMs: config.REBUILD_MIN_INTERVAL,
  log,
});
registerIndexMetrics(metrics.registry, index, watcher, rebuilder);

await runService({
  name: 'resolver',
  port: config.PORT,
  log,
  metrics,
  ready: () => watcher.synced || snapshot.loaded,
  effects: stageEffects({
    stage: 'resolver',
    natsUrl: config.NATS_URL,
    ...natsCredentials(config),
    handle: createHandler({
      index,
      canAnswer: () => (watcher.synced || snapshot.loaded) && !watcher.broken,
      rebuild: () => rebuilder.rebuild(),
    }),
    maxInFlight: config.MAX_IN_FLIGHT,
    retryScheduleMs: config.RETRY_SCHEDULE,
    tuning: consumerTuning(config),
    log,
    metrics,
    onConnected: async () => {
      if (!watcher.synced) await snapshot.load();
      watcher.start();
    },
    onDrained: async () => {
      await watcher.stop();
      await snapshot.close();
    },
  }),
});
process.exit(0);
