// The dlq-manager's approvals API (behind the same bearer token as /dlq):
//   GET  /approvals              ?state=pending (default) | approved | rejected | expired | all
//   GET  /approvals/{id}         one approval
//   POST /approvals/{id}/approve {"note": "..."} optional → the approval, decided
//   POST /approvals/{id}/reject  {"note": "..."} optional
// A decision is a compare-and-set in the KV bucket onpush_approvals: of two decisions at once one
// wins, the other gets 409. The restarter sees it the next time the waiting request comes back.
import type { IncomingMessage } from 'node:http';
import { APPROVAL_STATES, type Approval } from '@onpush/contracts';
import { ApprovalError, type ApprovalBook } from '@onpush/nats';
import { readBody, sendJson, type Route } from '@onpush/service';

const PREFIX = '/approvals';

export interface Approvals {
  book: ApprovalBook;
  list(): Promise<Approval[]>;
}

interface Answer {
  status: number;
  body: unknown;
  allow?: string;
}

const fail = (status: number, type: string, error: string): Answer => ({
  status,
  body: { error, type },
});

const notAllowed = (allow: string): Answer => ({
  ...fail(405, 'method_not_allowed', `method not allowed (allow: ${allow})`),
  allow,
});

/** The note of a decision's body: `{"note": "..."}`, or nothing. */
async function noteOf(req: IncomingMessage): Promise<string | undefined | Answer> {
  const raw = (await readBody(req, 16 * 1024)).toString('utf8').trim();
  if (raw === '') return undefined;
  try {
    const body = JSON.parse(raw) as unknown;
    const note = (body as { note?: unknown } | null)?.note;
    if (note === undefined || typeof note === 'string') return note;
  } catch {
    /* answered below */
  }
  return fail(400, 'invalid_body', 'the body must be JSON: {"note": "<text>"} or empty');
}

async function answer(
  approvals: Approvals,
  req: IncomingMessage,
  url: URL,
  now: Date,
): Promise<Answer> {
  const method = req.method ?? 'GET';
  const [id, action, ...extra] = url.pathname
    .slice(PREFIX.length)
    .split('/')
    .filter((s) => s !== '');
  if (id === undefined) {
    if (method !== 'GET') return notAllowed('GET');
    const state = url.searchParams.get('state') ?? 'pending';
    if (state !== 'all' && !(APPROVAL_STATES as readonly string[]).includes(state)) {
      return fail(
        400,
        'invalid_state',
        `state must be all or one of ${APPROVAL_STATES.join(', ')}`,
      );
    }
    const all = await approvals.list();
    return {
      status: 200,
      body: { approvals: all.filter((a) => state === 'all' || a.state === state) },
    };
  }
  if (!/^[0-9a-f]{16}$/.test(id) || extra.length > 0) {
    return fail(404, 'not_found', `no route for ${method} ${url.pathname}`);
  }
  if (action === undefined) {
    if (method !== 'GET') return notAllowed('GET');
    const approval = await approvals.book.get(id);
    return approval === undefined
      ? fail(404, 'not_found', `no approval ${id}`)
      : { status: 200, body: approval };
  }
  if (action !== 'approve' && action !== 'reject') {
    return fail(404, 'not_found', `no route for ${method} ${url.pathname}`);
  }
  if (method !== 'POST') return notAllowed('POST');
  const note = await noteOf(req);
  if (typeof note === 'object') return note;
  const verdict = action === 'approve' ? 'approved' : 'rejected';
  try {
    return { status: 200, body: await approvals.book.decide(id, verdict, 'api', now, note) };
  } catch (error) {
    if (!(error instanceof ApprovalError)) throw error;
    return fail(error.code === 'not_found' ? 404 : 409, error.code, error.message);
  }
}

/** The API over `get()`, undefined until the service connected (503 meanwhile). */
export function approvalRoutes(
  get: () => Approvals | undefined,
  now: () => Date = () => new Date(),
): Route[] {
  const route: Route = async (req, res, url) => {
    if (url.pathname !== PREFIX && !url.pathname.startsWith(`${PREFIX}/`)) return false;
    const approvals = get();
    if (approvals === undefined) {
      sendJson(res, 503, { error: 'not connected to NATS yet', type: 'approvals_unavailable' });
      return true;
    }
    const { status, body, allow } = await answer(approvals, req, url, now());
    if (allow !== undefined) res.setHeader('allow', allow);
    sendJson(res, status, body);
    return true;
  };
  return [route];
}
