import { OnpushError } from '@onpush/contracts';
/** Why a restart request cannot be carried out by this service. Never retryable: redelivery changes nothing. */
export type RestartErrorType = 'invalid_message' | 'unsupported_kind';

export class RestartError extends OnpushError<RestartErrorType> {
  override readonly name = 'RestartError';
  constructor(type: RestartErrorType, message: string, options?: ErrorOptions) {
    super(message, { ...options, type, retryable: false });
  }
}
