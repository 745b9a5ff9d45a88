import { OnpushError } from '@onpush/contracts';
/** Why a raw delivery (or one entry of a batch) cannot become an event. */
export type ParseErrorType =
  | 'invalid_json'
  | 'missing_field'
  | 'invalid_reference'
  | 'unknown_source'
  | 'invalid_encoding'
  | 'missing_registry_host'
  | 'batch_too_large'
  | 'repository_not_allowed';

/** Never retryable: the same bytes fail the same way. */
export class ParseError extends OnpushError<ParseErrorType> {
  override readonly name = 'ParseError';
  constructor(type: ParseErrorType, message: string, options?: ErrorOptions) {
    super(message, { ...options, type, retryable: false });
  }
}
