import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from '@onpush/telemetry';

export type Route = (
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
) => Promise<boolean> | boolean;

export interface HttpOptions {
  port: number;
  /** The address to listen on (default `0.0.0.0`: every interface). */
  host?: string;
  /** Serves /metrics when given. */
  registry?: Registry;
  /** Serves /healthz when given. */
  live?: () => boolean;
  /** Serves /readyz when given. */
  ready?: () => { ready: boolean; detail: unknown };
  /** Extra routes (ingest's push endpoint, dlq-manager's API); a route returns true when it answered. */
  routes?: Route[];
  onError?: (error: unknown) => void;
  /** Server timeouts (Node's defaults otherwise): a whole request, and its headers. */
  timeouts?: HttpTimeouts;
}

export interface HttpTimeouts {
  requestMs?: number;
  headersMs?: number;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * `/healthz` (the process works), `/readyz` (it does its job now), `/metrics` (Prometheus) — each
 * when its option is given — and the routes.
 */
export function startHttp(options: HttpOptions): Promise<Server> {
  const { requestMs, headersMs } = options.timeouts ?? {};
  const shortest = Math.min(requestMs ?? Infinity, headersMs ?? Infinity);
  const timeouts = {
    ...(requestMs !== undefined ? { requestTimeout: requestMs } : {}),
    ...(headersMs !== undefined ? { headersTimeout: headersMs } : {}),
    // Node checks the timeouts only this often (30 s by default).
    ...(shortest !== Infinity
      ? { connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(shortest / 2))) }
      : {}),
  };
  const server = createServer(timeouts, (req, res) => {
    void handle(options, req, res).catch((error: unknown) => {
      options.onError?.(error);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve(server));
  });
}

async function handle(
  options: HttpOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const { live, ready, registry } = options;
  if (live !== undefined && req.method === 'GET' && url.pathname === '/healthz') {
    sendJson(res, live() ? 200 : 503, { live: live() });
    return;
  }
  if (ready !== undefined && req.method === 'GET' && url.pathname === '/readyz') {
    const answer = ready();
    sendJson(res, answer.ready ? 200 : 503, { ready: answer.ready, ...(answer.detail as object) });
    return;
  }
  if (registry !== undefined && req.method === 'GET' && url.pathname === '/metrics') {
    const text = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(text);
    return;
  }
  for (const route of options.routes ?? []) {
    if (await route(req, res, url)) return;
  }
  sendJson(res, 404, { error: `no route for ${req.method ?? 'GET'} ${url.pathname}` });
}

/** Reads a request body up to `limit` bytes; rejects with a `status` of 413 beyond it. */
export async function readBody(req: IncomingMessage, limit = 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw Object.assign(new Error(`body over ${limit} bytes`), { status: 413 });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
