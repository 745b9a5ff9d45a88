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
import { kvKey, type CasStore } from '@onpush/nats';

/** The earlier dispatch a push repeats: its event, and how long ago it was dispatched. */
export interface Dispatch {
  readonly eventId: string;
  readonly ageMs: number;
}

export interface RecentPushes {
  /** The dispatch this event repeats, if any; otherwise claims it as the last dispatch now. */
  repeatOf(event: ImagePushed, workloads: readonly string[]): Promise<Dispatch | undefined>;
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
const MAX_CLAIMS = 3;

export function createRecentPushes(options: RecentPushesOptions): RecentPushes {
  const { windowMs, store } = options;
  const now = options.now ?? Date.now;
  return {
    async repeatOf(event, workloads) {
      if (windowMs <= 0 || event.digest === undefined) return undefined;
      const key = kvKey(`${event.image}:${event.tag ?? ''}`);
      const targets = kvKey(workloads.join('\n'));
      for (let claim = 0; claim < MAX_CLAIMS; claim += 1) {
        const { value: last, revision } = await store.read(key);
        const at = now();
        if (
          last !== undefined &&
          last.eventId !== event.id &&
          last.digest === event.digest &&
          last.workloads === targets &&
          at - last.at < windowMs
        ) {
          return { eventId: last.eventId, ageMs: Math.max(0, at - last.at) };
        }
        const mine = { eventId: event.id, digest: event.digest, workloads: targets, at };
        if (await store.write(key, mine, revision)) return undefined;
      }
      return undefined;
    },
  };
}
