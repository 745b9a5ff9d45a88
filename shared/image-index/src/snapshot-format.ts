// The index snapshot's JSON: `{"v":1,"w":[[kind,namespace,name,[[container,image],…],policy?],…]}`.
// The policy (5th element) was added later: a snapshot without it still loads (every workload
// then has the default policy until the watch syncs).
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
