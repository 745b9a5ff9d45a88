/** Why a restart request cannot be carried out by this service. Never retryable: redelivery changes nothing. */
export type RestartErrorType = 'invalid_message' | 'unsupported_kind';

export class RestartError extends Error {
  override readonly name = 'RestartError';
  readonly retryable = false;
  readonly retryAfterMs = undefined;
  constructor(
    readonly type: RestartErrorType,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
