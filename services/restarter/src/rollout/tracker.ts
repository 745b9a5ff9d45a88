// Follows the rollouts the restarter started, off the hot path: `track()` returns at once; one
// watch per (kind, namespace) with something to follow — opened on demand, closed when nothing is
// left, after a minute idle — feeds every rollout machine of that namespace (no API call per
// workload, no polling).
// The watch opens without a resourceVersion, so its first events are the current state of every
// object; the last state seen per name is kept while it is open, so a rollout tracked after its
// PATCH event went by is judged at once. A watch the API server ends is opened again; one that is
// refused (RBAC: no `watch`) gives up on that namespace's rollouts, logged, without an outcome.
import { createActor, toPromise, type Actor } from 'xstate';
import { KINDS, collectionPath, type KindSpec, type WatchStart } from '@onpush/kube';
import type { Logger } from '@onpush/telemetry';
import { rolloutMachine, type RolloutResult } from './machine.js';
import { rolloutOutcome, type Ended, type TrackRequest } from './outcome.js';
import type { Outcome } from '@onpush/contracts';
import { pruned, rolloutState, type RolloutObject } from './status.js';

export type { WatchStart } from '@onpush/kube';

export type TrackResult = RolloutResult['end'] | 'dropped';

export interface TrackerOptions {
  watch: WatchStart;
  /** How long a rollout may take before it is `rollout-failed` with reason `timeout`. */
  timeoutMs: number;
  /** Gets each rollout outcome (publish it, notify); must not throw. */
  report: (outcome: Outcome, notify: readonly string[] | undefined) => void;
  log: Logger;
  /** Rollouts followed at once at most; more are not followed (counted, logged). */
  maxTracked?: number;
  /** First wait before reopening a failed watch; doubles up to 30 s. */
  retryDelayMs?: number;
  /** Asked of the API server: end each watch after this long (it is then reopened). */
  watchTimeoutSeconds?: number;
  /** How long a watch stays open once nothing is left to follow (a burst reuses it). */
  lingerMs?: number;
  now?: () => Date;
  onResult?: (kind: string, result: TrackResult) => void;
}

export interface Tracker {
  track(request: TrackRequest): void;
  /** Rollouts being followed. */
  readonly size: number;
  stop(): Promise<void>;
}

interface Tracked {
  readonly request: TrackRequest;
  readonly actor: Actor<typeof rolloutMachine>;
}

interface Group {
  readonly spec: KindSpec;
  readonly namespace: string;
  readonly tracked: Map<string, Tracked>;
  readonly seen: Map<string, RolloutObject>;
  handle: { abort(): void } | undefined;
  /** A watch is being opened (its handle not there yet). */
  opening: boolean;
  /** Which open() is current; events and ends of older ones are ignored. */
  generation: number;
  timer: NodeJS.Timeout | undefined;
  /** Closes the idle watch. */
  linger: NodeJS.Timeout | undefined;
  failures: number;
}

/** How long a refused watch (RBAC) is not tried again for its kind and namespace. */
const REFUSED_MS = 5 * 60_000;

const statusOf = (error: unknown): number | undefined => {
  const e = error as { statusCode?: unknown; code?: unknown } | null;
  const code = e?.statusCode ?? e?.code;
  return typeof code === 'number' ? code : undefined;
};

export function createTracker(options: TrackerOptions): Tracker {
  const { log, timeoutMs, maxTracked = 1_000, retryDelayMs = 1_000, lingerMs = 60_000 } = options;
  const now = options.now ?? (() => new Date());
  const groups = new Map<string, Group>();
  /** (kind, namespace) → until when a refused watch is not tried again. */
  const refused = new Map<string, number>();
  let stopped = false;
  const size = (): number => [...groups.values()].reduce((sum, g) => sum + g.tracked.size, 0);

  const observe = (group: Group, tracked: Tracked, object: RolloutObject): void => {
    const state = rolloutState(group.spec.kind, object, tracked.request.generation);
    tracked.actor.send({ type: 'OBSERVED', state });
  };

  function finish(group: Group, name: string, tracked: Tracked, result: RolloutResult): void {
    if (group.tracked.get(name) === tracked) group.tracked.delete(name);
    options.onResult?.(group.spec.kind, result.end);
    const workload = `${group.spec.kind}/${group.namespace}/${name}`;
    if (result.end === 'completed' || result.end === 'failed') {
      options.report(
        rolloutOutcome(tracked.request, result as Ended, now()),
        tracked.request.notify,
      );
    } else if (result.end === 'untracked')
      log.info('rollout not followed', { workload, detail: result.detail });
    if (group.tracked.size === 0 && !stopped) {
      clearTimeout(group.linger);
      group.linger = setTimeout(() => close(group), lingerMs);
      group.linger.unref();
    }
  }

  function close(group: Group): void {
    clearTimeout(group.linger);
    group.linger = undefined;
    group.generation += 1;
    group.opening = false;
    clearTimeout(group.timer);
    group.timer = undefined;
    group.handle?.abort();
    group.handle = undefined;
    group.seen.clear();
    groups.delete(`${group.spec.kind}/${group.namespace}`);
  }

  function onEvent(group: Group, generation: number, type: string, object: unknown): void {
    if (generation !== group.generation) return;
    if (type === 'ERROR') return ended(group, generation, object);
    const name = (object as RolloutObject | undefined)?.metadata?.name;
    if (name === undefined || type === 'BOOKMARK') return;
    const tracked = group.tracked.get(name);
    group.failures = 0;
    if (type === 'DELETED') {
      group.seen.delete(name);
      tracked?.actor.send({ type: 'DELETED' });
      return;
    }
    const kept = pruned(object as RolloutObject);
    group.seen.set(name, kept);
    if (tracked) observe(group, tracked, kept);
  }

  function ended(group: Group, generation: number, error: unknown): void {
    if (generation !== group.generation || stopped) return;
    group.generation += 1;
    group.opening = false;
    group.handle?.abort();
    group.handle = undefined;
    group.seen.clear();
    if (group.tracked.size === 0) return;
    const status = statusOf(error);
    if (status === 401 || status === 403) {
      refused.set(`${group.spec.kind}/${group.namespace}`, now().getTime() + REFUSED_MS);
      log.warn('cannot watch this kind here: its rollouts are not followed', {
        kind: group.spec.kind,
        namespace: group.namespace,
        status,
        retryInMs: REFUSED_MS,
      });
      for (const tracked of [...group.tracked.values()]) tracked.actor.send({ type: 'STOP' });
      return;
    }
    group.failures += error ? 1 : 0;
    const delayMs = error ? Math.min(30_000, retryDelayMs * 2 ** (group.failures - 1)) : 0;
    if (error) log.debug('rollout watch ended, reopening', { error, delayMs });
    group.timer = setTimeout(() => {
      group.timer = undefined;
      open(group);
    }, delayMs);
  }

  function open(group: Group): void {
    if (stopped || group.handle !== undefined || group.opening || group.tracked.size === 0) return;
    const generation = ++group.generation;
    group.opening = true;
    const params = { timeoutSeconds: options.watchTimeoutSeconds ?? 300 };
    options
      .watch(
        collectionPath(group.spec, group.namespace),
        params,
        (type, object) => onEvent(group, generation, type, object),
        (error) => ended(group, generation, error),
      )
      .then((handle) => {
        if (generation !== group.generation) return handle.abort();
        group.opening = false;
        group.handle = handle;
      })
      .catch((error: unknown) => ended(group, generation, error));
  }

  function groupOf(request: TrackRequest): Group {
    const { kind, namespace } = request.workload;
    const key = `${kind}/${namespace}`;
    let group = groups.get(key);
    if (!group) {
      const fresh: Group = {
        spec: KINDS[kind],
        namespace,
        tracked: new Map(),
        seen: new Map(),
        handle: undefined,
        opening: false,
        generation: 0,
        timer: undefined,
        linger: undefined,
        failures: 0,
      };
      groups.set(key, fresh);
      group = fresh;
    }
    return group;
  }

  return {
    get size() {
      return size();
    },
    track(request) {
      const { kind, name } = request.workload;
      if (stopped || !KINDS[kind].rollsOut) return;
      if ((refused.get(`${kind}/${request.workload.namespace}`) ?? 0) > now().getTime()) {
        options.onResult?.(kind, 'untracked');
        return;
      }
      if (
        size() >= maxTracked &&
        !groups.get(`${kind}/${request.workload.namespace}`)?.tracked.has(name)
      ) {
        options.onResult?.(kind, 'dropped');
        log.warn('too many rollouts followed at once: not following this one', { maxTracked });
        return;
      }
      const group = groupOf(request);
      const actor = createActor(rolloutMachine, { input: { timeoutMs } });
      const tracked: Tracked = { request, actor };
      const previous = group.tracked.get(name);
      group.tracked.set(name, tracked);
      clearTimeout(group.linger);
      group.linger = undefined;
      previous?.actor.send({ type: 'STOP' });
      void toPromise(actor).then((result) => finish(group, name, tracked, result));
      actor.start();
      const seen = group.seen.get(name);
      if (seen) observe(group, tracked, seen);
      if (group.timer === undefined) open(group);
    },
    async stop() {
      stopped = true;
      const pending = [...groups.values()].flatMap((g) => [...g.tracked.values()]);
      for (const group of [...groups.values()]) close(group);
      for (const tracked of pending) tracked.actor.send({ type: 'STOP' });
      await Promise.all(pending.map((t) => toPromise(t.actor).catch(() => undefined)));
    },
  };
}
