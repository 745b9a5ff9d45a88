// The state the resolver's replicas share, in JetStream KV buckets beside the work stream (as
// many replicas as ONPUSH): each event's decision (decisions.ts) and the last dispatch per image
// and tag (repeats.ts).
import { BUCKETS } from '@onpush/contracts';
import { bindBucket, kvCasStore, type JetStreamClient } from '@onpush/nats';
import { DecisionSchema, decisionBook, type DecisionBook } from './decisions.js';
import { LastDispatchSchema, createRecentPushes, type RecentPushes } from './repeats.js';

export async function openSharedState(
  js: JetStreamClient,
  duplicateWindowMs: number,
): Promise<{ decisions: DecisionBook; recent: RecentPushes }> {
  const decisions = await bindBucket(js, BUCKETS.resolverDecisions);
  const repeats = await bindBucket(js, BUCKETS.resolverRepeats);
  return {
    decisions: decisionBook(kvCasStore(decisions, (v) => DecisionSchema.parse(v))),
    recent: createRecentPushes({
      windowMs: duplicateWindowMs,
      store: kvCasStore(repeats, (v) => LastDispatchSchema.parse(v)),
    }),
  };
}
