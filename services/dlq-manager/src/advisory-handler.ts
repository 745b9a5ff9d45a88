// The handler of the `dlq-manager-advisories` consumer: one max-deliveries advisory in, the dead
// letter (and `dead` outcome) of the message it names out, published by the stage runtime.
import type { JetStreamManager } from '@onpush/nats';
import type { Incoming, Outgoing } from '@onpush/service';
import type { Logger } from '@onpush/telemetry';
import {
  goneDeadLetters,
  originalDeadLetters,
  parseAdvisory,
  stageOf,
  type OriginalMessage,
} from './advisory.js';

export interface AdvisoryHandlerDeps {
  /** The message `seq` of `stream`, or undefined when the stream no longer has it. */
  original: (stream: string, seq: number) => Promise<OriginalMessage | undefined>;
  log: Logger;
  now?: () => Date;
}

/** Reads the original by sequence (`jsm.streams.getMessage`); null from the server means gone. */
export function originalReader(
  jsm: () => JetStreamManager | undefined,
): AdvisoryHandlerDeps['original'] {
  return async (stream, seq) => {
    const manager = jsm();
    if (manager === undefined) {
      throw Object.assign(new Error('not connected to NATS yet'), {
        type: 'nats_unavailable',
        retryable: true,
      });
    }
    const stored = await manager.streams.getMessage(stream, { seq });
    if (!stored) return undefined;
    const headers: Record<string, string> = {};
    for (const key of stored.header?.keys() ?? []) headers[key] = stored.header?.get(key) ?? '';
    return { subject: stored.subject, data: stored.data, headers, time: stored.time };
  };
}

/**
 * An advisory that is not a max-deliveries advisory of a stage's consumer is logged and acked
 * (nothing to dead-letter). Reading the original may fail transiently: the error is retryable and
 * the broker redelivers the advisory.
 */
export function createAdvisoryHandler(deps: AdvisoryHandlerDeps) {
  const now = deps.now ?? (() => new Date());
  return async (msg: Incoming): Promise<Outgoing[]> => {
    const advisory = parseAdvisory(msg.data);
    if (advisory === undefined) {
      deps.log.warn('not a max-deliveries advisory: ignored', { subject: msg.subject });
      return [];
    }
    const stage = stageOf(advisory.stream, advisory.consumer);
    if (stage === undefined) {
      deps.log.info('advisory of a consumer onpush does not own: ignored', { ...advisory });
      return [];
    }
    const at = msg.storedAt ?? now();
    const original = await deps.original(advisory.stream, advisory.stream_seq);
    const fields = { stage, stream: advisory.stream, seq: advisory.stream_seq };
    if (original === undefined) {
      deps.log.warn('exhausted its deliveries, original gone', { ...fields });
      return goneDeadLetters(stage, advisory, msg, at);
    }
    // Only returned here: the stage runtime stores it, and logs when it could not.
    deps.log.warn('exhausted its deliveries; storing its dead letter', {
      ...fields,
      subject: original.subject,
      deliveries: advisory.deliveries,
    });
    return originalDeadLetters(stage, advisory, original, at);
  };
}
