export { closeGracefully, connectNats, type NatsOptions } from './connect.js';
export {
  provision,
  streamConfig,
  consumerConfig,
  type ProvisionChange,
  type ProvisionAction,
} from './provision.js';
export {
  publisher,
  dedupId,
  keyOfDedupId,
  toMsgHdrs,
  type Publish,
  type PublishOptions,
  type Published,
} from './publish.js';
export {
  openBucket,
  kvCasStore,
  kvKey,
  type BucketOptions,
  type CasStore,
  type KV,
  type KvEntry,
  type Versioned,
} from './kv.js';
export { jetstream, jetstreamManager } from '@nats-io/jetstream';
export type { JetStreamClient, JetStreamManager, JsMsg, Consumer } from '@nats-io/jetstream';
export type { NatsConnection, MsgHdrs } from '@nats-io/nats-core';
export { scanStream, type ScanOptions } from './scan.js';
