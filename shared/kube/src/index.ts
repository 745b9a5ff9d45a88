export {
  kubeClients,
  kubeClientsFrom,
  loadKubeConfig,
  watchStart,
  type KubeClients,
  type WatchStart,
} from './client.js';
export {
  ANNOTATIONS,
  FIELD_MANAGER,
  LABELS,
  managedBy,
  restartPatch,
  restartMarks,
  restartTime,
  type RestartMark,
} from './restart.js';
export { kubeHttp, type KubeHttp, type KubeResponse } from './http.js';
export {
  KubeApiError,
  ignoreConflict,
  isRetryableStatus,
  parseRetryAfter,
  toKubeApiError,
} from './errors.js';
export { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
export type { KubeConfig, V1Deployment } from '@kubernetes/client-node';
export {
  KINDS,
  collectionPath,
  objectPath,
  dig,
  nest,
  templateContainers,
  viewOf,
  compactViewOf,
  type KindSpec,
  type TemplateContainer,
  type WorkloadView,
} from './kinds.js';
export {
  parseVersion,
  compareVersions,
  parseRange,
  satisfies,
  RangeSyntaxError,
  type Version,
  type Range,
} from './semver.js';
export {
  parsePolicy,
  globPattern,
  regexPattern,
  MAX_PATTERN_LENGTH,
  isTagPolicy,
  acceptsTag,
  parseCooldown,
  readSettings,
  waveNumber,
  counts,
  retagged,
  type Policy,
  type PolicyKind,
  type TagPattern,
  type WorkloadSettings,
} from './policy.js';
export { discoverRollouts } from './discovery.js';
export {
  scopeOf,
  labelSelector,
  fieldSelector,
  watchedNamespaces,
  namespaceInScope,
  optedIn,
  parseSelector,
  matchesSelector,
  type Scope,
  type Selection,
  type Requirement,
} from './selection.js';
export { scopeFields, scopeFromConfig } from './scope-config.js';
