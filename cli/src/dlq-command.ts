import {
  DlqError,
  describeFilter,
  isSelective,
  openDlqStore,
  parseFilter,
  parseId,
  summaryOf,
  type DlqEntry,
  type DlqFilter,
  type DlqStore,
  type DlqSummary,
  type ReplayResult,
} from '@onpush/dlq';
import { connectNats } from '@onpush/nats';
import type { Output } from './output.js';

export const DLQ_USAGE = `usage:
  onpush dlq ls [--stage S] [--reason R] [--since 1h|2025-05-01T00:00:00Z]   list dead letters
  onpush dlq show <id>                                                       one entry, with its payload
  onpush dlq replay <id>                                                     publish it again to its subject
  onpush dlq replay --stage S [--reason R] [--since T]                       replay every match
  onpush dlq purge <id>                                                      delete it from the DLQ
  onpush dlq purge --stage S [--reason R] [--since T]                        delete every match
<id> is the entry's ONPUSH_DLQ sequence, as ls shows it. NATS_URL selects the server. At a fleet's
hub the DLQ holds every cluster's dead letters (--cluster C narrows); a replay goes into the
cluster that made the letter, and nowhere else.`;

export interface DlqOptions {
  natsUrl: string;
  json: boolean;
  stage?: string;
  cluster?: string;
  reason?: string;
  since?: string;
}

/** What `onpush dlq ...` asks for, checked before connecting. */
export type DlqRequest =
  | { kind: 'ls'; filter: DlqFilter }
  | { kind: 'show' | 'replay' | 'purge'; id: number }
  | { kind: 'replay-matching' | 'purge-matching'; filter: DlqFilter };

class UsageError extends Error {}

function filterOf(options: DlqOptions, now: Date): DlqFilter {
  const { stage, cluster, reason, since } = options;
  return parseFilter({ stage, cluster, reason, since }, now);
}

/** The request from the command line; throws a DlqError or UsageError naming the problem. */
export function parseDlqRequest(
  action: string | undefined,
  args: string[],
  options: DlqOptions,
  now = new Date(),
): DlqRequest {
  const filter = filterOf(options, now);
  const [first, ...extra] = args;
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  switch (action) {
    case 'ls':
    case 'list':
      if (first !== undefined) throw new UsageError(`ls takes filters, not an id (got ${first})`);
      return { kind: 'ls', filter };
    case 'show':
      if (first === undefined) throw new UsageError('show needs an id');
      if (isSelective(filter)) throw new UsageError('show takes an id, not filters');
      return { kind: 'show', id: parseId(first) };
    case 'replay':
    case 'purge':
      if (first !== undefined && isSelective(filter))
        throw new UsageError(`${action}: give an id or filters, not both`);
      if (first !== undefined) return { kind: action, id: parseId(first) };
      if (!isSelective(filter))
        throw new UsageError(`${action} needs an id, or --stage, --cluster, --reason or --since`);
      return { kind: `${action}-matching`, filter };
    default:
      throw new UsageError(action === undefined ? 'missing action' : `unknown action: ${action}`);
  }
}

/** `onpush dlq ls|show|replay|purge`: talks to NATS directly, no dlq-manager needed. */
export async function dlqCommand(
  action: string | undefined,
  args: string[],
  options: DlqOptions,
  out: Output,
): Promise<number> {
  let request: DlqRequest;
  try {
    request = parseDlqRequest(action, args, options);
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof DlqError)) throw error;
    out.error(`onpush dlq: ${error.message}\n\n${DLQ_USAGE}`);
    return 2;
  }
  const nc = await connectNats({ url: options.natsUrl, name: 'onpush-cli' });
  try {
    return await runDlq(await openDlqStore(nc), request, out);
  } catch (error) {
    if (!(error instanceof DlqError)) throw error;
    out.error(`onpush dlq: ${error.message}`);
    return error.type === 'invalid_filter' || error.type === 'invalid_id' ? 2 : 1;
  } finally {
    await nc.close();
  }
}

async function list(store: DlqStore, filter: DlqFilter, out: Output): Promise<number> {
  const { entries, truncated } = await store.list(filter);
  const summaries = entries.map(summaryOf);
  const empty = `no dead letters (${describeFilter(filter)})`;
  out.info(summaries.length ? formatTable(summaries) : empty);
  if (truncated) out.info('… more entries match: narrow the filter (--stage, --reason, --since)');
  out.result({ entries: summaries, truncated });
  return 0;
}

const replayLine = (r: ReplayResult): string =>
  `replayed ${r.replayed} → ${r.subject} (msg id ${r.msgId}${r.duplicate ? ', already stored' : ''})`;

async function replayAll(store: DlqStore, filter: DlqFilter, out: Output): Promise<number> {
  const result = await store.replayMatching(filter);
  for (const r of result.replayed) out.info(replayLine(r));
  for (const f of result.failed) out.error(`not replayed ${f.id}: ${f.error}`);
  const counts = `${result.replayed.length} replayed, ${result.failed.length} failed`;
  out.info(`${counts} (${describeFilter(filter)})`);
  out.result(result);
  return result.failed.length ? 1 : 0;
}

async function purgeAll(store: DlqStore, filter: DlqFilter, out: Output): Promise<number> {
  const purged = await store.purgeMatching(filter);
  const ids = purged.length ? `: ${purged.join(', ')}` : '';
  out.info(`purged ${purged.length} (${describeFilter(filter)})${ids}`);
  out.result({ purged });
  return 0;
}

/** Carries out a request against a store; human lines via `info`, the JSON document via `result`. */
export async function runDlq(store: DlqStore, request: DlqRequest, out: Output): Promise<number> {
  switch (request.kind) {
    case 'ls':
      return list(store, request.filter, out);
    case 'show': {
      const entry = await store.get(request.id);
      out.info(formatEntry(entry));
      out.result(entry);
      return 0;
    }
    case 'replay': {
      const result = await store.replay(request.id);
      out.info(replayLine(result));
      out.result(result);
      return 0;
    }
    case 'replay-matching':
      return replayAll(store, request.filter, out);
    case 'purge':
      await store.purge(request.id);
      out.info(`purged ${request.id}`);
      out.result({ purged: [request.id] });
      return 0;
    case 'purge-matching':
      return purgeAll(store, request.filter, out);
  }
}

/** Columns padded to their widest cell. */
export function formatTable(entries: readonly DlqSummary[]): string {
  const rows = [
    ['ID', 'STAGE', 'REASON', 'ATTEMPTS', 'LAST FAILED', 'REPLAYED'],
    ...entries.map((e) => [
      String(e.id),
      e.cluster ? `${e.stage}@${e.cluster}` : e.stage,
      e.truncated ? `${e.reason} (truncated)` : e.reason,
      String(e.attempts),
      e.lastFailedAt,
      e.replayedAt ?? '-',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The payload as text when it is printable UTF-8, else base64. */
export function formatPayload(base64: string): string {
  const bytes = Buffer.from(base64, 'base64');
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    // eslint-disable-next-line no-control-regex
    if (!/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) return text;
  } catch {
    /* not UTF-8: base64 below */
  }
  return `(base64) ${base64}`;
}

export function formatEntry(e: DlqEntry): string {
  const replayed = e.replayedAt === undefined ? 'never' : `${e.replayedAt} (${e.replayCount}×)`;
  const fields: Array<[string, string | number | undefined]> = [
    ['id', e.id],
    ['stage', e.stage],
    ['cluster', e.cluster],
    ['reason', e.reason],
    ['error', e.error],
    ['attempts', e.attempts],
    ['subject', e.subject],
    ['first failed', e.firstFailedAt],
    ['last failed', e.lastFailedAt],
    ['stored', e.storedAt],
    ['replayed', replayed],
    ['trace id', e.traceId],
    ['replay of', e.replayOf],
  ];
  const lines = fields
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k.padEnd(13)}${String(v)}`);
  if (!e.valid) lines.push('(not a valid DeadLetter: it can be purged, not replayed)');
  const cut = e.truncated;
  if (cut) {
    lines.push(
      `${'truncated'.padEnd(13)}kept the first ${cut.keptBytes} of ${cut.originalBytes} bytes` +
        `${cut.droppedHeaders > 0 ? `, left out ${cut.droppedHeaders} headers` : ''}: ${cut.reason}`,
      `${'sha256'.padEnd(13)}${cut.sha256} (of the original ${cut.originalBytes} bytes)`,
      '(truncated: it can be purged, not replayed)',
    );
  }
  lines.push('headers');
  for (const [name, value] of Object.entries(e.headers))
    lines.push(`  ${name}: ${[value].flat().join(', ')}`);
  const size = Buffer.from(e.payload, 'base64').length;
  lines.push(
    cut ? `payload (the first ${size} of ${cut.originalBytes} bytes)` : `payload (${size} bytes)`,
    formatPayload(e.payload),
  );
  return lines.join('\n');
}
