// The resolver's decisions, kept. What the resolver concludes for an event depends on things
// that change — the index, the last dispatch of the image — so a redelivered event (the resolver
// crashed after publishing, before its ack; or a second replica got it after the ack wait) could
// conclude differently: `dispatched` first, `ignored` the second time, or dispatched to another
// set of workloads. So the first conclusion is recorded before anything is published, in a KV
// bucket every replica shares, and a redelivery re-publishes exactly that conclusion — the same
// fate, the same restart requests — with the same Nats-Msg-Ids. First conclusion wins.
import { z } from 'zod';
import { RESOLVER_MEMORY_MS, WorkloadSchema } from '@onpush/contracts';
import { kvKey, type CasStore } from '@onpush/nats';

/** How long a decision is kept (bucket BUCKETS.resolverDecisions): longer than any redelivery. */
export const DECISION_TTL_MS = RESOLVER_MEMORY_MS;

/** A workload dispatched to, with its wave when it has one (the requests carry the waves). */
export const DispatchedWorkloadSchema = WorkloadSchema.extend({
  wave: z.int().nonnegative().optional(),
});
export type DispatchedWorkload = z.infer<typeof DispatchedWorkloadSchema>;

export const DecisionSchema = z.discriminatedUnion('fate', [
  z.object({ fate: z.literal('dispatched'), workloads: z.array(DispatchedWorkloadSchema).min(1) }),
  z.object({ fate: z.literal('no-match') }),
  z.object({ fate: z.literal('ignored'), reason: z.string(), detail: z.string() }),
]);
export type Decision = z.infer<typeof DecisionSchema>;

export interface DecisionBook {
  /** The decision recorded for `eventId`, if any. */
  recall(eventId: string): Promise<Decision | undefined>;
  /** Records `decision` for `eventId` unless one is recorded; returns the one that holds. */
  settle(eventId: string, decision: Decision): Promise<Decision>;
}

/** Writers that lost the compare-and-set to an unreadable value, before giving up. */
const MAX_WRITES = 3;

export function decisionBook(store: CasStore<Decision>): DecisionBook {
  return {
    async recall(eventId) {
      return (await store.read(kvKey(eventId))).value;
    },
    async settle(eventId, decision) {
      const key = kvKey(eventId);
      let revision = 0;
      for (let write = 0; write < MAX_WRITES; write += 1) {
        if ((await store.write(key, decision, revision)) > 0) return decision;
        const recorded = await store.read(key);
        if (recorded.value !== undefined) return recorded.value;
        revision = recorded.revision;
      }
      throw new Error(`decision for event ${eventId}: the record could not be written`);
    },
  };
}
