export {
  createHandler,
  InvalidMessageError,
  WORKLOAD_HEADERS,
  type HandlerDeps,
} from './handler.js';
export {
  createSnapshotStore,
  shardName,
  SnapshotError,
  SNAPSHOT_NAME,
  SNAPSHOT_LABEL,
  type ConfigMapApi,
  type SnapshotStore,
  type SnapshotStoreOptions,
} from './snapshot.js';
export { createSnapshotter, type Snapshotter, type SnapshotterOptions } from './snapshot-writer.js';
export {
  createWatcher,
  observedView,
  restartDelay,
  type Watcher,
  type WatcherOptions,
} from './watch.js';
export {
  createRebuilder,
  IndexUnavailableError,
  type Rebuilder,
  type RebuilderOptions,
} from './rebuild.js';
export {
  deploymentSource,
  deploymentWorkload,
  podContainers,
  workloadOf,
  workloadSource,
  workloadSources,
  type WorkloadSource,
  type WorkloadInformer,
} from './sources.js';
export {
  labelSelector,
  fieldSelector,
  scopeOf,
  watchedNamespaces,
  namespaceInScope,
  optedIn,
  type Scope,
  type Selection,
} from '@onpush/kube';
export { activeKinds } from './active-kinds.js';
export { resolverSchema, kubeconfigFile, type ResolverConfig } from './config.js';
export { registerIndexMetrics, type IndexHealth } from './metrics.js';
export {
  decisionBook,
  DecisionSchema,
  DECISION_TTL_MS,
  type Decision,
  type DecisionBook,
} from './decisions.js';
export {
  createRecentPushes,
  LastDispatchSchema,
  type LastDispatch,
  type RecentPushes,
} from './repeats.js';
