import { OnpushError } from '@onpush/contracts';
/** Why a request failed authentication: the `reason` label of the auth-failure counter. */
export type AuthFailure =
  | 'missing'
  | 'malformed'
  | 'bad_signature'
  | 'wrong_token'
  | 'unknown_key'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_audience'
  | 'wrong_issuer'
  | 'wrong_email'
  | 'unverified_email'
  | 'wrong_topic'
  | 'cert_url_not_allowed';

/** The sender did not prove who it is: 401, nothing enters. Never retryable. */
export class AuthError extends OnpushError {
  override readonly name = 'AuthError';
  constructor(
    readonly reason: AuthFailure,
    message: string,
  ) {
    super(message, { type: 'unauthenticated', retryable: false });
  }
}

/**
 * The proof could not be checked now: the signing keys or certificate could not be fetched.
 * 503, so the sender retries later.
 */
export class AuthUnavailableError extends OnpushError {
  override readonly name = 'AuthUnavailableError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, type: 'auth_unavailable', retryable: true, retryAfterMs: 5_000 });
  }
}

/** A GET to a sender's URL (keys, certificate, subscription confirmation) failed. */
export class FetchError extends OnpushError {
  override readonly name = 'FetchError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, type: 'fetch_failed', retryable: true });
  }
}
