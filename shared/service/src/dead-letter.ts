import {
  HEADERS,
  deadSubject,
  encode,
  outcomeSubject,
  toPayload,
  type DeadLetter,
  type Outcome,
  type Stage,
} from '@onpush/contracts';
import type { FailureInfo, Incoming, Outgoing } from './message-machine.js';

const REASON = /^[a-z][a-z0-9_]{0,63}$/;

/** The trace id of a W3C `traceparent` (version 00), or undefined. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  return /^00-([0-9a-f]{32})-/.exec(traceparent ?? '')?.[1];
}

/**
 * What publishing `letter` means: the dead letter, keyed by its id, and the `dead` outcome that
 * accounts for its event (`<id>:outcome`, at its last failure, naming `workload` when given),
 * both carrying the event id. Keyed so, a retried dead-lettering stores each once.
 */
export function deadLetterMessages(
  letter: DeadLetter,
  eventId: string,
  workload?: Outcome['workload'],
): Outgoing[] {
  const outcome: Outcome = {
    v: 1,
    eventId,
    fate: 'dead',
    stage: letter.stage,
    reason: letter.reason,
    detail: letter.error.slice(0, 500),
    at: letter.lastFailedAt,
    ...(workload ? { workload } : {}),
  };
  const headers = { [HEADERS.eventId]: eventId };
  const key = letter.id;
  return [
    { subject: deadSubject(letter.stage), data: encode(letter), msgId: key, headers },
    { subject: outcomeSubject('dead'), data: encode(outcome), msgId: `${key}:outcome`, headers },
  ];
}

/** The event a message belongs to: its header, else its own de-duplication key. */
export function eventIdOf(msg: Incoming): string {
  return msg.headers[HEADERS.eventId] ?? msg.headers[HEADERS.msgId] ?? `seq-${msg.seq}`;
}

/**
 * The key of the dead letter of message `seq` of `stream` given up by `stage`: its Nats-Msg-Id
 * and its id. The dlq-manager writes the same key from a max-deliveries advisory, so a message
 * dead-lettered by its stage and by the advisory is stored once (within the duplicate window).
 */
export function deadLetterKey(stage: Stage, stream: string, seq: number): string {
  return `dead:${stage}:${stream}:${seq}`;
}

/**
 * When the message first failed: its first delivery, bounded below by when the stream stored
 * it; on a first delivery, now. (A redelivered message failed first at its first delivery.)
 */
export function firstFailedAt(msg: Incoming, now: Date): Date {
  if (msg.deliveryCount <= 1 || msg.storedAt === undefined) return now;
  return msg.storedAt.getTime() < now.getTime() ? msg.storedAt : now;
}

/**
 * The dead letter for a message this stage gives up on, and the `dead` outcome that accounts for
 * it, both keyed by the failed message's stream sequence so a retried dead-lettering stores once.
 */
export function deadLetterFor(
  stage: Stage,
  msg: Incoming,
  failure: FailureInfo,
  stream: string,
  now = new Date(),
): Outgoing[] {
  const at = now.toISOString();
  const gaveUp = failure.retryable;
  const reason = REASON.test(failure.type) ? failure.type : 'internal_error';
  const traceId = traceIdOf(msg.headers[HEADERS.traceparent]);
  const key = deadLetterKey(stage, stream, msg.seq);
  const letter: DeadLetter = {
    v: 1,
    id: key,
    stage,
    reason: gaveUp ? 'max_deliveries' : reason,
    error: gaveUp
      ? `gave up after ${msg.deliveryCount} attempts: [${reason}] ${failure.message}`
      : failure.message,
    attempts: msg.deliveryCount,
    subject: msg.subject,
    headers: msg.headers,
    payload: toPayload(msg.data),
    firstFailedAt: firstFailedAt(msg, now).toISOString(),
    lastFailedAt: at,
    ...(traceId ? { traceId } : {}),
    ...(msg.headers[HEADERS.replayOf] ? { replayOf: msg.headers[HEADERS.replayOf] } : {}),
  };
  return deadLetterMessages(letter, eventIdOf(msg), workloadOf(msg));
}

/** A restart request names its workload in headers, so its dead outcome can too. */
function workloadOf(msg: Incoming): Outcome['workload'] {
  const kind = msg.headers[HEADERS.workloadKind];
  const namespace = msg.headers[HEADERS.workloadNamespace];
  const name = msg.headers[HEADERS.workloadName];
  if (!kind || !namespace || !name) return undefined;
  return { kind: kind as NonNullable<Outcome['workload']>['kind'], namespace, name };
}
