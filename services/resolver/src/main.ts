#!/usr/bin/env node
import { configOrExit } from '@onpush/config';
import { discoverRollouts, kubeClients, kubeHttp, loadKubeConfig } from '@onpush/kube';
import { BUCKETS, TOPOLOGY } from '@onpush/contracts';
import { kvCasStore, openBucket, type JetStreamClient } from '@onpush/nats';
import { consumerTuning, natsCredentials, runService, stageEffects } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { activeKinds } from './active-kinds.js';
import { kubeconfigFile, resolverSchema } from './config.js';
import { DECISION_TTL_MS, DecisionSchema, decisionBook } from './decisions.js';
import { createHandler } from './handler.js';
import { ImageIndex } from './index-store.js';
import { registerIndexMetrics } from './metrics.js';
import { createRebuilder } from './rebuild.js';
import { LastDispatchSchema, createRecentPushes } from './repeats.js';
import { namespaceInScope, watchedNamespaces, type Scope } from './selection.js';
import { createSnapshotStore } from './snapshot.js';
import { createSnapshotter } from './snapshot-writer.js';
import { workloadSources, type WorkloadSource } from './sources.js';
import { createWatcher, observedView } from './watch.js';

const config = configOrExit(resolverSchema, process.env, 'resolver');
const log = createLogger({ service: 'resolver' }, { level: config.LOG_LEVEL });
const metrics = createMetrics('resolver');
const kube = kubeClients(loadKubeConfig(kubeconfigFile(config.KUBECONFIG)));
const scope: Scope = {
  select: config.ONPUSH_SELECT,
  optIn: config.ONPUSH_OPT_IN,
  namespaces: config.ONPUSH_NAMESPACES,
  exclude: config.ONPUSH_EXCLUDE_NAMESPACES,
  selector: config.ONPUSH_SELECTOR,
};

const index = new ImageIndex();
// Known once connected: which kinds the cluster serves (Argo Rollouts or not).
let sources: WorkloadSource[] = [];
let kinds = new Set<string>();
const watcher = createWatcher({ sources: () => sources, index, log });
const snapshot = createSnapshotter({
  store: createSnapshotStore({ api: kube.core, namespace: config.ONPUSH_NAMESPACE }),
  index,
  debounceMs: config.SNAPSHOT_DEBOUNCE,
  keep: (id) => kinds.has(id.kind) && namespaceInScope(scope, id.namespace),
  log,
});
const rebuilder = createRebuilder({
  sources: () => sources,
  index,
  minIntervalMs: config.REBUILD_MIN_INTERVAL,
  log,
});
registerIndexMetrics(metrics.registry, index, watcher, rebuilder);

/** The state replicas share: each event's decision, the last dispatch per image and tag. */
async function sharedState(js: JetStreamClient) {
  const replicasOf = TOPOLOGY.streams.main.name;
  const decisions = await openBucket(js, BUCKETS.resolverDecisions, {
    description:
      'onpush resolver: event id -> its decision (dispatched to which workloads, or why not)',
    ttlMs: DECISION_TTL_MS,
    maxBytes: 1 << 30,
    replicasOf,
  });
  const repeats = await openBucket(js, BUCKETS.resolverRepeats, {
    description: 'onpush resolver: image and tag -> the last push dispatched (duplicate_push)',
    ttlMs: Math.max(DECISION_TTL_MS, config.DUPLICATE_WINDOW),
    replicasOf,
  });
  return {
    decisions: decisionBook(kvCasStore(decisions, (v) => DecisionSchema.parse(v))),
    recent: createRecentPushes({
      windowMs: config.DUPLICATE_WINDOW,
      store: kvCasStore(repeats, (v) => LastDispatchSchema.parse(v)),
    }),
  };
}

async function discover(): Promise<void> {
  if (sources.length > 0) return;
  const http = await kubeHttp(kube.config);
  try {
    const active = await activeKinds(config.ONPUSH_KINDS, () => discoverRollouts(http), log);
    kinds = new Set(active);
    sources = workloadSources(kube.config, active, scope, watchedNamespaces(scope));
    log.info('watching', { kinds: active, namespaces: scope.namespaces, exclude: scope.exclude });
  } finally {
    http.close();
  }
}

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
    start: async ({ js }) =>
      createHandler({
        index,
        canAnswer: () => (watcher.synced || snapshot.loaded) && !watcher.broken,
        rebuild: () => rebuilder.rebuild(),
        observe: (match) => observedView(watcher, match),
        ...(await sharedState(js)),
      }),
    maxInFlight: config.MAX_IN_FLIGHT,
    retryScheduleMs: config.RETRY_SCHEDULE,
    tuning: consumerTuning(config),
    log,
    metrics,
    onConnected: async () => {
      await discover();
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
