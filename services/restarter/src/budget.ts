// The rollout budget (ROLLOUT_BUDGET, ROLLOUT_BUDGET_NAMESPACES): at most N workloads rolling
// out at once, cluster-wide and per namespace. Further restarts wait their turn, in the order
// their requests were stored (the stream sequence, kept by every copy put back), durably: the
// slots and the queue are one record in the KV bucket onpush_restarter_budget, written with
// compare-and-set by every replica — no process owns the budget, none believes it does.
//
// A slot is taken before the PATCH and given back when the rollout ends: at once when this
// replica's tracker sees it end, else when a waiting restart finds the budget full and judges the
// slots' rollouts from the API server (at most every PRUNE_MS, one replica at a time), so a slot
// whose holder was killed -9 is not lost.
import { z } from 'zod';
import { BUCKETS, type WorkloadRef } from '@onpush/contracts';
import {
  casUpdate,
  lazyBucket,
  lazyCasStore,
  type CasStore,
  type JetStreamClient,
} from '@onpush/nats';
import type { ReadRollout } from './rollout/read.js';
import { rolloutState } from './rollout/status.js';

export interface BudgetLimits {
  /** Rollouts in progress at most, cluster-wide; 0: no limit. */
  readonly all: number;
  /** The same per namespace (over `all`). */
  readonly namespaces: Readonly<Record<string, number>>;
}

const SlotSchema = z.object({
  workload: z.string(),
  namespace: z.string(),
  eventId: z.string(),
  since: z.string(),
  /** The generation its PATCH left, once known: its rollout is judged against it. */
  generation: z.number().int().nonnegative().optional(),
});
const WaiterSchema = z.object({
  ticket: z.number().int().nonnegative(),
  workload: z.string(),
  namespace: z.string(),
  since: z.string(),
});
export const BudgetRecordSchema = z.object({
  slots: z.array(SlotSchema),
  queue: z.array(WaiterSchema),
  /** When the slots were last judged against the API server. */
  prunedAt: z.string().optional(),
});
export type BudgetRecord = z.infer<typeof BudgetRecordSchema>;
type Slot = z.infer<typeof SlotSchema>;

export type Turn =
  | { readonly granted: true }
  | { readonly granted: false; readonly detail: string; readonly recheckMs: number };

export interface Budget {
  /** True when a restart in `namespace` needs a slot (a limit applies there). */
  applies(namespace: string): boolean;
  /** Takes a slot for `request`'s restart, or says it waits (and keeps its place in the queue). */
  acquire(
    request: { workload: WorkloadRef; eventId: string },
    ticket: number | undefined,
  ): Promise<Turn>;
  /** Records the generation the restart's PATCH left (its rollout is judged against it). */
  started(request: { workload: WorkloadRef; eventId: string }, generation: number): Promise<void>;
  /** Gives the workload's slot back (its rollout ended, or it was never made). */
  release(workload: WorkloadRef): Promise<void>;
}

const KEY = 'budget';
/** The slots are judged against the API server at most this often (one replica at a time). */
export const PRUNE_MS = 2_000;
/** A slot whose PATCH never reported its generation is dropped after this long. */
const UNSTARTED_MS = 30_000;

const keyOf = (w: WorkloadRef): string => `${w.kind}/${w.namespace}/${w.name}`;
const refOf = (key: string): WorkloadRef => {
  const [kind, namespace, name] = key.split('/');
  return { kind: kind as WorkloadRef['kind'], namespace: namespace!, name: name! };
};

/** The limit that applies in `namespace` (0: none) and cluster-wide. */
function limitsFor(limits: BudgetLimits, namespace: string): { all: number; ns: number } {
  return { all: limits.all, ns: limits.namespaces[namespace] ?? 0 };
}

/**
 * Whether the waiter `me` may take a slot now: its namespace has room, and fewer waiters ahead of
 * it (by ticket) that could go are waiting than there are free slots — first come, first served.
 */
export function mayGo(record: BudgetRecord, me: string, limits: BudgetLimits): boolean {
  const free = (namespace: string): { all: number; ns: number } => {
    const l = limitsFor(limits, namespace);
    const inNs = record.slots.filter((s) => s.namespace === namespace).length;
    return {
      all: l.all === 0 ? Infinity : l.all - record.slots.length,
      ns: l.ns === 0 ? Infinity : l.ns - inNs,
    };
  };
  const queue = [...record.queue].sort((a, b) => a.ticket - b.ticket);
  let ahead = 0;
  for (const waiter of queue) {
    const room = free(waiter.namespace);
    if (waiter.workload === me) return room.ns > 0 && room.all > ahead;
    if (room.ns > 0) ahead += 1;
  }
  return false;
}

export interface BudgetOptions {
  store: CasStore<BudgetRecord>;
  limits: BudgetLimits;
  readRollout: ReadRollout;
  /** A waiting restart asks again after this long. */
  recheckMs?: number;
  now?: () => Date;
}

export function createBudget(options: BudgetOptions): Budget {
  const { store, limits } = options;
  const now = options.now ?? (() => new Date());
  const recheckMs = options.recheckMs ?? 1_000;
  const unlimited = (namespace: string): boolean => {
    const l = limitsFor(limits, namespace);
    return l.all === 0 && l.ns === 0;
  };

  /** Changes the record with `change` (compare-and-set, retried); `change` returns undefined to leave it. */
  function update<T>(
    change: (record: BudgetRecord) => { record?: BudgetRecord; result: T },
  ): Promise<T> {
    return casUpdate(
      store,
      KEY,
      (value) => {
        const { record, result } = change(value ?? { slots: [], queue: [] });
        return { write: record, result };
      },
      { what: 'budget: the record' },
    );
  }

  /** The slots whose rollout is still going, judged now (one GET each). */
  async function stillRolling(slots: readonly Slot[], at: Date): Promise<Set<string>> {
    const rolling = new Set<string>();
    for (const slot of slots) {
      const age = at.getTime() - Date.parse(slot.since);
      if (slot.generation === undefined) {
        if (age < UNSTARTED_MS) rolling.add(slot.workload);
        continue;
      }
      const ref = refOf(slot.workload);
      const read = await options.readRollout(ref);
      if (read === undefined) continue;
      if (rolloutState(ref.kind, read.object, slot.generation).state === 'progressing') {
        rolling.add(slot.workload);
      }
    }
    return rolling;
  }

  /** When the budget is full: one replica judges the slots and frees those whose rollout ended. */
  async function prune(): Promise<void> {
    const at = now();
    const { value, revision } = await store.read(KEY);
    if (value === undefined) return;
    if (value.prunedAt !== undefined && at.getTime() - Date.parse(value.prunedAt) < PRUNE_MS)
      return;
    const leased = await store.write(KEY, { ...value, prunedAt: at.toISOString() }, revision);
    if (leased === 0) return;
    const rolling = await stillRolling(value.slots, at);
    await update((record) => {
      const slots = record.slots.filter(
        (s) => rolling.has(s.workload) || !value.slots.some((old) => old.workload === s.workload),
      );
      return slots.length === record.slots.length
        ? { result: undefined }
        : { record: { ...record, slots }, result: undefined };
    });
  }

  return {
    applies: (namespace) => !unlimited(namespace),
    async acquire(request, ticket) {
      const { namespace } = request.workload;
      if (unlimited(namespace)) return { granted: true };
      const me = keyOf(request.workload);
      const at = now().toISOString();
      const attempt = () =>
        update<Turn>((record) => {
          const own = record.slots.find((s) => s.workload === me);
          if (own !== undefined) {
            // a workload counts once: a later push takes over its slot
            if (own.eventId === request.eventId) return { result: { granted: true } };
            const slots = record.slots.map((s) =>
              s.workload === me ? { ...s, eventId: request.eventId, since: at } : s,
            );
            const queue = record.queue.filter((w) => w.workload !== me);
            return { record: { ...record, slots, queue }, result: { granted: true } };
          }
          const queued = record.queue.some((w) => w.workload === me);
          const queue = queued
            ? record.queue
            : [...record.queue, { ticket: ticket ?? 0, workload: me, namespace, since: at }];
          const withMe = { ...record, queue };
          if (mayGo(withMe, me, limits)) {
            const slot: Slot = { workload: me, namespace, eventId: request.eventId, since: at };
            return {
              record: {
                ...withMe,
                slots: [...record.slots, slot],
                queue: queue.filter((w) => w.workload !== me),
              },
              result: { granted: true },
            };
          }
          const place = [...queue]
            .sort((a, b) => a.ticket - b.ticket)
            .findIndex((w) => w.workload === me);
          const l = limitsFor(limits, namespace);
          const detail =
            `rollout budget full (${record.slots.length} rolling` +
            `${l.all > 0 ? ` of ${l.all}` : ''}` +
            `${l.ns > 0 ? `, ${record.slots.filter((s) => s.namespace === namespace).length} of ${l.ns} in ${namespace}` : ''}` +
            `); number ${place + 1} in line`;
          return {
            ...(queued ? {} : { record: withMe }),
            result: { granted: false, detail, recheckMs },
          };
        });
      const first = await attempt();
      if (first.granted) return first;
      await prune();
      return attempt();
    },
    async started(request, generation) {
      if (unlimited(request.workload.namespace)) return;
      const me = keyOf(request.workload);
      await update((record) => {
        const own = record.slots.find((s) => s.workload === me && s.eventId === request.eventId);
        if (own === undefined || own.generation === generation) return { result: undefined };
        const slots = record.slots.map((s) => (s === own ? { ...s, generation } : s));
        return { record: { ...record, slots }, result: undefined };
      });
    },
    async release(workload) {
      if (unlimited(workload.namespace)) return;
      const me = keyOf(workload);
      await update((record) =>
        record.slots.some((s) => s.workload === me)
          ? {
              record: { ...record, slots: record.slots.filter((s) => s.workload !== me) },
              result: undefined,
            }
          : { result: undefined },
      );
    },
  };
}

/** The budget's record in bucket BUCKETS.restarterBudget, bound on first use. */
export function bucketBudgetStore(js: () => JetStreamClient | undefined): CasStore<BudgetRecord> {
  return lazyCasStore(lazyBucket(js, BUCKETS.restarterBudget), (v) => BudgetRecordSchema.parse(v));
}
