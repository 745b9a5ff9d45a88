import { OnpushError } from './failure.js';
// The single topology module: every subject, stream and consumer onpush uses is declared here,
// as plain data. `@onpush/nats` turns TOPOLOGY into JetStream calls and provisions it
// idempotently; services only bind to what is declared here.

/** The five services, in flow order. Used in `onpush.dead.<stage>` and `Outcome.stage`. */
export const STAGES = ['ingest', 'parser', 'resolver', 'restarter', 'dlq-manager'] as const;
export type Stage = (typeof STAGES)[number];

/**
 * How an accepted event ends. `dispatched` means it became one or more restart requests. `halted`
 * (at a fleet's hub, for one cluster): the cluster's wave never got the push, because an earlier
 * wave of clusters failed it or did not settle in time (FLEET_WAVES).
 */
export const EVENT_FATES = ['ignored', 'no-match', 'dead', 'dispatched', 'halted'] as const;
export type EventFate = (typeof EVENT_FATES)[number];

/**
 * How one restart request (one workload) ends. `would-restart`: dry run, the restart it would
 * have made, nothing patched. `refused`: the workload read is not one onpush may touch (not opted
 * in, out of the namespace scope or the selector, no container of the request's repository),
 * nothing patched; its reason says which. `halted`: a workload of an earlier wave of the same
 * push failed its rollout (or its wave never settled), so this one was not restarted.
 * `rejected` / `expired`: it waited for approval (`onpush.dev/approval`) and someone rejected it,
 * or nobody decided before its deadline; nothing patched.
 */
export const WORKLOAD_FATES = [
  'restarted',
  'unchanged',
  'gone',
  'dead',
  'would-restart',
  'refused',
  'halted',
  'rejected',
  'expired',
] as const;
export type WorkloadFate = (typeof WORKLOAD_FATES)[number];

/**
 * What became of the rollout a `restarted` started: informational, published after the workload
 * fate. They account for nothing: a request still ends in exactly one workload fate.
 * `rolled-back`: it failed, and onpush put the workload back (`onpush.dev/rollback: auto`).
 */
export const ROLLOUT_FATES = ['rollout-completed', 'rollout-failed', 'rolled-back'] as const;
export type RolloutFate = (typeof ROLLOUT_FATES)[number];

/** Every fate, as used in `onpush.outcome.<fate>`. `dead` is both an event and a workload fate. */
export const FATES = [
  'ignored',
  'no-match',
  'dispatched',
  'restarted',
  'unchanged',
  'gone',
  'dead',
  'would-restart',
  'refused',
  'halted',
  'rejected',
  'expired',
  'rollout-completed',
  'rollout-failed',
  'rolled-back',
] as const;
export type Fate = (typeof FATES)[number];

/** True for the fates that account for an event or a request (every fate but the rollout ones). */
export function isAccountingFate(fate: Fate): boolean {
  return !(ROLLOUT_FATES as readonly string[]).includes(fate);
}

/** Thrown when a value cannot be a subject token (or header name). Never retryable. */
export class SubjectError extends OnpushError<'invalid_subject_token' | 'invalid_header_name'> {
  override readonly name = 'SubjectError';
  constructor(
    readonly token: string,
    type: 'invalid_subject_token' | 'invalid_header_name' = 'invalid_subject_token',
  ) {
    super(
      type === 'invalid_subject_token'
        ? `invalid subject token ${JSON.stringify(token)}: expected a DNS label (a-z, 0-9, "-")`
        : `invalid header name ${JSON.stringify(token)}`,
      { type, retryable: false },
    );
  }
}

// A DNS label (RFC 1123, as Kubernetes namespaces are), plus `_`: lower-case, never `.`, `*`,
// `>`, whitespace or `$`, so it is always exactly one NATS token.
const TOKEN = /^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$/;

/** Returns `token` unchanged when it is a valid single subject token; throws SubjectError. */
export function subjectToken(token: string): string {
  if (!TOKEN.test(token)) throw new SubjectError(token);
  return token;
}

export function isSubjectToken(token: string): boolean {
  return TOKEN.test(token);
}

export const SUBJECT_PREFIX = 'onpush';
export const RAW_ALL = 'onpush.raw.>';
export const PUSHED = 'onpush.pushed';
export const RESTART_ALL = 'onpush.restart.>';
export const OUTCOME_ALL = 'onpush.outcome.>';
/** Every request the restarter put back while a wave gate holds it (heldSubject). */
export const RESTART_HELD_ALL = 'onpush.restart.held.*';
export const DEAD_ALL = 'onpush.dead.>';
/** A fleet hub's replays into its clusters (clusterReplaySubject). */
export const REPLAY_ALL = 'onpush.replay.>';
/** A fleet hub's pushes let through to a later wave of clusters (fleetWaveSubject). */
export const FLEET_WAVE_PREFIX = 'onpush.fleet.wave';
export const FLEET_WAVE_ALL = `${FLEET_WAVE_PREFIX}.*`;

/**
 * `onpush.fleet.wave.<n>`: at a fleet's hub, a push its gate let through to the clusters of wave
 * `n` (FLEET_WAVES) once every cluster of the wave before settled it; those clusters copy it from
 * here (onto `onpush.pushed`) instead of copying `onpush.pushed` itself.
 */
export function fleetWaveSubject(wave: number): string {
  if (!Number.isInteger(wave) || wave < 1) throw new SubjectError(String(wave));
  return `${FLEET_WAVE_PREFIX}.${wave}`;
}
/**
 * Core NATS request–reply, in no stream: the console (served by the dlq-manager) asks the resolver
 * how it sees one workload — the view from its watch, as onpush reads it (WorkloadQuery →
 * WorkloadQueryReply). Answered by one resolver replica (queue group), only to the dlq-manager.
 */
export const WORKLOAD_QUERY = 'onpush.query.workload';

/**
 * `onpush.replay.<cluster>.<rest>`: a replay at a fleet's hub of a dead letter that cluster made,
 * for `subject` (`onpush.<rest>`, e.g. `onpush.restart.shop`). The hub keeps it in its ONPUSH;
 * that cluster alone copies it into its own, back on `subject` (fleetTopology).
 */
export function clusterReplaySubject(cluster: string, subject: string): string {
  if (!subject.startsWith(`${SUBJECT_PREFIX}.`)) throw new SubjectError(subject);
  return `${SUBJECT_PREFIX}.replay.${subjectToken(cluster)}.${subject.slice(SUBJECT_PREFIX.length + 1)}`;
}

/** `onpush.raw.<source>`: the untouched body of one delivery from `source` (e.g. `gar`). */
export function rawSubject(source: string): string {
  return `onpush.raw.${subjectToken(source)}`;
}

/** `onpush.restart.<namespace>`: one restart request for a workload in `namespace`. */
export function restartSubject(namespace: string): string {
  return `onpush.restart.${subjectToken(namespace)}`;
}

/**
 * `onpush.restart.held.<namespace>`: a restart request held long (a wave gate) put back by the
 * restarter itself, so a long wait is never counted against the consumer's max deliver. The same
 * stream and consumer as the resolver's requests (RESTART_ALL matches it).
 */
export function heldSubject(namespace: string): string {
  return `onpush.restart.held.${subjectToken(namespace)}`;
}

export function outcomeSubject(fate: Fate): string {
  return `onpush.outcome.${subjectToken(fate)}`;
}

export function deadSubject(stage: Stage): string {
  return `onpush.dead.${subjectToken(stage)}`;
}

/** The last token of `subject` when it starts with `prefix.` (e.g. the namespace), or undefined. */
export function subjectTail(subject: string, prefix: string): string | undefined {
  if (!subject.startsWith(`${prefix}.`)) return undefined;
  const tail = subject.slice(prefix.length + 1);
  return isSubjectToken(tail) ? tail : undefined;
}

/** JetStream's advisory when a message of `stream` reached max_deliver on `consumer`. */
export function maxDeliveriesAdvisory(stream: string, consumer: string): string {
  return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${consumer}`;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;
const GIB = 1024 ** 3;

export const STREAMS = {
  main: 'ONPUSH',
  outcomes: 'ONPUSH_OUTCOMES',
  dlq: 'ONPUSH_DLQ',
  advisories: 'ONPUSH_ADVISORIES',
} as const;
export type StreamName = (typeof STREAMS)[keyof typeof STREAMS];

/**
 * JetStream KV buckets: state the replicas of a stage share (each is a stream `KV_<bucket>`,
 * created by provisioning as BUCKET_SPECS declares it).
 */
export const BUCKETS = {
  /** dlq-manager: ONPUSH_DLQ sequence -> {replayedAt, count}. */
  dlqReplays: 'onpush_dlq_replays',
  /** resolver: event id -> its decision, so a redelivery concludes as the first delivery did. */
  resolverDecisions: 'onpush_resolver_decisions',
  /** resolver: image and tag -> the last push dispatched (duplicate_push across replicas). */
  resolverRepeats: 'onpush_resolver_repeats',
  /** ingest: a delivery's repeat key -> when it was stored (a replay within a day is a repeat). */
  ingestRepeats: 'onpush_ingest_repeats',
  /** restarter: workload and image -> the latest push held for its maturity delay (latest wins). */
  restarterHolds: 'onpush_restarter_holds',
  /** restarter, dlq-manager, operators: approval id -> a restart waiting for approval, and its verdict. */
  approvals: 'onpush_approvals',
  /** restarter: the rollout budget's slots (rollouts in progress) and its queue, one record. */
  restarterBudget: 'onpush_restarter_budget',
  /** restarter: push, wave and workload -> how it settled; push and wave -> the wave's gate. */
  restarterWaves: 'onpush_restarter_waves',
} as const;

/** A KV bucket as provisioning creates it (a stream `KV_<name>`, one value per key). */
export interface BucketSpec {
  readonly name: (typeof BUCKETS)[keyof typeof BUCKETS];
  readonly description: string;
  /** How long a value lives (the bucket's max age). */
  readonly ttlMs: number;
  /** At most this many bytes, the oldest values going first; -1: unlimited. */
  readonly maxBytes: number;
  /** The stream whose replica count the bucket takes (R3 in production as ONPUSH is). */
  readonly replicasOf: StreamName;
}

/** How long the resolver's decisions and last dispatches are kept (longest DUPLICATE_WINDOW). */
export const RESOLVER_MEMORY_MS = 60 * 60 * 1000;

/** How long ingest remembers an HTTP delivery: the same one again within it is a repeat. */
export const INGEST_REPEAT_MS = 24 * 60 * 60 * 1000;

/** Every KV bucket, created by provisioning; a stage only binds to the ones it uses. */
export const BUCKET_SPECS: Readonly<Record<keyof typeof BUCKETS, BucketSpec>> = {
  dlqReplays: {
    name: BUCKETS.dlqReplays,
    description: 'onpush dead-letter replays: ONPUSH_DLQ sequence -> {replayedAt, count}',
    ttlMs: 90 * 24 * 60 * 60 * 1000, // the DLQ's max age
    maxBytes: -1,
    replicasOf: 'ONPUSH_DLQ',
  },
  resolverDecisions: {
    name: BUCKETS.resolverDecisions,
    description:
      'onpush resolver: event id -> its decision (dispatched to which workloads, or why not)',
    ttlMs: RESOLVER_MEMORY_MS,
    maxBytes: 1 << 30,
    replicasOf: 'ONPUSH',
  },
  resolverRepeats: {
    name: BUCKETS.resolverRepeats,
    description: 'onpush resolver: image and tag -> the last push dispatched (duplicate_push)',
    ttlMs: RESOLVER_MEMORY_MS,
    maxBytes: -1,
    replicasOf: 'ONPUSH',
  },
  ingestRepeats: {
    name: BUCKETS.ingestRepeats,
    description:
      'onpush ingest: repeat key of each stored HTTP delivery -> when (replays within a day are repeats)',
    ttlMs: INGEST_REPEAT_MS,
    maxBytes: 256 * 1024 * 1024,
    replicasOf: 'ONPUSH',
  },
  restarterHolds: {
    name: BUCKETS.restarterHolds,
    description:
      'onpush restarter: workload and image -> the latest push waiting for its maturity delay',
    ttlMs: 7 * DAY, // as long as a held request can wait in ONPUSH
    maxBytes: 256 * 1024 * 1024,
    replicasOf: 'ONPUSH',
  },
  approvals: {
    name: BUCKETS.approvals,
    description: 'onpush approvals: approval id -> a restart waiting for approval, and its verdict',
    ttlMs: 7 * DAY, // as long as a waiting request is kept in ONPUSH
    maxBytes: 256 * 1024 * 1024,
    replicasOf: 'ONPUSH',
  },
  restarterBudget: {
    name: BUCKETS.restarterBudget,
    description: 'onpush restarter: the rollout budget: rollouts in progress and restarts in line',
    ttlMs: 7 * DAY, // as long as a waiting request is kept in ONPUSH
    maxBytes: 64 * 1024 * 1024,
    replicasOf: 'ONPUSH',
  },
  restarterWaves: {
    name: BUCKETS.restarterWaves,
    description:
      'onpush restarter: how each workload of a wave settled, and whether the next wave may go',
    ttlMs: 7 * DAY, // as long as a gated request can wait in ONPUSH
    maxBytes: 256 * 1024 * 1024,
    replicasOf: 'ONPUSH',
  },
};

/** A stream, in JetStream's terms; durations in ms, `-1` means "no limit". */
export interface StreamSpec {
  readonly name: StreamName;
  readonly description: string;
  readonly subjects: readonly string[];
  readonly storage: 'file' | 'memory';
  readonly retention: 'limits' | 'interest' | 'workqueue';
  readonly discard: 'old' | 'new';
  readonly maxAgeMs: number;
  readonly maxBytes: number;
  readonly maxMsgs: number;
  readonly duplicateWindowMs: number;
  /**
   * Streams of other JetStream domains this one copies from (a fleet: fleet.ts). JetStream keeps
   * each source's position, so after a partition it resumes where it stopped: every message once,
   * in order.
   */
  readonly sources?: readonly StreamSourceSpec[];
}

/** A stream of another JetStream domain (a fleet's hub, or one of its clusters) to copy from. */
export interface StreamSourceSpec {
  readonly name: StreamName;
  /** The JetStream domain it lives in (its API is `$JS.<domain>.API`). */
  readonly domain: string;
  /**
   * Only the subjects these take (default: all), each stored as its `dest` (JetStream subject
   * transforms; `>` carries the rest of the subject over).
   */
  readonly transforms?: readonly { readonly src: string; readonly dest: string }[];
}

/** The stages that pull from JetStream (ingest only publishes). */
export type ConsumerStage = Exclude<Stage, 'ingest'>;

/** Durable consumers: one per consuming stage, plus the dlq-manager's advisory consumer. */
export type ConsumerName = ConsumerStage | 'dlq-manager-advisories';

/** At a fleet's hub with waves: the parser's gate of wave n (fleetWaveGate). */
export type FleetWaveConsumer = `fleet-wave-${number}`;

/**
 * Every max-deliveries advisory of a consumer of the work stream (ONPUSH): captured by stream
 * ONPUSH_ADVISORIES, so none is missed while the dlq-manager is down. The one `$` subject onpush
 * declares: JetStream names it, not onpush.
 */
export const MAX_DELIVERIES_MAIN = maxDeliveriesAdvisory(STREAMS.main, '*');

/**
 * A durable pull consumer. A delivery not acknowledged within `ackWaitMs` (the stage crashed or
 * lost its connection) is redelivered; retries of transient failures are the stage's NAKs with a
 * delay (RETRY_SCHEDULE). `backoffMs` (empty by default, CONSUMER_BACKOFF) would space the
 * redeliveries after ack timeouts instead, with `backoffMs[0]` as the ack wait — but JetStream
 * (2.9 to 2.15) then adds `backoffMs[n-1] - ackWaitMs` to the delay of every NAK after the first,
 * so a declared backoff would stretch a 1 s retry to minutes; onpush declares none.
 * `maxDeliver` must exceed the number of backoff steps.
 */
export interface ConsumerSpec {
  readonly durable: ConsumerName | FleetWaveConsumer;
  /** The stage that binds to it (and dead-letters what it gives up on). */
  readonly stage: ConsumerStage;
  readonly stream: StreamName;
  readonly description: string;
  readonly filterSubject: string;
  readonly ackPolicy: 'explicit';
  readonly deliverPolicy: 'all';
  readonly replayPolicy: 'instant';
  readonly ackWaitMs: number;
  readonly maxAckPending: number;
  readonly maxDeliver: number;
  readonly backoffMs: readonly number[];
}

export interface Topology {
  readonly streams: Readonly<Record<keyof typeof STREAMS, StreamSpec>>;
  readonly consumers: Readonly<Record<ConsumerName, ConsumerSpec>>;
  /** At a fleet's hub with waves: the gate of each later wave (fleetTopology). */
  readonly gates?: readonly ConsumerSpec[];
}

const DEDUP = 2 * MINUTE;

const streams = {
  main: {
    name: STREAMS.main,
    description: 'onpush work in flight: raw deliveries, canonical events, restart requests',
    subjects: [RAW_ALL, PUSHED, RESTART_ALL],
    storage: 'file',
    retention: 'limits',
    discard: 'old',
    maxAgeMs: 7 * DAY, // the replay window
    maxBytes: -1,
    maxMsgs: -1,
    duplicateWindowMs: DEDUP,
  },
  outcomes: {
    name: STREAMS.outcomes,
    description: 'onpush audit trail: one message per terminal fate',
    subjects: [OUTCOME_ALL],
    storage: 'file',
    retention: 'limits',
    discard: 'old',
    maxAgeMs: 30 * DAY,
    maxBytes: -1,
    maxMsgs: -1,
    duplicateWindowMs: DEDUP,
  },
  // Never discards new: with discard 'new' a full stream rejects the publish, so the failing
  // stage gets an error, does not ack, and the original stays in ONPUSH to be redelivered;
  // nothing is dropped silently. Old dead letters only leave by age (or an explicit purge).
  // No message-count limit, only a large byte cap that protects the server's disk.
  dlq: {
    name: STREAMS.dlq,
    description: 'onpush dead letters: kept, shown and replayed by dlq-manager',
    subjects: [DEAD_ALL],
    storage: 'file',
    retention: 'limits',
    discard: 'new',
    maxAgeMs: 90 * DAY,
    maxBytes: 10 * GIB,
    maxMsgs: -1,
    duplicateWindowMs: DEDUP,
  },
  // JetStream does not store advisories; this stream does, so a message that exhausted its
  // deliveries while the dlq-manager was down still reaches the DLQ when it comes back.
  advisories: {
    name: STREAMS.advisories,
    description: 'onpush max-deliveries advisories of the work stream, for the dlq-manager',
    subjects: [MAX_DELIVERIES_MAIN],
    storage: 'file',
    retention: 'limits',
    discard: 'old',
    maxAgeMs: 30 * DAY,
    maxBytes: GIB,
    maxMsgs: -1,
    duplicateWindowMs: DEDUP,
  },
} as const satisfies Topology['streams'];

function consumer(
  durable: ConsumerName,
  stream: StreamName,
  filterSubject: string,
  description: string,
  limits: { maxAckPending: number; maxDeliver: number; ackWaitMs: number },
  stage: ConsumerStage = durable === 'dlq-manager-advisories' ? 'dlq-manager' : durable,
): ConsumerSpec {
  const base = { ackPolicy: 'explicit', deliverPolicy: 'all', replayPolicy: 'instant' } as const;
  return { durable, stage, stream, filterSubject, description, ...base, ...limits, backoffMs: [] };
}

const consumers = {
  parser: consumer('parser', STREAMS.main, RAW_ALL, 'decodes raw deliveries', {
    maxAckPending: 1_000,
    maxDeliver: 5,
    ackWaitMs: 10 * SECOND,
  }),
  resolver: consumer('resolver', STREAMS.main, PUSHED, 'finds workloads running an image', {
    maxAckPending: 256,
    maxDeliver: 6,
    ackWaitMs: 30 * SECOND,
  }),
  restarter: consumer('restarter', STREAMS.main, RESTART_ALL, 'patches workloads', {
    maxAckPending: 64,
    maxDeliver: 8,
    ackWaitMs: 30 * SECOND,
  }),
  // Acking here deletes nothing (limits retention): dead letters stay in ONPUSH_DLQ until they
  // age out or are purged; this consumer only feeds the manager's view of them.
  'dlq-manager': consumer('dlq-manager', STREAMS.dlq, DEAD_ALL, 'indexes dead letters', {
    maxAckPending: 256,
    maxDeliver: 10,
    ackWaitMs: 30 * SECOND,
  }),
  // Turns each advisory into the dead letter of the message that exhausted its deliveries.
  'dlq-manager-advisories': consumer(
    'dlq-manager-advisories',
    STREAMS.advisories,
    MAX_DELIVERIES_MAIN,
    'dead-letters messages that exhausted their deliveries',
    { maxAckPending: 64, maxDeliver: 10, ackWaitMs: 30 * SECOND },
  ),
} as const satisfies Topology['consumers'];

/** Every stream and durable consumer onpush needs. Plain data: no NATS library involved. */
export const TOPOLOGY: Topology = { streams, consumers };
