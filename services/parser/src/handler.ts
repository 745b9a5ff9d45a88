import { HEADERS, TOPOLOGY, subjectTail, transportHeaderName } from '@onpush/contracts';
import { deadLetterFor, eventIdOf, type Incoming, type Outgoing } from '@onpush/service';
import type { Logger } from '@onpush/telemetry';
import { boundPush } from './binding.js';
import { ParseError } from './errors.js';
import {
  FORMATS,
  combined,
  type Delivery,
  type Format,
  type Push,
  type Rejected,
} from './formats/index.js';
import type { ParserMetrics } from './metrics.js';
import {
  ignoredOutgoing,
  imagePushed,
  isoTime,
  pushedOutgoing,
  type PushContext,
} from './outgoing.js';

const RAW_PREFIX = 'onpush.raw';

export interface HandlerOptions {
  formats?: Readonly<Record<string, Format>>;
  now?: () => Date;
  log?: Logger;
  metrics?: ParserMetrics;
}

/** What a format reads of a raw message: the bytes, transport headers and endpoint settings. */
export function deliveryOf(msg: Incoming): Delivery {
  const transport: Record<string, string> = {};
  for (const [key, value] of Object.entries(msg.headers)) {
    const name = transportHeaderName(key);
    if (name !== undefined) transport[name] = value;
  }
  const host = msg.headers[HEADERS.registryHost]?.trim();
  const contentType = msg.headers[HEADERS.contentType]?.trim();
  return {
    data: msg.data,
    transport,
    ...(host ? { registryHost: host } : {}),
    ...(contentType ? { contentType } : {}),
  };
}

function formatOf(formats: Readonly<Record<string, Format>>, subject: string) {
  const source = subjectTail(subject, RAW_PREFIX);
  if (source === undefined || !Object.hasOwn(formats, source)) {
    throw new ParseError('unknown_source', `no format for subject ${subject.slice(0, 200)}`);
  }
  return { source, format: formats[source]! };
}

/**
 * Raw delivery → `ImagePushed` per push (on `onpush.pushed`, Nats-Msg-Id = its id), or the fate
 * `ignored`. A body that cannot be read throws a ParseError: the stage dead-letters it with the
 * original bytes. A batch with valid pushes and malformed entries publishes the pushes and one
 * dead letter of the whole delivery naming the malformed entries (see README).
 */
export function createHandler(options: HandlerOptions = {}) {
  const formats = options.formats ?? FORMATS;
  const now = options.now ?? (() => new Date());
  return async (msg: Incoming): Promise<Outgoing[]> => {
    const { source, format } = formatOf(formats, msg.subject);
    const eventId = eventIdOf(msg);
    const result = format(deliveryOf(msg));
    if (result.kind === 'ignored') {
      options.metrics?.results.inc({ source, result: 'ignored' });
      return [ignoredOutgoing(msg, eventId, result, now())];
    }
    const receivedAt = isoTime(msg.headers[HEADERS.receivedAt]) ?? now().toISOString();
    const context: PushContext = { msg, source, eventId, receivedAt };
    const { published, rejected } = checkPushes(result.pushes, result.rejected ?? [], context);
    if (published.length === 0) throw combined(rejected, rejected.length);
    report(options, context, result.pushes, published.length, rejected);
    if (rejected.length === 0) return published;
    return [...published, ...partialDeadLetter(msg, rejected, published.length)];
  };
}

/**
 * Pushes as checked `ImagePushed` messages, as the endpoint's configuration binds them
 * (binding.ts); one that breaks the contract or the binding joins `rejected`.
 */
function checkPushes(pushes: readonly Push[], rejected: readonly Rejected[], context: PushContext) {
  const published: Outgoing[] = [];
  const all = [...rejected];
  for (const push of pushes) {
    try {
      const bound = boundPush(push, context.msg);
      published.push(pushedOutgoing(imagePushed(bound, context), context.msg));
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      all.push({ key: push.key, error });
    }
  }
  return { published, rejected: all };
}

function report(
  options: HandlerOptions,
  { source, eventId }: PushContext,
  pushes: readonly Push[],
  published: number,
  rejected: readonly Rejected[],
): void {
  for (const push of pushes) {
    if (push.droppedDigest === undefined) continue;
    options.metrics?.droppedDigests.inc({ source });
    options.log?.info('malformed digest dropped; the tag still names the image', {
      eventId,
      key: push.key,
      digest: push.droppedDigest.slice(0, 200),
    });
  }
  options.metrics?.results.inc({ source, result: 'pushed' }, published);
  if (rejected.length === 0) return;
  options.metrics?.results.inc({ source, result: 'rejected' }, rejected.length);
  options.log?.warn('malformed batch entries dead-lettered beside the published pushes', {
    eventId,
    entries: rejected
      .slice(0, 20)
      .map((r) => ({ key: r.key, type: r.error.type, error: r.error.message })),
  });
}

/** One dead letter of the whole delivery, naming the entries that could not be read. */
function partialDeadLetter(
  msg: Incoming,
  rejected: readonly Rejected[],
  published: number,
): Outgoing[] {
  const listed = rejected
    .slice(0, 10)
    .map((r) => `#${r.key}: ${r.error.message}`)
    .join('; ');
  const more = rejected.length > 10 ? `; and ${rejected.length - 10} more` : '';
  const failure = {
    type: rejected[0]!.error.type,
    message: `${rejected.length} malformed entries (${published} pushes were published): ${listed}${more}`,
    retryable: false,
  };
  return deadLetterFor('parser', msg, failure, TOPOLOGY.consumers.parser.stream);
}
