// Which dead letters a list, a bulk replay or a bulk purge is about. Parsing is pure and reports
// every problem at once, so `?stage=x&since=y` fails with one message naming both.
import { STAGES, isClusterName, type Stage } from '@onpush/contracts';
import { DlqError } from './errors.js';

export interface DlqFilter {
  readonly stage?: Stage;
  /** At a fleet's hub: the dead letters of this cluster's stages. */
  readonly cluster?: string;
  readonly reason?: string;
  /** Entries whose last failure is at or after this instant. */
  readonly since?: Date;
  /** true: replayed at least once; false: never replayed. */
  readonly replayed?: boolean;
  /** At most this many entries, oldest first. */
  readonly limit?: number;
}

/** The filter as text, from a query string or CLI flags; unset and empty mean "any". */
export interface FilterInput {
  readonly stage?: string | undefined;
  readonly cluster?: string | undefined;
  readonly reason?: string | undefined;
  readonly since?: string | undefined;
  readonly replayed?: string | undefined;
  readonly limit?: string | undefined;
}

export const FILTER_KEYS = ['stage', 'cluster', 'reason', 'since', 'replayed', 'limit'] as const;
export const MAX_LIMIT = 10_000;

const REASON = /^[a-z][a-z0-9_]{0,63}$/;
const DURATION = /^(\d+(?:\.\d+)?)(s|m|h|d|w)$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** `since` as an instant: an ISO 8601 date or time, or a duration back from `now` (`90m`, `1h`, `7d`). */
export function parseSince(raw: string, now: Date): Date | undefined {
  const match = DURATION.exec(raw);
  if (match) {
    const unit = match[2] as keyof typeof UNIT_MS;
    return new Date(now.getTime() - Math.round(Number(match[1]) * UNIT_MS[unit]));
  }
  if (!ISO_DATE.test(raw) && !ISO_TIME.test(raw)) return undefined;
  const at = Date.parse(raw);
  return Number.isNaN(at) || !isCalendarDate(raw) ? undefined : new Date(at);
}

/** Date.parse rolls 2025-02-30 over to March; a written day must exist in its month. */
function isCalendarDate(raw: string): boolean {
  const [y, m, d] = raw.slice(0, 10).split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

type Parsed<T> = { value: T } | { problem: string };

function parseField(key: (typeof FILTER_KEYS)[number], raw: string, now: Date): Parsed<unknown> {
  const got = `(got ${JSON.stringify(raw)})`;
  switch (key) {
    case 'stage':
      return (STAGES as readonly string[]).includes(raw)
        ? { value: raw }
        : { problem: `stage must be one of ${STAGES.join(', ')} ${got}` };
    case 'cluster':
      return isClusterName(raw)
        ? { value: raw }
        : { problem: `cluster must be a fleet cluster's name (a DNS label) ${got}` };
    case 'reason':
      return REASON.test(raw)
        ? { value: raw }
        : { problem: `reason must be a snake_case code such as parse_error ${got}` };
    case 'since': {
      const since = parseSince(raw, now);
      return since
        ? { value: since }
        : {
            problem: `since must be an ISO 8601 time (2025-05-01T12:00:00Z) or a duration such as 30m, 1h, 7d ${got}`,
          };
    }
    case 'replayed':
      return raw === 'true' || raw === 'false'
        ? { value: raw === 'true' }
        : { problem: `replayed must be true or false ${got}` };
    case 'limit': {
      const limit = /^\d{1,6}$/.test(raw) ? Number(raw) : NaN;
      return limit >= 1 && limit <= MAX_LIMIT
        ? { value: limit }
        : { problem: `limit must be an integer from 1 to ${MAX_LIMIT} ${got}` };
    }
  }
}

/** The filter from text; throws an `invalid_filter` DlqError listing every problem. */
export function parseFilter(input: FilterInput, now = new Date()): DlqFilter {
  const filter: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const key of FILTER_KEYS) {
    const raw = input[key]?.trim();
    if (raw === undefined || raw === '') continue;
    const parsed = parseField(key, raw, now);
    if ('problem' in parsed) problems.push(parsed.problem);
    else filter[key] = parsed.value;
  }
  if (problems.length) throw new DlqError('invalid_filter', problems.join('; '));
  return filter as DlqFilter;
}

/** The filter from a URL query; an unknown parameter or a repeated one is a problem too. */
export function filterFromQuery(params: URLSearchParams, now = new Date()): DlqFilter {
  const known: readonly string[] = FILTER_KEYS;
  const unknown = [...new Set(params.keys())].filter((key) => !known.includes(key));
  if (unknown.length) {
    throw new DlqError(
      'invalid_filter',
      `unknown filter ${unknown.join(', ')} (use ${FILTER_KEYS.join(', ')})`,
    );
  }
  const repeated = FILTER_KEYS.filter((key) => params.getAll(key).length > 1);
  if (repeated.length)
    throw new DlqError('invalid_filter', `${repeated.join(', ')} given more than once`);
  const input: Record<string, string> = {};
  for (const key of FILTER_KEYS) {
    const value = params.get(key);
    if (value !== null) input[key] = value;
  }
  return parseFilter(input, now);
}

/** True when the filter selects something narrower than "every entry" (limit aside). */
export function isSelective(filter: DlqFilter): boolean {
  return (
    filter.stage !== undefined ||
    filter.cluster !== undefined ||
    filter.reason !== undefined ||
    filter.since !== undefined ||
    filter.replayed !== undefined
  );
}

/** What `matches` reads of an entry. */
export interface Matchable {
  readonly stage: string;
  readonly cluster?: string | undefined;
  readonly reason: string;
  readonly lastFailedAt: string;
  readonly replayedAt?: string | undefined;
}

export function matches(entry: Matchable, filter: DlqFilter): boolean {
  if (filter.stage !== undefined && entry.stage !== filter.stage) return false;
  if (filter.cluster !== undefined && entry.cluster !== filter.cluster) return false;
  if (filter.reason !== undefined && entry.reason !== filter.reason) return false;
  if (filter.since !== undefined && !(Date.parse(entry.lastFailedAt) >= filter.since.getTime()))
    return false;
  if (filter.replayed !== undefined && (entry.replayedAt !== undefined) !== filter.replayed)
    return false;
  return true;
}

/** The filter as query/flag text again (for messages and links). */
export function describeFilter(filter: DlqFilter): string {
  const parts: string[] = [];
  if (filter.stage !== undefined) parts.push(`stage=${filter.stage}`);
  if (filter.cluster !== undefined) parts.push(`cluster=${filter.cluster}`);
  if (filter.reason !== undefined) parts.push(`reason=${filter.reason}`);
  if (filter.since !== undefined) parts.push(`since=${filter.since.toISOString()}`);
  if (filter.replayed !== undefined) parts.push(`replayed=${String(filter.replayed)}`);
  if (filter.limit !== undefined) parts.push(`limit=${filter.limit}`);
  return parts.length ? parts.join(' ') : 'all entries';
}
