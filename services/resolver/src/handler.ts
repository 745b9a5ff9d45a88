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
  OnpushError,
} from '@onpush/contracts';
import type { Incoming, Outgoing } from '@onpush/service';
import { ATTR_ONPUSH_IMAGE, ATTR_ONPUSH_MATCHED_WORKLOADS, annotate } from '@onpush/telemetry';
import { workloadKey, type LookupQuery, type Match } from '@onpush/image-index';
import type { Decision, DecisionBook, DispatchedWorkload } from './decisions.js';
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
export class InvalidMessageError extends OnpushError {
  override readonly name = 'InvalidMessageError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, type: 'invalid_message', retryable: false });
  }
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
  /** The first conclusion per event, kept so a redelivery repeats it (decisions.ts). */
  decisions: DecisionBook;
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

/**
 * How many of `workloads` each wave holds, or undefined when none has a wave (the push is then
 * not staged: every request goes at once, as before waves).
 */
export function waveSizes(
  workloads: readonly DispatchedWorkload[],
): Record<string, number> | undefined {
  const sizes: Record<string, number> = {};
  for (const { wave } of workloads) {
    if (wave !== undefined) sizes[String(wave)] = (sizes[String(wave)] ?? 0) + 1;
  }
  return Object.keys(sizes).length === 0 ? undefined : sizes;
}

function restartOf(
  event: ImagePushed,
  match: DispatchedWorkload,
  headers: Record<string, string>,
  observed: ObservedWorkload | undefined,
  sizes: Record<string, number> | undefined,
): Outgoing {
  const { kind, namespace, name, containers, wave } = match;
  const request: RestartRequest = {
    v: 1,
    eventId: event.id,
    ...imageOf(event),
    ...(event.pushedAt !== undefined ? { pushedAt: event.pushedAt } : {}),
    workload: { kind, namespace, name, containers },
    ...(observed !== undefined ? { observed } : {}),
    ...(sizes !== undefined ? { waves: { ...(wave !== undefined ? { wave } : {}), sizes } } : {}),
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

/**
 * The resolver's event fate (`dispatched`, `no-match`, `ignored`), keyed `<event>:resolver`: one
 * key per event and stage, whatever the fate, so two conclusions could never count as two fates.
 */
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
    ...(event.pushedAt !== undefined ? { pushedAt: event.pushedAt } : {}),
    at: at.toISOString(),
  };
  return {
    subject: outcomeSubject(fate),
    data: encode(outcome),
    msgId: `${event.id}:resolver`,
    headers,
  };
}

const repeatDetail = (first: Dispatch): string =>
  `repeats event ${first.eventId}, dispatched to the same workloads ${first.ageMs} ms before`;

/**
 * What the resolver concludes for an event now — the index's answer, unless it is a repeat —
 * recorded (decisions.ts) before anything is published; resolves with the decision that holds.
 *
 * Most pushes are no repeat, and this replica usually knows it (RecentPushes.likelyNew): then
 * `dispatched` is recorded while the claim of the image and tag is made: one round trip, not two
 * or three, on the way to the restart. Should the claim still find a repeat (another replica
 * dispatched the same push a moment before), the recorded decision holds and the requests go out:
 * the restarter finds the workloads already on that digest and ends them `unchanged`. While a claim
 * of the same image and tag is under way in this replica, the next copies take the careful way
 * (claim, then record): their claims, sent after it, find it, so a storm of one push is still
 * dispatched once per replica.
 */
async function decide(deps: HandlerDeps, event: ImagePushed, msg: Incoming): Promise<Decision> {
  if (!deps.canAnswer()) await deps.rebuild();
  const matches = deps.index.lookup(event);
  annotate({ [ATTR_ONPUSH_MATCHED_WORKLOADS]: matches.length });
  if (matches.length === 0) return deps.decisions.settle(event.id, { fate: 'no-match' });
  const workloads = matches.map(({ kind, namespace, name, containers, wave }) => ({
    kind,
    namespace,
    name,
    containers,
    ...(wave !== undefined ? { wave } : {}),
  }));
  const dispatched: Decision = { fate: 'dispatched', workloads };
  const replay = msg.headers[HEADERS.replayOf] !== undefined;
  const recent = replay ? undefined : deps.recent;
  if (recent === undefined) return deps.decisions.settle(event.id, dispatched);
  const keys = matches.map(workloadKey);
  if (recent.likelyNew(event, keys)) {
    const [held] = await Promise.all([
      deps.decisions.settle(event.id, dispatched),
      recent.repeatOf(event, keys),
    ]);
    return held;
  }
  const first = await recent.repeatOf(event, keys);
  return deps.decisions.settle(
    event.id,
    first === undefined
      ? dispatched
      : { fate: 'ignored', reason: 'duplicate_push', detail: repeatDetail(first) },
  );
}

/**
 * `ImagePushed` → one `RestartRequest` per matching workload on `onpush.restart.<namespace>`,
 * then the fate `dispatched` (with the request count), or only the fate `no-match`, or — a repeat of
 * a push just dispatched (repeats.ts) — only `ignored` (`duplicate_push`). When the
 * index cannot be trusted it is rebuilt first (one shared list call); if that fails the error
 * is retryable and the broker redelivers. The decision is recorded before anything is published;
 * a redelivered event publishes the recorded one again (decisions.ts), without asking the index.
 */
export function createHandler(deps: HandlerDeps) {
  const now = deps.now ?? (() => new Date());
  return async (msg: Incoming): Promise<Outgoing[]> => {
    const event = decodeEvent(msg.data);
    annotate({ [ATTR_ONPUSH_IMAGE]: event.image });
    const recorded = msg.deliveryCount > 1 ? await deps.decisions.recall(event.id) : undefined;
    const decision = recorded ?? (await decide(deps, event, msg));
    const headers = derivedHeaders(msg, event.id);
    switch (decision.fate) {
      case 'no-match':
        return [eventOutcome(event, 'no-match', {}, now(), headers)];
      case 'ignored': {
        const { reason, detail } = decision;
        return [eventOutcome(event, 'ignored', { reason, detail }, now(), headers)];
      }
      case 'dispatched': {
        const sizes = waveSizes(decision.workloads);
        const restarts = decision.workloads.map((w) =>
          restartOf(event, w, headers, deps.observe?.(w), sizes),
        );
        const counted = { requests: restarts.length };
        return [...restarts, eventOutcome(event, 'dispatched', counted, now(), headers)];
      }
    }
  };
}
