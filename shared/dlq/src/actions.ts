// Changing the DLQ: replay an entry to its original subject, purge it; one or every match.
import { HEADERS, STREAMS, clusterReplaySubject, payloadBytes } from '@onpush/contracts';
import { dedupId, toMsgHdrs } from '@onpush/nats';
import { decodeEntry, replayHeaders, replayMsgId, replayTarget } from './entry.js';
import { DlqError } from './errors.js';
import { describeFilter, isSelective, type DlqFilter } from './filter.js';
import { collect, readRaw, type StoreContext } from './read.js';
import { withReplaySpan } from './tracing.js';

const TRACE_HEADERS = [HEADERS.traceparent, HEADERS.tracestate];

export interface ReplayResult {
  /** The id of the entry replayed. */
  readonly replayed: number;
  readonly subject: string;
  /** The replay's Nats-Msg-Id. */
  readonly msgId: string;
  /** Where the replay was stored (ONPUSH) and at which sequence. */
  readonly stream: string;
  readonly seq: number;
  /** The stream already held this replay (a retried replay): nothing new was stored. */
  readonly duplicate: boolean;
  readonly replayedAt: string;
  readonly count: number;
}

export interface BulkReplayResult {
  readonly replayed: ReplayResult[];
  readonly failed: Array<{ id: number; type: string; error: string }>;
}

/** The entry's original bytes and headers, to its original subject; then the replay is recorded. */
export async function replay(ctx: StoreContext, id: number): Promise<ReplayResult> {
  const raw = await readRaw(ctx, id);
  const recorded = await ctx.book.read(id);
  const entry = decodeEntry(raw, recorded.state);
  if (!entry.valid) {
    const why = `is not a valid DeadLetter (${entry.error}); purge it instead`;
    throw new DlqError('not_replayable', `dead letter ${id} ${why}`);
  }
  if (entry.truncated) {
    const { keptBytes, originalBytes } = entry.truncated;
    const why =
      `was truncated to fit the DLQ (${keptBytes} of ${originalBytes} bytes kept): it cannot ` +
      `be replayed faithfully; resend it from its source, then purge it`;
    throw new DlqError('not_replayable', `dead letter ${id} ${why}`);
  }
  const target = replayTarget(entry.subject);
  if (target === undefined) {
    const why = `came from ${entry.subject}, which no stage consumes`;
    throw new DlqError('not_replayable', `dead letter ${id} ${why}`);
  }
  // A fleet cluster's dead letter goes back into that cluster only (fleetTopology).
  const subject = entry.cluster ? clusterReplaySubject(entry.cluster, target) : target;
  const count = (recorded.state?.count ?? 0) + 1;
  // Scoped by subject like every onpush publish: the header reads `<subject>|replay:<id>:<n>`.
  const msgId = dedupId(subject, replayMsgId(id, count));
  const headers = toMsgHdrs(undefined);
  for (const [name, value] of replayHeaders(entry.headers, id)) headers.append(name, value);
  const timeout = ctx.publishTimeoutMs;
  const ack = await withReplaySpan({ id, subject, msgId, headers: entry.headers }, (trace) => {
    if (trace[HEADERS.traceparent]) for (const name of TRACE_HEADERS) headers.delete(name);
    for (const [name, value] of Object.entries(trace)) headers.set(name, value);
    return ctx.js.publish(subject, payloadBytes(entry), { msgID: msgId, headers, timeout });
  });
  const replayedAt = ctx.now().toISOString();
  // false: a concurrent replay of this entry won the write; it used the same msgId, so the
  // stream stored the replay once and that record stands.
  await ctx.book.write(id, { replayedAt, count }, recorded.revision);
  const { stream, seq, duplicate } = ack;
  return { replayed: id, subject, msgId, stream, seq, duplicate, replayedAt, count };
}

function requireSelective(filter: DlqFilter, action: string): void {
  if (isSelective(filter)) return;
  const got = describeFilter(filter);
  throw new DlqError(
    'invalid_filter',
    `${action} needs a filter: stage, cluster, reason, since or replayed (got ${got})`,
  );
}

/** Replays every match, in stream order; one failure does not stop the others. */
export async function replayMatching(
  ctx: StoreContext,
  filter: DlqFilter,
): Promise<BulkReplayResult> {
  requireSelective(filter, 'bulk replay');
  const { entries } = await collect(ctx, filter, filter.limit ?? Number.POSITIVE_INFINITY);
  const result: BulkReplayResult = { replayed: [], failed: [] };
  for (const { id } of entries) {
    try {
      result.replayed.push(await replay(ctx, id));
    } catch (error) {
      const type = error instanceof DlqError ? error.type : 'replay_failed';
      const message = error instanceof Error ? error.message : String(error);
      result.failed.push({ id, type, error: message });
    }
  }
  return result;
}

export async function purge(ctx: StoreContext, id: number): Promise<void> {
  await readRaw(ctx, id);
  await ctx.jsm.streams.deleteMessage(STREAMS.dlq, id);
  await ctx.book.forget(id);
}

/** Purges every match; returns the ids purged (an entry gone meanwhile is skipped). */
export async function purgeMatching(ctx: StoreContext, filter: DlqFilter): Promise<number[]> {
  requireSelective(filter, 'bulk purge');
  const { entries } = await collect(ctx, filter, filter.limit ?? Number.POSITIVE_INFINITY);
  const purged: number[] = [];
  for (const { id } of entries) {
    const deleted = await ctx.jsm.streams.deleteMessage(STREAMS.dlq, id).catch(skipGone);
    await ctx.book.forget(id);
    if (deleted) purged.push(id);
  }
  return purged;
}

function skipGone(error: unknown): false {
  const message = error instanceof Error ? error.message : '';
  if (/no message found|not found/i.test(message)) return false;
  throw error;
}
