export {
  freePort,
  portOpen,
  pidAlive,
  waitUntil,
  ManagedProcess,
  SandboxError,
  type Log,
  type ProcessSpec,
  type ServerOptions,
} from './process.js';
export {
  NatsServer,
  NATS_SERVER_VERSION,
  cachedNatsServer,
  findNatsServer,
  type ClusterMembership,
  type FleetMembership,
  type NatsServerOptions,
} from './nats-server.js';
export { NatsCluster, CLUSTER_NAME, type NatsClusterOptions } from './nats-cluster.js';
export { Fleet, type FleetCluster, type FleetOptions } from './fleet.js';
export { Link } from './link.js';
export { PubsubEmulator, findPubsubEmulator } from './pubsub-emulator.js';
export { KubeApiServer, controlPlaneAssets, kubeconfig } from './kube-apiserver.js';
export {
  AUDIT_POLICY,
  auditedDeploymentWrites,
  countPatches,
  type AuditedWrite,
} from './kube-audit.js';
export { cacheDir } from './paths.js';
export {
  Sandbox,
  sandboxUp,
  sandboxDown,
  envFile,
  envFileText,
  ALL_COMPONENTS,
  type Component,
  type SandboxEnv,
  type SandboxOptions,
  type UpResult,
} from './sandbox.js';
