import type { IncomingHttpHeaders } from 'node:http';
import type { Endpoint } from './endpoints.js';
import { FetchError } from './errors.js';
import { getText, type Fetcher } from './fetch.js';
import { headerOf } from './request.js';
import { allowedUrl, parseSns } from './sns.js';

/** An answer to a request that enters nothing. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const EVENT_GRID_VALIDATION = 'Microsoft.EventGrid.SubscriptionValidationEvent';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Event Grid's subscription validation: echo the code back (synchronous handshake). */
function eventGrid(headers: IncomingHttpHeaders, json: unknown): Reply | undefined {
  const events: unknown[] = Array.isArray(json) ? (json as unknown[]) : [json];
  const validation = events.find((e) => isRecord(e) && e['eventType'] === EVENT_GRID_VALIDATION);
  const announced = headerOf(headers, 'aeg-event-type') === 'SubscriptionValidation';
  if (validation === undefined && !announced) return undefined;
  const data = isRecord(validation) ? validation['data'] : undefined;
  const code = isRecord(data) ? data['validationCode'] : undefined;
  if (typeof code !== 'string' || code === '')
    return {
      status: 400,
      body: { error: 'invalid_validation', message: 'no data.validationCode' },
    };
  return { status: 200, body: { validationResponse: code } };
}

/** SNS: confirm a subscription by GETting its SubscribeURL (allowed origins only). */
async function sns(endpoint: Endpoint, body: Buffer, fetcher: Fetcher): Promise<Reply | undefined> {
  if (endpoint.auth.type !== 'sns') return undefined;
  const message = parseSns(body); // verified already: this cannot throw any more
  if (message.Type === 'Notification') return undefined;
  if (message.Type === 'UnsubscribeConfirmation')
    return { status: 200, body: { handshake: 'sns-unsubscribe' } };
  const url = message.SubscribeURL ?? '';
  if (!allowedUrl(url, endpoint.auth))
    return {
      status: 400,
      body: {
        error: 'subscribe_url_not_allowed',
        message: 'SubscribeURL is not on an allowed origin',
      },
    };
  try {
    await getText(url, fetcher);
  } catch (error) {
    if (!(error instanceof FetchError)) throw error;
    return {
      status: 503,
      body: { error: 'confirmation_failed', message: error.message },
      headers: { 'retry-after': '5' },
    };
  }
  return { status: 200, body: { handshake: 'sns-subscription-confirmed' } };
}

/**
 * The handshakes senders make before (or besides) sending events: answered 2xx, nothing
 * published. Event Grid validation, SNS SubscriptionConfirmation / UnsubscribeConfirmation,
 * GitHub `ping`, ACR `ping`. Undefined: an event to publish.
 */
export async function handshake(
  endpoint: Endpoint,
  headers: IncomingHttpHeaders,
  body: Buffer,
  json: unknown,
  fetcher: Fetcher = fetch,
): Promise<Reply | undefined> {
  switch (endpoint.source) {
    case 'github':
      return headerOf(headers, 'x-github-event') === 'ping'
        ? { status: 200, body: { handshake: 'github-ping' } }
        : undefined;
    case 'acr':
      return isRecord(json) && json['action'] === 'ping'
        ? { status: 200, body: { handshake: 'acr-ping' } }
        : undefined;
    case 'eventgrid':
      return eventGrid(headers, json);
    case 'ecr':
      return sns(endpoint, body, fetcher);
    default:
      return undefined;
  }
}

/**
 * The CloudEvents webhook validation (`OPTIONS` with WebHook-Request-Origin): the origin is
 * allowed, at the endpoint's rate (per minute). Without that header, just what is allowed.
 */
export function optionsReply(endpoint: Endpoint, headers: IncomingHttpHeaders): Reply {
  const origin = headerOf(headers, 'webhook-request-origin');
  const allow = { allow: 'POST, OPTIONS' };
  if (!origin) return { status: 204, headers: allow };
  return {
    status: 200,
    headers: {
      ...allow,
      'webhook-allowed-origin': origin,
      'webhook-allowed-rate': String(Math.max(1, Math.floor(endpoint.rateLimit.perSecond * 60))),
    },
  };
}
