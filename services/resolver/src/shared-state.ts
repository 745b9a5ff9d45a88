// The state the resolver's replicas share, in JetStream KV buckets beside the work stream (as
// many replicas as ONPUSH): each event's decision (decisions.ts) and the last dispatch per image
// and tag (repeats.ts).
import { BUCKETS, TOPOLOGY } from '@onpush/contracts';
import { kvCasStore, openBucket, type JetStreamClient } from '@onpush/nats';
import { DECISION_TTL_MS, DecisionSchema, decisionBook, type DecisionBook } from './decisions.js';
import { LastDispatchSchema, createRecentPushes, type RecentPushes } from './repeats.js';

export async function openSharedState(
  js: JetStreamClient,
  duplicateWindowMs: number,
): Promise<{ decisions: DecisionBook; recent: RecentPushes }> {
  const replicasOf = TOPOLOGY.streams.main.name;
  const decisions = await openBucket(js, BUCKETS.resolverDecisions, {
    description:
      'onpush resolver: event id -> its decision (dispatched to which workloads, or why not)',
    ttlMs: DECISION_TTL_MS,
    maxBytes: 1 << 30,
    replicasOf,
  });
  const repeats = await openBucket(js, BUCKETS.resolverRepeats, {
    description: 'onpush resolver: image and tag -> the last push dispatched (duplicate_push)',
    ttlMs: Math.max(DECISION_TTL_MS, duplicateWindowMs),
    replicasOf,
  });
  return {
    decisions: decisionBook(kvCasStore(decisions, (v) => DecisionSchema.parse(v))),
    recent: createRecentPushes({
      windowMs: duplicateWindowMs,
      store: kvCasStore(repeats, (v) => LastDispatchSchema.parse(v)),
    }),
  };
}
