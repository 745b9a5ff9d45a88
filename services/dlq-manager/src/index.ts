// @onpush/dlq-manager: the service's handlers (its HTTP routes over the DLQ store are @onpush/console's).
export { createHandler, type HandlerDeps } from './handler.js';
export { createDlqMetrics, statsUpdater, type DlqMetrics, type StatsUpdater } from './metrics.js';
export { dlqManagerSchema } from './config.js';
export {
  parseAdvisory,
  stageOf,
  originalDeadLetters,
  goneDeadLetters,
  ORIGINAL_GONE_REASON,
  type MaxDeliveriesAdvisory,
  type OriginalMessage,
} from './advisory.js';
export {
  createAdvisoryHandler,
  originalReader,
  type AdvisoryHandlerDeps,
} from './advisory-handler.js';
