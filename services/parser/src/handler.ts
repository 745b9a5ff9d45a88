import {
  HEADERS,
  PUSHED,
  encode,
  outcomeSubject,
  subjectTail,
  transportHeaderName,
  type ImagePushed,
  type Outcome,
} from '@onpush/contracts';
import { eventIdOf, type Incoming, type Outgoing } from '@onpush/service';
import { ParseError } from './errors.js';
import { FORMATS, type Format, type Push } from './formats/index.js';

const RAW_PREFIX = 'onpush.raw';

function transportOf(headers: Record<string, string>): Record<string, string> {
  const transport: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    const name = transportHeaderName(key);
    if (name !== undefined) transport[name] = value;
  }
  return transport;
}

const isIso = (value: string | undefined): value is string =>
  value !== undefined && !Number.isNaN(Date.parse(value)) && /T.*(Z|[+-]\d\d:\d\d)$/.test(value);

/** Headers every message derived from the event carries: its id and the trace context. */
function derivedHeaders(msg: Incoming, eventId: string): Record<string, string> {
  const headers: Record<string, string> = { [HEADERS.eventId]: eventId };
  for (const name of [HEADERS.traceparent, HEADERS.tracestate, HEADERS.replayOf]) {
    const value = msg.headers[name];
    if (value) headers[name] = value;
  }
  return headers;
}

function pushedMessage(push: Push, source: string, id: string, receivedAt: string): ImagePushed {
  return {
    v: 1,
    id,
    source,
    image: push.ref.name,
    registry: push.ref.registry,
    repository: push.ref.repository,
    ...(push.ref.tag !== undefined ? { tag: push.ref.tag } : {}),
    ...(push.ref.digest !== undefined ? { digest: push.ref.digest } : {}),
    ...(isIso(push.pushedAt) ? { pushedAt: new Date(push.pushedAt).toISOString() } : {}),
    receivedAt,
  };
}

/**
 * Raw delivery → `ImagePushed` per push (on `onpush.pushed`, Nats-Msg-Id = event id), or the
 * fate `ignored`. A body that cannot be read throws a ParseError: the stage dead-letters it with
 * the original bytes.
 */
export function createHandler(
  formats: Readonly<Record<string, Format>> = FORMATS,
  now = () => new Date(),
) {
  return async (msg: Incoming): Promise<Outgoing[]> => {
    const source = subjectTail(msg.subject, RAW_PREFIX);
    const format = source === undefined ? undefined : formats[source];
    if (source === undefined || format === undefined) {
      throw new ParseError('unknown_source', `no format for subject ${msg.subject}`);
    }
    const eventId = eventIdOf(msg);
    const received = msg.headers[HEADERS.receivedAt];
    const receivedAt = isIso(received) ? received : now().toISOString();
    const result = format({ data: msg.data, transport: transportOf(msg.headers) });
    if (result.kind === 'ignored') {
      const outcome: Outcome = {
        v: 1,
        eventId,
        fate: 'ignored',
        stage: 'parser',
        reason: result.reason,
        detail: result.detail,
        at: now().toISOString(),
      };
      return [
        {
          subject: outcomeSubject('ignored'),
          data: encode(outcome),
          msgId: `${eventId}:ignored`,
          headers: derivedHeaders(msg, eventId),
        },
      ];
    }
    return result.pushes.map((push) => {
      const id = push.key === '' ? eventId : `${eventId}#${push.key}`;
      return {
        subject: PUSHED,
        data: encode(pushedMessage(push, source, id, receivedAt)),
        msgId: id,
        headers: derivedHeaders(msg, id),
      };
    });
  };
}
