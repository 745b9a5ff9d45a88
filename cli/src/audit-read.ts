// Reading what `reconcile` needs from the streams: ONPUSH (raw deliveries, pushes, restart
// requests) and ONPUSH_OUTCOMES since a time, with ordered consumers (ephemeral, no acks); the
// DLQ entries with their replay state; the stage consumers' ack floors.
import {
  HEADERS,
  PUSHED,
  STREAMS,
  TOPOLOGY,
  decode,
  fleetWaveGate,
  subjectTail,
  FLEET_WAVE_PREFIX,
  OutcomeSchema,
  type ConsumerName,
  type ConsumerSpec,
} from '@onpush/contracts';
import { openDlqStore, type DlqEntry } from '@onpush/dlq';
import {
  jetstream,
  jetstreamManager,
  whileUnanswered,
  keyOfDedupId,
  scanStream,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
} from '@onpush/nats';
import { eventIdOf, incomingOf } from '@onpush/service';
import type {
  AuditInput,
  ConsumerState,
  DeadLetterRecord,
  FateRecord,
  PushedRecord,
  RawRecord,
  RequestRecord,
} from './audit.js';

/** Messages per pull when reading a stream since a time. */
const BATCH = 512;

/** The Nats-Msg-Id a publisher set, without the `<subject>|` scope `@onpush/nats` adds. */
export function msgIdOf(m: Pick<JsMsg, 'subject' | 'headers'>): string | undefined {
  const stored = m.headers?.get(HEADERS.msgId);
  return stored ? keyOfDedupId(m.subject, stored) : undefined;
}

function workloadOf(headers: Record<string, string>): string {
  const kind = headers[HEADERS.workloadKind] ?? '?';
  return `${kind}/${headers[HEADERS.workloadNamespace] ?? '?'}/${headers[HEADERS.workloadName] ?? '?'}`;
}

interface Work {
  raw: RawRecord[];
  pushed: PushedRecord[];
  requests: RequestRecord[];
}

async function readWork(js: JetStreamClient, since: Date): Promise<Work> {
  const work: Work = { raw: [], pushed: [], requests: [] };
  for await (const m of scanStream(js, STREAMS.main, { since, batch: BATCH })) {
    const msg = incomingOf(m);
    const replay = msg.headers[HEADERS.replayOf];
    const record = { seq: m.seq, eventId: eventIdOf(msg), ...(replay ? { replayOf: replay } : {}) };
    if (m.subject.startsWith('onpush.raw.')) work.raw.push(record);
    else if (m.subject.startsWith('onpush.restart.')) {
      work.requests.push({ ...record, workload: workloadOf(msg.headers) });
    } else if (m.subject === PUSHED) work.pushed.push(record);
  }
  return work;
}

/** Whether a message is one `cluster` made, or the hub's own (no cluster): what it audits. */
const ofCluster = (cluster: string | undefined) => (m: Pick<JsMsg, 'headers'>) => {
  if (cluster === undefined) return true;
  const from = m.headers?.get(HEADERS.cluster);
  return !from || from === cluster;
};

async function readOutcomes(
  js: JetStreamClient,
  since: Date,
  cluster?: string,
): Promise<{ outcomes: FateRecord[]; invalid: number }> {
  const outcomes: FateRecord[] = [];
  let invalid = 0;
  const keep = ofCluster(cluster);
  for await (const m of scanStream(js, STREAMS.outcomes, { since, batch: BATCH })) {
    if (!keep(m)) continue;
    const decoded = decode(OutcomeSchema, m.data, 'Outcome');
    if (!decoded.ok) {
      invalid += 1;
      continue;
    }
    const o = decoded.value;
    const w = o.workload;
    outcomes.push({
      key: msgIdOf(m) ?? `seq-${m.seq}`,
      eventId: o.eventId,
      fate: o.fate,
      stage: o.stage,
      ...(w ? { workload: `${w.kind}/${w.namespace}/${w.name}` } : {}),
      ...(o.requests !== undefined ? { requests: o.requests } : {}),
      ...(o.reason !== undefined ? { reason: o.reason } : {}),
    });
  }
  return { outcomes, invalid };
}

/** Stages stamp lastFailedAt with their own clocks: read a margin before `since`. */
const CLOCK_MARGIN_MS = 5 * 60_000;

/** The event an ingest dead letter stored since `since` stands for (it has no raw delivery). */
function ingestEventOf(entry: DlqEntry, since: Date): string | undefined {
  if (entry.stage !== 'ingest' || !entry.valid) return undefined;
  if (Date.parse(entry.storedAt) < since.getTime()) return undefined;
  const eventId = entry.headers[HEADERS.eventId];
  return typeof eventId === 'string' && eventId !== '' ? eventId : undefined;
}

async function readDeadLetters(
  nc: NatsConnection,
  since: Date,
  cluster?: string,
): Promise<DeadLetterRecord[]> {
  const store = await openDlqStore(nc, { listLimit: Number.MAX_SAFE_INTEGER });
  const { entries } = await store.list({ since: new Date(since.getTime() - CLOCK_MARGIN_MS) });
  const kept = entries.filter((e) => cluster === undefined || !e.cluster || e.cluster === cluster);
  return kept.map((e) => {
    const ingestEvent = ingestEventOf(e, since);
    return {
      key: e.letterId ?? `dlq-${e.id}`,
      id: e.id,
      ...(e.replayedAt !== undefined ? { replayedAt: e.replayedAt } : {}),
      ...(ingestEvent !== undefined ? { ingestEvent } : {}),
    };
  });
}

/** A consumer's ack floor and pending counts; a missing consumer has acknowledged nothing. */
export async function consumerState(
  jsm: JetStreamManager,
  name: ConsumerName,
): Promise<ConsumerState> {
  const spec = TOPOLOGY.consumers[name];
  const info = await jsm.consumers.info(spec.stream, spec.durable).catch(() => undefined);
  return {
    ackFloor: info?.ack_floor.stream_seq ?? 0,
    pending: info?.num_pending ?? 0,
    ackPending: info?.num_ack_pending ?? 0,
  };
}

export interface AuditData extends AuditInput {
  /** Outcomes that are not valid Outcome messages (not counted). */
  readonly invalidOutcomes: number;
}

/**
 * Reads the consumer states first, then the DLQ, the work stream and the outcomes, in that order:
 * a message acknowledged after its consumer's state was read shows as in flight (a later audit
 * settles it), never as lost; a replay made after the DLQ was read shows by its Onpush-Replay-Of.
 */
export function readAuditInput(nc: NatsConnection, since: Date): Promise<AuditData> {
  // a read only: after a node rejoined, asked again while JetStream does not answer yet
  return whileUnanswered(() => readOnce(nc, since), 15_000);
}

/** A fleet hub's clusters (the domains its outcomes copy from); none elsewhere. */
export { fleetClusters } from '@onpush/nats';

/**
 * What one cluster of a fleet is accountable for, read at the hub: the events that entered at the
 * hub (its raw deliveries, its parser), and the pushes, restart requests and consumers of the
 * cluster (through the cluster's JetStream domain, over the leaf link), with the outcomes and
 * dead letters the hub holds of that cluster and of the hub's own stages. A push the hub stored
 * that the cluster has not copied yet (its source lags: a partition) is in flight, not lost.
 */
export function readClusterAuditInput(
  nc: NatsConnection,
  since: Date,
  cluster: string,
): Promise<AuditData> {
  return whileUnanswered(() => readClusterOnce(nc, since, cluster), 15_000);
}

/** The wave whose gate feeds a cluster's ONPUSH (its source's `onpush.fleet.wave.<n>`), if any. */
function waveOfSources(
  sources: readonly { subject_transforms?: readonly { src?: string }[] | undefined }[],
): number | undefined {
  for (const source of sources)
    for (const t of source.subject_transforms ?? []) {
      const wave = subjectTail(t.src ?? '', FLEET_WAVE_PREFIX);
      if (wave !== undefined) return Number(wave);
    }
  return undefined;
}

/** The hub's gate's ack floor; a gate not there (yet) has let nothing through. */
async function gateAckFloor(jsm: JetStreamManager, spec: ConsumerSpec): Promise<number> {
  const info = await jsm.consumers.info(spec.stream, spec.durable).catch(() => undefined);
  return info?.ack_floor.stream_seq ?? 0;
}

/** Above every consumer's ack floor: what a cluster has yet to copy counts as in flight. */
const IN_TRANSIT = Number.MAX_SAFE_INTEGER;

async function readClusterOnce(
  nc: NatsConnection,
  since: Date,
  cluster: string,
): Promise<AuditData> {
  const hubJsm = await jetstreamManager(nc);
  const jsm = await jetstreamManager(nc, { domain: cluster });
  const consumers = {
    parser: await consumerState(hubJsm, 'parser'),
    resolver: await consumerState(jsm, 'resolver'),
    restarter: await consumerState(jsm, 'restarter'),
  };
  const advisories = [
    await consumerState(hubJsm, 'dlq-manager-advisories'),
    await consumerState(jsm, 'dlq-manager-advisories'),
  ];
  const main = await jsm.streams.info(STREAMS.main);
  const lagging = (main.sources ?? []).some((s) => s.lag > 0);
  // A later wave of clusters (FLEET_WAVES) copies what the hub's gate let through: a push the
  // gate still holds is in flight too.
  const wave = waveOfSources(main.config.sources ?? []);
  const gateFloor =
    wave === undefined ? undefined : await gateAckFloor(hubJsm, fleetWaveGate(wave));
  const deadLetters = await readDeadLetters(nc, since, cluster);
  const hub = await readWork(jetstream(nc), since);
  const there = await readWork(jetstream(nc, { domain: cluster }), since);
  const copied = new Set(there.pushed.map((p) => p.eventId));
  const held = (seq: number) => gateFloor !== undefined && seq > gateFloor;
  const inTransit = hub.pushed
    .filter((p) => !copied.has(p.eventId) && (lagging || held(p.seq)))
    .map((p) => ({ ...p, seq: IN_TRANSIT }));
  const { outcomes, invalid } = await readOutcomes(jetstream(nc), since, cluster);
  return {
    raw: hub.raw,
    pushed: [...there.pushed, ...inTransit],
    requests: there.requests,
    outcomes,
    deadLetters,
    consumers,
    advisoriesPending: advisories.reduce((n, a) => n + a.pending + a.ackPending, 0),
    invalidOutcomes: invalid,
  };
}

async function readOnce(nc: NatsConnection, since: Date): Promise<AuditData> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const consumers = {
    parser: await consumerState(jsm, 'parser'),
    resolver: await consumerState(jsm, 'resolver'),
    restarter: await consumerState(jsm, 'restarter'),
  };
  const advisories = await consumerState(jsm, 'dlq-manager-advisories');
  const deadLetters = await readDeadLetters(nc, since);
  const work = await readWork(js, since);
  const { outcomes, invalid } = await readOutcomes(js, since);
  return {
    ...work,
    outcomes,
    deadLetters,
    consumers,
    advisoriesPending: advisories.pending + advisories.ackPending,
    invalidOutcomes: invalid,
  };
}
