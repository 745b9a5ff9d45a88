// Shared state between replicas (and across restarts) in JetStream KV buckets, created by
// provisioning (BUCKET_SPECS) and bound to by the stage that uses them, written with
// compare-and-set.
import { createHash } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { requireStreams } from './provision.js';

export type { KV, KvEntry } from '@nats-io/kv';

/**
 * Binds to bucket `name`, which provisioning created; throws (retryable) naming `onpush
 * provision` when it is not there. A stage never creates a bucket: its NATS identity may read and
 * write the bucket's keys, not make streams.
 */
export async function bindBucket(js: JetStreamClient, name: string): Promise<KV> {
  await requireStreams(await js.jetstreamManager(), [`KV_${name}`]);
  return new Kvm(js).open(name);
}

/**
 * Bucket `name`, bound on first use through the stage's JetStream (`js()`: undefined while not
 * connected — then a rejection); a failed bind is tried again on the next use.
 */
export function lazyBucket(js: () => JetStreamClient | undefined, name: string): () => Promise<KV> {
  let bound: Promise<KV> | undefined;
  return () => {
    const client = js();
    if (client === undefined) return Promise.reject(new Error(`${name}: not connected to NATS`));
    bound ??= bindBucket(client, name).catch((error: unknown) => {
      bound = undefined;
      throw error;
    });
    return bound;
  };
}

/** JetStream's "wrong last sequence" (10071) or "key exists" on create: another writer won. */
export function isWrongRevision(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : '';
  return code === 10071 || /wrong last sequence|key exists/i.test(message);
}

/** A valid KV key for any text (event ids hold `:`, `#`, `@`): its SHA-256, hex. */
export function kvKey(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A value (undefined: absent or unreadable) and the revision to compare-and-set against (0: none). */
export interface Versioned<T> {
  readonly value: T | undefined;
  readonly revision: number;
}

/**
 * Keyed values written with compare-and-set: what replicas of a stage share. Values are JSON; one
 * that does not decode reads as undefined with its revision, so the next write replaces it.
 */
export interface CasStore<T> {
  read(key: string): Promise<Versioned<T>>;
  /**
   * Writes `value` if `key` is still at `revision` (0: absent): resolves with the key's new
   * revision, or 0 when another writer got there first.
   */
  write(key: string, value: T, revision: number): Promise<number>;
}

/** A CasStore over a KV bucket; `decode` validates what it reads (throws: unreadable). */
export function kvCasStore<T>(kv: KV, decode: (value: unknown) => T): CasStore<T> {
  return {
    async read(key) {
      const entry = await kv.get(key);
      // A deleted or purged key counts as never written: `kv.create` writes over its marker.
      if (!entry || entry.operation !== 'PUT') return { value: undefined, revision: 0 };
      try {
        return { value: decode(entry.json()), revision: entry.revision };
      } catch {
        return { value: undefined, revision: entry.revision };
      }
    },
    async write(key, value, revision) {
      const data = JSON.stringify(value);
      try {
        return revision === 0 ? await kv.create(key, data) : await kv.update(key, data, revision);
      } catch (error) {
        if (isWrongRevision(error)) return 0;
        throw error;
      }
    },
  };
}

/** A CasStore over the bucket `kv()` binds on first use (lazyBucket), values checked by `decode`. */
export function lazyCasStore<T>(kv: () => Promise<KV>, decode: (value: unknown) => T): CasStore<T> {
  const store = async (): Promise<CasStore<T>> => kvCasStore(await kv(), decode);
  return {
    read: async (key) => (await store()).read(key),
    write: async (key, value, revision) => (await store()).write(key, value, revision),
  };
}

/**
 * Read-modify-write of one key with compare-and-set: `change` gets the value read (undefined:
 * none) and returns what to write (`write` undefined: leave it) and the result. When another writer
 * got there first it runs again on what that one wrote, after a short random pause, at most
 * `maxWrites` times; then it throws, naming `what` (the caller's failure is retried).
 */
export async function casUpdate<T, R>(
  store: CasStore<T>,
  key: string,
  change: (value: T | undefined) => { write?: T | undefined; result: R },
  options: { what: string; maxWrites?: number },
): Promise<R> {
  const maxWrites = options.maxWrites ?? 40;
  for (let attempt = 0; attempt < maxWrites; attempt += 1) {
    const { value, revision } = await store.read(key);
    const { write, result } = change(value);
    if (write === undefined || (await store.write(key, write, revision)) > 0) return result;
    await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 10));
  }
  throw new Error(`${options.what} kept changing; try again`);
}
