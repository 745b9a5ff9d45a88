// The span of a replay. A replay is an operator's decision, often long after the push: it
// starts a new trace, whose root is this `replay <subject>` PRODUCER span, linked to the span
// that published the message originally (the dead letter keeps its headers, traceparent
// included). The replayed message carries the new trace's context, so what the stage does with
// it the second time is one trace, and the original trace (ending in the dead letter) is one
// link away. Without a tracer the original traceparent is kept and the replay continues it.
import type { DeadLetter } from '@onpush/contracts';
import {
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_NATS_DUPLICATE,
  ATTR_MESSAGING_NATS_STREAM_SEQUENCE,
  ATTR_ONPUSH_DLQ_ENTRY,
  ATTR_ONPUSH_EVENT_ID,
  MESSAGING_OPERATION_TYPE_VALUE_SEND,
  SpanKind,
  natsOperation,
  extractContext,
  injectContext,
  inSpan,
  linksTo,
  type Headers,
} from '@onpush/telemetry';

export interface ReplayTrace {
  /** The DLQ entry id. */
  id: number;
  subject: string;
  msgId: string;
  /** The dead letter's copy of the original message's headers. */
  headers: DeadLetter['headers'];
}

function firstValues(headers: DeadLetter['headers']): Headers {
  const out: Headers = {};
  for (const [name, value] of Object.entries(headers)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (typeof first === 'string') out[name] = first;
  }
  return out;
}

/**
 * Runs `publish` inside the replay's span; `publish` gets the trace headers to set on the
 * replayed message (empty when nothing is traced).
 */
export function withReplaySpan<T extends { seq: number; duplicate: boolean }>(
  replay: ReplayTrace,
  publish: (trace: Headers) => Promise<T>,
): Promise<T> {
  const original = firstValues(replay.headers);
  const eventId = Object.entries(original).find(([k]) => k.toLowerCase() === 'onpush-event-id');
  const spec = {
    name: `replay ${replay.subject}`,
    kind: SpanKind.PRODUCER,
    root: true,
    links: linksTo(extractContext(original)),
    attributes: {
      ...natsOperation(replay.subject, MESSAGING_OPERATION_TYPE_VALUE_SEND, 'replay'),
      [ATTR_MESSAGING_MESSAGE_ID]: replay.msgId,
      [ATTR_ONPUSH_DLQ_ENTRY]: replay.id,
      ...(eventId ? { [ATTR_ONPUSH_EVENT_ID]: eventId[1] } : {}),
    },
  };
  return inSpan(spec, async (span) => {
    const ack = await publish(injectContext({}));
    span.setAttributes({
      [ATTR_MESSAGING_NATS_STREAM_SEQUENCE]: ack.seq,
      [ATTR_MESSAGING_NATS_DUPLICATE]: ack.duplicate,
    });
    return ack;
  });
}
