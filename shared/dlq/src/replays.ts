// Replay state: the JetStream KV bucket `onpush_dlq_replays`, key = entry id (ONPUSH_DLQ
// sequence), value = {replayedAt, count}. Kept beside the stream because stored messages are
// immutable; writes are compare-and-set on the key's revision.
import { BUCKETS } from '@onpush/contracts';
import { bindBucket, kvCasStore, type JetStreamClient, type KV } from '@onpush/nats';
import { z } from 'zod';
import type { ReplayState } from './entry.js';

export const REPLAYS_BUCKET = BUCKETS.dlqReplays;

const ReplayStateSchema = z.object({
  replayedAt: z.iso.datetime({ offset: true }),
  count: z.int().min(1),
});

/** A replay state and the revision to compare-and-set against; revision 0: no value yet. */
export interface Recorded {
  readonly state: ReplayState | undefined;
  readonly revision: number;
}

export interface ReplayBook {
  read(seq: number): Promise<Recorded>;
  /** Writes `state` if the key is still at `revision`; false when another writer got there first. */
  write(seq: number, state: ReplayState, revision: number): Promise<boolean>;
  forget(seq: number): Promise<void>;
}

/** Binds to the bucket provisioning created (one value per key, the DLQ's max age). */
export async function openReplayBook(js: JetStreamClient): Promise<ReplayBook> {
  return replayBook(await bindBucket(js, REPLAYS_BUCKET));
}

export function replayBook(kv: KV): ReplayBook {
  const store = kvCasStore(kv, (value) => ReplayStateSchema.parse(value));
  return {
    async read(seq) {
      const { value, revision } = await store.read(String(seq));
      return { state: value, revision };
    },
    write: async (seq, state, revision) => (await store.write(String(seq), state, revision)) > 0,
    forget: (seq) => kv.purge(String(seq)),
  };
}
