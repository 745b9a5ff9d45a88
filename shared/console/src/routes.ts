// The console over HTTP, as routes for runService or the CLI's server:
//   shell (no data, served without a token):
//     GET /console                     the page; it asks for the token
//     GET /console/assets/<file>       the bundle built at build time (build.mjs)
//   api (every request behind the bearer token, like the admin API):
//     GET /console/api/config          {traceUrl, fates}
//     GET /console/api/pushes          ?image&namespace&fate&cluster&since&limit → {pushes, caughtUp}
//     GET /console/api/pushes/stream   same filter → text/event-stream: `event: push` per change
//     GET /console/api/workloads/<kind>/<namespace>/<name>   ?cluster → a WorkloadView
//     GET /console/api/health          what `onpush status` shows (StatusReport)
//     …   /console/api/dlq...          the DLQ API (dlq-routes.ts): list, show, replay, purge
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FATES } from '@onpush/contracts';
import type { DlqStore } from '@onpush/dlq';
import { sendJson, type Route } from '@onpush/service';
import { dlqRoutes } from './dlq-routes.js';
import type { PushFeed } from './feed.js';
import { matchesPush, parsePushFilter, PushFilterError, type Push } from './pushes.js';
import type { StatusReport } from './status.js';
import { serveShell } from './shell.js';
import { parseWorkloadRef, workloadEvents, type WorkloadReader } from './workload.js';

export const CONSOLE_PATH = '/console';
const API = `${CONSOLE_PATH}/api`;
const MAX_LIMIT = 500;

export interface ConsoleOptions {
  /** The live pushes; undefined until the process connected to NATS (503 meanwhile). */
  readonly feed: () => PushFeed | undefined;
  readonly store: () => DlqStore | undefined;
  /** What `onpush status` shows; undefined until connected (503 meanwhile). */
  readonly status: () => Promise<StatusReport> | undefined;
  /** A trace's URL with `{traceId}` in it (CONSOLE_TRACE_URL); undefined: no links. */
  readonly traceUrl?: string | undefined;
  /** Reads a workload's onpush settings from Kubernetes; undefined where there is no access. */
  readonly workload?: WorkloadReader | undefined;
  /** Why `workload` is undefined, shown in the workload view. */
  readonly workloadNote?: string;
  /** How often an idle event stream sends a comment (keeps proxies from closing it). */
  readonly heartbeatMs?: number;
  readonly now?: () => Date;
}

/** The routes of the console: `shell` unauthenticated, `api` for behind the bearer token. */
export interface ConsoleRoutes {
  readonly shell: Route[];
  readonly api: Route[];
}

const unavailable = (res: ServerResponse): true => {
  sendJson(res, 503, { error: 'not connected to NATS yet', type: 'console_unavailable' });
  return true;
};

function pushList(feed: PushFeed, url: URL, now: Date): { status: number; body: unknown } {
  const filter = parsePushFilter(url.searchParams, now);
  const limitText = url.searchParams.get('limit');
  const limit = limitText === null ? 100 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new PushFilterError(`limit must be a whole number from 1 to ${MAX_LIMIT}`);
  }
  const pushes = feed.pushes().filter((p) => matchesPush(p, filter));
  return {
    status: 200,
    body: {
      pushes: pushes.slice(0, limit),
      truncated: pushes.length > limit,
      caughtUp: feed.caughtUp(),
    },
  };
}

/** `event: push` for each change that passes the filter, until the client or the feed ends. */
function pushStream(
  feed: PushFeed,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  options: ConsoleOptions,
): void {
  const filter = parsePushFilter(url.searchParams, options.now?.() ?? new Date());
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
  });
  res.write(': onpush console: pushes as their outcomes are stored\n\n');
  const send = (push: Push): void => {
    if (matchesPush(push, filter)) res.write(`event: push\ndata: ${JSON.stringify(push)}\n\n`);
  };
  const heartbeat = setInterval(() => res.write(': ping\n\n'), options.heartbeatMs ?? 15_000);
  const end = (): void => {
    clearInterval(heartbeat);
    unsubscribe();
    res.end();
  };
  const unsubscribe = feed.subscribe(send, end);
  req.once('close', () => {
    clearInterval(heartbeat);
    unsubscribe();
  });
}

async function workloadView(
  feed: PushFeed,
  rest: string[],
  url: URL,
  options: ConsoleOptions,
): Promise<{ status: number; body: unknown }> {
  let segments: string[];
  try {
    segments = rest.map(decodeURIComponent);
  } catch {
    segments = []; // a malformed %-escape names no workload
  }
  const [kind, namespace, name, ...extra] = segments;
  const ref = extra.length ? undefined : parseWorkloadRef(kind, namespace, name);
  if (ref === undefined) {
    return {
      status: 404,
      body: { error: 'a workload is /workloads/<Kind>/<namespace>/<name>', type: 'not_found' },
    };
  }
  const cluster = url.searchParams.get('cluster') || undefined;
  const { events, digests } = workloadEvents(feed.pushes(), ref, cluster);
  const read = options.workload
    ? await options.workload(ref).then(
        (view) => (view ? { kubernetes: view } : { kubernetesNote: 'not found in Kubernetes' }),
        (error: unknown) => ({
          kubernetesNote: `could not read it: ${error instanceof Error ? error.message : String(error)}`,
        }),
      )
    : { kubernetesNote: options.workloadNote ?? 'this console does not read Kubernetes' };
  return { status: 200, body: { workload: ref, events, digests, ...read } };
}

async function api(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  options: ConsoleOptions,
): Promise<boolean> {
  const [first, ...rest] = url.pathname
    .slice(API.length)
    .split('/')
    .filter((s) => s !== '');
  if (req.method !== 'GET') {
    res.setHeader('allow', 'GET');
    sendJson(res, 405, { error: 'method not allowed (allow: GET)', type: 'method_not_allowed' });
    return true;
  }
  if (first === 'config' && rest.length === 0) {
    sendJson(res, 200, { traceUrl: options.traceUrl ?? null, fates: FATES });
    return true;
  }
  if (first === 'health' && rest.length === 0) {
    const report = options.status();
    if (report === undefined) return unavailable(res);
    sendJson(res, 200, await report);
    return true;
  }
  const feed = options.feed();
  if (first === 'pushes' && rest.length === 0) {
    if (feed === undefined) return unavailable(res);
    const { status, body } = pushList(feed, url, options.now?.() ?? new Date());
    sendJson(res, status, body);
    return true;
  }
  if (first === 'pushes' && rest.length === 1 && rest[0] === 'stream') {
    if (feed === undefined) return unavailable(res);
    pushStream(feed, req, res, url, options);
    return true;
  }
  if (first === 'workloads') {
    if (feed === undefined) return unavailable(res);
    const { status, body } = await workloadView(feed, rest, url, options);
    sendJson(res, status, body);
    return true;
  }
  sendJson(res, 404, { error: `no route for GET ${url.pathname}`, type: 'not_found' });
  return true;
}

/** The console's routes over `options`. */
export function consoleRoutes(options: ConsoleOptions): ConsoleRoutes {
  const dlq = dlqRoutes(options.store, options.now, `${API}/dlq`);
  const route: Route = async (req, res, url) => {
    if (url.pathname !== API && !url.pathname.startsWith(`${API}/`)) return false;
    for (const r of dlq) if (await r(req, res, url)) return true;
    try {
      return await api(req, res, url, options);
    } catch (error) {
      if (!(error instanceof PushFilterError)) throw error;
      sendJson(res, 400, { error: error.message, type: 'invalid_filter' });
      return true;
    }
  };
  return { shell: [serveShell(CONSOLE_PATH)], api: [route] };
}
