export {
  messageMachine,
  describeFailure,
  retryDelayMs,
  deadLetterNotStored,
  DEAD_LETTER_NOT_STORED,
  Held,
  HELD,
  wasHeld,
  type Incoming,
  type Outgoing,
  type FailureInfo,
  type MessageResult,
  type MessageInput,
} from './message-machine.js';
export { lifecycleMachine, reconnectDelayMs, type LifecycleEvent } from './lifecycle-machine.js';
export {
  startHttp,
  sendJson,
  readBody,
  type Route,
  type HttpOptions,
  type HttpTimeouts,
} from './http.js';
export {
  deadLetterFor,
  deadLetterKey,
  deadLetterMessages,
  eventIdOf,
  firstFailedAt,
  traceIdOf,
} from './dead-letter.js';
export {
  fitDeadLetter,
  fitDeadLetters,
  natsHeaderBytes,
  wireBytes,
  PUBLISH_HEADROOM,
} from './dead-letter-fit.js';
export {
  consumerTuning,
  tuneConsumer,
  workingPlan,
  mayExtend,
  WORKING_FRACTION,
  MAX_HOLD_ACK_WAITS,
  type ConsumerTuning,
  type WorkingPlan,
} from './consumer.js';
export {
  defineStage,
  consumerSpecOrExit,
  incomingOf,
  publishAll,
  type StageOptions,
  type Stage,
  type StageStarted,
  type Handle,
  type StageContext,
} from './stage.js';
export { instrumentPublish, traceDelivery, trackConsumerLag, type Handled } from './tracing.js';
export { runService, type RunOptions, type ServiceEffects } from './run.js';
export { allEffects } from './effects.js';
export {
  adminFields,
  adminOptions,
  adminGuard,
  guardedRoute,
  crossSiteRefusal,
  sameToken,
  tokenFile,
  MIN_TOKEN_LENGTH,
  type AdminConfig,
  type AdminOptions,
  type AdminGuard,
  type Refusal,
} from './admin.js';
export {
  adminOidcProblems,
  oidcVerifier,
  looksLikeJwt,
  type OidcAdmins,
  type OidcVerdict,
} from './admin-oidc.js';
export { baseServiceSchema, natsCredentials, type BaseServiceConfig } from './config.js';
export { stageSettings, type StageSettings } from './settings.js';
export { TokenBucket, type TokenBucketOptions } from './token-bucket.js';
