// @onpush/dlq-manager: the DLQ store (list, show, replay, purge ONPUSH_DLQ entries), shared by
// the dlq-manager service and `onpush dlq`, plus the service's handler and HTTP routes.
export {
  openDlqStore,
  dlqStore,
  type DlqStore,
  type DlqStats,
  type DlqListResult,
  type ReplayResult,
  type BulkReplayResult,
  type StoreOptions,
  type StoreContext,
} from './store.js';
export {
  decodeEntry,
  summaryOf,
  replayHeaders,
  replayMsgId,
  replayTarget,
  INVALID_REASON,
  type DlqEntry,
  type DlqSummary,
  type RawEntry,
  type ReplayState,
} from './entry.js';
export {
  parseFilter,
  filterFromQuery,
  parseSince,
  matches,
  isSelective,
  describeFilter,
  FILTER_KEYS,
  MAX_LIMIT,
  type DlqFilter,
  type FilterInput,
} from './filter.js';
export { DlqError, DLQ_ERROR_STATUS, parseId, type DlqErrorType } from './errors.js';
export { REPLAYS_BUCKET, openReplayBook, type ReplayBook } from './replays.js';
export { createHandler, type HandlerDeps } from './handler.js';
export { dlqRoutes } from './routes.js';
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
export { bothEffects } from './effects.js';
