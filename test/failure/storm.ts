// The traffic of the failure tests: Artifact Registry push notifications in rounds (the last
// round holds each image's last digest), sent as a Pub/Sub push subscription sends them —
// retrying until ingest answers 2xx.
import { setTimeout as sleep } from 'node:timers/promises';
import { PUSH_PATH, pushHeaders } from '../support/pubsub-push.js';
import { TAG, digestOf, pool, type Fleet } from './fleet.js';

/** One Artifact Registry push notification, as its Pub/Sub message. */
export interface Push {
  messageId: string;
  image: string;
  digest: string;
  /** The Pub/Sub message data. */
  body: string;
}

export function pushOf(messageId: string, image: string, digest: string): Push {
  const body = JSON.stringify({
    action: 'INSERT',
    digest: `${image}@${digest}`,
    tag: `${image}:${TAG}`,
  });
  return { messageId, image, digest, body };
}

/**
 * `pushes` pushes spread over the fleet's images in rounds: round r pushes digest r of every
 * image (in a shuffled order), so the last round holds the last digest of each image.
 */
export function planStorm(
  fleet: Fleet,
  pushes: number,
  options: { label?: string; garbagePerRound?: number } = {},
): Push[][] {
  const { label = 'storm', garbagePerRound = 0 } = options;
  const rounds: Push[][] = [];
  let n = 0;
  for (let r = 0; n < pushes; r += 1) {
    const round: Push[] = [];
    for (const image of fleet.images) {
      if (n >= pushes) break;
      round.push(pushOf(`${label}-${n}`, image, digestOf(image, r)));
      n += 1;
    }
    for (let g = 0; g < garbagePerRound; g += 1)
      round.push(garbageOf(`${label}-garbage-${r}-${g}`));
    rounds.push(shuffled(round, r + 1));
  }
  return rounds;
}

/** A notification that is not JSON: the parser dead-letters it (`invalid_json`). */
export function garbageOf(messageId: string): Push {
  return { messageId, image: '', digest: '', body: `{"action":"INSERT","tag":${messageId}` };
}

/** The pushes of real images (not the garbage). */
export const realPushes = (pushes: readonly Push[]): Push[] => pushes.filter((p) => p.image !== '');

function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i -= 1) {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The last digest pushed per image. */
export function lastDigests(pushes: readonly Push[]): Map<string, string> {
  const last = new Map<string, string>();
  for (const p of realPushes(pushes)) last.set(p.image, p.digest);
  return last;
}

/** The Pub/Sub push envelope of a message (what a push subscription POSTs). */
export function envelope(
  messageId: string,
  data: Buffer | string,
  publishTime = new Date(),
): string {
  return JSON.stringify({
    message: {
      data: Buffer.from(data).toString('base64'),
      messageId,
      publishTime: publishTime.toISOString(),
    },
    subscription: 'projects/onpush-failure/subscriptions/onpush-push',
  });
}

export interface Delivery {
  status: number;
  attempts: number;
}

/**
 * POSTs one push envelope to ingest as a Pub/Sub push subscription does (with its OIDC token, to
 * the `pubsub` endpoint of PUSH_ONLY): a 2xx settles it; a 4xx other than 408/429 is final (the
 * message enters nothing); anything else — 5xx, a refused or reset connection while ingest
 * restarts — is retried with a growing delay, within `deadlineMs`.
 */
export function deliver(port: () => number, body: string, deadlineMs = 120_000): Promise<Delivery> {
  return deliverTo(() => `http://127.0.0.1:${port()}${PUSH_PATH}`, body, pushHeaders(), deadlineMs);
}

/** POSTs `body` to `url()` (asked again on each attempt) as a retrying sender does (`deliver`). */
export async function deliverTo(
  url: () => string,
  body: string,
  headers: Record<string, string> = {},
  deadlineMs = 120_000,
): Promise<Delivery> {
  const deadline = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt += 1) {
    let status = 0;
    try {
      const response = await fetch(url(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      status = response.status;
      await response.arrayBuffer().catch(() => undefined);
    } catch {
      status = 0; // no answer: refused, reset, timed out
    }
    const final =
      (status >= 200 && status < 300) ||
      (status >= 400 && status < 500 && status !== 408 && status !== 429);
    if (final) return { status, attempts: attempt };
    if (Date.now() > deadline)
      throw new Error(`push not accepted after ${attempt} attempts (last status ${status})`);
    await sleep(Math.min(2_000, 50 * 2 ** Math.min(attempt, 6)));
  }
}

/** A CNCF Distribution notification of one manifest push (`image` = host/repository). */
export function distributionBody(id: string, image: string, digest: string): string {
  const slash = image.indexOf('/');
  const host = image.slice(0, slash);
  const repository = image.slice(slash + 1);
  return JSON.stringify({
    events: [
      {
        id,
        timestamp: new Date().toISOString(),
        action: 'push',
        target: {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest,
          repository,
          tag: TAG,
          url: `https://${host}/v2/${repository}/manifests/${digest}`,
        },
        request: { id: `req-${id}`, host, method: 'PUT' },
      },
    ],
  });
}

/**
 * Sends the storm: one round after the other, `roundIntervalMs` apart, each round's pushes
 * concurrently (at most `concurrency` at once), as a burst of registry notifications would come.
 */
export async function sendStorm(
  port: () => number,
  rounds: readonly Push[][],
  options: { roundIntervalMs: number; concurrency?: number },
): Promise<Delivery[]> {
  const deliveries: Delivery[] = [];
  for (const round of rounds) {
    const started = Date.now();
    await pool(round, options.concurrency ?? 16, async (p) => {
      deliveries.push(await deliver(port, envelope(p.messageId, p.body)));
    });
    await sleep(Math.max(0, options.roundIntervalMs - (Date.now() - started)));
  }
  return deliveries;
}
