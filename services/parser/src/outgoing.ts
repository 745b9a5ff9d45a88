// The messages the parser publishes for one raw delivery: an `ImagePushed` per push, or the fate
// `ignored`. Every one carries the event id and the trace context of the delivery.
import {
  HEADERS,
  ImagePushedSchema,
  PUSHED,
  decode,
  encode,
  outcomeSubject,
  type ImagePushed,
  type Outcome,
} from '@onpush/contracts';
import type { Incoming, Outgoing } from '@onpush/service';
import { ParseError } from './errors.js';
import type { Push } from './formats/index.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)$/i;
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(9999, 11, 31);

/**
 * How far after its receipt a sender may say a push happened (clocks differ): a later `pushedAt`
 * is clamped to the receipt plus this, so a forged far-future time cannot make every later push
 * of the image look superseded.
 */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

/** `pushedAt` no later than `receivedAt` + MAX_CLOCK_SKEW_MS (both ISO 8601). */
export function clampPushedAt(pushedAt: string, receivedAt: string): string {
  const latest = Date.parse(receivedAt) + MAX_CLOCK_SKEW_MS;
  return Date.parse(pushedAt) > latest ? new Date(latest).toISOString() : pushedAt;
}

/** An ISO 8601 time with a zone, as ISO with milliseconds in UTC; undefined otherwise. */
export function isoTime(value: string | undefined): string | undefined {
  if (value === undefined || !ISO.test(value.trim())) return undefined;
  const ms = Date.parse(value.trim());
  return Number.isNaN(ms) || ms < EARLIEST || ms > LATEST ? undefined : new Date(ms).toISOString();
}

/** Headers every message derived from the event carries: its id and the trace context. */
export function derivedHeaders(msg: Incoming, eventId: string): Record<string, string> {
  const headers: Record<string, string> = { [HEADERS.eventId]: eventId };
  for (const name of [HEADERS.traceparent, HEADERS.tracestate, HEADERS.replayOf]) {
    const value = msg.headers[name];
    if (value) headers[name] = value;
  }
  return headers;
}

export interface PushContext {
  msg: Incoming;
  source: string;
  eventId: string;
  receivedAt: string;
}

/** `<eventId>` for a single push, `<eventId>#<key>` for one of a batch. */
export const pushId = (eventId: string, key: string): string =>
  key === '' ? eventId : `${eventId}#${key}`;

/** The `ImagePushed` of one push, checked against its contract (a ParseError if it breaks it). */
export function imagePushed(push: Push, context: PushContext): ImagePushed {
  const sent = isoTime(push.pushedAt);
  const pushedAt = sent === undefined ? undefined : clampPushedAt(sent, context.receivedAt);
  const message: ImagePushed = {
    v: 1,
    id: pushId(context.eventId, push.key),
    source: context.source,
    image: push.ref.name,
    registry: push.ref.registry,
    repository: push.ref.repository,
    ...(push.ref.tag !== undefined ? { tag: push.ref.tag } : {}),
    ...(push.ref.digest !== undefined ? { digest: push.ref.digest } : {}),
    ...(pushedAt !== undefined ? { pushedAt } : {}),
    receivedAt: context.receivedAt,
  };
  const checked = decode(ImagePushedSchema, message, 'ImagePushed');
  if (!checked.ok) {
    throw new ParseError('invalid_reference', checked.error.message, { cause: checked.error });
  }
  return checked.value;
}

export function pushedOutgoing(message: ImagePushed, msg: Incoming): Outgoing {
  return {
    subject: PUSHED,
    data: encode(message),
    msgId: message.id,
    headers: derivedHeaders(msg, message.id),
  };
}

export function ignoredOutgoing(
  msg: Incoming,
  eventId: string,
  result: { reason: string; detail: string },
  at: Date,
): Outgoing {
  const outcome: Outcome = {
    v: 1,
    eventId,
    fate: 'ignored',
    stage: 'parser',
    reason: result.reason,
    detail: result.detail,
    at: at.toISOString(),
  };
  return {
    subject: outcomeSubject('ignored'),
    data: encode(outcome),
    msgId: `${eventId}:ignored`,
    headers: derivedHeaders(msg, eventId),
  };
}
