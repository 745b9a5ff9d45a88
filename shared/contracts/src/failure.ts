// One error shape for all of onpush. Whoever understands a failure says, where it is thrown,
// what went wrong (a short snake_case `type`: `http_403`, `invalid_json`) and whether trying
// again can help (`retryable`, with `retryAfterMs` when the other side said when). The stage
// runtime turns that into a NAK with a delay or a dead letter with the type as its reason; HTTP
// routes into a status. Like Temporal's ApplicationFailure: a failure classifies itself.

/** What every onpush failure says about itself. */
export interface Failure {
  /** Low-cardinality reason code, snake_case: a metric label and a dead letter's reason. */
  readonly type: string;
  /** True when the same work may succeed later (the broker redelivers it). */
  readonly retryable: boolean;
  /** When retrying makes sense, if the other side said (Retry-After). */
  readonly retryAfterMs?: number | undefined;
}

/** What an OnpushError is made of: its failure, and the error that caused it, if any. */
export interface OnpushErrorInit<T extends string = string> extends Failure, ErrorOptions {
  readonly type: T;
}

/**
 * The base of onpush's errors: each subclass names itself and hands the base its `type`, whether
 * it is retryable and, when the other side said, `retryAfterMs` (`T` narrows the type to the
 * subclass's own codes).
 */
export abstract class OnpushError<T extends string = string> extends Error implements Failure {
  abstract override readonly name: string;
  readonly type: T;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  protected constructor(message: string, init: OnpushErrorInit<T>) {
    super(message, 'cause' in init ? { cause: init.cause } : undefined);
    this.type = init.type;
    this.retryable = init.retryable;
    this.retryAfterMs = init.retryAfterMs;
  }
}

/** A failure as the runtime reads it, from anything thrown. */
export interface FailureInfo extends Failure {
  readonly message: string;
}

/**
 * What `error` says about itself. Anything that does not classify itself (a bug, a library's
 * error) is `internal_error` and counts as transient: the broker's max deliveries bound it.
 */
export function failureOf(error: unknown): FailureInfo {
  const e = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  return {
    type: typeof e['type'] === 'string' ? e['type'] : 'internal_error',
    message: error instanceof Error ? error.message : String(error),
    retryable: typeof e['retryable'] === 'boolean' ? e['retryable'] : true,
    retryAfterMs: typeof e['retryAfterMs'] === 'number' ? e['retryAfterMs'] : undefined,
  };
}
