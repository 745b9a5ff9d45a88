import { OnpushError } from '@onpush/contracts';

/**
 * Why a DLQ operation cannot be done. `dlq_unavailable` (the stream is missing) is the only
 * retryable one: the others name a request that will fail the same way again.
 */
export type DlqErrorType =
  | 'not_found'
  | 'invalid_filter'
  | 'invalid_id'
  | 'not_replayable'
  | 'dlq_unavailable';

export class DlqError extends OnpushError {
  override readonly name = 'DlqError';
  override readonly type: DlqErrorType;
  override readonly retryable: boolean;
  constructor(type: DlqErrorType, message: string, options?: ErrorOptions) {
    super(message, options);
    this.type = type;
    this.retryable = type === 'dlq_unavailable';
  }
}

/** The HTTP status that answers each failure. */
export const DLQ_ERROR_STATUS: Readonly<Record<DlqErrorType, number>> = {
  not_found: 404,
  invalid_filter: 400,
  invalid_id: 400,
  not_replayable: 409,
  dlq_unavailable: 503,
};

/** A public entry id (its ONPUSH_DLQ stream sequence) from text, or an `invalid_id` DlqError. */
export function parseId(raw: string): number {
  const id = /^[1-9]\d{0,15}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(id)) {
    throw new DlqError(
      'invalid_id',
      `invalid id ${JSON.stringify(raw)}: expected a DLQ sequence number such as 42`,
    );
  }
  return id;
}
