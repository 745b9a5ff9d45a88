// What each cluster of a fleet made of each push, folded from the outcomes the hub collects
// (ONPUSH_OUTCOMES copies every cluster's, each with its Onpush-Cluster header), and whether that
// settles the push there — the question a wave gate asks of the clusters of the earlier waves.
// Pure: the gate's follower (follow.ts) folds each outcome as it is stored.
import { isAccountingFate, type Fate, type Outcome } from '@onpush/contracts';

/** How one cluster concluded one push so far. */
interface ClusterPush {
  /** The event fate, once the cluster's resolver concluded (`dispatched`, `no-match`, ...). */
  event?: { readonly fate: Fate; readonly reason?: string; readonly detail?: string };
  /** With `dispatched`: how many restart requests it made. */
  requests?: number;
  /** Per workload (`Kind/namespace/name`): its latest accounting fate, and its rollout's. */
  readonly workloads: Map<string, { fate?: Fate; rollout?: Fate; detail?: string }>;
  /** The latest time an outcome of it names (the cluster's clock), ms since the epoch. */
  lastAt: number;
}

/** What a gate reads of one cluster for one push. */
export type Settlement =
  | { readonly state: 'pending'; readonly waiting: string }
  | { readonly state: 'settled'; readonly at: number }
  | { readonly state: 'failed'; readonly detail: string };

/** Workload fates that fail a wave: nothing of it may go further. */
const FAILING: ReadonlySet<Fate> = new Set<Fate>([
  'dead',
  'halted',
  'rejected',
  'expired',
  'rollout-failed',
  'rolled-back',
]);

/** Event fates that settle a push at once: the cluster runs nothing it would restart. */
const NOTHING_TO_DO: ReadonlySet<Fate> = new Set<Fate>(['ignored', 'no-match']);

const workloadName = (w: NonNullable<Outcome['workload']>) => `${w.kind}/${w.namespace}/${w.name}`;

export class Settlements {
  private readonly pushes = new Map<string, Map<string, ClusterPush>>();

  /** Folds one outcome a cluster made (`cluster`: its Onpush-Cluster; the hub's own are skipped). */
  fold(outcome: Outcome, cluster: string | undefined): void {
    if (cluster === undefined) return;
    let byCluster = this.pushes.get(outcome.eventId);
    if (!byCluster) this.pushes.set(outcome.eventId, (byCluster = new Map<string, ClusterPush>()));
    let push = byCluster.get(cluster);
    if (!push) byCluster.set(cluster, (push = { workloads: new Map(), lastAt: 0 }));
    const at = Date.parse(outcome.at);
    if (Number.isFinite(at)) push.lastAt = Math.max(push.lastAt, at);
    if (outcome.workload === undefined) {
      push.event = {
        fate: outcome.fate,
        ...(outcome.reason === undefined ? {} : { reason: outcome.reason }),
        ...(outcome.detail === undefined ? {} : { detail: outcome.detail }),
      };
      if (outcome.fate === 'dispatched') push.requests = outcome.requests ?? 0;
      return;
    }
    const key = workloadName(outcome.workload);
    const workload = push.workloads.get(key) ?? {};
    if (isAccountingFate(outcome.fate)) workload.fate = outcome.fate;
    else workload.rollout = outcome.fate;
    if (outcome.detail !== undefined) workload.detail = outcome.detail;
    push.workloads.set(key, workload);
  }

  /** Whether `cluster` settled push `eventId`: every request ended well and every rollout completed. */
  judge(eventId: string, cluster: string): Settlement {
    const push = this.pushes.get(eventId)?.get(cluster);
    if (!push) return { state: 'pending', waiting: `${cluster} has not concluded it yet` };
    const failed = failureOf(push, cluster);
    if (failed) return { state: 'failed', detail: failed };
    const event = push.event;
    if (event && NOTHING_TO_DO.has(event.fate)) return { state: 'settled', at: push.lastAt };
    if (event?.fate !== 'dispatched')
      return { state: 'pending', waiting: `${cluster} has not concluded it yet` };
    const concluded = [...push.workloads.values()].filter((w) => w.fate !== undefined);
    if (concluded.length < (push.requests ?? 0))
      return {
        state: 'pending',
        waiting: `${cluster}: ${concluded.length} of ${push.requests} workloads concluded`,
      };
    const rolling = [...push.workloads.entries()].filter(
      ([, w]) => w.fate === 'restarted' && w.rollout !== 'rollout-completed',
    );
    if (rolling.length > 0)
      return {
        state: 'pending',
        waiting: `${cluster}: rollout of ${rolling.map(([name]) => name).join(', ')} not complete`,
      };
    return { state: 'settled', at: push.lastAt };
  }

  /** Forgets the pushes whose last outcome is older than `before` (ms since the epoch). */
  forget(before: number): void {
    for (const [eventId, byCluster] of this.pushes) {
      if ([...byCluster.values()].every((p) => p.lastAt < before)) this.pushes.delete(eventId);
    }
  }

  /** How many pushes are remembered. */
  get size(): number {
    return this.pushes.size;
  }
}

/** Why the cluster failed the push, or undefined. */
function failureOf(push: ClusterPush, cluster: string): string | undefined {
  const event = push.event;
  if (event && (event.fate === 'dead' || event.fate === 'halted')) {
    const why = event.detail ?? event.reason ?? event.fate;
    return `${cluster}: the push ended ${event.fate} (${why})`;
  }
  for (const [name, w] of push.workloads) {
    const fate = w.rollout !== undefined && FAILING.has(w.rollout) ? w.rollout : w.fate;
    if (fate !== undefined && FAILING.has(fate))
      return `${cluster}: ${name} ${fate}${w.detail === undefined ? '' : ` (${w.detail})`}`;
  }
  return undefined;
}
