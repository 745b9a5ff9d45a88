import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeApiError, parseRetryAfter } from './errors.js';

export interface KubeResponse<T> {
  status: number;
  data: T;
}

/**
 * The few calls on the hot path (GET and PATCH of one object; POST of an Event), over a keep-alive connection
 * pool. client-node opens a new TLS connection per request (~17 ms here against ~4 ms reused),
 * which is most of a restart's time. Fails with KubeApiError (status, Status message, Retry-After).
 */
export interface KubeHttp {
  get<T>(path: string): Promise<KubeResponse<T>>;
  patch<T>(path: string, body: unknown, contentType: string): Promise<KubeResponse<T>>;
  /** Creates an object (JSON). */
  post<T>(path: string, body: unknown): Promise<KubeResponse<T>>;
  close(): void;
}

function statusMessage(text: string, status: number): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === 'string' && parsed.message !== '') return parsed.message;
  } catch {
    /* not a Status object */
  }
  return text.trim().slice(0, 300) || `HTTP ${status}`;
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (text += chunk));
    res.on('end', () => resolve(text));
    res.on('error', reject);
  });
}

/** How long the authorization headers are reused before the kubeconfig is asked again. */
export const CREDENTIALS_TTL_MS = 10_000;

/**
 * The request headers that authenticate (a bearer token, from a file or a plugin), read from the
 * kubeconfig at most every CREDENTIALS_TTL_MS: asking per request read the CA, certificate, key
 * and token files on every call (it showed in the restarter's CPU profile under load). Rotated
 * tokens are picked up within the TTL, or at once after a 401 (asked with `fresh`).
 */
function authHeaders(
  config: KubeConfig,
  now: () => number = Date.now,
): (fresh: boolean) => Promise<{ headers: Record<string, string>; cached: boolean }> {
  let kept: { headers: Record<string, string>; at: number } | undefined;
  return async (fresh) => {
    const at = now();
    if (!fresh && kept !== undefined && at - kept.at < CREDENTIALS_TTL_MS)
      return { headers: kept.headers, cached: true };
    const options: RequestOptions = {};
    await config.applyToHTTPSOptions(options);
    kept = { headers: { ...(options.headers as Record<string, string> | undefined) }, at };
    return { headers: kept.headers, cached: false };
  };
}

/** A keep-alive client for the current context of `config` (token, client cert, CA, in-cluster). */
export async function kubeHttp(config: KubeConfig, maxSockets = 32): Promise<KubeHttp> {
  const server = config.getCurrentCluster()?.server;
  if (!server) throw new KubeApiError('kubeconfig has no current cluster', {});
  const base: RequestOptions = {};
  await config.applyToHTTPSOptions(base);
  const secure = server.startsWith('https:');
  const agent = secure
    ? new HttpsAgent({
        keepAlive: true,
        maxSockets,
        ca: base.ca,
        cert: base.cert,
        key: base.key,
        rejectUnauthorized: base.rejectUnauthorized ?? true,
      })
    : new HttpAgent({ keepAlive: true, maxSockets });
  const credentials = authHeaders(config);
  const request = async (
    method: string,
    path: string,
    body: string | undefined,
    contentType: string | undefined,
    fresh: boolean,
  ): Promise<{ status: number; text: string; res: IncomingMessage; cached: boolean }> => {
    const auth = await credentials(fresh);
    const headers: Record<string, string> = { accept: 'application/json', ...auth.headers };
    if (contentType) headers['content-type'] = contentType;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(
        new URL(path, server),
        { method, agent, headers, timeout: 30_000 },
        resolve,
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(body);
    }).catch((cause: unknown) => {
      throw new KubeApiError(cause instanceof Error ? cause.message : String(cause), { cause });
    });
    return { status: res.statusCode ?? 0, text: await readAll(res), res, cached: auth.cached };
  };
  const send = async <T>(
    method: string,
    path: string,
    body?: string,
    contentType?: string,
  ): Promise<KubeResponse<T>> => {
    let answer = await request(method, path, body, contentType, false);
    // A 401 on cached credentials: the token may have rotated since; read it again, once.
    if (answer.status === 401 && answer.cached)
      answer = await request(method, path, body, contentType, true);
    const { status, text, res } = answer;
    if (status >= 400) {
      const retryAfter: string | undefined = res.headers['retry-after'];
      throw new KubeApiError(statusMessage(text, status), {
        status,
        retryAfterMs: parseRetryAfter(retryAfter),
      });
    }
    return { status, data: (text ? JSON.parse(text) : undefined) as T };
  };
  return {
    get: (path) => send('GET', path),
    patch: (path, body, contentType) => send('PATCH', path, JSON.stringify(body), contentType),
    post: (path, body) => send('POST', path, JSON.stringify(body), 'application/json'),
    close: () => agent.destroy(),
  };
}
