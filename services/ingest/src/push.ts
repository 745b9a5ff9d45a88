import { OnpushError } from '@onpush/contracts';
import type { IncomingMessage } from 'node:http';
import type { Publish } from '@onpush/nats';
import { sendJson, type Route } from '@onpush/service';
import type { Logger } from '@onpush/telemetry';
import { DeliveryError, acceptGarDelivery, garEventId, type GarDelivery } from './handler.js';
import {
  BodyBudget,
  DEFAULT_BODY_LIMITS,
  answerAfterBody,
  readBody,
  refusalReply,
} from './body.js';
import { storeOversized } from './dead-letter.js';
import { countStored, type IngestMetrics } from './metrics.js';
import { PayloadTooLargeError } from './payload-limit.js';
import { brokerDeduplicates, type RepeatMemory } from './repeats.js';
import { bindingHeaders } from './webhooks/delivery.js';
import type { Endpoint } from './webhooks/endpoints.js';
import { isJsonType, mediaType } from './webhooks/request.js';

/** Where Pub/Sub push subscriptions (and a GCR webhook relay) deliver. */
export const PUSH_PATHS: readonly string[] = ['/pubsub/push', '/webhooks/gcr'];

export type EnvelopeErrorType =
  | 'invalid_json'
  | 'missing_message'
  | 'missing_message_id'
  | 'invalid_data'
  | 'invalid_attributes';

/** A push body that is not a Pub/Sub envelope. Never retryable: it enters nothing (400). */
export class EnvelopeError extends OnpushError<EnvelopeErrorType> {
  override readonly name = 'EnvelopeError';
  constructor(type: EnvelopeErrorType, message: string) {
    super(message, { type, retryable: false });
  }
}

// Standard or URL-safe alphabet, padding optional (proto3 JSON accepts both); no whitespace.
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function decodeData(data: unknown): Uint8Array {
  if (data === undefined || data === null) return new Uint8Array(0);
  const unpadded = typeof data === 'string' ? data.replace(/=+$/, '') : '';
  const padded = typeof data === 'string' && data.length !== unpadded.length;
  if (
    typeof data !== 'string' ||
    !BASE64.test(data) ||
    unpadded.length % 4 === 1 ||
    (padded && data.length % 4 !== 0)
  ) {
    throw new EnvelopeError('invalid_data', 'message.data must be a base64 string');
  }
  return Buffer.from(data, 'base64');
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function attributesOf(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw new EnvelopeError('invalid_attributes', 'message.attributes must map names to strings');
  }
  return value as Record<string, string>;
}

function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)) as unknown;
  } catch {
    throw new EnvelopeError('invalid_json', 'body is not JSON');
  }
}

/**
 * A Pub/Sub push envelope `{message: {data, messageId|message_id, publishTime|publish_time,
 * attributes}, subscription}` as a delivery; throws EnvelopeError when it is not one.
 */
export function parseEnvelope(body: Uint8Array): GarDelivery {
  const envelope = parseJson(body);
  const message = isObject(envelope) ? envelope['message'] : undefined;
  if (!isObject(envelope) || !isObject(message))
    throw new EnvelopeError('missing_message', 'body has no message object');
  const messageId = message['messageId'] ?? message['message_id'];
  if (typeof messageId !== 'string' || !/^[\x21-\x7e]{1,256}$/.test(messageId)) {
    throw new EnvelopeError(
      'missing_message_id',
      'message.messageId must be a non-empty printable string',
    );
  }
  const publishTime = message['publishTime'] ?? message['publish_time'];
  const subscription = envelope['subscription'];
  return {
    data: decodeData(message['data']),
    messageId,
    publishTime: typeof publishTime === 'string' ? publishTime : undefined,
    attributes: attributesOf(message['attributes']),
    via: 'push',
    subscription: typeof subscription === 'string' ? subscription : undefined,
  };
}

export interface PushOptions {
  publish: Publish;
  maxBodyBytes: number;
  metrics: IngestMetrics;
  log: Logger;
  /** Registers a request in flight, so drain can wait for it. */
  track?: (task: Promise<unknown>) => void;
  now?: () => Date;
  /** The deliveries stored in the last day: the same message again is answered, not stored. */
  repeats?: RepeatMemory | undefined;
  /** What request bodies ingest may hold and read at once (default DEFAULT_BODY_LIMITS). */
  bodies?: BodyBudget;
}

/** What to answer a push request. */
export interface PushReply {
  status: number;
  /** `limit`: with a 413, the largest size in bytes (of the body, or of the message data). */
  body?: { error: string; message: string; limit?: number };
  headers?: Record<string, string>;
}

function rejected(
  options: PushOptions,
  status: number,
  error: string,
  message: string,
  limit?: number,
): PushReply {
  options.metrics.deliveries.inc({ via: 'push', result: 'rejected' });
  return { status, body: { error, message, ...(limit !== undefined ? { limit } : {}) } };
}

/** 413 for a message the NATS server would not accept, naming the limit (the sender knows). */
export function tooLargeReply(error: PayloadTooLargeError): {
  error: 'payload_too_large';
  message: string;
  limit: number;
} {
  return {
    error: 'payload_too_large',
    message: `not stored: ${error.message}; at most ${error.dataLimit} bytes fit with these headers`,
    limit: error.dataLimit,
  };
}

/**
 * A message larger than the NATS server accepts would be refused forever (Pub/Sub push retries
 * any non-2xx): it becomes a dead letter (`payload_too_large`, its data cut) and a `dead`
 * outcome, and is answered 204 once both are stored; 503 when they were not.
 */
async function deadLetterPushed(
  delivery: GarDelivery,
  error: PayloadTooLargeError,
  options: PushOptions,
): Promise<PushReply> {
  try {
    await storeOversized(options.publish, delivery, error, (options.now ?? (() => new Date()))());
  } catch (failure) {
    options.metrics.deliveries.inc({ via: 'push', result: 'failed' });
    options.log.warn('dead letter of a push too large for JetStream not stored; answering 503', {
      messageId: delivery.messageId,
      error: failure,
    });
    return unavailable();
  }
  options.metrics.deliveries.inc({ via: 'push', result: 'dead' });
  options.log.warn('push too large for JetStream; dead-lettered and answered 204', {
    messageId: delivery.messageId,
    error: error.message,
  });
  return { status: 204 };
}

const unavailable = (): PushReply => ({
  status: 503,
  body: { error: 'unavailable', message: 'the delivery could not be stored; retry later' },
  headers: { 'retry-after': '5' },
});

/**
 * Stores the Pub/Sub message of a push envelope body: 204 once JetStream stored it (or, for a
 * message larger than the NATS server accepts, its dead letter), 400 when the body is not an
 * envelope, 503 when JetStream did not store it (Pub/Sub retries).
 * `endpoint`: the named webhook endpoint it came in on, when it did.
 */
export async function storeEnvelope(
  body: Buffer,
  options: PushOptions,
  endpoint?: Pick<Endpoint, 'name' | 'registryHost' | 'repositories'>,
): Promise<PushReply> {
  const started = performance.now();
  let delivery: GarDelivery;
  try {
    delivery = {
      ...parseEnvelope(body),
      ...(endpoint ? { endpoint: endpoint.name, binding: bindingHeaders(endpoint) } : {}),
    };
  } catch (error) {
    if (!(error instanceof EnvelopeError)) throw error;
    return rejected(options, 400, error.type, error.message);
  }
  try {
    const key = garEventId(delivery.messageId);
    const now = options.now?.() ?? new Date();
    const read = !brokerDeduplicates(delivery.publishTime, now);
    if (read && (await options.repeats?.seen(key)) !== undefined) {
      options.metrics.deliveries.inc({ via: 'push', result: 'duplicate' });
      return { status: 204 };
    }
    const published = await acceptGarDelivery(
      options.publish,
      delivery,
      options.now ? { now: options.now } : {},
    );
    await options.repeats?.remember(key, key).catch((error: unknown) => {
      options.log.warn('could not remember a stored push; a replay may be stored again', {
        error,
      });
    });
    countStored(options.metrics, 'push', published, (performance.now() - started) / 1000);
  } catch (error) {
    if (error instanceof DeliveryError) return rejected(options, 400, error.type, error.message);
    if (error instanceof PayloadTooLargeError) return deadLetterPushed(delivery, error, options);
    options.metrics.deliveries.inc({ via: 'push', result: 'failed' });
    options.log.warn('push delivery not stored; answering 503 so Pub/Sub retries', {
      messageId: delivery.messageId,
      error,
    });
    return unavailable();
  }
  return { status: 204 };
}

async function handlePush(
  req: IncomingMessage,
  options: PushOptions,
  bodies: BodyBudget,
): Promise<PushReply> {
  if (!isJsonType(mediaType(req.headers)))
    return rejected(
      options,
      415,
      'unsupported_media_type',
      'expected Content-Type: application/json',
    );
  const limit = { bytes: options.maxBodyBytes, what: 'MAX_BODY_BYTES' };
  const read = await readBody(req, limit, bodies);
  if ('refused' in read) {
    options.metrics.deliveries.inc({ via: 'push', result: 'rejected' });
    return refusalReply(read.refused);
  }
  try {
    return await storeEnvelope(read.body, options);
  } finally {
    read.done();
  }
}

/**
 * `POST /pubsub/push` and `POST /webhooks/gcr`: a Pub/Sub push envelope. 204 once JetStream
 * stored the message (or the dead letter of a message over the server's max_payload); 503 when
 * it could not, or when ingest holds as many bodies as it may (Pub/Sub retries any non-2xx);
 * 400/413/415 for a body that enters nothing (413: over MAX_BODY_BYTES or MAX_BUFFERED_BYTES).
 */
export function pushRoute(options: PushOptions): Route {
  const bodies = options.bodies ?? new BodyBudget(DEFAULT_BODY_LIMITS);
  return async (req, res, url) => {
    if (!PUSH_PATHS.includes(url.pathname)) return false;
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      sendJson(res, 405, { error: 'method_not_allowed', message: `use POST ${url.pathname}` });
      return true;
    }
    const task = handlePush(req, options, bodies).then((reply) =>
      answerAfterBody(req, res, reply, bodies),
    );
    options.track?.(task);
    await task;
    return true;
  };
}
