// design.md's accounting rule, as a pure function over what the streams hold: every event that
// entered (`onpush.raw.>`, or an ingest dead letter) ends in exactly one event fate, or — when
// the parser split it into pushes — each push does; every restart request ends in exactly one
// workload fate; a `dispatched` with requests=N has N requests. docs/reliability.md states the
// rules.
import { isAccountingFate, type Fate } from '@onpush/contracts';
import type {
  AuditInput,
  AuditReport,
  FateRecord,
  Finding,
  PushedRecord,
  RawRecord,
  RequestRecord,
} from './audit-types.js';

export type {
  AuditInput,
  AuditReport,
  ConsumerState,
  DeadLetterRecord,
  FateRecord,
  Finding,
  FindingKind,
  PushedRecord,
  RawRecord,
  RequestRecord,
} from './audit-types.js';

const PARSER_WIDE = new Set<Fate>(['ignored', 'dead']);

/** The DLQ key of a `dead` outcome (its Nats-Msg-Id without `:outcome`). */
export function letterKeyOf(outcome: FateRecord): string | undefined {
  return outcome.fate === 'dead' ? outcome.key.replace(/:outcome$/, '') : undefined;
}

function groupBy<T>(items: Iterable<T>, key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** The event a push belongs to: itself, or the longest `<event>#` prefix that entered. */
export function parentEvent(pushId: string, events: ReadonlySet<string>): string | undefined {
  if (events.has(pushId)) return pushId;
  for (let i = pushId.lastIndexOf('#'); i > 0; i = pushId.lastIndexOf('#', i - 1)) {
    const prefix = pushId.slice(0, i);
    if (events.has(prefix)) return prefix;
  }
  return undefined;
}

const label = (o: FateRecord): string =>
  `${o.fate}@${o.stage}${o.requests !== undefined ? `(${o.requests})` : ''}`;

/** Everything the reconciliation looks things up in, built once. */
interface Index {
  readonly input: AuditInput;
  readonly eventFates: Map<string, FateRecord[]>;
  readonly workloadFates: Map<string, FateRecord[]>;
  /** Per push: the workloads that have a fate. */
  readonly fatedWorkloads: Map<string, FateRecord[]>;
  readonly rawSeqs: Map<string, RawRecord[]>;
  readonly pushedSeqs: Map<string, PushedRecord[]>;
  readonly requestsOf: Map<string, RequestRecord[]>;
  readonly resolved: number;
  /** Fates that count, by fate. */
  readonly fates: Record<string, number>;
}

/**
 * The keys of the DLQ entries that were replayed: their record says so, or a message in the work
 * stream carries `Onpush-Replay-Of: <entry id>` (a replay the record does not show yet).
 */
export function replayedKeys(input: AuditInput): Set<string> {
  const work = [...input.raw, ...input.pushed, ...input.requests];
  const replayedIds = new Set(work.map((m) => m.replayOf).filter((id) => id !== undefined));
  return new Set(
    input.deadLetters
      .filter((d) => d.replayedAt !== undefined || replayedIds.has(String(d.id)))
      .map((d) => d.key),
  );
}

function index(input: AuditInput): Index {
  const replayed = replayedKeys(input);
  // Rollout outcomes (rollout-completed / -failed) inform about a restart; they are no fate.
  const accounting = input.outcomes.filter((o) => isAccountingFate(o.fate));
  const unique = [...groupBy(accounting, (o) => o.key).values()].map((g) => g[0]!);
  const resolvedDead = unique.filter((o) => replayed.has(letterKeyOf(o) ?? ''));
  const resolvedSet = new Set(resolvedDead);
  const counting = unique.filter((o) => !resolvedSet.has(o));
  const withWorkload = counting.filter((o) => o.workload !== undefined);
  return {
    input,
    eventFates: groupBy(
      counting.filter((o) => o.workload === undefined),
      (o) => o.eventId,
    ),
    workloadFates: groupBy(withWorkload, (o) => `${o.eventId}|${o.workload}`),
    fatedWorkloads: groupBy(withWorkload, (o) => o.eventId),
    rawSeqs: groupBy(input.raw, (r) => r.eventId),
    pushedSeqs: groupBy(input.pushed, (p) => p.eventId),
    requestsOf: groupBy(input.requests, (r) => r.eventId),
    resolved: resolvedDead.length,
    fates: counting.reduce<Record<string, number>>((by, o) => {
      by[o.fate] = (by[o.fate] ?? 0) + 1;
      return by;
    }, {}),
  };
}

const above = (seqs: readonly { seq: number }[] | undefined, floor: number | undefined) =>
  (seqs ?? []).some((s) => s.seq > (floor ?? 0));

interface Tally {
  unaccounted: Finding[];
  inFlight: Finding[];
  pushes: number;
  accountedPushes: number;
  requests: number;
  accountedRequests: number;
}

function missing(tally: Tally, pending: boolean, finding: Omit<Finding, 'kind' | 'detail'>) {
  if (pending) {
    tally.inFlight.push({ kind: 'in_flight', detail: 'not acknowledged yet', ...finding });
  } else {
    const detail = 'no fate, and its message was acknowledged';
    tally.unaccounted.push({ kind: 'missing_fate', detail, ...finding });
  }
}

/** Each restart request of push `unit` ends in exactly one workload fate; N matches. */
function checkRequests(ix: Index, tally: Tally, unit: string, fate: FateRecord | undefined) {
  const requests = groupBy(ix.requestsOf.get(unit) ?? [], (r) => r.workload);
  const fated = (ix.fatedWorkloads.get(unit) ?? []).map((o) => o.workload ?? '');
  if (fate?.fate === 'dispatched' && fate.requests !== requests.size) {
    tally.unaccounted.push({
      kind: 'requests_mismatch',
      eventId: unit,
      detail: `dispatched ${fate.requests ?? '?'} requests, ${requests.size} found`,
      fates: [label(fate)],
    });
  }
  for (const workload of new Set([...requests.keys(), ...fated])) {
    const fates = ix.workloadFates.get(`${unit}|${workload}`) ?? [];
    const seen = { eventId: unit, workload, fates: fates.map(label) };
    if (!requests.has(workload)) {
      const detail = 'a workload fate without a restart request';
      tally.unaccounted.push({ kind: 'unexpected_fate', detail, ...seen });
      continue;
    }
    tally.requests += 1;
    if (fates.length === 1) tally.accountedRequests += 1;
    else if (fates.length > 1) {
      const detail = `${fates.length} workload fates`;
      tally.unaccounted.push({ kind: 'duplicate_fate', detail, ...seen });
    } else {
      const floor = ix.input.consumers.restarter?.ackFloor;
      const pending = above(requests.get(workload), floor) || ix.input.advisoriesPending > 0;
      missing(tally, pending, seen);
    }
  }
}

/** One push (or an unsplit event) ends in exactly one event fate. */
function checkUnit(ix: Index, tally: Tally, unit: string, isEvent: boolean) {
  const fates = ix.eventFates.get(unit) ?? [];
  const seen = { eventId: unit, fates: fates.map(label) };
  tally.pushes += 1;
  if (fates.length === 1) tally.accountedPushes += 1;
  else if (fates.length > 1) {
    tally.unaccounted.push({
      kind: 'duplicate_fate',
      detail: `${fates.length} event fates`,
      ...seen,
    });
  } else {
    const { consumers, advisoriesPending } = ix.input;
    const pending =
      (isEvent && above(ix.rawSeqs.get(unit), consumers.parser?.ackFloor)) ||
      above(ix.pushedSeqs.get(unit), consumers.resolver?.ackFloor) ||
      advisoriesPending > 0;
    missing(tally, pending, seen);
  }
  checkRequests(ix, tally, unit, fates.length === 1 ? fates[0] : undefined);
}

/** An event split into pushes ends through them: a parser-wide fate of its own as well is one too many. */
function checkSplit(ix: Index, tally: Tally, event: string, pushes: readonly string[]) {
  const own = (ix.eventFates.get(event) ?? []).filter((o) => PARSER_WIDE.has(o.fate));
  if (own.length > 0) {
    tally.unaccounted.push({
      kind: 'duplicate_fate',
      eventId: event,
      detail: `split into ${pushes.length} pushes and also ended ${own.map(label).join(', ')}`,
      fates: own.map(label),
    });
  }
  for (const push of pushes) checkUnit(ix, tally, push, false);
}

/** Reconciles what entered with the fates and the DLQ; see docs/reliability.md. */
export function reconcile(input: AuditInput): AuditReport {
  const ix = index(input);
  // An event entered as a raw delivery, or — when ingest could not store it at all — as
  // ingest's dead letter.
  const events = new Set(input.raw.filter((r) => r.replayOf === undefined).map((r) => r.eventId));
  for (const letter of input.deadLetters)
    if (letter.ingestEvent !== undefined) events.add(letter.ingestEvent);
  const split = new Map<string, string[]>();
  for (const pushId of ix.pushedSeqs.keys()) {
    const parent = parentEvent(pushId, events);
    if (parent !== undefined && parent !== pushId)
      split.set(parent, [...(split.get(parent) ?? []), pushId]);
  }
  const tally: Tally = {
    unaccounted: [],
    inFlight: [],
    pushes: 0,
    accountedPushes: 0,
    requests: 0,
    accountedRequests: 0,
  };
  for (const event of events) {
    const pushes = split.get(event);
    if (pushes) checkSplit(ix, tally, event, pushes.sort());
    else checkUnit(ix, tally, event, true);
  }
  return {
    events: events.size,
    pushes: tally.pushes,
    requests: tally.requests,
    accounted: { pushes: tally.accountedPushes, requests: tally.accountedRequests },
    resolvedByReplay: ix.resolved,
    fates: ix.fates,
    unaccounted: tally.unaccounted,
    inFlight: tally.inFlight,
  };
}
