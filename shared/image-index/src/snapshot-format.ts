// The index snapshot's JSON: `{"v":1,"w":[[kind,namespace,name,[[container,image],…],policy?,wave?],…]}`.
// The policy (5th element) and the wave (6th, decimal; the policy then '' when there is none) were
// added later: a snapshot without them still loads (every workload then has the default policy
// and no wave until the watch syncs).
import { z } from 'zod';
import { WORKLOAD_KINDS } from '@onpush/contracts';

export const SnapshotSchema = z.object({
  v: z.literal(1),
  w: z.array(
    z.tuple(
      [z.enum(WORKLOAD_KINDS), z.string(), z.string(), z.array(z.tuple([z.string(), z.string()]))],
      z.string(),
    ),
  ),
});

export type SnapshotRow = z.infer<typeof SnapshotSchema>['w'][number];
