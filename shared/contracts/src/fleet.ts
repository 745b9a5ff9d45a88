// A fleet: one hub that takes in pushes once, and clusters that restart what runs in them. Each is
// its own JetStream domain on its own nats-server; a cluster's server joins the hub's as a leaf
// node. Nothing crosses the link as plain NATS traffic (the leaf connection denies `onpush.>`):
// streams copy from each other across domains (JetStream sources), which resume where they
// stopped after a partition, so a cluster cut off for minutes receives every push it missed, in
// order, once, and the hub every outcome and dead letter the cluster made meanwhile.
//
//   hub:      ingest, parser, dlq-manager   ONPUSH (raw, pushed)  ◀── outcomes, dead letters ──┐
//   cluster:  resolver, restarter, dlq-manager   ONPUSH ◀── pushed (sourced from the hub)         │
//                                                 ONPUSH_OUTCOMES, ONPUSH_DLQ ───────────────────┘
import {
  STREAMS,
  PUSHED,
  REPLAY_ALL,
  SUBJECT_PREFIX,
  TOPOLOGY,
  isSubjectToken,
  SubjectError,
  type ConsumerName,
  type StreamSourceSpec,
  type StreamSpec,
  type Topology,
} from './subjects.js';

/** The hub's JetStream domain (every cluster's domain is its name). */
export const HUB_DOMAIN = 'hub';

/**
 * What a cluster's leaf-node link to the hub lets through (its `remotes` entry; the same in the
 * sandbox and k8s/overlays/fleet-cluster). Neither side's onpush messages, KV writes or JetStream
 * advisories cross as plain traffic — JetStream sources carry what must — and the hub reaches a
 * cluster's JetStream (`$JS.<cluster>.API`) only to read and to copy: it can neither make, change,
 * purge nor delete a cluster's streams, nor touch its servers.
 */
export const LEAF_LINK = {
  denyImports: [
    'onpush.>',
    '$KV.>',
    '$JS.EVENT.>',
    ...['CREATE', 'UPDATE', 'DELETE', 'PURGE', 'MSG.DELETE', 'RESTORE', 'SNAPSHOT'].map(
      (op) => `$JS.*.API.STREAM.${op}.>`,
    ),
    '$JS.*.API.ACCOUNT.PURGE.>',
    '$JS.*.API.META.>',
    '$JS.*.API.SERVER.>',
  ],
  denyExports: ['onpush.>', '$KV.>', '$JS.EVENT.>'],
} as const;

/** What one nats-server of a fleet is: the hub, or one cluster. */
export type FleetRole =
  | { readonly role: 'hub'; readonly clusters: readonly string[] }
  | { readonly role: 'cluster'; readonly cluster: string };

/** The durable consumers each side runs (a cluster's dlq-manager turns its own advisories). */
const CONSUMERS: Readonly<Record<FleetRole['role'], readonly ConsumerName[]>> = {
  hub: ['parser', 'dlq-manager', 'dlq-manager-advisories'],
  cluster: ['resolver', 'restarter', 'dlq-manager', 'dlq-manager-advisories'],
};

/** The services each side runs. */
export const FLEET_SERVICES = {
  hub: ['ingest', 'parser', 'dlq-manager'],
  cluster: ['resolver', 'restarter', 'dlq-manager'],
} as const;

/** True when `name` can name a fleet's cluster: a subject token that is not the hub's domain. */
export function isClusterName(name: string): boolean {
  return isSubjectToken(name) && name !== HUB_DOMAIN;
}

/** `name` when it can name a fleet's cluster (isClusterName); throws SubjectError otherwise. */
export function clusterName(name: string): string {
  if (!isClusterName(name)) throw new SubjectError(name);
  return name;
}

const withSources = (spec: StreamSpec, sources: readonly StreamSourceSpec[]): StreamSpec => ({
  ...spec,
  sources,
});

/**
 * What provisioning makes on one side of a fleet: the streams (with what they copy from the other
 * side) and the durable consumers of the services that side runs.
 */
export function fleetTopology(role: FleetRole): {
  topology: Topology;
  consumers: readonly ConsumerName[];
} {
  const { streams } = TOPOLOGY;
  if (role.role === 'hub') {
    const fromClusters = (name: StreamSpec['name']) =>
      role.clusters.map((cluster) => ({ name, domain: clusterName(cluster) }));
    return {
      topology: {
        consumers: TOPOLOGY.consumers,
        streams: {
          ...streams,
          // The dlq-manager's replays of the clusters' dead letters, each for one cluster.
          main: { ...streams.main, subjects: [...streams.main.subjects, REPLAY_ALL] },
          outcomes: withSources(streams.outcomes, fromClusters(STREAMS.outcomes)),
          dlq: withSources(streams.dlq, fromClusters(STREAMS.dlq)),
        },
      },
      consumers: CONSUMERS.hub,
    };
  }
  clusterName(role.cluster);
  return {
    topology: {
      consumers: TOPOLOGY.consumers,
      streams: {
        ...streams,
        main: withSources(streams.main, [
          {
            name: STREAMS.main,
            domain: HUB_DOMAIN,
            transforms: [
              { src: PUSHED, dest: PUSHED },
              // Replays of its own dead letters, back on their subjects.
              { src: `${SUBJECT_PREFIX}.replay.${role.cluster}.>`, dest: `${SUBJECT_PREFIX}.>` },
            ],
          },
        ]),
      },
    },
    consumers: CONSUMERS.cluster,
  };
}
