import {
  HEADERS,
  encode,
  outcomeSubject,
  parseImagePushed,
  restartSubject,
  type ImagePushed,
  type ObservedWorkload,
  type Outcome,
  type RestartRequest,
} from '@onpush/contracts';
import type { Incoming, Outgoing } from '@onpush/service';
import { ATTR_ONPUSH_IMAGE, ATTR_ONPUSH_MATCHED_WORKLOADS, annotate } from '@onpush/telemetry';
import { workloadKey, type LookupQuery, type Match } from './index-store.js';
import type { Dispatch, RecentPushes } from './repeats.js';

/**
 * Headers that name the workload of a restart request, so a dead letter (and its `dead` outcome)
 * can name it. @onpush/contracts' HEADERS has no constants for them yet; the names are the ones
 * @onpush/service's dead-letter code reads.
 */
export const WORKLOAD_HEADERS = {
  kind: HEADERS.workloadKind,
  namespace: HEADERS.workloadNamespace,
  name: HEADERS.workloadName,
} as const;

/** An `onpush.pushed` message that breaks its contract. Never retryable. */
export class InvalidMessageError extends Error {
  override readonly name = 'InvalidMessageError';
  readonly type = 'invalid_message';
  readonly retryable = false;
}

export interface HandlerDeps {
  index: { lookup(query: LookupQuery): Match[] };
  /** True when the index can be trusted as it is (watch synced or snapshot loaded, watch not broken). */
  canAnswer: () => boolean;
  /** One list call, shared and rate-limited; throws a retryable error when it fails. */
  rebuild: () => Promise<void>;
  /**
   * The workload as the watch last saw it, carried in the request so the restarter can PATCH
   * without a GET; undefined (a snapshot answer, a workload not watched yet): the restarter reads.
   */
  observe?: (match: Match) => ObservedWorkload | undefined;
  /** Repeats of a push dispatched moments ago end `ignored` (repeats.ts); unset: never. */
  recent?: RecentPushes;
  now?: () => Date;
}

function decodeEvent(data: Uint8Array): ImagePushed {
  try {
    return parseImagePushed(data);
  } catch (cause) {
    throw new InvalidMessageError((cause as Error).message, { cause });
  }
}

/** The event id and the trace context, carried by everything derived from the event. */
function derivedHeaders(msg: Incoming, eventId: string): Record<string, string> {
  const headers: Record<string, string> = { [HEADERS.eventId]: eventId };
  for (const name of [HEADERS.traceparent, HEADERS.tracestate, HEADERS.replayOf]) {
    const value = msg.headers[name];
    if (value) headers[name] = value;
  }
  return headers;
}

/** The image fields of the event, as restart requests and outcomes repeat them. */
function imageOf(event: ImagePushed): Pick<RestartRequest, 'image' | 'tag' | 'digest'> {
  return {
    image: event.image,
    ...(event.tag !== undefined ? { tag: event.tag } : {}),
    ...(event.digest !== undefined ? { digest: event.digest } : {}),
  };
}

function restartOf(
  event: ImagePushed,
  match: Match,
  headers: Record<string, string>,
  observed: ObservedWorkload | undefined,
): Outgoing {
  const { kind, namespace, name, containers } = match;
  const request: RestartRequest = {
    v: 1,
    eventId: event.id,
    ...imageOf(event),
    ...(event.pushedAt !== undefined ? { pushedAt: event.pushedAt } : {}),
    workload: { kind, namespace, name, containers },
    ...(observed !== undefined ? { observed } : {}),
  };
  return {
    subject: restartSubject(namespace),
    data: encode(request),
    msgId: `${event.id}:${kind}/${namespace}/${name}`,
    headers: {
      ...headers,
      [WORKLOAD_HEADERS.kind]: kind,
      [WORKLOAD_HEADERS.namespace]: namespace,
      [WORKLOAD_HEADERS.name]: name,
    },
  };
}

/** An event fate of the resolver (`dispatched`, `no-match`, `ignored`), keyed `<event>:<fate>`. */
function eventOutcome(
  event: ImagePushed,
  fate: 'dispatched' | 'no-match' | 'ignored',
  extra: Pick<Outcome, 'requests' | 'reason' | 'detail'>,
  at: Date,
  headers: Record<string, string>,
): Outgoing {
  const outcome: Outcome = {
    v: 1,
    eventId: event.id,
    fate,
    stage: 'resolver',
    ...imageOf(event),
    ...extra,
    at: at.toISOString(),
  };
  return {
    subject: outcomeSubject(fate),
    data: encode(outcome),
    msgId: `${event.id}:${fate}`,
    headers,
  };
}

const repeatDetail = (first: Dispatch): string =>
  `repeats event ${first.eventId}, dispatched to the same workloads ${first.ageMs} ms before`;

/**
 * `ImagePushed` → one `RestartRequest` per matching workload on `onpush.restart.<namespace>`,
 * then the fate `dispatched` (with the request count), or only the fate `no-match`, or — a repeat of
 * a push just dispatched (repeats.ts) — only `ignored` (`duplicate_push`). When the
 * index cannot be trusted it is rebuilt first (one shared list call); if that fails the error
 * is retryable and the broker redelivers.
 */
export function createHandler(deps: HandlerDeps) {
  const now = deps.now ?? (() => new Date());
  return async (msg: Incoming): Promise<Outgoing[]> => {
    const event = decodeEvent(msg.data);
    if (!deps.canAnswer()) await deps.rebuild();
    const matches = deps.index.lookup(event);
    annotate({ [ATTR_ONPUSH_IMAGE]: event.image, [ATTR_ONPUSH_MATCHED_WORKLOADS]: matches.length });
    const headers = derivedHeaders(msg, event.id);
    const replay = msg.headers[HEADERS.replayOf] !== undefined;
    const first =
      matches.length > 0 && !replay
        ? deps.recent?.repeatOf(event, matches.map(workloadKey))
        : undefined;
    if (first !== undefined) {
      const repeat = { reason: 'duplicate_push', detail: repeatDetail(first) };
      return [eventOutcome(event, 'ignored', repeat, now(), headers)];
    }
    const restarts = matches.map((match) =>
      restartOf(event, match, headers, deps.observe?.(match)),
    );
    const fate = restarts.length > 0 ? 'dispatched' : 'no-match';
    const counted = restarts.length > 0 ? { requests: restarts.length } : {};
    return [...restarts, eventOutcome(event, fate, counted, now(), headers)];
  };
}
