import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
  type StreamSource,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { nanos } from '@nats-io/nats-core';
import {
  BUCKET_SPECS,
  OnpushError,
  type BucketSpec,
  type ConsumerSpec,
  type ConsumerName,
  type StreamSourceSpec,
  type StreamSpec,
  type Topology,
} from '@onpush/contracts';

export type ProvisionAction = 'created' | 'updated' | 'unchanged';
export interface ProvisionChange {
  kind: 'stream' | 'consumer' | 'bucket';
  name: string;
  action: ProvisionAction;
}

/** A stream a stage binds to is not there: provisioning has not run (or the store was lost). */
export class NotProvisionedError extends OnpushError<'not_provisioned'> {
  override readonly name = 'NotProvisionedError';
  constructor(readonly stream: string) {
    super(`JetStream stream ${stream} not found: run \`onpush provision\` (the provision Job)`, {
      type: 'not_provisioned',
      retryable: true,
    });
  }
}

/** Throws NotProvisionedError for the first of `streams` the server does not have. */
export async function requireStreams(
  jsm: JetStreamManager,
  streams: readonly string[],
): Promise<void> {
  for (const stream of streams) {
    const found = await jsm.streams.info(stream).then(
      () => true,
      (error: unknown) => {
        if (isNotFound(error)) return false;
        throw error;
      },
    );
    if (!found) throw new NotProvisionedError(stream);
  }
}

const ns = (ms: number): number => (ms < 0 ? 0 : nanos(ms));

/**
 * A stream's configuration. Replicas are set only when asked (`onpush provision --replicas 3`):
 * a service provisioning at start must never scale a production stream back to one replica.
 */
export function streamConfig(
  spec: StreamSpec,
  replicas?: number,
): Partial<StreamConfig> & { name: string } {
  return {
    name: spec.name,
    description: spec.description,
    subjects: [...spec.subjects],
    storage: spec.storage === 'file' ? StorageType.File : StorageType.Memory,
    retention: {
      limits: RetentionPolicy.Limits,
      interest: RetentionPolicy.Interest,
      workqueue: RetentionPolicy.Workqueue,
    }[spec.retention],
    discard: spec.discard === 'new' ? DiscardPolicy.New : DiscardPolicy.Old,
    max_age: ns(spec.maxAgeMs),
    max_bytes: spec.maxBytes,
    max_msgs: spec.maxMsgs,
    duplicate_window: ns(spec.duplicateWindowMs),
    ...(replicas === undefined ? {} : { num_replicas: replicas }),
    ...(spec.sources?.length ? { sources: spec.sources.map(streamSource) } : {}),
  };
}

/** A source in another JetStream domain: reached through `$JS.<domain>.API` over the leaf link. */
function streamSource(source: StreamSourceSpec): StreamSource {
  return {
    name: source.name,
    ...(source.transforms ? { subject_transforms: source.transforms.map((t) => ({ ...t })) } : {}),
    external: { api: `$JS.${source.domain}.API`, deliver: '' },
  };
}

export function consumerConfig(
  spec: ConsumerSpec,
): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: spec.durable,
    description: spec.description,
    filter_subject: spec.filterSubject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
    ack_wait: ns(spec.ackWaitMs),
    max_ack_pending: spec.maxAckPending,
    max_deliver: spec.maxDeliver,
    backoff: spec.backoffMs.map(ns),
  };
}

/** True when every field we declare already has the declared value on the server. */
function matches(desired: object, actual: object): boolean {
  const current = actual as Record<string, unknown>;
  // The server leaves an empty list out (no backoff): absent and [] are the same setting.
  const same = (value: unknown, now: unknown): boolean =>
    JSON.stringify(now) === JSON.stringify(value) ||
    (Array.isArray(value) && value.length === 0 && now === undefined);
  return Object.entries(desired).every(([key, value]) => same(value, current[key]));
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamNotFound ||
      error.code === JetStreamApiCodes.ConsumerNotFound)
  );
}

async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
): Promise<ProvisionAction> {
  const info = await jsm.streams.info(config.name).catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
  if (!info) {
    await jsm.streams.add(config);
    return 'created';
  }
  if (matches(config, info.config)) return 'unchanged';
  await jsm.streams.update(config.name, config);
  return 'updated';
}

async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string },
  update = true,
): Promise<ProvisionAction> {
  const info = await jsm.consumers.info(stream, config.durable_name).catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
  if (!info) {
    await jsm.consumers.add(stream, config);
    return 'created';
  }
  if (!update || matches(config, info.config)) return 'unchanged';
  await jsm.consumers.update(stream, config.durable_name, config);
  return 'updated';
}

/**
 * A stage's own durable consumer with its tunables (CONSUMER_*): created when missing, updated
 * when they differ. The one provisioning a stage does, and all its NATS identity may do: the
 * streams must be there already (NotProvisionedError otherwise).
 */
export async function ensureOwnConsumer(
  jsm: JetStreamManager,
  spec: ConsumerSpec,
): Promise<ProvisionAction> {
  await requireStreams(jsm, [spec.stream]);
  return ensureConsumer(jsm, spec.stream, consumerConfig(spec));
}

/** Creates a KV bucket, or brings its age, size and replicas to the declared ones. */
async function ensureBucket(
  jsm: JetStreamManager,
  spec: BucketSpec,
  replicas: number,
): Promise<ProvisionAction> {
  const stream = `KV_${spec.name}`;
  const info = await jsm.streams.info(stream).catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
  if (!info) {
    await new Kvm(jsm.jetstream()).create(spec.name, {
      history: 1,
      ttl: spec.ttlMs,
      replicas,
      ...(spec.maxBytes > 0 ? { max_bytes: spec.maxBytes } : {}),
      description: spec.description,
    });
    return 'created';
  }
  const desired = {
    max_age: ns(spec.ttlMs),
    max_bytes: spec.maxBytes,
    num_replicas: replicas,
    description: spec.description,
  };
  if (matches(desired, info.config)) return 'unchanged';
  await jsm.streams.update(stream, { ...info.config, ...desired });
  return 'updated';
}

/**
 * Creates or updates every stream, consumer and KV bucket of the topology; running it twice
 * changes nothing the second time. `onpush provision` (the provision Job) runs it as the `admin`
 * identity; stages only keep their own consumer (ensureOwnConsumer). With `consumers`, only
 * those durables are updated; the others are created when missing and otherwise left as they are.
 * Buckets take the replicas of the stream they belong beside.
 */
export async function provision(
  jsm: JetStreamManager,
  topology: Topology,
  options: {
    replicas?: number;
    consumers?: readonly string[];
    /** Only these durables (one side of a fleet: fleetTopology); default every one. */
    only?: readonly ConsumerName[];
  } = {},
): Promise<ProvisionChange[]> {
  const changes: ProvisionChange[] = [];
  for (const spec of Object.values(topology.streams)) {
    const action = await ensureStream(jsm, streamConfig(spec, options.replicas));
    changes.push({ kind: 'stream', name: spec.name, action });
  }
  const wanted = (spec: ConsumerSpec) =>
    options.only?.includes(spec.durable as ConsumerName) ?? true;
  for (const spec of [
    ...Object.values(topology.consumers).filter(wanted),
    ...(topology.gates ?? []),
  ]) {
    const update = options.consumers?.includes(spec.durable) ?? true;
    const action = await ensureConsumer(jsm, spec.stream, consumerConfig(spec), update);
    changes.push({ kind: 'consumer', name: `${spec.stream}/${spec.durable}`, action });
  }
  for (const spec of Object.values(BUCKET_SPECS)) {
    const replicas = (await jsm.streams.info(spec.replicasOf)).config.num_replicas || 1;
    const action = await ensureBucket(jsm, spec, replicas);
    changes.push({ kind: 'bucket', name: spec.name, action });
  }
  return changes;
}
