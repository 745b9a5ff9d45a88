// Follows the rollouts the restarter started, off the hot path: `track()` returns at once; one
// watch per (kind, namespace) with something to follow (watch-group.ts) — opened on demand,
// closed when nothing is left, after a minute idle — feeds every rollout machine of that
// namespace (no API call per workload, no polling). A refused watch (RBAC: no `watch`) gives up
// on that namespace's rollouts for a while, logged, without an outcome.
import { createActor, toPromise } from 'xstate';
import { KINDS, type WatchStart } from '@onpush/kube';
import type { Logger } from '@onpush/telemetry';
import { rolloutMachine, type RolloutResult } from './machine.js';
import { rolloutOutcome, type Ended, type TrackRequest } from './outcome.js';
import type { Outcome } from '@onpush/contracts';
import { WatchGroup, type Tracked, type WatchGroupOptions } from './watch-group.js';

export type { WatchStart } from '@onpush/kube';

export type TrackResult = RolloutResult['end'] | 'dropped';

export interface TrackerOptions {
  watch: WatchStart;
  /** How long a rollout may take before it is `rollout-failed` with reason `timeout`. */
  timeoutMs: number;
  /**
   * Gets each rollout outcome (publish it, notify), with the workload's `onpush.dev/notify` and
   * the traceparent of its restart request; must not throw.
   */
  report: (outcome: Outcome, notify: readonly string[] | undefined, traceparent?: string) => void;
  log: Logger;
  /** Rollouts followed at once at most; more are not followed (counted, logged). */
  maxTracked?: number;
  /** First wait before reopening a failed watch; doubles up to 30 s. */
  retryDelayMs?: number;
  /** Asked of the API server: end each watch after this long (it is then reopened). */
  watchTimeoutSeconds?: number;
  /** How long a watch stays open once nothing is left to follow (a burst reuses it). */
  lingerMs?: number;
  /**
   * Asked of the API server for every watch: only the workloads onpush may restart (their opt-in
   * label, ONPUSH_SELECTOR), so the changes of every other workload of the namespace are neither
   * sent nor decoded.
   */
  labelSelector?: string | undefined;
  now?: () => Date;
  onResult?: (kind: string, result: TrackResult) => void;
}

export interface Tracker {
  track(request: TrackRequest): void;
  /** Rollouts being followed. */
  readonly size: number;
  stop(): Promise<void>;
}

/** How long a refused watch (RBAC) is not tried again for its kind and namespace. */
const REFUSED_MS = 5 * 60_000;
/** At most one warning this often about rollouts not followed for the limit. */
const DROPPED_WARNING_MS = 60_000;

export function createTracker(options: TrackerOptions): Tracker {
  const { log, timeoutMs, maxTracked = 1_000 } = options;
  const now = options.now ?? (() => new Date());
  const groups = new Map<string, WatchGroup>();
  /** (kind, namespace) → until when a refused watch is not tried again. */
  const refused = new Map<string, number>();
  let stopped = false;
  const size = (): number => [...groups.values()].reduce((sum, g) => sum + g.tracked.size, 0);

  const groupOptions: WatchGroupOptions = {
    watch: options.watch,
    log,
    retryDelayMs: options.retryDelayMs ?? 1_000,
    watchTimeoutSeconds: options.watchTimeoutSeconds ?? 300,
    lingerMs: options.lingerMs ?? 60_000,
    labelSelector: options.labelSelector,
    stopped: () => stopped,
    refused: (group, status) => {
      refused.set(group.key, now().getTime() + REFUSED_MS);
      log.warn('cannot watch this kind here: its rollouts are not followed', {
        kind: group.spec.kind,
        namespace: group.namespace,
        status,
        retryInMs: REFUSED_MS,
      });
    },
    closed: (group) => groups.delete(group.key),
  };

  function groupOf(request: TrackRequest): WatchGroup {
    const { kind, namespace } = request.workload;
    const key = `${kind}/${namespace}`;
    const group = groups.get(key) ?? new WatchGroup(KINDS[kind], namespace, groupOptions);
    groups.set(key, group);
    return group;
  }

  /** A rollout ended: report it (completed, failed) or log why it was not followed. */
  function finish(group: WatchGroup, name: string, tracked: Tracked, result: RolloutResult): void {
    group.finished(name, tracked);
    options.onResult?.(group.spec.kind, result.end);
    if (result.end === 'completed' || result.end === 'failed') {
      const outcome = rolloutOutcome(tracked.request, result as Ended, now());
      options.report(outcome, tracked.request.notify, tracked.request.traceparent);
    } else if (result.end === 'untracked') {
      const workload = `${group.spec.kind}/${group.namespace}/${name}`;
      log.info('rollout not followed', { workload, detail: result.detail });
    }
  }

  /** Rollouts not followed for maxTracked since the last warning, and when that was. */
  const dropped = { since: 0, warnedAt: Number.NEGATIVE_INFINITY };

  /** Why `request` is not followed, if it is not: counted, and logged when over the limit. */
  function refusal(request: TrackRequest): TrackResult | undefined {
    const { kind, namespace, name } = request.workload;
    if ((refused.get(`${kind}/${namespace}`) ?? 0) > now().getTime()) return 'untracked';
    if (size() < maxTracked || groups.get(`${kind}/${namespace}`)?.tracked.has(name)) return;
    // A burst past the limit drops rollouts by the thousand: one line a minute says how many
    // (each is counted in onpush_rollouts_total{result="dropped"} as it happens).
    dropped.since += 1;
    const at = now().getTime();
    if (at - dropped.warnedAt >= DROPPED_WARNING_MS) {
      log.warn('too many rollouts followed at once: not following new ones', {
        maxTracked,
        notFollowed: dropped.since,
        sinceMs: Number.isFinite(dropped.warnedAt) ? at - dropped.warnedAt : 0,
      });
      dropped.warnedAt = at;
      dropped.since = 0;
    }
    return 'dropped';
  }

  return {
    get size() {
      return size();
    },
    track(request) {
      const { kind, name } = request.workload;
      if (stopped || !KINDS[kind].rollsOut) return;
      const refusedAs = refusal(request);
      if (refusedAs !== undefined) return options.onResult?.(kind, refusedAs);
      const group = groupOf(request);
      // ROLLOUT_TIMEOUT counts from the restart (a rollout followed again after a restart of
      // the restarter has had part of it already)
      const elapsed = Math.max(0, now().getTime() - request.respondedAt.getTime());
      const tracked: Tracked = {
        request,
        actor: createActor(rolloutMachine, {
          input: { timeoutMs, leftMs: Math.max(1_000, timeoutMs - elapsed) },
        }),
      };
      group.follow(name, tracked);
      void toPromise(tracked.actor).then((result) => finish(group, name, tracked, result));
      tracked.actor.start();
      group.observeSeen(name, tracked);
    },
    async stop() {
      stopped = true;
      const pending = [...groups.values()].flatMap((g) => [...g.tracked.values()]);
      for (const group of [...groups.values()]) group.close();
      for (const tracked of pending) tracked.actor.send({ type: 'STOP' });
      await Promise.all(pending.map((t) => toPromise(t.actor).catch(() => undefined)));
    },
  };
}
