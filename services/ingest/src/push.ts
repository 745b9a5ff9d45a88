import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Publish } from '@onpush/nats';
import { readBody, sendJson, type Route } from '@onpush/service';
import type { Logger } from '@onpush/telemetry';
import { DeliveryError, acceptGarDelivery, type GarDelivery } from './handler.js';
import { countStored, type IngestMetrics } from './metrics.js';

/** Where Pub/Sub push subscriptions (and a GCR webhook relay) deliver. */
export const PUSH_PATHS: readonly string[] = ['/pubsub/push', '/webhooks/gcr'];

export type EnvelopeErrorType =
  | 'invalid_json'
  | 'missing_message'
  | 'missing_message_id'
  | 'invalid_data'
  | 'invalid_attributes';

/** A push body that is not a Pub/Sub envelope. Never retryable: it enters nothing (400). */
export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
  readonly retryable = false;
  constructor(
    readonly type: EnvelopeErrorType,
    message: string,
  ) {
    super(message);
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
}

function isJson(req: IncomingMessage): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

function reject(
  res: ServerResponse,
  options: PushOptions,
  status: number,
  error: string,
  message: string,
): void {
  options.metrics.deliveries.inc({ via: 'push', result: 'rejected' });
  // The rest of an oversized body is not read: close the connection rather than drain it.
  if (status === 413) res.setHeader('connection', 'close');
  sendJson(res, status, { error, message });
}

async function bodyOf(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return undefined;
  try {
    return await readBody(req, limit);
  } catch (error) {
    if ((error as { status?: unknown }).status === 413) return undefined;
    throw error;
  }
}

async function handlePush(
  req: IncomingMessage,
  res: ServerResponse,
  options: PushOptions,
): Promise<void> {
  const started = performance.now();
  if (!isJson(req))
    return reject(
      res,
      options,
      415,
      'unsupported_media_type',
      'expected Content-Type: application/json',
    );
  const body = await bodyOf(req, options.maxBodyBytes);
  if (body === undefined)
    return reject(
      res,
      options,
      413,
      'payload_too_large',
      `body over ${options.maxBodyBytes} bytes`,
    );
  let delivery: GarDelivery;
  try {
    delivery = parseEnvelope(body);
  } catch (error) {
    if (!(error instanceof EnvelopeError)) throw error;
    return reject(res, options, 400, error.type, error.message);
  }
  try {
    const published = await acceptGarDelivery(
      options.publish,
      delivery,
      options.now ? { now: options.now } : {},
    );
    countStored(options.metrics, 'push', published, (performance.now() - started) / 1000);
  } catch (error) {
    if (error instanceof DeliveryError) return reject(res, options, 400, error.type, error.message);
    options.metrics.deliveries.inc({ via: 'push', result: 'failed' });
    options.log.warn('push delivery not stored; answering 503 so Pub/Sub retries', {
      messageId: delivery.messageId,
      error,
    });
    return sendJson(res, 503, {
      error: 'unavailable',
      message: 'the delivery could not be stored; retry later',
    });
  }
  res.writeHead(204);
  res.end();
}

/**
 * `POST /pubsub/push` and `POST /webhooks/gcr`: a Pub/Sub push envelope. 204 once JetStream
 * stored the message; 503 when it could not (Pub/Sub retries any non-2xx); 400/413/415 for a
 * body that enters nothing.
 */
export function pushRoute(options: PushOptions): Route {
  return async (req, res, url) => {
    if (!PUSH_PATHS.includes(url.pathname)) return false;
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      sendJson(res, 405, { error: 'method_not_allowed', message: `use POST ${url.pathname}` });
      return true;
    }
    const task = handlePush(req, res, options);
    options.track?.(task);
    await task;
    return true;
  };
}
