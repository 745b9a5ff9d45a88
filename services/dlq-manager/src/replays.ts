// Replay state: the JetStream KV bucket `onpush_dlq_replays`, key = entry id (ONPUSH_DLQ
// sequence), value = {replayedAt, count}. Kept beside the stream because stored messages are
// immutable; writes are compare-and-set on the key's revision.
import { Kvm, type KV } from '@nats-io/kv';
import { TOPOLOGY } from '@onpush/contracts';
import type { JetStreamClient } from '@onpush/nats';
import { z } from 'zod';
import type { ReplayState } from './entry.js';

export const REPLAYS_BUCKET = 'onpush_dlq_replays';

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

/** Opens the bucket, creating it when missing (file storage, one value per key, the DLQ's max age). */
export async function openReplayBook(js: JetStreamClient): Promise<ReplayBook> {
  const kv = await new Kvm(js).create(REPLAYS_BUCKET, {
    history: 1,
    ttl: TOPOLOGY.streams.dlq.maxAgeMs,
    description: 'onpush dead-letter replays: ONPUSH_DLQ sequence -> {replayedAt, count}',
  });
  return replayBook(kv);
}

export function replayBook(kv: KV): ReplayBook {
  return {
    async read(seq) {
      const entry = await kv.get(String(seq));
      // A deleted or purged key counts as never written: `kv.create` writes over its marker.
      if (!entry || entry.operation !== 'PUT') return { state: undefined, revision: 0 };
      const parsed = ReplayStateSchema.safeParse(safeJson(entry.string()));
      return { state: parsed.success ? parsed.data : undefined, revision: entry.revision };
    },
    async write(seq, state, revision) {
      const data = JSON.stringify(state);
      try {
        if (revision === 0) await kv.create(String(seq), data);
        else await kv.update(String(seq), data, revision);
        return true;
      } catch (error) {
        if (isWrongRevision(error)) return false;
        throw error;
      }
    },
    forget: (seq) => kv.purge(String(seq)),
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

// JetStream's "wrong last sequence" (10071) or "key exists" on create: another writer won.
function isWrongRevision(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : '';
  return code === 10071 || /wrong last sequence|key exists/i.test(message);
}
