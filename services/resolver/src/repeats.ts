// Repeated pushes. Registries repeat themselves: a webhook retried after a slow answer, the same
// push notified by two endpoints, a CI job pushing one build under a loop. Fanning each repeat out
// again would end `unchanged` at the restarter anyway (the workloads carry the digest), but only
// after one restart request per workload each — a storm of 10,000 repeats to 10 workloads is
// 100,000 requests. So the resolver ends a push `ignored` (reason `duplicate_push`) when, within
// the window, it dispatched a push of the same image, tag and digest to the same workloads.
// Never a repeat: a push without a digest (its content is unknown), a redelivery of the same event
// (its restart requests must go out again), a replay from the DLQ (someone asked for it).
// Per replica and bounded: a repeat that reaches another replica is fanned out (and ends
// `unchanged` at the restarter), which is correct, only slower.
import type { ImagePushed } from '@onpush/contracts';

/** The earlier dispatch a push repeats: its event, and how long ago it was dispatched. */
export interface Dispatch {
  readonly eventId: string;
  readonly ageMs: number;
}

export interface RecentPushes {
  /** The dispatch this event repeats, if any; otherwise remembers it as dispatched now. */
  repeatOf(event: ImagePushed, workloads: readonly string[]): Dispatch | undefined;
}

export interface RecentPushesOptions {
  /** How long a dispatch is remembered; 0 turns the check off. */
  windowMs: number;
  /** Most pushes remembered (the oldest are forgotten first). */
  max?: number;
  now?: () => number;
}

interface Remembered {
  readonly eventId: string;
  readonly at: number;
  readonly digest: string;
  readonly workloads: string;
}

export function createRecentPushes(options: RecentPushesOptions): RecentPushes {
  const { windowMs, max = 10_000 } = options;
  const now = options.now ?? Date.now;
  const recent = new Map<string, Remembered>();
  return {
    repeatOf(event, workloads) {
      if (windowMs <= 0 || event.digest === undefined) return undefined;
      const key = `${event.image}:${event.tag ?? ''}`;
      const targets = workloads.join('\n');
      const at = now();
      const last = recent.get(key);
      if (
        last !== undefined &&
        last.eventId !== event.id &&
        last.digest === event.digest &&
        last.workloads === targets &&
        at - last.at < windowMs
      ) {
        return { eventId: last.eventId, ageMs: at - last.at };
      }
      recent.delete(key);
      recent.set(key, { eventId: event.id, at, digest: event.digest, workloads: targets });
      if (recent.size > max) recent.delete(recent.keys().next().value as string);
      return undefined;
    },
  };
}
