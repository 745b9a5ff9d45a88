// Max-deliveries advisories → dead letters. JetStream publishes an advisory when a message was
// delivered `max_deliver` times without an ack (the stage crashed, hung or lost its connection
// on the last attempt); ONPUSH_ADVISORIES keeps it until the dlq-manager turns it into the dead
// letter of that message. Pure functions: no NATS here.
import { z } from 'zod';
import {
  TOPOLOGY,
  FLEET_WAVE_GATES,
  deadSubject,
  encode,
  toPayload,
  type ConsumerStage,
  type DeadLetter,
} from '@onpush/contracts';
import { deadLetterFor, deadLetterKey, type Incoming, type Outgoing } from '@onpush/service';

/** The advisory JetStream sends (`io.nats.jetstream.advisory.v1.max_deliver`), fields we use. */
const AdvisorySchema = z.object({
  type: z.literal('io.nats.jetstream.advisory.v1.max_deliver'),
  stream: z.string().min(1),
  consumer: z.string().min(1),
  stream_seq: z.int().positive(),
  deliveries: z.int().positive(),
});
export type MaxDeliveriesAdvisory = z.infer<typeof AdvisorySchema>;

/** The reason of a dead letter whose original message had already left the stream. */
export const ORIGINAL_GONE_REASON = 'max_deliveries_original_gone';

/** The advisory in `data`, or undefined when it is not a max-deliveries advisory. */
export function parseAdvisory(data: Uint8Array): MaxDeliveriesAdvisory | undefined {
  try {
    const parsed = AdvisorySchema.safeParse(JSON.parse(new TextDecoder().decode(data)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The stage that binds `consumer` on `stream`, per the topology; undefined for any other. */
export function stageOf(stream: string, consumer: string): ConsumerStage | undefined {
  const spec = [...Object.values(TOPOLOGY.consumers), ...FLEET_WAVE_GATES].find(
    (c) => c.durable === consumer && c.stream === stream,
  );
  return spec?.stage;
}

/** The message the advisory is about, as read back from its stream by sequence. */
export interface OriginalMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Record<string, string>;
  /** When the stream stored it: its first delivery came right after. */
  readonly time: Date;
}

/**
 * The dead letter (reason `max_deliveries`) and `dead` outcome of the original message, keyed as
 * its stage keys them (`dead:<stage>:<stream>:<seq>`), so when the stage did dead-letter it the
 * stream rejects these as duplicates.
 */
export function originalDeadLetters(
  stage: ConsumerStage,
  advisory: MaxDeliveriesAdvisory,
  original: OriginalMessage,
  at: Date,
): Outgoing[] {
  const msg: Incoming = {
    subject: original.subject,
    data: original.data,
    headers: original.headers,
    seq: advisory.stream_seq,
    deliveryCount: advisory.deliveries,
    storedAt: original.time,
  };
  const failure = {
    type: 'no_ack',
    message: `consumer ${advisory.consumer} never acknowledged it (the stage crashed, hung or lost its connection)`,
    retryable: true,
  };
  return deadLetterFor(stage, msg, failure, advisory.stream, at);
}

/**
 * When the original is gone (aged out or purged): a dead letter with reason
 * `max_deliveries_original_gone` whose payload is the advisory itself. No outcome: the event it
 * belonged to is unknown. It is not replayable (its subject is the advisory's).
 */
export function goneDeadLetters(
  stage: ConsumerStage,
  advisory: MaxDeliveriesAdvisory,
  advisoryMsg: Pick<Incoming, 'subject' | 'data'>,
  at: Date,
): Outgoing[] {
  const key = deadLetterKey(stage, advisory.stream, advisory.stream_seq);
  const letter: DeadLetter = {
    v: 1,
    id: key,
    stage,
    reason: ORIGINAL_GONE_REASON,
    error: `message ${advisory.stream_seq} of ${advisory.stream} exhausted ${advisory.deliveries} deliveries to ${advisory.consumer} and is no longer in the stream`,
    attempts: advisory.deliveries,
    subject: advisoryMsg.subject,
    headers: {},
    payload: toPayload(advisoryMsg.data),
    firstFailedAt: at.toISOString(),
    lastFailedAt: at.toISOString(),
  };
  return [{ subject: deadSubject(stage), data: encode(letter), msgId: key }];
}
