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
  FLEET_WAVE_ALL,
  fleetWaveSubject,
  REPLAY_ALL,
  SUBJECT_PREFIX,
  TOPOLOGY,
  isSubjectToken,
  SubjectError,
  type ConsumerName,
  type ConsumerSpec,
  type FleetWaveConsumer,
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

/**
 * Waves across a fleet (FLEET_WAVES, e.g. `staging=1,prod-*=2`): which clusters get a push first,
 * and which only once every cluster of the wave before settled it. Each entry names a cluster or
 * a glob over names (`*` any run of characters); the first entry that matches a cluster gives its
 * wave. A cluster no entry matches is outside the waves: it gets every push at once and holds
 * no wave back.
 */
export interface FleetWaves {
  readonly entries: readonly {
    readonly pattern: string;
    readonly wave: number;
    /** `pattern` as a whole-name match, made once. */
    readonly glob: RegExp;
  }[];
}

/** The most waves a fleet may declare (each later wave is one durable consumer at the hub). */
export const MAX_FLEET_WAVES = 9;

const globOf = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[-_]/g, '\\$&'))
      .join('.*')}$`,
  );

/** Parses FLEET_WAVES (`name=1,glob-*=2`); throws an Error saying what is wrong. */
export function parseFleetWaves(text: string): FleetWaves {
  const entries = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const match = /^([a-z0-9*][a-z0-9*_-]*)\s*=\s*(\d+)$/.exec(part);
      const wave = Number(match?.[2]);
      if (!match || !Number.isInteger(wave) || wave < 1 || wave > MAX_FLEET_WAVES)
        throw new Error(
          `${JSON.stringify(part)}: expected <cluster or glob>=<wave 1-${MAX_FLEET_WAVES}>`,
        );
      return { pattern: match[1]!, wave, glob: globOf(match[1]!) };
    });
  if (entries.length === 0) throw new Error('no waves (expected e.g. staging=1,prod-*=2)');
  return { entries };
}

/** The wave of `cluster`, or undefined when it is outside the waves. */
export function fleetWaveOf(waves: FleetWaves | undefined, cluster: string): number | undefined {
  return waves?.entries.find((e) => e.glob.test(cluster))?.wave;
}

/** The waves FLEET_WAVES declares, lowest first: the first is let through at once. */
export function fleetWaveNumbers(waves: FleetWaves | undefined): number[] {
  return [...new Set(waves?.entries.map((e) => e.wave) ?? [])].sort((a, b) => a - b);
}

/**
 * What the gate of wave `wave` waits for: the clusters of every earlier wave (those of the wave
 * before got the push only once the ones before them had settled it).
 */
export function earlierWaveClusters(
  waves: FleetWaves | undefined,
  clusters: readonly string[],
  wave: number,
): string[] {
  return clusters.filter((c) => {
    const own = fleetWaveOf(waves, c);
    return own !== undefined && own < wave;
  });
}

/** The durable consumer of the gate of wave `wave` at the hub. */
export function fleetWaveConsumer(wave: number): FleetWaveConsumer {
  return `fleet-wave-${wave}`;
}

/**
 * The hub's gate of wave `wave`: the parser's durable consumer of `onpush.pushed` that holds each
 * push (NAKs with a delay) until the wave before settled it, then lets it through on
 * `onpush.fleet.wave.<wave>` — or ends it `halted` for the wave's clusters. A wait is no failure:
 * its max deliver outlasts FLEET_WAVE_TIMEOUT's longest (a week: ~121,000 holds of 5 s). Judging
 * a push takes milliseconds, so the ack wait is the parser's own (10 s): a push in the hands of a
 * parser killed mid-judgement is judged again 10 s later, not 30.
 */
export function fleetWaveGate(wave: number): ConsumerSpec {
  return {
    durable: fleetWaveConsumer(wave),
    stage: 'parser',
    stream: STREAMS.main,
    filterSubject: PUSHED,
    description: `holds pushes for fleet wave ${wave} until the wave before settled them`,
    ackPolicy: 'explicit',
    deliverPolicy: 'all',
    replayPolicy: 'instant',
    ackWaitMs: 10_000,
    maxAckPending: 10_000,
    maxDeliver: 1_000_000,
    backoffMs: [],
  };
}

/** Every gate a fleet's hub may run (waves 2 to MAX_FLEET_WAVES): what permissions and status name. */
export const FLEET_WAVE_GATES: readonly ConsumerSpec[] = Array.from(
  { length: MAX_FLEET_WAVES - 1 },
  (_, i) => fleetWaveGate(i + 2),
);

/** What one nats-server of a fleet is: the hub, or one cluster (with the fleet's waves, if any). */
export type FleetRole =
  | { readonly role: 'hub'; readonly clusters: readonly string[]; readonly waves?: FleetWaves }
  | { readonly role: 'cluster'; readonly cluster: string; readonly waves?: FleetWaves };

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
    const gates = fleetWaveNumbers(role.waves).slice(1).map(fleetWaveGate);
    return {
      topology: {
        consumers: TOPOLOGY.consumers,
        ...(gates.length ? { gates } : {}),
        streams: {
          ...streams,
          // The dlq-manager's replays of the clusters' dead letters, each for one cluster; what
          // the wave gates let through, when the fleet has waves.
          main: {
            ...streams.main,
            subjects: [
              ...streams.main.subjects,
              REPLAY_ALL,
              ...(role.waves === undefined ? [] : [FLEET_WAVE_ALL]),
            ],
          },
          outcomes: withSources(streams.outcomes, fromClusters(STREAMS.outcomes)),
          dlq: withSources(streams.dlq, fromClusters(STREAMS.dlq)),
        },
      },
      consumers: CONSUMERS.hub,
    };
  }
  clusterName(role.cluster);
  // The first wave, and a cluster outside the waves, copy every push as the hub stores it; a
  // later wave what its gate let through.
  const wave = fleetWaveOf(role.waves, role.cluster);
  const pushes =
    wave === undefined || wave === fleetWaveNumbers(role.waves)[0]
      ? PUSHED
      : fleetWaveSubject(wave);
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
              { src: pushes, dest: PUSHED },
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
