export {
  messageMachine,
  describeFailure,
  retryDelayMs,
  type Incoming,
  type Outgoing,
  type FailureInfo,
  type MessageResult,
  type MessageInput,
} from './message-machine.js';
export { lifecycleMachine, reconnectDelayMs, type LifecycleEvent } from './lifecycle-machine.js';
export { startHttp, sendJson, readBody, type Route, type HttpOptions } from './http.js';
export { deadLetterFor, eventIdOf } from './dead-letter.js';
export {
  stageEffects,
  incomingOf,
  publishAll,
  type StageOptions,
  type StageContext,
} from './stage.js';
export { runService, type RunOptions, type ServiceEffects } from './run.js';
export { baseServiceSchema, type BaseServiceConfig } from './config.js';
