export {
  createHandler,
  decodeRequest,
  outcomeMsgId,
  restartOutcome,
  type HandlerDeps,
  type Restarted,
} from './handler.js';
export {
  decide,
  cooldownUntil,
  refusal,
  restartScope,
  type RefusedReason,
  type RestartScope,
  type Decision,
  type DecisionInput,
  type ImageChange,
  type UnchangedReason,
} from './decide.js';
export {
  restartMachine,
  alreadyRestarted,
  supersededBy,
  conflictDelayMs,
  isConflict,
  isNotFound,
  MAX_CONFLICT_REREADS,
  type PatchInput,
  type Patched,
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
  kindApi,
  patchBody,
  snapshotOf,
  type WorkloadApi,
  type WorkloadApis,
  type WorkloadChange,
  type ApiResponse,
} from './workloads.js';
export { TokenBucket, type TokenBucketOptions } from '@onpush/service';
export {
  kubeRequestCounter,
  outcomeCounter,
  type KubeRequestCounter,
  type OutcomeCounter,
} from './metrics.js';
export { RestartError, type RestartErrorType } from './errors.js';
export { restarterSchema, type RestarterConfig } from './config.js';
export {
  createTracker,
  type Tracker,
  type TrackerOptions,
  type TrackResult,
} from './rollout/tracker.js';
export { rolloutMachine, type RolloutResult, type RolloutEvent } from './rollout/machine.js';
export {
  rolloutState,
  pruned,
  type RolloutState,
  type RolloutObject,
  type RolloutFailure,
} from './rollout/status.js';
export {
  trackRequest,
  rolloutOutcome,
  rolloutMsgId,
  type TrackRequest,
} from './rollout/outcome.js';
export { rolloutReporter, notifyDeadLetters, type ReporterDeps } from './rollout/report.js';
export { rolloutCounter, followingGauge } from './metrics.js';
export {
  createEventRecorder,
  eventBody,
  eventCounter,
  eventOfOutcome,
  REPORTING_CONTROLLER,
  type EventRecorder,
  type EventRecorderDeps,
  type WorkloadEvent,
} from './events.js';
