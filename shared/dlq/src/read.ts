// Reading the DLQ: one entry by id, a filtered scan, the stream's stats.
import { HEADERS, STREAMS } from '@onpush/contracts';
import type { JetStreamClient, JetStreamManager } from '@onpush/nats';
import { decodeEntry, type DlqEntry, type RawEntry } from './entry.js';
import { DlqError } from './errors.js';
import { matches, type DlqFilter } from './filter.js';
import type { ReplayBook } from './replays.js';
import { scanDlq } from './scan.js';

/** What every store operation works with. */
export interface StoreContext {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly book: ReplayBook;
  readonly now: () => Date;
  readonly publishTimeoutMs: number;
}

export interface DlqListResult {
  readonly entries: DlqEntry[];
  /** More entries matched than the limit let through. */
  readonly truncated: boolean;
}

export interface DlqStats {
  /** Entries in ONPUSH_DLQ. */
  readonly depth: number;
  /** Age of the oldest entry, 0 when there is none. */
  readonly oldestAgeSeconds: number;
}

/** The stored message with this sequence, or a `not_found` DlqError. */
export async function readRaw(ctx: StoreContext, id: number): Promise<RawEntry> {
  const stored = await ctx.jsm.streams.getMessage(STREAMS.dlq, { seq: id });
  if (!stored) throw new DlqError('not_found', `no dead letter ${id} in ${STREAMS.dlq}`);
  const cluster = stored.header?.get(HEADERS.cluster) || undefined;
  return {
    seq: stored.seq,
    subject: stored.subject,
    data: stored.data,
    time: stored.time,
    cluster,
  };
}

export async function getEntry(ctx: StoreContext, id: number): Promise<DlqEntry> {
  const raw = await readRaw(ctx, id);
  return decodeEntry(raw, (await ctx.book.read(id)).state);
}

/** The entries matching `filter`, oldest first, at most `limit`. */
export async function collect(
  ctx: StoreContext,
  filter: DlqFilter,
  limit: number,
): Promise<DlqListResult> {
  const entries: DlqEntry[] = [];
  for await (const raw of scanDlq(ctx.js, filter.stage)) {
    const entry = decodeEntry(raw, (await ctx.book.read(raw.seq)).state);
    if (!matches(entry, filter)) continue;
    if (entries.length >= limit) return { entries, truncated: true };
    entries.push(entry);
  }
  return { entries, truncated: false };
}

export async function stats(ctx: StoreContext): Promise<DlqStats> {
  const { state } = await ctx.jsm.streams.info(STREAMS.dlq);
  const first = Date.parse(state.first_ts);
  const age = state.messages > 0 && !Number.isNaN(first) ? (ctx.now().getTime() - first) / 1000 : 0;
  return { depth: state.messages, oldestAgeSeconds: Math.max(0, age) };
}
