// @onpush/image-index: the image → workloads index (pure, in memory), its keys and its snapshot
// JSON, cut into ConfigMap-sized shards. Used by the resolver and by the benchmark.
export {
  ImageIndex,
  workloadKey,
  containerKey,
  queryKey,
  type ContainerImage,
  type IndexedWorkload,
  type IndexStats,
  type LookupQuery,
  type Match,
  type UpsertResult,
  type WorkloadId,
} from './index-store.js';
export { repositoryKey, containerKeys } from './keys.js';
export { splitShards, SHARD_LIMIT_BYTES } from './shards.js';
