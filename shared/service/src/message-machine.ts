import { OnpushError, failureOf, type FailureInfo } from '@onpush/contracts';
import { assign, fromPromise, setup } from 'xstate';

/** One delivery, as the machine sees it (transport-neutral). */
export interface Incoming {
  subject: string;
  data: Uint8Array;
  headers: Record<string, string>;
  /** Stream sequence of the message. */
  seq: number;
  /** JetStream's count: 1 on first delivery. */
  deliveryCount: number;
  /** When the stream stored the message (before its first delivery), when known. */
  storedAt?: Date | undefined;
}

/** A message to publish before the incoming one is acked; `msgId` makes it idempotent. */
export type { FailureInfo };

export interface Outgoing {
  subject: string;
  data: Uint8Array;
  msgId: string;
  headers?: Record<string, string>;
}

/** What a failure says about itself, read once (`@onpush/contracts` failureOf). */
export const describeFailure = failureOf;

/** The NAK delay for attempt `deliveryCount`: Retry-After when given, else the schedule's step. */
export function retryDelayMs(
  deliveryCount: number,
  failure: FailureInfo,
  scheduleMs: readonly number[],
): number {
  if (failure.retryAfterMs !== undefined) return Math.max(0, Math.ceil(failure.retryAfterMs));
  const step = scheduleMs[Math.min(Math.max(deliveryCount, 1), scheduleMs.length) - 1];
  return step ?? 1_000;
}

export type MessageResult = 'acked' | 'retried' | 'dead';

/** The type of a delivery a stage holds on purpose (NAKed until its time: not a failure). */
export const HELD = 'held';

/**
 * Thrown by a handler to have the broker keep the delivery and bring it back in `forMs` (a NAK
 * with that delay): a wait, not a failure — logged, counted and traced as held, not as an error.
 * Each hold is a delivery, counted against the consumer's max deliver.
 */
export class Held extends OnpushError<typeof HELD> {
  override readonly name = 'Held';
  constructor(message: string, forMs: number) {
    super(message, { type: HELD, retryable: true, retryAfterMs: Math.max(1, Math.ceil(forMs)) });
  }
}

/** True when a handled delivery was held (NAKed on purpose), not retried after a failure. */
export function wasHeld(handled: {
  result: MessageResult;
  failure: FailureInfo | undefined;
}): boolean {
  return handled.result === 'retried' && handled.failure?.type === HELD;
}

/** The failure type of a delivery whose dead letter could not be stored (it is retried). */
export const DEAD_LETTER_NOT_STORED = 'dead_letter_not_stored';

/**
 * The failure of a delivery that was to be dead-lettered for `gaveUp` when storing its dead letter
 * failed with `error`: retryable (the message is kept), its delay the store's when it said one.
 */
export function deadLetterNotStored(gaveUp: FailureInfo, error: unknown): FailureInfo {
  const store = describeFailure(error);
  return {
    type: DEAD_LETTER_NOT_STORED,
    message:
      `storing the dead letter failed ([${store.type}] ${store.message}); ` +
      `it was for [${gaveUp.type}] ${gaveUp.message}`,
    retryable: true,
    ...(store.retryAfterMs !== undefined ? { retryAfterMs: store.retryAfterMs } : {}),
  };
}

export interface MessageInput {
  msg: Incoming;
  maxDeliver: number;
  retryScheduleMs: readonly number[];
}

interface MessageContext extends MessageInput {
  outgoing: Outgoing[];
  failure: FailureInfo | undefined;
  result: MessageResult;
}

/** Placeholder effect: every real one is supplied with `.provide()`. */
const notProvided = (): Promise<never> => Promise.reject(new Error('effect not provided'));

/**
 * Handling one message: decoding → handling → publishing → acked, or → retrying (NAK with a
 * delay, the broker redelivers), or → deadLettering (permanent failure, or the last attempt)
 * then acked. Effects are supplied with `.provide()`; the machine is only the policy.
 */
export const messageMachine = setup({
  types: {
    context: {} as MessageContext,
    input: {} as MessageInput,
    output: {} as { result: MessageResult; failure: FailureInfo | undefined },
  },
  actors: {
    handle: fromPromise<Outgoing[], { msg: Incoming }>(notProvided),
    publish: fromPromise<void, { outgoing: Outgoing[] }>(notProvided),
    ack: fromPromise<void, { msg: Incoming }>(notProvided),
    nak: fromPromise<void, { msg: Incoming; delayMs: number }>(notProvided),
    deadLetter: fromPromise<void, { msg: Incoming; failure: FailureInfo }>(notProvided),
  },
  guards: {
    shouldRetry: ({ context }) =>
      context.failure !== undefined &&
      context.failure.retryable &&
      context.msg.deliveryCount < context.maxDeliver,
  },
}).createMachine({
  id: 'message',
  context: ({ input }) => ({ ...input, outgoing: [], failure: undefined, result: 'acked' }),
  initial: 'handling',
  states: {
    // Decoding is the first step of `handle`: a body that does not decode is a permanent failure.
    handling: {
      invoke: {
        src: 'handle',
        input: ({ context }) => ({ msg: context.msg }),
        onDone: {
          target: 'publishing',
          actions: assign({ outgoing: ({ event }) => event.output }),
        },
        onError: {
          target: 'failed',
          actions: assign({ failure: ({ event }) => describeFailure(event.error) }),
        },
      },
    },
    publishing: {
      invoke: {
        src: 'publish',
        input: ({ context }) => ({ outgoing: context.outgoing }),
        onDone: 'acking',
        onError: {
          target: 'failed',
          actions: assign({ failure: ({ event }) => describeFailure(event.error) }),
        },
      },
    },
    failed: {
      always: [{ guard: 'shouldRetry', target: 'retrying' }, { target: 'deadLettering' }],
    },
    retrying: {
      entry: assign({ result: 'retried' }),
      invoke: {
        src: 'nak',
        input: ({ context }) => ({
          msg: context.msg,
          delayMs: retryDelayMs(
            context.msg.deliveryCount,
            context.failure!,
            context.retryScheduleMs,
          ),
        }),
        onDone: 'done',
        // A NAK that cannot be sent is a NAK by timeout: the broker redelivers after ack_wait.
        onError: 'done',
      },
    },
    deadLettering: {
      entry: assign({ result: 'dead' }),
      invoke: {
        src: 'deadLetter',
        input: ({ context }) => ({ msg: context.msg, failure: context.failure! }),
        onDone: 'acking',
        // The dead letter could not be stored: keep the message, let the broker redeliver it.
        // What failed now is the store, so that is the failure reported (and logged).
        onError: {
          target: 'retrying',
          actions: assign({
            failure: ({ context, event }) => deadLetterNotStored(context.failure!, event.error),
          }),
        },
      },
    },
    acking: {
      invoke: {
        src: 'ack',
        input: ({ context }) => ({ msg: context.msg }),
        onDone: 'done',
        onError: 'done',
      },
    },
    done: { type: 'final' },
  },
  output: ({ context }) => ({ result: context.result, failure: context.failure }),
});
