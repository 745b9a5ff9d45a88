// The DLQ over HTTP, as routes for runService: the dlq-manager's API under /dlq, and the console's
// under /console/api/dlq (the same operations as `onpush dlq`):
//   GET    /dlq              ?stage&reason&since&replayed&limit → {entries, truncated}
//   POST   /dlq/replay       same filter (at least one of stage, reason, since, replayed)
//   DELETE /dlq              same filter
//   GET    /dlq/{id}         the full entry, payload base64
//   POST   /dlq/{id}/replay  → {replayed, subject, msgId, ...}
//   DELETE /dlq/{id}         → 204
import type { ServerResponse } from 'node:http';
import { sendJson, type Route } from '@onpush/service';
import {
  DLQ_ERROR_STATUS,
  DlqError,
  filterFromQuery,
  parseId,
  summaryOf,
  type DlqStore,
} from '@onpush/dlq';

interface Answer {
  status: number;
  body?: unknown;
  allow?: string;
}

interface Request {
  prefix: string;
  store: DlqStore;
  method: string;
  query: URLSearchParams;
  now: Date;
}

const notAllowed = (allow: string): Answer => ({
  status: 405,
  body: { error: `method not allowed (allow: ${allow})` },
  allow,
});

async function collection(req: Request): Promise<Answer> {
  if (req.method === 'GET') {
    const { entries, truncated } = await req.store.list(filterFromQuery(req.query, req.now));
    return { status: 200, body: { entries: entries.map(summaryOf), truncated } };
  }
  if (req.method === 'DELETE') {
    const purged = await req.store.purgeMatching(filterFromQuery(req.query, req.now));
    return { status: 200, body: { purged } };
  }
  return notAllowed('GET, DELETE');
}

async function bulkReplay(req: Request): Promise<Answer> {
  if (req.method !== 'POST') return notAllowed('POST');
  return { status: 200, body: await req.store.replayMatching(filterFromQuery(req.query, req.now)) };
}

async function one(req: Request, rawId: string, action: string | undefined): Promise<Answer> {
  const id = parseId(rawId);
  if (action === 'replay') {
    if (req.method !== 'POST') return notAllowed('POST');
    return { status: 200, body: await req.store.replay(id) };
  }
  if (req.method === 'GET') return { status: 200, body: await req.store.get(id) };
  if (req.method === 'DELETE') {
    await req.store.purge(id);
    return { status: 204 };
  }
  return notAllowed('GET, DELETE');
}

/** Routes `<prefix>...` requests; `rest` is the path after the prefix. */
export async function dispatch(req: Request, rest: string): Promise<Answer> {
  const [first, second, ...extra] = rest.split('/').filter((s) => s !== '');
  if (first === undefined) return collection(req);
  if (first === 'replay' && second === undefined) return bulkReplay(req);
  if (extra.length > 0 || (second !== undefined && second !== 'replay')) {
    return { status: 404, body: { error: `no route for ${req.method} ${req.prefix}${rest}` } };
  }
  return one(req, first, second);
}

function send(res: ServerResponse, answer: Answer): void {
  if (answer.allow !== undefined) res.setHeader('allow', answer.allow);
  if (answer.status === 204) {
    res.writeHead(204);
    res.end();
    return;
  }
  sendJson(res, answer.status, answer.body);
}

/**
 * The API under `prefix` over `getStore()`, which is undefined until the service connected (503
 * meanwhile).
 */
export function dlqRoutes(
  getStore: () => DlqStore | undefined,
  now: () => Date = () => new Date(),
  prefix = '/dlq',
): Route[] {
  const route: Route = async (req, res, url) => {
    const path = url.pathname;
    if (path !== prefix && !path.startsWith(`${prefix}/`)) return false;
    const store = getStore();
    if (store === undefined) {
      sendJson(res, 503, { error: 'not connected to NATS yet', type: 'dlq_unavailable' });
      return true;
    }
    const method = req.method ?? 'GET';
    const request = { prefix, store, method, query: url.searchParams, now: now() };
    try {
      send(res, await dispatch(request, path.slice(prefix.length)));
    } catch (error) {
      if (!(error instanceof DlqError)) throw error;
      sendJson(res, DLQ_ERROR_STATUS[error.type], { error: error.message, type: error.type });
    }
    return true;
  };
  return [route];
}
