// Dead letters that fit the broker. A message the stream took can still have a dead letter the
// stream refuses: the letter carries the payload in base64 (a third larger) beside the headers,
// so a body near the server's max_payload makes a letter over it. Such a letter is cut to fit —
// the first bytes of the payload, the original's size and SHA-256, and why — rather than failing
// to be stored, retried forever and never concluded.
import { createHash } from 'node:crypto';
import {
  DeadLetterSchema,
  HEADERS,
  decode,
  encode,
  payloadBytes,
  toPayload,
  type DeadLetter,
} from '@onpush/contracts';
import { dedupId } from '@onpush/nats';
import type { Outgoing } from './message-machine.js';

const DEAD_PREFIX = 'onpush.dead.';

/**
 * Room kept beside a letter's own headers for what publishing adds (trace context: a
 * `traceparent`, and a `tracestate` of at most 512 characters; a fleet cluster's name, in the
 * `Onpush-Cluster` header and the Nats-Msg-Id).
 */
export const PUBLISH_HEADROOM = 2_048;

/** A cut letter's error text keeps at most this many characters. */
const MAX_ERROR_CHARS = 4_096;

/** The headers a cut letter keeps before any other: what identifies and traces its event. */
const KEPT_FIRST: readonly string[] = [
  HEADERS.eventId,
  HEADERS.source,
  HEADERS.receivedAt,
  HEADERS.endpoint,
  HEADERS.replayOf,
  HEADERS.traceparent,
  HEADERS.contentType,
  HEADERS.workloadKind,
  HEADERS.workloadNamespace,
  HEADERS.workloadName,
];

/** The size of NATS headers on the wire: `NATS/1.0\r\n`, `name: value\r\n` each, `\r\n`. */
export function natsHeaderBytes(headers: Readonly<Record<string, string>>): number {
  let size = 'NATS/1.0\r\n\r\n'.length;
  for (const [name, value] of Object.entries(headers))
    size += Buffer.byteLength(name) + Buffer.byteLength(value) + 4;
  return size;
}

/** What one outgoing message takes of max_payload: its data, its headers and its Nats-Msg-Id. */
export function wireBytes(out: Outgoing): number {
  const headers = { ...out.headers, [HEADERS.msgId]: dedupId(out.subject, out.msgId) };
  return out.data.byteLength + natsHeaderBytes(headers) + PUBLISH_HEADROOM;
}

const sizeOf = (letter: DeadLetter): number => encode(letter).byteLength;

function capped(text: string, chars: number): string {
  return text.length <= chars ? text : `${text.slice(0, chars)}… (cut)`;
}

/** The letter's headers, those of KEPT_FIRST only, or none: the first that leaves `room`. */
function fewerHeaders(letter: DeadLetter, fits: (l: DeadLetter) => boolean): DeadLetter {
  if (fits(letter)) return letter;
  const essential: DeadLetter['headers'] = {};
  for (const [name, value] of Object.entries(letter.headers)) {
    if (KEPT_FIRST.some((kept) => kept.toLowerCase() === name.toLowerCase()))
      essential[name] = value;
  }
  const some = { ...letter, headers: essential };
  if (fits(some)) return some;
  return { ...letter, headers: {}, error: capped(letter.error, 200) };
}

/**
 * `letter` as it fits in `budget` bytes of JSON: unchanged when it does; otherwise with the
 * longest prefix of its payload that fits, the error text capped, only the headers that identify
 * its event when all of them do not fit, and `truncated` saying what was cut and why. A letter
 * already cut keeps its original's size and digest. When not even an empty payload fits (a
 * server configured with a tiny max_payload), the smallest letter is returned as it is.
 */
export function fitDeadLetter(letter: DeadLetter, budget: number, maxPayload: number): DeadLetter {
  const size = sizeOf(letter);
  if (size <= budget) return letter;
  const original = payloadBytes(letter);
  const was = letter.truncated;
  const headerCount = Object.keys(letter.headers).length;
  const base: DeadLetter = {
    ...letter,
    error: capped(letter.error, MAX_ERROR_CHARS),
    payload: '',
    truncated: {
      originalBytes: was?.originalBytes ?? original.byteLength,
      sha256: was?.sha256 ?? createHash('sha256').update(original).digest('hex'),
      // The most digits it can take, so the final letter is never larger than measured.
      keptBytes: original.byteLength,
      droppedHeaders: headerCount,
      reason:
        `the dead letter (${size} bytes) would exceed the NATS server's max_payload of ` +
        `${maxPayload} bytes`,
    },
  };
  const trimmed = fewerHeaders(base, (l) => sizeOf(l) <= budget);
  const room = Math.max(0, budget - sizeOf(trimmed));
  const kept = Math.min(original.byteLength, Math.floor(room / 4) * 3);
  const dropped = was?.droppedHeaders ?? 0;
  return {
    ...trimmed,
    payload: toPayload(original.subarray(0, kept)),
    truncated: {
      ...trimmed.truncated!,
      keptBytes: kept,
      droppedHeaders: dropped + headerCount - Object.keys(trimmed.headers).length,
    },
  };
}

/**
 * Every dead letter among `outgoing` that would not fit `maxPayload` (data, headers and the room
 * publishing adds), cut to fit (`fitDeadLetter`); everything else as it is. Unknown
 * `maxPayload` (not connected yet): unchanged.
 */
export function fitDeadLetters(
  outgoing: readonly Outgoing[],
  maxPayload: number | undefined,
): Outgoing[] {
  if (maxPayload === undefined) return [...outgoing];
  return outgoing.map((out) => {
    if (!out.subject.startsWith(DEAD_PREFIX) || wireBytes(out) <= maxPayload) return out;
    const decoded = decode(DeadLetterSchema, out.data, 'DeadLetter');
    if (!decoded.ok) return out;
    const budget = maxPayload - (wireBytes(out) - out.data.byteLength);
    return { ...out, data: encode(fitDeadLetter(decoded.value, budget, maxPayload)) };
  });
}
