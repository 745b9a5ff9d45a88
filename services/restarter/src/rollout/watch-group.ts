// One (kind, namespace) of the rollout tracker: the rollouts followed there and the one watch
// that feeds them. The watch opens without a resourceVersion, so its first events are the current
// state of every object; the last state seen per name is kept while it is open, so a rollout
// followed after its PATCH event went by is judged at once. A watch the API server ends is opened
// again (at once when it ended cleanly, after a doubling delay when it failed); one that is
// refused (RBAC: no `watch`) stops every rollout of the group, which the tracker then refuses for
// a while. Once nothing is left to follow the watch lingers, then closes.
import type { Actor } from 'xstate';
import { collectionPath, type KindSpec, type WatchStart } from '@onpush/kube';
import type { Logger } from '@onpush/telemetry';
import type { rolloutMachine } from './machine.js';
import type { TrackRequest } from './outcome.js';
import { pruned, rolloutState, type RolloutObject } from './status.js';

/** One rollout followed: the restart it follows and the machine that judges it. */
export interface Tracked {
  readonly request: TrackRequest;
  readonly actor: Actor<typeof rolloutMachine>;
}

export interface WatchGroupOptions {
  watch: WatchStart;
  log: Logger;
  /** First wait before reopening a failed watch; doubles up to 30 s. */
  retryDelayMs: number;
  /** Asked of the API server: end each watch after this long (it is then reopened). */
  watchTimeoutSeconds: number;
  /** How long the watch stays open once nothing is left to follow. */
  lingerMs: number;
  /** Only the objects that match it are watched (undefined: every object of the kind). */
  labelSelector?: string | undefined;
  /** True once the tracker stopped: nothing opens or reopens. */
  stopped: () => boolean;
  /** The API server refused the watch (401/403). */
  refused: (group: WatchGroup, status: number) => void;
  /** The group closed; the tracker forgets it. */
  closed: (group: WatchGroup) => void;
}

const statusOf = (error: unknown): number | undefined => {
  const e = error as { statusCode?: unknown; code?: unknown } | null;
  const code = e?.statusCode ?? e?.code;
  return typeof code === 'number' ? code : undefined;
};

export class WatchGroup {
  readonly tracked = new Map<string, Tracked>();
  readonly #seen = new Map<string, RolloutObject>();
  #handle: { abort(): void } | undefined;
  /** A watch is being opened (its handle not there yet). */
  #opening = false;
  /** Which open() is current; events and ends of older ones are ignored. */
  #generation = 0;
  #retry: NodeJS.Timeout | undefined;
  #linger: NodeJS.Timeout | undefined;
  #failures = 0;

  constructor(
    readonly spec: KindSpec,
    readonly namespace: string,
    private readonly options: WatchGroupOptions,
  ) {}

  get key(): string {
    return `${this.spec.kind}/${this.namespace}`;
  }

  /** Follows `tracked` (replacing an earlier rollout of the same workload), judged at once on what the watch saw. */
  follow(name: string, tracked: Tracked): void {
    const previous = this.tracked.get(name);
    this.tracked.set(name, tracked);
    clearTimeout(this.#linger);
    this.#linger = undefined;
    previous?.actor.send({ type: 'STOP' });
  }

  /** Judges `tracked` on the state the watch saw of it, if any; opens the watch if needed. */
  observeSeen(name: string, tracked: Tracked): void {
    const seen = this.#seen.get(name);
    if (seen) this.#observe(tracked, seen);
    if (this.#retry === undefined) this.open();
  }

  /** A rollout ended: forget it; with nothing left to follow, close after the linger. */
  finished(name: string, tracked: Tracked): void {
    if (this.tracked.get(name) === tracked) this.tracked.delete(name);
    if (this.tracked.size > 0 || this.options.stopped()) return;
    clearTimeout(this.#linger);
    this.#linger = setTimeout(() => this.close(), this.options.lingerMs);
    this.#linger.unref();
  }

  open(): void {
    if (this.options.stopped() || this.#handle !== undefined || this.#opening) return;
    if (this.tracked.size === 0) return;
    const generation = ++this.#generation;
    this.#opening = true;
    this.options
      .watch(
        collectionPath(this.spec, this.namespace),
        {
          timeoutSeconds: this.options.watchTimeoutSeconds,
          ...(this.options.labelSelector ? { labelSelector: this.options.labelSelector } : {}),
        },
        (type, object) => this.#onEvent(generation, type, object),
        (error) => this.#ended(generation, error),
      )
      .then((handle) => {
        if (generation !== this.#generation) return handle.abort();
        this.#opening = false;
        this.#handle = handle;
      })
      .catch((error: unknown) => this.#ended(generation, error));
  }

  close(): void {
    clearTimeout(this.#linger);
    this.#linger = undefined;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#drop();
    this.options.closed(this);
  }

  /** Ends the current watch (if any): its later events and ends are ignored. */
  #drop(): void {
    this.#generation += 1;
    this.#opening = false;
    this.#handle?.abort();
    this.#handle = undefined;
    this.#seen.clear();
  }

  #observe(tracked: Tracked, object: RolloutObject): void {
    const state = rolloutState(this.spec.kind, object, tracked.request.generation);
    tracked.actor.send({ type: 'OBSERVED', state });
  }

  #onEvent(generation: number, type: string, object: unknown): void {
    if (generation !== this.#generation) return;
    if (type === 'ERROR') return this.#ended(generation, object);
    const name = (object as RolloutObject | undefined)?.metadata?.name;
    if (name === undefined || type === 'BOOKMARK') return;
    const tracked = this.tracked.get(name);
    this.#failures = 0;
    if (type === 'DELETED') {
      this.#seen.delete(name);
      tracked?.actor.send({ type: 'DELETED' });
      return;
    }
    const kept = pruned(object as RolloutObject);
    this.#seen.set(name, kept);
    if (tracked) this.#observe(tracked, kept);
  }

  #ended(generation: number, error: unknown): void {
    if (generation !== this.#generation || this.options.stopped()) return;
    this.#drop();
    if (this.tracked.size === 0) return;
    const status = statusOf(error);
    if (status === 401 || status === 403) {
      this.options.refused(this, status);
      for (const tracked of [...this.tracked.values()]) tracked.actor.send({ type: 'STOP' });
      return;
    }
    this.#failures += error ? 1 : 0;
    const delayMs = error
      ? Math.min(30_000, this.options.retryDelayMs * 2 ** (this.#failures - 1))
      : 0;
    if (error) this.options.log.debug('rollout watch ended, reopening', { error, delayMs });
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.open();
    }, delayMs);
  }
}
