import { OnpushError } from '@onpush/contracts';

/** Why a DLQ operation cannot be done, and the HTTP status that answers each. */
export const DLQ_ERROR_STATUS = {
  not_found: 404,
  invalid_filter: 400,
  invalid_id: 400,
  not_replayable: 409,
  dlq_unavailable: 503,
} as const satisfies Readonly<Record<string, number>>;

/**
 * Why a DLQ operation cannot be done. `dlq_unavailable` (the stream is missing) is the only
 * retryable one: the others name a request that will fail the same way again.
 */
export type DlqErrorType = keyof typeof DLQ_ERROR_STATUS;

export class DlqError extends OnpushError<DlqErrorType> {
  override readonly name = 'DlqError';
  constructor(type: DlqErrorType, message: string, options?: ErrorOptions) {
    super(message, { ...options, type, retryable: type === 'dlq_unavailable' });
  }
}

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
