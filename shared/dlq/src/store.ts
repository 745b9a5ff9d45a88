// The DLQ as a store: list, show, replay and purge entries of ONPUSH_DLQ. The public id of an
// entry is its stream sequence. Used by the dlq-manager's HTTP API and by `onpush dlq`.
import { STREAMS } from '@onpush/contracts';
import { jetstream, jetstreamManager, type NatsConnection } from '@onpush/nats';
import { purge, purgeMatching, replay, replayMatching } from './actions.js';
import type { BulkReplayResult, ReplayResult } from './actions.js';
import type { DlqEntry } from './entry.js';
import { DlqError } from './errors.js';
import type { DlqFilter } from './filter.js';
import { collect, getEntry, stats } from './read.js';
import type { DlqListResult, DlqStats, StoreContext } from './read.js';
import { openReplayBook } from './replays.js';

export type { BulkReplayResult, ReplayResult, DlqListResult, DlqStats, StoreContext };

export interface DlqStore {
  /** Oldest first; at most `filter.limit`, else the store's list limit. */
  list(filter?: DlqFilter): Promise<DlqListResult>;
  /** Throws a `not_found` DlqError for an unknown id (as do replay and purge). */
  get(id: number): Promise<DlqEntry>;
  replay(id: number): Promise<ReplayResult>;
  /** Needs a selective filter (stage, reason, since or replayed). */
  replayMatching(filter: DlqFilter): Promise<BulkReplayResult>;
  purge(id: number): Promise<void>;
  /** Needs a selective filter; returns the ids purged. */
  purgeMatching(filter: DlqFilter): Promise<number[]>;
  stats(): Promise<DlqStats>;
}

export interface StoreOptions {
  now?: () => Date;
  /** `list` without a limit returns at most this many entries (default 1000). */
  listLimit?: number;
  publishTimeoutMs?: number;
}

const STREAM_NOT_FOUND = 10059;

/** Binds to ONPUSH_DLQ (which must be provisioned) and opens or creates the replay bucket. */
export async function openDlqStore(
  nc: NatsConnection,
  options: StoreOptions = {},
): Promise<DlqStore> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.info(STREAMS.dlq).catch((error: unknown) => {
    if ((error as { code?: unknown }).code !== STREAM_NOT_FOUND) throw error;
    const hint = 'run `onpush provision` or start any onpush service first';
    const message = `stream ${STREAMS.dlq} not found: ${hint}`;
    throw new DlqError('dlq_unavailable', message, { cause: error });
  });
  const js = jetstream(nc);
  const book = await openReplayBook(js);
  const now = options.now ?? (() => new Date());
  const ctx = { js, jsm, book, now, publishTimeoutMs: options.publishTimeoutMs ?? 5_000 };
  return dlqStore(ctx, options.listLimit);
}

/** The store over a context (tests bind fakes here). */
export function dlqStore(ctx: StoreContext, listLimit = 1_000): DlqStore {
  return {
    list: (filter = {}) => collect(ctx, filter, filter.limit ?? listLimit),
    get: (id) => getEntry(ctx, id),
    replay: (id) => replay(ctx, id),
    replayMatching: (filter) => replayMatching(ctx, filter),
    purge: (id) => purge(ctx, id),
    purgeMatching: (filter) => purgeMatching(ctx, filter),
    stats: () => stats(ctx),
  };
}
