// Deliveries that carry several events (Distribution `events[]`, Event Grid arrays, CloudEvents
// batches, Harbor `resources[]`, Quay `updated_tags`). Each entry is parsed on its own: pushes are
// keyed (a reference repeated in one delivery is published once), non-pushes need no fate of
// their own, malformed entries are collected as `rejected` so the handler can dead-letter them
// beside the valid pushes. With no push at all, a malformed entry fails the whole delivery and
// otherwise the delivery is `ignored`.
import { ParseError } from '../errors.js';
import type { FormatResult, Push, Rejected } from './types.js';

/** More entries than this in one delivery is refused (`batch_too_large`) rather than parsed. */
export const MAX_BATCH = 1_000;

export function ignored(reason: string, detail: string): FormatResult {
  return { kind: 'ignored', reason, detail: detail.slice(0, 300) };
}

export function pushes(...list: Push[]): FormatResult {
  return { kind: 'pushes', pushes: list };
}

/** `value` as the list of a batch; `missing_field` when not a list, `batch_too_large` past the cap. */
export function entries(value: unknown, where: string): readonly unknown[] {
  if (!Array.isArray(value)) throw new ParseError('missing_field', `${where} must be a list`);
  if (value.length > MAX_BATCH) {
    throw new ParseError(
      'batch_too_large',
      `${where} has ${value.length} entries; at most ${MAX_BATCH} are read from one delivery`,
    );
  }
  return value;
}

const KEY = /^[A-Za-z0-9._:@-]{1,100}$/;

/** The sender's id when usable as a key and not taken yet, else the index (made unique). */
function uniqueKey(id: unknown, index: number, taken: Set<string>): string {
  let key = typeof id === 'string' && KEY.test(id) ? id : String(index);
  while (taken.has(key)) key = `${key}~${index}`;
  taken.add(key);
  return key;
}

const joinKey = (outer: string, inner: string): string =>
  inner === '' ? outer : outer === '' ? inner : `${outer}/${inner}`;

export interface BatchOptions {
  /** What the list is, for messages: `events`, `resources`. */
  where: string;
  /** The sender's id of an entry (keys the pushes), or undefined to key by index. */
  idOf?: (item: unknown) => unknown;
  /** One entry's meaning; throws ParseError when it is malformed. */
  entry: (item: unknown, where: string) => FormatResult;
}

/** Parses every entry and combines the results (see the module comment). */
export function batch(items: readonly unknown[], options: BatchOptions): FormatResult {
  const found: Push[] = [];
  const rejected: Rejected[] = [];
  const reasons: string[] = [];
  const taken = new Set<string>();
  const seen = new Set<string>();
  items.forEach((item, index) => {
    const key = uniqueKey(options.idOf?.(item), index, taken);
    let result: FormatResult;
    try {
      result = options.entry(item, `${options.where}[${index}]`);
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      rejected.push({ key, error });
      return;
    }
    if (result.kind === 'ignored') {
      reasons.push(result.reason);
      return;
    }
    for (const push of result.pushes) {
      // The same reference twice in one delivery (a tag listed twice) is one push.
      if (seen.has(push.ref.reference)) continue;
      seen.add(push.ref.reference);
      found.push({ ...push, key: joinKey(key, push.key) });
    }
    for (const r of result.rejected ?? []) rejected.push({ ...r, key: joinKey(key, r.key) });
  });
  if (found.length > 0) {
    return { kind: 'pushes', pushes: found, ...(rejected.length > 0 ? { rejected } : {}) };
  }
  if (rejected.length > 0) throw combined(rejected, items.length);
  return ignoredBatch(reasons, options.where);
}

/** One ParseError for a delivery whose every usable entry was malformed. */
export function combined(rejected: readonly Rejected[], total: number): ParseError {
  const first = rejected[0]!.error;
  if (total === 1 && rejected.length === 1) return first;
  const listed = rejected
    .slice(0, 5)
    .map((r) => `#${r.key}: ${r.error.message}`)
    .join('; ');
  const more = rejected.length > 5 ? `; and ${rejected.length - 5} more` : '';
  return new ParseError(
    first.type,
    `${rejected.length} of ${total} entries malformed, no push: ${listed}${more}`,
    { cause: first },
  );
}

function ignoredBatch(reasons: readonly string[], where: string): FormatResult {
  if (reasons.length === 0) return ignored('not_a_push', `${where} is empty`);
  const counts = new Map<string, number>();
  for (const reason of reasons) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  const listed = [...counts].map(([reason, n]) => `${n} ${reason}`).join(', ');
  const only = counts.size === 1 ? reasons[0]! : 'not_a_push';
  return ignored(only, `no push in ${reasons.length} entries of ${where}: ${listed}`);
}
