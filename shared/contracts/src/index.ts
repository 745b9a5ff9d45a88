// @onpush/contracts: the topology (subjects, streams, consumers), header names, messages and
// image-reference normalization shared by every onpush service.
export {
  STAGES,
  EVENT_FATES,
  WORKLOAD_FATES,
  ROLLOUT_FATES,
  FATES,
  isAccountingFate,
  SubjectError,
  subjectToken,
  isSubjectToken,
  SUBJECT_PREFIX,
  RAW_ALL,
  PUSHED,
  RESTART_ALL,
  OUTCOME_ALL,
  DEAD_ALL,
  REPLAY_ALL,
  FLEET_WAVE_ALL,
  FLEET_WAVE_PREFIX,
  fleetWaveSubject,
  WORKLOAD_QUERY,
  clusterReplaySubject,
  rawSubject,
  restartSubject,
  heldSubject,
  RESTART_HELD_ALL,
  outcomeSubject,
  deadSubject,
  subjectTail,
  maxDeliveriesAdvisory,
  MAX_DELIVERIES_MAIN,
  STREAMS,
  BUCKETS,
  BUCKET_SPECS,
  RESOLVER_MEMORY_MS,
  INGEST_REPEAT_MS,
  TOPOLOGY,
} from './subjects.js';
export {
  NATS_IDENTITIES,
  NATS_PERMISSIONS,
  inboxPrefix,
  type NatsIdentity,
  type NatsPermissions,
} from './permissions.js';
export type {
  Stage,
  EventFate,
  WorkloadFate,
  RolloutFate,
  Fate,
  StreamName,
  StreamSpec,
  StreamSourceSpec,
  BucketSpec,
  ConsumerStage,
  ConsumerName,
  FleetWaveConsumer,
  ConsumerSpec,
  Topology,
} from './subjects.js';

export { HEADERS, transportHeader, transportHeaderName } from './headers.js';

export {
  DOCKER_HUB,
  DEFAULT_TAG,
  MAX_PATH_LENGTH,
  TAG_PATTERN,
  DIGEST_PATTERN,
  IMAGE_REF_REASONS,
  ImageRefError,
  splitReference,
  parseImageRef,
  normalizeImageRef,
  isNormalizedName,
  matchKey,
} from './image-ref.js';
export type { ImageRefReason, ImageRef, ParseOptions, ReferenceParts } from './image-ref.js';

export { parseDigest, imageRefFromParts, normalizeEventRef } from './event-ref.js';
export type { DigestCheck, PartsRef } from './event-ref.js';

export { ContractError, decode, decodeOrThrow } from './codec.js';
export type { ContractErrorType, ContractIssue, Decoded } from './codec.js';

export {
  WORKLOAD_KINDS,
  ImagePushedSchema,
  WorkloadRefSchema,
  WorkloadSchema,
  RestartRequestSchema,
  WavesSchema,
  ObservedWorkloadSchema,
  WorkloadQuerySchema,
  WorkloadQueryReplySchema,
  OutcomeSchema,
  DeadLetterSchema,
  isWorkloadOutcome,
  toPayload,
  payloadBytes,
  encode,
  parseImagePushed,
  parseRestartRequest,
  parseOutcome,
  parseDeadLetter,
} from './messages.js';
export type {
  WorkloadKind,
  ImagePushed,
  WorkloadRef,
  Workload,
  RestartRequest,
  Waves,
  ObservedWorkload,
  WorkloadQuery,
  WorkloadQueryReply,
  Outcome,
  DeadLetter,
  Truncation,
  Message,
} from './messages.js';

export { OnpushError, failureOf } from './failure.js';
export type { Failure, FailureInfo, OnpushErrorInit } from './failure.js';
export { redactUrls } from './redact.js';
export {
  APPROVAL_STATES,
  ApprovalSchema,
  approvalId,
  type Approval,
  type ApprovalState,
} from './approvals.js';

export {
  HUB_DOMAIN,
  FLEET_SERVICES,
  LEAF_LINK,
  isClusterName,
  clusterName,
  fleetTopology,
  MAX_FLEET_WAVES,
  FLEET_WAVE_GATES,
  parseFleetWaves,
  fleetWaveOf,
  fleetWaveNumbers,
  earlierWaveClusters,
  fleetWaveConsumer,
  fleetWaveGate,
} from './fleet.js';
export type { FleetRole, FleetWaves } from './fleet.js';
