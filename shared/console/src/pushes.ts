// Outcomes grouped per push, as the console shows them: one push (its event id) with its event
// fate and, for a dispatched push, the fate of each workload it was sent to. Pure: the feed
// (feed.ts) folds each outcome read from ONPUSH_OUTCOMES into the push it belongs to.
import {
  EVENT_FATES,
  FATES,
  ROLLOUT_FATES,
  type Fate,
  type Outcome,
  type WorkloadRef,
} from '@onpush/contracts';

/** One outcome as read from the stream: the message, and what its headers say. */
export interface OutcomeRecord {
  readonly outcome: Outcome;
  /** Its ONPUSH_OUTCOMES sequence. */
  readonly seq: number;
  /** `Onpush-Cluster`: the fleet cluster that concluded it; absent outside a fleet. */
  readonly cluster?: string | undefined;
  /** The trace id of its `traceparent`. */
  readonly traceId?: string | undefined;
}

/** A workload's fate for one push. */
export interface WorkloadFate {
  readonly workload: WorkloadRef;
  readonly cluster?: string;
  /** The latest accounting fate (a replayed dead letter may end `dead`, then `restarted`). */
  readonly fate: Fate;
  readonly stage: string;
  readonly reason?: string;
  readonly detail?: string;
  /** With `restarted`: from the push to the PATCH's answer. */
  readonly durationMs?: number;
  readonly at: string;
  /** Every accounting fate it had, oldest first. */
  readonly history: readonly Fate[];
  /** How its rollout ended (`rollout-completed`, `rollout-failed`, `rolled-back`), when it did. */
  readonly rollout?: { readonly fate: Fate; readonly at: string; readonly durationMs?: number };
}

/** One push and where it went. */
export interface Push {
  readonly eventId: string;
  /** The event id's source token (`gar:123` → `gar`). */
  readonly source: string;
  readonly image?: string;
  readonly tag?: string;
  readonly digest?: string;
  /** When the registry says it was pushed (the resolver's event fate carries it), if it says. */
  readonly pushedAt?: string;
  /** The first outcome's time: when the console first saw the push concluded anywhere. */
  readonly firstAt: string;
  readonly lastAt: string;
  /** The event fate (`dispatched`, `ignored`, `no-match`, `dead`), once known. */
  readonly fate?: Fate;
  readonly reason?: string;
  readonly detail?: string;
  /** With `dispatched`: restart requests, summed over the clusters that dispatched. */
  readonly requests?: number;
  readonly clusters: readonly string[];
  readonly traceId?: string;
  readonly workloads: readonly WorkloadFate[];
  /** The highest outcome sequence folded in: the order of change. */
  readonly seq: number;
}

const EVENT = new Set<string>(EVENT_FATES);
const ROLLOUT = new Set<string>(ROLLOUT_FATES);

export const workloadKey = (w: WorkloadRef, cluster?: string): string =>
  `${w.kind}/${w.namespace}/${w.name}${cluster === undefined ? '' : `@${cluster}`}`;

/** The source token of an event id: what comes before its first `:`. */
export function sourceOf(eventId: string): string {
  const colon = eventId.indexOf(':');
  return colon > 0 ? eventId.slice(0, colon) : '?';
}

const later = (a: string, b: string): string => (a >= b ? a : b);
const earlier = (a: string, b: string): string => (a <= b ? a : b);

function foldWorkload(previous: WorkloadFate | undefined, record: OutcomeRecord): WorkloadFate {
  const o = record.outcome;
  const workload = o.workload!;
  if (ROLLOUT.has(o.fate)) {
    const rollout = {
      fate: o.fate,
      at: o.at,
      ...(o.durationMs === undefined ? {} : { durationMs: o.durationMs }),
    };
    if (previous !== undefined) return { ...previous, rollout };
    // The rollout's outcome came first (the restart is older than the console's history).
    return {
      workload,
      ...(record.cluster === undefined ? {} : { cluster: record.cluster }),
      fate: 'restarted',
      stage: o.stage,
      at: o.at,
      history: [],
      rollout,
    };
  }
  return {
    workload,
    ...(record.cluster === undefined ? {} : { cluster: record.cluster }),
    fate: o.fate,
    stage: o.stage,
    ...(o.reason === undefined ? {} : { reason: o.reason }),
    ...(o.detail === undefined ? {} : { detail: o.detail }),
    ...(o.durationMs === undefined ? {} : { durationMs: o.durationMs }),
    at: o.at,
    history: [...(previous?.history ?? []), o.fate],
    ...(previous?.rollout === undefined ? {} : { rollout: previous.rollout }),
  };
}

function foldEvent(push: Push, record: OutcomeRecord): Partial<Push> {
  const o = record.outcome;
  if (o.workload !== undefined || !EVENT.has(o.fate)) return {};
  // One dispatched per cluster in a fleet: their requests add up.
  const requests =
    o.fate === 'dispatched' ? (push.fate === 'dispatched' ? (push.requests ?? 0) : 0) : undefined;
  return {
    fate: o.fate,
    ...(o.reason === undefined ? {} : { reason: o.reason }),
    ...(o.detail === undefined ? {} : { detail: o.detail }),
    ...(requests === undefined ? {} : { requests: requests + (o.requests ?? 0) }),
  };
}

/** `push` with `record` folded in; a new push when `push` is undefined. */
export function foldOutcome(push: Push | undefined, record: OutcomeRecord): Push {
  const o = record.outcome;
  const base: Push = push ?? {
    eventId: o.eventId,
    source: sourceOf(o.eventId),
    firstAt: o.at,
    lastAt: o.at,
    clusters: [],
    workloads: [],
    seq: record.seq,
  };
  let workloads = base.workloads;
  if (o.workload !== undefined) {
    const key = workloadKey(o.workload, record.cluster);
    const index = workloads.findIndex((w) => workloadKey(w.workload, w.cluster) === key);
    const next = foldWorkload(index < 0 ? undefined : workloads[index], record);
    workloads = index < 0 ? [...workloads, next] : workloads.with(index, next);
  }
  const { fate, ...event } = foldEvent(base, record);
  return {
    ...base,
    ...(base.image === undefined && o.image !== undefined ? { image: o.image } : {}),
    ...(base.tag === undefined && o.tag !== undefined ? { tag: o.tag } : {}),
    ...(base.digest === undefined && o.digest !== undefined ? { digest: o.digest } : {}),
    ...(base.pushedAt === undefined && o.pushedAt !== undefined ? { pushedAt: o.pushedAt } : {}),
    ...(base.traceId === undefined && record.traceId !== undefined
      ? { traceId: record.traceId }
      : {}),
    // `dead` at a stage after `dispatched` (a restart request's) is a workload's, not the push's.
    ...(fate !== undefined && (base.fate === undefined || fate !== 'dead') ? { fate } : {}),
    ...(fate !== undefined ? event : {}),
    firstAt: earlier(base.firstAt, o.at),
    lastAt: later(base.lastAt, o.at),
    clusters:
      record.cluster === undefined || base.clusters.includes(record.cluster)
        ? base.clusters
        : [...base.clusters, record.cluster],
    workloads,
    seq: Math.max(base.seq, record.seq),
  };
}

/** What the pushes list is narrowed to (every field optional). */
export interface PushFilter {
  /** A substring of the image (`app` finds `europe-docker.pkg.dev/p/r/app`). */
  readonly image?: string;
  /** Pushes that reached a workload in this namespace. */
  readonly namespace?: string;
  /** Pushes whose event fate, or some workload's fate or rollout, is this. */
  readonly fate?: Fate;
  /** Pushes concluded (in part) in this cluster. */
  readonly cluster?: string;
  /** Pushes seen at or after this time. */
  readonly since?: Date;
}

/** A problem with a filter's query parameter, named. */
export class PushFilterError extends Error {
  override readonly name = 'PushFilterError';
}

const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `?image&namespace&fate&cluster&since` (since: `15m`, `2h`, `1d` or an ISO time). */
export function parsePushFilter(query: URLSearchParams, now: Date): PushFilter {
  const value = (name: string): string | undefined => {
    const v = query.get(name)?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const fate = value('fate');
  if (fate !== undefined && !(FATES as readonly string[]).includes(fate)) {
    throw new PushFilterError(`fate must be one of ${FATES.join(', ')}`);
  }
  const sinceText = value('since');
  let since: Date | undefined;
  if (sinceText !== undefined) {
    const relative = DURATION.exec(sinceText);
    since = relative
      ? new Date(now.getTime() - Number(relative[1]) * UNIT_MS[relative[2] as keyof typeof UNIT_MS])
      : new Date(sinceText);
    if (Number.isNaN(since.getTime())) {
      throw new PushFilterError('since must be a duration such as 15m, 2h, 1d or an ISO time');
    }
  }
  const [image, namespace, cluster] = [value('image'), value('namespace'), value('cluster')];
  return {
    ...(image === undefined ? {} : { image }),
    ...(namespace === undefined ? {} : { namespace }),
    ...(fate === undefined ? {} : { fate: fate as Fate }),
    ...(cluster === undefined ? {} : { cluster }),
    ...(since === undefined ? {} : { since }),
  };
}

/** Whether `push` passes `filter`. */
export function matchesPush(push: Push, filter: PushFilter): boolean {
  if (filter.image !== undefined && !(push.image ?? '').includes(filter.image)) return false;
  if (
    filter.namespace !== undefined &&
    !push.workloads.some((w) => w.workload.namespace === filter.namespace)
  ) {
    return false;
  }
  if (
    filter.fate !== undefined &&
    push.fate !== filter.fate &&
    !push.workloads.some((w) => w.fate === filter.fate || w.rollout?.fate === filter.fate)
  ) {
    return false;
  }
  if (filter.cluster !== undefined && !push.clusters.includes(filter.cluster)) return false;
  if (filter.since !== undefined && Date.parse(push.lastAt) < filter.since.getTime()) return false;
  return true;
}
