// Pushes waiting for a workload's maturity delay (`onpush.dev/delay`), shared by the restarter's
// replicas: per workload and image, the latest push held, in a JetStream KV bucket written with
// compare-and-set. A held request is NAKed with the time it has left — JetStream keeps and
// redelivers it, whatever restarts meanwhile — and when it comes back it is decided again against
// the latest push held: an older one is superseded, never applied (latest wins).
import { z } from 'zod';
import type { RestartRequest } from '@onpush/contracts';
import { BUCKETS } from '@onpush/contracts';
import {
  casUpdate,
  kvCasStore,
  kvKey,
  lazyBucket,
  type CasStore,
  type JetStreamClient,
} from '@onpush/nats';
import { coalesceKey } from './coalesce.js';
import type { HeldPush } from './decide.js';

export const HeldPushSchema = z.object({ eventId: z.string(), pushedAt: z.string() });

export interface Holds {
  /**
   * Records `request`'s push as the latest held for its workload and image, unless a later one
   * is; resolves with the latest held after that (this push, or the later one).
   */
  hold(request: RestartRequest & { pushedAt: string }): Promise<HeldPush>;
  /** The latest push held for the request's workload and image, if any. */
  latest(request: RestartRequest): Promise<HeldPush | undefined>;
}

/** Writers that lost the compare-and-set before giving up (another replica keeps writing). */
const MAX_WRITES = 5;

const later = (a: HeldPush, b: HeldPush): boolean =>
  Date.parse(a.pushedAt) > Date.parse(b.pushedAt);

export function holdsIn(store: CasStore<HeldPush>): Holds {
  const keyOf = (request: RestartRequest) => kvKey(coalesceKey(request));
  return {
    hold(request) {
      const mine = { eventId: request.eventId, pushedAt: request.pushedAt };
      return casUpdate(
        store,
        keyOf(request),
        (value) =>
          value !== undefined && (value.eventId === mine.eventId || later(value, mine))
            ? { result: value }
            : { write: mine, result: mine },
        { what: `holds: ${coalesceKey(request)}`, maxWrites: MAX_WRITES },
      );
    },
    async latest(request) {
      return (await store.read(keyOf(request))).value;
    },
  };
}

/** Holds in the bucket BUCKETS.restarterHolds, bound on first use through the stage's JetStream. */
export function bucketHolds(js: () => JetStreamClient | undefined): Holds {
  const kv = lazyBucket(js, BUCKETS.restarterHolds);
  const holds = async (): Promise<Holds> =>
    holdsIn(kvCasStore(await kv(), (v) => HeldPushSchema.parse(v)));
  return {
    hold: async (request) => (await holds()).hold(request),
    latest: async (request) => (await holds()).latest(request),
  };
}
