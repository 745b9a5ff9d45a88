export { closeGracefully, connectNats, CA_FILE, type NatsOptions } from './connect.js';
export {
  AUTH_CONF,
  CredentialsError,
  authorizationConfig,
  ensureCredentials,
  ensureLeafCredentials,
  LEAF_SEED,
  LEAF_AUTH_CONF,
  LEAF_REMOTE_CONF,
  publicKeyOf,
  readSeed,
  seedFile,
  type CredentialsResult,
} from './credentials.js';
export {
  SERVER_SECRET_NAME,
  LEAF_HUB_SECRET_NAME,
  LEAF_CLUSTER_SECRET_NAME,
  LEAF_CA_FILE,
  credentialSecrets,
  identitySecretName,
} from './secrets.js';
export { DEFAULT_SERVER_NAMES, SERVER_CERT_FILE, SERVER_KEY_FILE, ensureTls } from './tls.js';
export {
  provision,
  requireStreams,
  ensureOwnConsumer,
  NotProvisionedError,
  streamConfig,
  consumerConfig,
  type ProvisionChange,
  type ProvisionAction,
} from './provision.js';
export {
  Failover,
  ackSubjectOf,
  failingOver,
  isUnanswered,
  jetstreamManager,
  whileUnanswered,
  type FailoverOptions,
} from './failover.js';
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
  bindBucket,
  lazyBucket,
  lazyCasStore,
  casUpdate,
  kvCasStore,
  kvKey,
  type CasStore,
  type KV,
  type KvEntry,
  type Versioned,
} from './kv.js';
export { jetstream } from '@nats-io/jetstream';
export type { JetStreamClient, JetStreamManager, JsMsg, Consumer } from '@nats-io/jetstream';
export type { NatsConnection, MsgHdrs } from '@nats-io/nats-core';
export {
  scanStream,
  followStream,
  fleetClusters,
  type ScanOptions,
  type FollowOptions,
  type Following,
} from './scan.js';
export {
  ApprovalError,
  approvalBook,
  approvalsIn,
  listApprovals,
  type ApprovalBook,
  type Verdict as ApprovalVerdict,
} from './approvals.js';
