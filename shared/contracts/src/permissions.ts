// Who may publish and subscribe to what on NATS: one identity per service plus `admin` (the
// provisioning Job and `onpush provision|dlq|audit|status`). Plain data derived from the topology;
// `@onpush/nats` renders it into nats-server's `authorization` block, so the permissions the tests
// run with are the ones every deployment ships.
import {
  BUCKETS,
  DEAD_ALL,
  FLEET_WAVE_ALL,
  PUSHED,
  RAW_ALL,
  REPLAY_ALL,
  RESTART_ALL,
  RESTART_HELD_ALL,
  ROLLOUT_FATES,
  STREAMS,
  TOPOLOGY,
  WORKLOAD_FATES,
  WORKLOAD_QUERY,
  deadSubject,
  outcomeSubject,
  type ConsumerName,
  type ConsumerSpec,
  type Stage,
} from './subjects.js';
import { FLEET_WAVE_GATES } from './fleet.js';

/**
 * At a fleet's hub with waves (FLEET_WAVES), the parser's gates: pulling from the gate of every
 * wave that can be one (FLEET_WAVE_GATES), letting pushes through to a wave, ending a push
 * `halted` for a wave's clusters, and following the clusters' outcomes to know what settled.
 */
const fleetGates = (): string[] => [
  FLEET_WAVE_ALL,
  outcomeSubject('halted'),
  ...FLEET_WAVE_GATES.flatMap(consumeSpec),
  ...scan(STREAMS.outcomes),
];

/** A service's identity, or `admin`: provisioning (streams, consumers, buckets) and operators. */
export type NatsIdentity = Stage | 'admin';
export const NATS_IDENTITIES: readonly NatsIdentity[] = [
  'ingest',
  'parser',
  'resolver',
  'restarter',
  'dlq-manager',
  'admin',
];

export interface NatsPermissions {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

/** The inbox prefix an identity's replies arrive under: no identity reads another's replies. */
export function inboxPrefix(identity: NatsIdentity): string {
  return `_INBOX_${identity.replace(/[^A-Za-z0-9]/g, '_')}`;
}

const API = '$JS.API';

/** Binding to a stream (is it there, its settings) and reading a message by sequence. */
const readStream = (stream: string): string[] => [
  `${API}.STREAM.INFO.${stream}`,
  `${API}.STREAM.MSG.GET.${stream}`,
  `${API}.DIRECT.GET.${stream}`,
  `${API}.DIRECT.GET.${stream}.>`,
];

/**
 * Pulling from its own durable consumer, acking, and keeping that consumer's tunables
 * (CONSUMER_*): creating or updating that one consumer, never another or a stream.
 */
function consume(durable: ConsumerName): string[] {
  return consumeSpec(TOPOLOGY.consumers[durable]);
}

function consumeSpec({ stream, durable }: Pick<ConsumerSpec, 'stream' | 'durable'>): string[] {
  return [
    `${API}.CONSUMER.INFO.${stream}.${durable}`,
    `${API}.CONSUMER.MSG.NEXT.${stream}.${durable}`,
    `${API}.CONSUMER.CREATE.${stream}.${durable}`,
    `${API}.CONSUMER.CREATE.${stream}.${durable}.>`,
    `${API}.CONSUMER.DURABLE.CREATE.${stream}.${durable}`,
    `$JS.ACK.${stream}.${durable}.>`,
    ...readStream(stream),
  ];
}

/** Reading and compare-and-set writing one KV bucket. */
function bucket(name: string): string[] {
  return [`$KV.${name}.>`, ...readStream(`KV_${name}`)];
}

/** Scanning a stream with short-lived ordered consumers (the DLQ's list, show, replay). */
function scan(stream: string): string[] {
  return [
    `${API}.CONSUMER.CREATE.${stream}.>`,
    `${API}.CONSUMER.CREATE.${stream}`,
    `${API}.CONSUMER.DELETE.${stream}.>`,
    `${API}.CONSUMER.INFO.${stream}.>`,
    `${API}.CONSUMER.MSG.NEXT.${stream}.>`,
    ...readStream(stream),
  ];
}

const deadLetters = (stage: Stage): string[] => [deadSubject(stage), outcomeSubject('dead')];

/**
 * The console's health view (what `onpush status` shows): every durable consumer's info (its
 * lag), here and, at a fleet's hub, in each cluster's JetStream domain — reading, never changing.
 */
const consumerLags = (): string[] =>
  [...Object.values(TOPOLOGY.consumers), ...FLEET_WAVE_GATES].flatMap(({ stream, durable }) => [
    `${API}.CONSUMER.INFO.${stream}.${durable}`,
    `$JS.*.API.CONSUMER.INFO.${stream}.${durable}`,
  ]);

function permissionsOf(identity: NatsIdentity): NatsPermissions {
  const own = (publish: string[], subscribe: string[] = []): NatsPermissions => ({
    publish: [`${API}.INFO`, ...publish],
    subscribe: [`${inboxPrefix(identity)}.>`, ...subscribe],
  });
  switch (identity) {
    case 'ingest':
      // Only ingest publishes raw deliveries; it checks the streams it writes to are there
      // before it says it is ready.
      return own([
        RAW_ALL,
        ...deadLetters('ingest'),
        ...readStream(STREAMS.main),
        ...readStream(STREAMS.dlq),
        ...readStream(STREAMS.outcomes),
        ...bucket(BUCKETS.ingestRepeats),
      ]);
    case 'parser':
      return own([
        PUSHED,
        outcomeSubject('ignored'),
        ...deadLetters('parser'),
        ...consume('parser'),
        ...fleetGates(),
      ]);
    case 'resolver':
      // Only the resolver publishes restart requests. It answers the console's workload
      // questions (core NATS, WORKLOAD_QUERY) — to the dlq-manager's inbox only.
      return own(
        [
          RESTART_ALL,
          `${inboxPrefix('dlq-manager')}.>`,
          outcomeSubject('ignored'),
          outcomeSubject('no-match'),
          outcomeSubject('dispatched'),
          ...deadLetters('resolver'),
          ...consume('resolver'),
          ...bucket(BUCKETS.resolverDecisions),
          ...bucket(BUCKETS.resolverRepeats),
        ],
        [WORKLOAD_QUERY],
      );
    case 'restarter':
      // Workload and rollout fates; it listens to dead letters of its own requests (rollouts);
      // pushes held for a maturity delay are shared by its replicas (latest wins).
      return own(
        [
          ...[...WORKLOAD_FATES, ...ROLLOUT_FATES]
            .filter((fate) => fate !== 'dead')
            .map((fate) => outcomeSubject(fate)),
          ...deadLetters('restarter'),
          ...consume('restarter'),
          ...bucket(BUCKETS.restarterHolds),
          ...bucket(BUCKETS.restarterWaves),
          ...bucket(BUCKETS.restarterBudget),
          ...bucket(BUCKETS.approvals),
          // Its own requests put back while a wave gate holds them (never the resolver's).
          RESTART_HELD_ALL,
          // At start, the rollouts a stopped replica left unfinished: its recent outcomes, read
          // with an ordered consumer (the stream has no durable to touch).
          ...scan(STREAMS.outcomes),
        ],
        [outcomeSubject('dead')],
      );
    case 'dlq-manager':
      // Only the dlq-manager replays (republishes a dead letter to its original subject) and
      // turns max-deliveries advisories into dead letters of the stage that gave up.
      return own([
        RAW_ALL,
        PUSHED,
        RESTART_ALL,
        // At a fleet's hub: replays of a cluster's dead letters, into that cluster.
        REPLAY_ALL,
        DEAD_ALL,
        outcomeSubject('dead'),
        ...consume('dlq-manager'),
        ...consume('dlq-manager-advisories'),
        ...scan(STREAMS.dlq),
        `${API}.STREAM.MSG.DELETE.${STREAMS.dlq}`,
        `${API}.STREAM.PURGE.${STREAMS.dlq}`,
        ...readStream(STREAMS.main),
        ...bucket(BUCKETS.dlqReplays),
        // The /approvals API: lists what waits, approves or rejects it (compare-and-set).
        ...bucket(BUCKETS.approvals),
        ...scan(`KV_${BUCKETS.approvals}`),
        // The console (/console): follows ONPUSH_OUTCOMES with ordered consumers (the stream has
        // no durable to touch), and reads every consumer's lag for its health view.
        ...scan(STREAMS.outcomes),
        ...consumerLags(),
        `$JS.*.API.INFO`,
        // and asks the resolver how it sees a workload (its view, WORKLOAD_QUERY)
        WORKLOAD_QUERY,
      ]);
    case 'admin':
      return { publish: ['>'], subscribe: ['>'] };
  }
}

/** Every identity's permissions. Subjects onpush never uses (`$SYS`, other prefixes) are denied. */
export const NATS_PERMISSIONS: Readonly<Record<NatsIdentity, NatsPermissions>> = Object.fromEntries(
  NATS_IDENTITIES.map((id) => [id, permissionsOf(id)]),
) as Record<NatsIdentity, NatsPermissions>;
