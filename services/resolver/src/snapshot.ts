// The index snapshot in ConfigMaps, so a restarted resolver answers before its watch syncs.
// A ConfigMap holds at most 1 MiB, so the JSON is cut into shards of at most ~900 KiB:
// `onpush-image-index` (the head: shard count, generation, first part), then
// `onpush-image-index-1`, `-2`, … Each shard carries the generation; a load whose shards do not
// all carry the head's generation (a write in progress, two writers racing) is refused rather
// than stitched together. Writes go tail first and head last, then stale shards are deleted.
// Every shard is read, written and deleted by name, never listed: the resolver's Role names the
// MAX_SHARDS shards (k8s/base/rbac.yaml, resourceNames) and grants no `list`, so it cannot read
// the other ConfigMaps of its namespace (NATS and webhook configuration).
import { OnpushError } from '@onpush/contracts';
import { randomUUID } from 'node:crypto';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { FIELD_MANAGER, toKubeApiError } from '@onpush/kube';
import { SHARD_LIMIT_BYTES, splitShards } from '@onpush/image-index';

export const SNAPSHOT_NAME = 'onpush-image-index';
/** Label on every shard (value: the head's name). */
export const SNAPSHOT_LABEL = 'onpush.dev/snapshot';
/** Shards at most (~14 MiB of index): the names the resolver's Role grants, head included. */
export const MAX_SHARDS = 16;
const KEYS = {
  data: 'index.json',
  shards: 'shards',
  generation: 'generation',
  shard: 'shard',
} as const;

/** The slice of client-node's CoreV1Api the snapshot uses. */
export interface ConfigMapApi {
  readNamespacedConfigMap(param: { name: string; namespace: string }): Promise<V1ConfigMap>;
  createNamespacedConfigMap(param: {
    namespace: string;
    body: V1ConfigMap;
    fieldManager?: string;
  }): Promise<unknown>;
  replaceNamespacedConfigMap(param: {
    name: string;
    namespace: string;
    body: V1ConfigMap;
    fieldManager?: string;
  }): Promise<unknown>;
  deleteNamespacedConfigMap(param: { name: string; namespace: string }): Promise<unknown>;
}

export interface SnapshotStoreOptions {
  api: ConfigMapApi;
  namespace: string;
  name?: string;
  shardLimitBytes?: number;
  /** Shards at most; a bigger snapshot is not written (SnapshotError). */
  maxShards?: number;
  newGeneration?: () => string;
}

export interface SnapshotStore {
  /** The snapshot text, or undefined when there is none. Throws SnapshotError or KubeApiError. */
  load(): Promise<string | undefined>;
  /** Writes `text` in as many shards as needed; resolves to the shard count. */
  save(text: string): Promise<number>;
}

/** A snapshot that exists but cannot be read back whole. */
export class SnapshotError extends OnpushError {
  override readonly name = 'SnapshotError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, type: 'snapshot_unreadable', retryable: false });
  }
}

export function shardName(name: string, shard: number): string {
  return shard === 0 ? name : `${name}-${shard}`;
}

function statusOf(error: unknown): number | undefined {
  return toKubeApiError(error).status;
}

export function createSnapshotStore(options: SnapshotStoreOptions): SnapshotStore {
  const { api, namespace, name = SNAPSHOT_NAME, shardLimitBytes = SHARD_LIMIT_BYTES } = options;
  const maxShards = options.maxShards ?? MAX_SHARDS;
  const newGeneration = options.newGeneration ?? (() => randomUUID());

  async function read(shard: number): Promise<Record<string, string> | undefined> {
    try {
      const map = await api.readNamespacedConfigMap({ name: shardName(name, shard), namespace });
      return map.data ?? {};
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw toKubeApiError(error);
    }
  }

  async function put(shard: number, data: Record<string, string>): Promise<void> {
    const metadata = {
      name: shardName(name, shard),
      namespace,
      labels: { [SNAPSHOT_LABEL]: name },
    };
    const body: V1ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata, data };
    try {
      await api.createNamespacedConfigMap({ namespace, body, fieldManager: FIELD_MANAGER });
    } catch (error) {
      if (statusOf(error) !== 409) throw toKubeApiError(error);
      try {
        await api.replaceNamespacedConfigMap({
          name: metadata.name,
          namespace,
          body,
          fieldManager: FIELD_MANAGER,
        });
      } catch (replaceError) {
        throw toKubeApiError(replaceError);
      }
    }
  }

  /** Deletes the shards from `count` on, by name, up to the first one missing. */
  async function deleteStale(count: number): Promise<void> {
    for (let shard = count; shard < maxShards; shard += 1) {
      try {
        await api.deleteNamespacedConfigMap({ name: shardName(name, shard), namespace });
      } catch (error) {
        if (statusOf(error) === 404) return;
        throw toKubeApiError(error);
      }
    }
  }

  return {
    async load() {
      const head = await read(0);
      if (head === undefined) return undefined;
      const count = Number(head[KEYS.shards]);
      const generation = head[KEYS.generation];
      if (!Number.isSafeInteger(count) || count < 1 || count > maxShards || !generation) {
        throw new SnapshotError(`${name}: no shard count or generation`);
      }
      const parts = [head[KEYS.data] ?? ''];
      for (let shard = 1; shard < count; shard += 1) {
        const data = await read(shard);
        if (data?.[KEYS.generation] !== generation) {
          throw new SnapshotError(
            `${shardName(name, shard)}: missing or from another generation than ${generation}`,
          );
        }
        parts.push(data[KEYS.data] ?? '');
      }
      return parts.join('');
    },
    async save(text) {
      const shards = splitShards(text, shardLimitBytes);
      if (shards.length > maxShards) {
        throw new SnapshotError(
          `${name}: the index needs ${shards.length} shards, more than the ${maxShards} the resolver's Role names; not written`,
        );
      }
      const generation = newGeneration();
      for (let shard = shards.length - 1; shard >= 1; shard -= 1) {
        await put(shard, {
          [KEYS.generation]: generation,
          [KEYS.shard]: String(shard),
          [KEYS.data]: shards[shard] ?? '',
        });
      }
      await put(0, {
        [KEYS.shards]: String(shards.length),
        [KEYS.generation]: generation,
        [KEYS.data]: shards[0] ?? '',
      });
      await deleteStale(shards.length);
      return shards.length;
    },
  };
}
