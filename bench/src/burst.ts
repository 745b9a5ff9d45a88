// A registry's burst of new digests: `pushes` pushes (webhooks, or Pub/Sub messages) within `seconds` over `workloads`
// Deployments, each push a new digest of the next Deployment's image (so each Deployment gets
// several), against the services at their default settings (KUBE_QPS 50, the default endpoint rate
// limit). What a user would see: was the burst accepted, how many PATCHes and GETs did the API
// server serve, how many PATCHes were refused as stale (409), and when was every Deployment on its
// last digest — beside the time the API rate alone requires for those PATCHes.
import { diff, metricSum } from './idle.js';
import type { Topic } from '@google-cloud/pubsub';
import { appImage, garBody, postPushStatus } from './pushes.js';

export interface BurstResult {
  /** How the pushes came: POSTed webhooks, or messages published to the Pub/Sub topic. */
  path: 'webhook' | 'pubsub';
  pushes: number;
  workloads: number;
  /** How long sending took (ms). */
  sendMs: number;
  /** HTTP status → count of ingest's answers (webhook); `published` → count (Pub/Sub). */
  answers: Record<string, number>;
  /** What the API server served during the burst (its own count, watches excepted). */
  api: Record<string, number>;
  /** The restarter's PATCHes the API server refused as stale (409). */
  conflicts: number;
  kubeQps: number;
  /** PATCHes ÷ KUBE_QPS: the least time the configured API rate allows for them (ms). */
  rateRequiredMs: number;
  /** From the last send until every workload showed its last push (ms); undefined: not within 60 s. */
  settledAfterLastSendMs: number | undefined;
  /** Workloads restarted with their last push. */
  onLastPush: number;
}

/** Sends push `n` (a new digest of `workload`'s image): its event id, and how it was answered. */
export type BurstSend = (
  n: number,
  workload: number,
  body: string,
) => Promise<{ eventId: string; answer: string }>;

/** A webhook POST to ingest, answered with its HTTP status. */
export const webhookSend =
  (ingestPort: number, offset: number): BurstSend =>
  async (n, _workload, body) => {
    const id = `wh-${offset + n}`;
    return { eventId: `gar:${id}`, answer: String(await postPushStatus(ingestPort, id, body)) };
  };

/** A message published to the registry's Pub/Sub topic (the client's batching off). */
export const pubsubSend =
  (topic: Topic): BurstSend =>
  async (_n, _workload, body) => {
    const id = await topic.publishMessage({ data: Buffer.from(body) });
    return { eventId: `gar:${id}`, answer: 'published' };
  };

export async function benchBurst(options: {
  path: BurstResult['path'];
  send: BurstSend;
  restarterPort: number;
  target: { workloads: number; seen: Map<string, number[]> };
  pushes: number;
  seconds: number;
  offset: number;
  kubeQps: number;
  apiRequests: () => Promise<Record<string, number>>;
}): Promise<BurstResult> {
  const { pushes, seconds, offset, target } = options;
  const conflictsBefore = await restarterConflicts(options.restarterPort);
  const apiBefore = await options.apiRequests();
  /** Per workload, the event ids of its pushes by send order (n). */
  const sent = new Map<number, Map<number, string>>();
  const answers: Record<string, number> = {};
  const started = performance.now();
  const sends: Promise<void>[] = [];
  for (let n = 0; n < pushes; n += 1) {
    const wait = started + (n * seconds * 1_000) / pushes - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const workload = n % target.workloads;
    sends.push(
      options
        .send(n, workload, garBody(appImage(workload), offset + n))
        .then(({ eventId, answer }) => {
          answers[answer] = (answers[answer] ?? 0) + 1;
          const ids = sent.get(workload) ?? new Map<number, string>();
          sent.set(workload, ids.set(n, eventId));
        }),
    );
  }
  await Promise.all(sends);
  const lastSendAt = performance.now();
  // each workload's last push: the one sent last
  const lastIds = [...sent.values()].map((ids) => ids.get(Math.max(...ids.keys()))!);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && lastIds.some((id) => !target.seen.has(id)))
    await new Promise((resolve) => setTimeout(resolve, 50));
  const onLastPush = lastIds.filter((id) => target.seen.has(id)).length;
  const settledAt = Math.max(...lastIds.map((id) => target.seen.get(id)?.[0] ?? Infinity));
  // let the trailing PATCHes of superseded pushes (if any) land before counting
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const api = diff(await options.apiRequests(), apiBefore);
  const patches = api['PATCH deployments'] ?? 0;
  return {
    path: options.path,
    pushes,
    workloads: sent.size,
    sendMs: Math.round(lastSendAt - started),
    answers,
    api,
    conflicts: (await restarterConflicts(options.restarterPort)) - conflictsBefore,
    kubeQps: options.kubeQps,
    rateRequiredMs: Math.round((patches / options.kubeQps) * 1_000),
    settledAfterLastSendMs: Number.isFinite(settledAt)
      ? Math.max(0, Math.round(settledAt - lastSendAt))
      : undefined,
    onLastPush,
  };
}

/** `onpush_kube_requests_total{verb="patch",code="409"}` from the restarter. */
const restarterConflicts = (port: number): Promise<number> =>
  metricSum(port, 'onpush_kube_requests_total', ['code="409"', 'verb="patch"']);
