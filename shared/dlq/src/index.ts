// @onpush/dlq: the DLQ as a store (list, show, replay, purge ONPUSH_DLQ entries), shared by the
// dlq-manager's HTTP API and `onpush dlq` / `onpush audit`.
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
