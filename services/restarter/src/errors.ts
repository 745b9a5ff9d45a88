import { OnpushError } from '@onpush/contracts';
/** Why a restart request cannot be carried out by this service. Never retryable: redelivery changes nothing. */
export type RestartErrorType = 'invalid_message' | 'unsupported_kind';

export class RestartError extends OnpushError {
  override readonly name = 'RestartError';
  override readonly retryable = false;
  override readonly retryAfterMs = undefined;
  constructor(
    override readonly type: RestartErrorType,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
