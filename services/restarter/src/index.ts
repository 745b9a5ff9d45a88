export {
  createHandler,
  decodeRequest,
  outcomeMsgId,
  restartOutcome,
  type HandlerDeps,
} from './handler.js';
export {
  restartMachine,
  alreadyRestarted,
  supersededBy,
  conflictDelayMs,
  isConflict,
  isNotFound,
  MAX_CONFLICT_REREADS,
  type PatchInput,
  type WorkloadSnapshot,
  type RestartEffects,
  type RestartInput,
  type RestartMarkInput,
  type RestartOutput,
  type TemplateAnnotations,
} from './machine.js';
export { kubeEffects, type KubeEffectsDeps } from './kube.js';
export {
  coalesceKey,
  isNewer,
  latestOf,
  memberResult,
  windowMs,
  windowMachine,
  MAX_WINDOW_SHARE,
  type Member,
  type MemberResult,
  type WindowOutput,
} from './coalesce.js';
export { createCoalescer, type Coalescer, type CoalescerOptions } from './coalescer.js';
export {
  WORKLOAD_APIS,
  workloadApi,
  type WorkloadApi,
  type WorkloadApis,
  type ApiResponse,
} from './workloads.js';
export { TokenBucket, type TokenBucketOptions } from './token-bucket.js';
export { kubeRequestCounter, type KubeRequestCounter } from './metrics.js';
export { RestartError, type RestartErrorType } from './errors.js';
export { restarterSchema, type RestarterConfig } from './config.js';
