import type { IncomingMessage } from 'node:http';
import type { Publish } from '@onpush/nats';
import { TokenBucket, type Route } from '@onpush/service';
import type { Logger } from '@onpush/telemetry';
import {
  BodyBudget,
  DEFAULT_BODY_LIMITS,
  answerAfterBody,
  readBody,
  refusalReply,
} from '../body.js';
import { countStored, type IngestMetrics } from '../metrics.js';
import { PayloadTooLargeError } from '../payload-limit.js';
import { storeEnvelope, tooLargeReply } from '../push.js';
import { repeatKey, type RepeatMemory } from '../repeats.js';
import { authenticator, type AuthRequest, type Authenticator } from './auth.js';
import { publishWebhook, webhookEventId } from './delivery.js';
import type { Endpoint } from './endpoints.js';
import { AuthError, AuthUnavailableError } from './errors.js';
import type { Fetcher } from './fetch.js';
import { handshake, optionsReply, type Reply } from './handshakes.js';
import { PeerBuckets, peerKey, type PeerLimit } from './peers.js';
import { isJsonType, jsonOf, mediaType } from './request.js';
import { SOURCE_SPECS } from './sources.js';

export interface WebhookOptions {
  endpoints: readonly Endpoint[];
  publish: Publish;
  metrics: IngestMetrics;
  log: Logger;
  /** Registers a request in flight, so drain can wait for it. */
  track?: (task: Promise<unknown>) => void;
  fetcher?: Fetcher;
  now?: () => Date;
  /**
   * The NATS server's max_payload, when connected: a body over it is refused (413) before it is
   * read, whatever the endpoint's maxBodyBytes.
   */
  maxPayload?: () => number | undefined;
  /** Failed authentications (and OPTIONS) each remote address may make (DEFAULT_PEER_LIMIT). */
  peerLimit?: PeerLimit;
  /** The deliveries stored in the last day: the same one again is answered as a duplicate. */
  repeats?: RepeatMemory | undefined;
  /** What request bodies ingest may hold and read at once (default DEFAULT_BODY_LIMITS). */
  bodies?: BodyBudget;
}

interface Bound {
  endpoint: Endpoint;
  auth: Authenticator;
  bucket: TokenBucket;
}

const PATH = /^\/webhooks\/([^/]+)(?:\/([^/]*))?$/;
const EMPTY = Buffer.alloc(0);

const problem = (
  status: number,
  error: string,
  message: string,
  headers?: Record<string, string>,
): Reply => ({
  status,
  body: { error, message },
  ...(headers ? { headers } : {}),
});

/** Answers before the body was read close the connection (after draining it, bounded). */
const early = (reply: Reply): Reply => ({
  ...reply,
  headers: { ...reply.headers, connection: 'close' },
});

const tooMany = (waitMs: number, message: string): Reply =>
  problem(429, 'rate_limited', message, { 'retry-after': String(Math.ceil(waitMs / 1000)) });

class WebhookHandler {
  private readonly peers: PeerBuckets;
  readonly bodies: BodyBudget;

  constructor(private readonly options: WebhookOptions) {
    this.peers = new PeerBuckets(options.peerLimit);
    this.bodies = options.bodies ?? new BodyBudget(DEFAULT_BODY_LIMITS);
  }

  /**
   * Undefined when the sender is proven. A failure is charged to the peer: 401, or 429 once the
   * peer has failed more than its bucket allows; 503 when the proof cannot be checked now.
   */
  async authenticate(
    target: Bound,
    request: AuthRequest,
    peer: string,
  ): Promise<Reply | undefined> {
    const { endpoint } = target;
    try {
      await target.auth.verify(request);
      return undefined;
    } catch (error) {
      if (error instanceof AuthUnavailableError) {
        this.options.log.warn('cannot check a webhook now', { endpoint: endpoint.name, error });
        return problem(503, error.type, 'authentication cannot be checked now; retry later', {
          'retry-after': '5',
        });
      }
      if (!(error instanceof AuthError)) throw error;
      const labels = { endpoint: endpoint.name, source: endpoint.source, reason: error.reason };
      this.options.metrics.authFailures.inc(labels);
      this.options.log.debug('webhook refused', { ...labels, peer, detail: error.message });
      const wait = this.peers.fail(peer);
      if (wait > 0) return tooMany(wait, 'too many failed authentications from this address');
      return problem(401, 'unauthorized', `authentication failed (${error.reason})`);
    }
  }

  /** The endpoint's own rate, drawn from only by senders that proved themselves. */
  private overRate(target: Bound): Reply | undefined {
    const wait = target.bucket.tryTake();
    return wait > 0 ? tooMany(wait, 'too many requests') : undefined;
  }

  /**
   * Method, and whatever can be decided before the body is read: a header or path credential,
   * then the endpoint's rate. An answer, or go on. A peer over its failures is not refused here:
   * behind a proxy every sender has the proxy's address, and a proven delivery must still pass.
   */
  private async admit(
    req: IncomingMessage,
    target: Bound,
    request: AuthRequest,
    peer: string,
  ): Promise<Reply | undefined> {
    const { endpoint } = target;
    const options = SOURCE_SPECS[endpoint.source].options;
    if (req.method !== 'POST' && !(req.method === 'OPTIONS' && options)) {
      const allow = options ? 'POST, OPTIONS' : 'POST';
      return early(problem(405, 'method_not_allowed', 'use POST', { allow }));
    }
    // OPTIONS enters nothing and proves nothing (but a path token): the peer pays for it.
    if (req.method === 'OPTIONS' && endpoint.auth.type !== 'path') {
      const wait = this.peers.fail(peer);
      return wait > 0 ? early(tooMany(wait, 'too many requests from this address')) : undefined;
    }
    if (target.auth.needsBody) return undefined;
    const refused = (await this.authenticate(target, request, peer)) ?? this.overRate(target);
    return refused && early(refused);
  }

  async handle(req: IncomingMessage, target: Bound, pathToken: string | undefined): Promise<Reply> {
    const { endpoint } = target;
    const spec = SOURCE_SPECS[endpoint.source];
    const request: AuthRequest = { headers: req.headers, pathToken, body: EMPTY };
    const peer = peerKey(req.socket.remoteAddress);
    const refused = await this.admit(req, target, request, peer);
    if (refused) return refused;
    if (req.method === 'OPTIONS') return optionsReply(endpoint, req.headers);
    const type = mediaType(req.headers);
    if (!isJsonType(type) && !(spec.textPlain && type === 'text/plain')) {
      const expected = `expected JSON${spec.textPlain ? ' or text/plain' : ''}`;
      return early(problem(415, 'unsupported_media_type', expected));
    }
    // Too large (413), no room now (503), or the sender went away mid-body (400: nothing enters).
    const read = await readBody(req, this.bodyLimit(endpoint), this.bodies);
    if ('refused' in read) return refusalReply(read.refused);
    const { body } = read;
    try {
      const late = target.auth.needsBody
        ? ((await this.authenticate(target, { ...request, body }, peer)) ?? this.overRate(target))
        : undefined;
      return await (late ?? this.accept(endpoint, req, body));
    } finally {
      read.done();
    }
  }

  /**
   * The endpoint's maxBodyBytes, or the NATS server's max_payload when that is smaller and the
   * body is what is stored (a `gcr` body is an envelope: its data, decoded, is checked when
   * published).
   */
  private bodyLimit(endpoint: Endpoint): { bytes: number; what: string } {
    const maxPayload = endpoint.source === 'gcr' ? undefined : this.options.maxPayload?.();
    return maxPayload !== undefined && maxPayload < endpoint.maxBodyBytes
      ? { bytes: maxPayload, what: "the NATS server's max_payload" }
      : { bytes: endpoint.maxBodyBytes, what: "the endpoint's maxBodyBytes" };
  }

  private async accept(endpoint: Endpoint, req: IncomingMessage, body: Buffer): Promise<Reply> {
    const { publish, metrics, log } = this.options;
    if (endpoint.source === 'gcr') return storeEnvelope(body, this.pushOptions(), endpoint);
    const json = jsonOf(body);
    const answered = await handshake(endpoint, req.headers, body, json, this.options.fetcher);
    if (answered) return answered;
    const started = performance.now();
    const receivedAt = (this.options.now ?? (() => new Date()))();
    try {
      const delivery = { endpoint, body, headers: req.headers, json, receivedAt };
      const key = repeatKey(endpoint, webhookEventId(delivery), body);
      const stored = await this.options.repeats?.seen(key);
      if (stored !== undefined) {
        metrics.deliveries.inc({ via: 'webhook', result: 'duplicate' });
        const eventId = stored || webhookEventId(delivery);
        return { status: 202, body: { eventId, duplicate: true } };
      }
      const { eventId, published } = await publishWebhook(publish, delivery);
      await this.remember(key, eventId);
      countStored(
        metrics,
        'webhook',
        published,
        (performance.now() - started) / 1000,
        endpoint.source,
      );
      return { status: 202, body: { eventId, duplicate: published.duplicate } };
    } catch (error) {
      if (error instanceof PayloadTooLargeError) {
        log.warn('webhook too large for JetStream; answering 413', {
          endpoint: endpoint.name,
          error: error.message,
        });
        return { status: 413, body: tooLargeReply(error) };
      }
      metrics.deliveries.inc({ via: 'webhook', result: 'failed' });
      log.warn('webhook not stored; answering 503 so the sender retries', {
        endpoint: endpoint.name,
        error,
      });
      return problem(503, 'unavailable', 'the delivery could not be stored; retry later', {
        'retry-after': '5',
      });
    }
  }

  /** Remembers a stored delivery; when that fails it is stored all the same (logged). */
  private async remember(key: string, eventId: string): Promise<void> {
    await this.options.repeats?.remember(key, eventId).catch((error: unknown) => {
      this.options.log.warn('could not remember a stored delivery; a replay may be stored again', {
        error,
      });
    });
  }

  private pushOptions() {
    const { publish, metrics, log, now, repeats } = this.options;
    return {
      publish,
      metrics,
      log,
      maxBodyBytes: Number.MAX_SAFE_INTEGER,
      ...(now ? { now } : {}),
      ...(repeats ? { repeats } : {}),
      bodies: this.bodies,
    };
  }
}

/**
 * `POST /webhooks/<name>` (and `/webhooks/<name>/<token>` for a path token) for each configured
 * endpoint: authentication (401; 429 for a peer that failed too often), the endpoint's rate
 * (429, charged only to proven senders), content type (415), body size (413; 503 while ingest
 * holds as many bodies as MAX_BUFFERED_BYTES / MAX_CONCURRENT_BODIES allow), handshakes (2xx,
 * nothing published), a repeat of a delivery stored in the last day (202, duplicate), then the
 * untouched body on `onpush.raw.<source>`: 202 once JetStream stored it, 503 when it could not
 * (the sender retries).
 */
export function webhookRoute(options: WebhookOptions): Route {
  const bound = new Map<string, Bound>();
  for (const endpoint of options.endpoints) {
    const auth = authenticator(endpoint.auth, options.fetcher ? { fetcher: options.fetcher } : {});
    const { perSecond: qps, burst } = endpoint.rateLimit;
    const bucket = new TokenBucket({ qps, burst });
    bound.set(endpoint.name, { endpoint, auth, bucket });
  }
  const handler = new WebhookHandler(options);
  return async (req, res, url) => {
    const match = PATH.exec(url.pathname);
    const target = match?.[1] === undefined ? undefined : bound.get(match[1]);
    if (match === null || target === undefined) return false;
    if (match[2] !== undefined && target.endpoint.auth.type !== 'path') return false;
    const labels = { endpoint: target.endpoint.name, source: target.endpoint.source };
    options.metrics.webhookRequests.inc(labels);
    const task = handler.handle(req, target, match[2]).then((reply) => {
      options.metrics.webhookResponses.inc({ ...labels, status: String(reply.status) });
      return answerAfterBody(req, res, reply, handler.bodies);
    });
    options.track?.(task);
    await task;
    return true;
  };
}
