import { parseDeadLetter, subjectTail } from '@onpush/contracts';
import type { Incoming, Outgoing } from '@onpush/service';
import {
  ATTR_ONPUSH_DLQ_REASON,
  ATTR_ONPUSH_DLQ_STAGE,
  annotate,
  type Logger,
} from '@onpush/telemetry';
import { INVALID_REASON } from '@onpush/dlq';
import type { DlqMetrics } from './metrics.js';

export interface HandlerDeps {
  log: Logger;
  metrics: DlqMetrics;
  /** Refreshes the DLQ gauges (coalesced). */
  refresh: () => void;
}

/**
 * One entry of ONPUSH_DLQ → logged and counted, nothing published. An entry that is not a valid
 * DeadLetter is logged and acked too: it stays in the stream (acking deletes nothing there), is
 * listed as `invalid_entry`, and can be purged.
 */
export function createHandler(deps: HandlerDeps) {
  return (msg: Incoming): Promise<Outgoing[]> => {
    const id = msg.seq;
    try {
      const letter = parseDeadLetter(msg.data);
      deps.metrics.deadLetters.inc({ stage: letter.stage, reason: letter.reason });
      annotate({ [ATTR_ONPUSH_DLQ_STAGE]: letter.stage, [ATTR_ONPUSH_DLQ_REASON]: letter.reason });
      deps.log.warn('dead letter', {
        id,
        stage: letter.stage,
        reason: letter.reason,
        error: letter.error,
        attempts: letter.attempts,
        subject: letter.subject,
        ...(letter.traceId ? { trace_id: letter.traceId } : {}),
        ...(letter.replayOf ? { replayOf: letter.replayOf } : {}),
        ...(letter.truncated ? { truncated: letter.truncated } : {}),
      });
    } catch (error) {
      const stage = subjectTail(msg.subject, 'onpush.dead') ?? 'unknown';
      deps.metrics.deadLetters.inc({ stage, reason: INVALID_REASON });
      deps.log.error('invalid dead letter kept in the DLQ', { id, subject: msg.subject, error });
    }
    deps.refresh();
    return Promise.resolve([]);
  };
}
