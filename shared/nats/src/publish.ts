import { JetStreamApiError, type JetStreamClient } from '@nats-io/jetstream';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';
import { HEADERS } from '@onpush/contracts';

export interface PublishOptions {
  /** The de-duplication key (Nats-Msg-Id). Required: every onpush publish is idempotent. */
  msgId: string;
  headers?: Record<string, string> | undefined;
  /** How long to wait for the stream's ack. */
  timeoutMs?: number | undefined;
}

export interface Published {
  stream: string;
  seq: number;
  /** The stream already held a message with this Nats-Msg-Id: nothing new was stored. */
  duplicate: boolean;
}

export type Publish = (
  subject: string,
  data: Uint8Array,
  options: PublishOptions,
) => Promise<Published>;

export function toMsgHdrs(values: Record<string, string> | undefined): MsgHdrs {
  const hdrs = natsHeaders();
  for (const [key, value] of Object.entries(values ?? {})) hdrs.set(key, value);
  return hdrs;
}

const OUTCOME_PREFIX = 'onpush.outcome.';

/**
 * The scope of a key: its subject, except that every outcome subject is one scope — an outcome's
 * key names what it accounts for (an event at a stage, a request), not its fate, so a second
 * conclusion under the same key (a redelivery deciding `unchanged` after `restarted`) is a
 * duplicate the stream drops: the first conclusion wins.
 */
export function dedupScope(subject: string): string {
  return subject.startsWith(OUTCOME_PREFIX) ? 'onpush.outcome' : subject;
}

/**
 * The stream-wide de-duplication id. JetStream de-duplicates per stream, and one stream holds
 * several kinds of message derived from one key (a raw delivery `gar:1` and the ImagePushed of
 * event `gar:1`), so the key is scoped by subject (dedupScope): the same key on two subjects is
 * two messages.
 */
export function dedupId(subject: string, msgId: string, cluster?: string): string {
  return `${cluster ? `${cluster}${CLUSTER_MARK}` : ''}${dedupScope(subject)}|${msgId}`;
}

/**
 * Between a fleet cluster's name and the rest of its ids: the hub keeps every cluster's outcomes
 * in one stream, where two clusters' outcomes of one push would otherwise share an id.
 */
const CLUSTER_MARK = '@';

/** The key a publisher gave, from the stored Nats-Msg-Id (without its scope or cluster). */
export function keyOfDedupId(subject: string, stored: string): string {
  const mark = stored.indexOf(CLUSTER_MARK);
  if (mark > 0 && mark < stored.indexOf('|')) stored = stored.slice(mark + 1);
  for (const scope of [dedupScope(subject), subject]) {
    if (stored.startsWith(`${scope}|`)) return stored.slice(scope.length + 1);
  }
  return stored;
}

/** JetStream's "duplicate message id is in process": the same id is being stored right now. */
const MSG_ID_IN_PROCESS = 10158;

/** Whether `error` is JetStream refusing a message whose id another publish is storing now. */
function isInProcess(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === MSG_ID_IN_PROCESS;
}

/**
 * A publish that resolves only once JetStream stored the message (or found it a duplicate).
 *
 * The same message published twice at once (a delivery retried while its first try is still
 * being stored, two replicas given one message) is refused "in process" until the first is
 * stored: it is published again a few times over about a second (`inProcessDelaysMs`), which
 * then finds it a duplicate. Past that — an id staged on a leader that lost its quorum stays
 * "in process" for the dedupe window — the error goes to the caller, who retries later.
 */
export function publisher(
  js: JetStreamClient,
  inProcessDelaysMs: readonly number[] = [25, 50, 100, 200, 400],
  /** A fleet cluster's name (CLUSTER_NAME): in every id, and as the Onpush-Cluster header. */
  cluster?: string,
): Publish {
  const stamp = cluster ? { [HEADERS.cluster]: cluster } : undefined;
  return async (subject, data, options) => {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const ack = await js.publish(subject, data, {
          msgID: dedupId(subject, options.msgId, cluster),
          headers: toMsgHdrs(stamp ? { ...options.headers, ...stamp } : options.headers),
          timeout: options.timeoutMs ?? 5_000,
        });
        return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
      } catch (error) {
        const delay = inProcessDelaysMs[attempt];
        if (!isInProcess(error) || delay === undefined) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };
}
