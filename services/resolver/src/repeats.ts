// Repeated pushes. Registries repeat themselves: a webhook retried after a slow answer, the same
// push notified by two endpoints, a CI job pushing one build under a loop. Fanning each repeat out
// again would end `unchanged` at the restarter anyway (the workloads carry the digest), but only
// after one restart request per workload each — a storm of 10,000 repeats to 10 workloads is
// 100,000 requests. So the resolver ends a push `ignored` (reason `duplicate_push`) when, within
// the window, a push of the same image, tag and digest was dispatched to the same workloads.
// Never a repeat: a push without a digest (its content is unknown), a redelivery of the same event
// (its restart requests must go out again), a replay from the DLQ (someone asked for it).
//
// Shared by every replica and kept across restarts: the last dispatch per image and tag lives in a
// JetStream KV bucket, claimed with compare-and-set, so two replicas given two copies of one push
// at once dispatch it once — one claims, the other reads the claim and ends its copy `ignored`.
import { z } from 'zod';
import type { ImagePushed } from '@onpush/contracts';
import { kvKey, type CasStore, type Versioned } from '@onpush/nats';

/** The earlier dispatch a push repeats: its event, and how long ago it was dispatched. */
export interface Dispatch {
  readonly eventId: string;
  readonly ageMs: number;
}

export interface RecentPushes {
  /** The dispatch this event repeats, if any; otherwise claims it as the last dispatch now. */
  repeatOf(event: ImagePushed, workloads: readonly string[]): Promise<Dispatch | undefined>;
  /**
   * False when this replica has reason to think `event` repeats a dispatch: what it remembers of
   * the image and tag says so, or a claim of them is under way here right now. True otherwise —
   * most pushes: the resolver then records its decision while the claim is made (handler.ts).
   */
  likelyNew(event: ImagePushed, workloads: readonly string[]): boolean;
}

/** The last dispatch of one image and tag. */
export const LastDispatchSchema = z.object({
  eventId: z.string(),
  digest: z.string(),
  /** The workloads' keys, hashed. */
  workloads: z.string(),
  /** When it was claimed, ms since the epoch. */
  at: z.number(),
});
export type LastDispatch = z.infer<typeof LastDispatchSchema>;

export interface RecentPushesOptions {
  /** How long a dispatch counts; 0 turns the check off. */
  windowMs: number;
  store: CasStore<LastDispatch>;
  now?: () => number;
}

/** Claims that lost to another replica before one was read that could be judged: dispatch. */
const MAX_CLAIMS = 4;
/** Keys whose last value this replica remembers. */
const MAX_KNOWN = 10_000;

/** True when `last` is a dispatch of the same push to the same workloads, within the window. */
function repeats(
  last: LastDispatch | undefined,
  event: ImagePushed,
  targets: string,
  at: number,
  windowMs: number,
): last is LastDispatch {
  return (
    last !== undefined &&
    last.eventId !== event.id &&
    last.digest === event.digest &&
    last.workloads === targets &&
    at - last.at < windowMs
  );
}

/**
 * The value per key this replica last wrote or read, so a claim usually costs one round trip: a
 * compare-and-set on the remembered revision, or for a key it knows nothing of, a create. What it
 * remembers is never trusted for a verdict of "repeat" (that is read again first); a stale "not a
 * repeat", or a create where the key exists, only makes the write fail, and the key is read and
 * judged again.
 */
function memory() {
  const known = new Map<string, Versioned<LastDispatch>>();
  return {
    get: (key: string) => known.get(key),
    set(key: string, value: Versioned<LastDispatch>): Versioned<LastDispatch> {
      known.delete(key);
      known.set(key, value);
      if (known.size > MAX_KNOWN) known.delete(known.keys().next().value as string);
      return value;
    },
  };
}

export function createRecentPushes(options: RecentPushesOptions): RecentPushes {
  const { windowMs, store } = options;
  const now = options.now ?? Date.now;
  const known = memory();
  /** Keys with a claim under way in this replica. */
  const claiming = new Map<string, number>();
  const keyOf = (event: ImagePushed) => kvKey(`${event.image}:${event.tag ?? ''}`);
  const claim = async (event: ImagePushed, digest: string, key: string, targets: string) => {
    let current: Versioned<LastDispatch> = known.get(key) ?? { value: undefined, revision: 0 };
    let fresh = false;
    for (let attempt = 0; attempt < MAX_CLAIMS; attempt += 1) {
      const at = now();
      const last = current.value;
      if (repeats(last, event, targets, at, windowMs)) {
        if (fresh) return { eventId: last.eventId, ageMs: Math.max(0, at - last.at) };
      } else {
        const mine = { eventId: event.id, digest, workloads: targets, at };
        const revision = await store.write(key, mine, current.revision);
        if (revision > 0) return void known.set(key, { value: mine, revision });
      }
      current = known.set(key, await store.read(key));
      fresh = true;
    }
    return undefined;
  };
  return {
    async repeatOf(event, workloads) {
      const { digest } = event;
      if (windowMs <= 0 || digest === undefined) return undefined;
      const key = keyOf(event);
      claiming.set(key, (claiming.get(key) ?? 0) + 1);
      try {
        return await claim(event, digest, key, kvKey(workloads.join('\n')));
      } finally {
        const left = (claiming.get(key) ?? 1) - 1;
        if (left === 0) claiming.delete(key);
        else claiming.set(key, left);
      }
    },
    likelyNew(event, workloads) {
      if (windowMs <= 0 || event.digest === undefined) return true;
      const key = keyOf(event);
      if (claiming.has(key)) return false;
      const last = known.get(key)?.value;
      // the workloads are hashed only when there is a dispatch to compare them with
      return (
        last === undefined || !repeats(last, event, kvKey(workloads.join('\n')), now(), windowMs)
      );
    },
  };
}
