import { errors, jwtVerify, type CryptoKey, type JWTPayload } from 'jose';
import { AuthError, AuthUnavailableError, type AuthFailure } from './errors.js';

export interface OidcPolicy {
  audience: string;
  emails: readonly string[];
  issuers: readonly string[];
  clockSkewMs: number;
}

export interface KeySource {
  key(kid: string): Promise<CryptoKey | undefined>;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/** The JWT of `Authorization: Bearer <jwt>`, three non-empty segments; else throws AuthError. */
function bearerToken(authorization: string | undefined): string {
  if (authorization === undefined || authorization === '')
    throw new AuthError('missing', 'no Authorization header');
  const token = /^Bearer +([^ ]+)$/i.exec(authorization)?.[1];
  const parts = token?.split('.');
  if (token === undefined || parts?.length !== 3 || !parts.every((p) => SEGMENT.test(p)))
    throw new AuthError('malformed', 'Authorization is not "Bearer <JWT>"');
  return token;
}

/** The reason of a jose verification error (claims are named by `claim`). */
function reasonOf(error: unknown): AuthFailure {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return 'wrong_issuer';
    if (error.claim === 'aud') return 'wrong_audience';
    if (error.claim === 'nbf' && error.reason === 'check_failed') return 'not_yet_valid';
    return 'malformed'; // exp or iat missing, or a date that is not a number
  }
  // The algorithm is not RS256 (alg none, HS256, ...), or the token is not a JWS / JWT.
  if (error instanceof errors.JOSEError) return 'malformed';
  return 'bad_signature'; // the key cannot verify (e.g. an RSA key below 2048 bits)
}

/** What jose does not check: Google's service-account claims, and an iat in the future. */
function checkGoogleClaims(claims: JWTPayload, policy: OidcPolicy, nowMs: number): void {
  if ((claims.iat ?? 0) > (nowMs + policy.clockSkewMs) / 1000)
    throw new AuthError('not_yet_valid', 'the token is not valid yet');
  const email = claims['email'];
  if (typeof email !== 'string' || !policy.emails.includes(email))
    throw new AuthError('wrong_email', 'the token is for another service account');
  if (claims['email_verified'] !== true)
    throw new AuthError('unverified_email', 'the token email is not verified');
}

/** How long a verified token is taken on trust at most, and how many are kept. */
export const VERIFIED_TOKEN_MS = 60_000;
export const VERIFIED_TOKENS_KEPT = 256;

/**
 * The tokens one endpoint verified lately, each exactly as sent (signature included), with its
 * claims. A sender reuses its token for many requests (Pub/Sub's are valid for an hour), and the
 * RS256 check runs on Node's thread pool: a token seen again within VERIFIED_TOKEN_MS, and before
 * its exp (plus the clock skew), is accepted without it. Nothing else about the token can change
 * meanwhile — its issuer, audience, email, iat and nbf were checked against the same policy — so
 * only time is checked again; a key rotated out of the JWKS stops a cached token within a minute.
 * Only tokens that verified are kept.
 */
export class VerifiedTokens {
  private readonly verified = new Map<string, { claims: JWTPayload; until: number }>();

  constructor(
    private readonly trustMs = VERIFIED_TOKEN_MS,
    private readonly limit = VERIFIED_TOKENS_KEPT,
  ) {}

  get(token: string, nowMs: number): JWTPayload | undefined {
    const entry = this.verified.get(token);
    if (entry === undefined) return undefined;
    if (nowMs < entry.until) return entry.claims;
    this.verified.delete(token);
    return undefined;
  }

  add(token: string, claims: JWTPayload, policy: OidcPolicy, nowMs: number): void {
    const expires = (claims.exp ?? 0) * 1000 + policy.clockSkewMs;
    this.verified.delete(token);
    this.verified.set(token, { claims, until: Math.min(nowMs + this.trustMs, expires) });
    if (this.verified.size > this.limit) {
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
  }
}

/**
 * Verifies a Google-signed OIDC ID token (Pub/Sub push) with jose: RS256 only, with the key
 * named by `kid`; issuer, audience, exp / nbf within the clock skew; then the service-account
 * email, email_verified and iat. Throws AuthError with the reason (the 401's metric label), or
 * AuthUnavailableError when the keys cannot be fetched. With `verified`, a token it verified
 * lately is accepted again without its signature being checked (VerifiedTokens).
 */
export async function verifyOidc(
  authorization: string | undefined,
  policy: OidcPolicy,
  keys: KeySource,
  nowMs: number = Date.now(),
  verified?: VerifiedTokens,
): Promise<Record<string, unknown>> {
  const token = bearerToken(authorization);
  const known = verified?.get(token, nowMs);
  if (known !== undefined) return known;
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(
      token,
      async ({ kid }) => {
        if (typeof kid !== 'string') throw new AuthError('malformed', 'the token names no key');
        const key = await keys.key(kid);
        if (key === undefined)
          throw new AuthError('unknown_key', 'the token is signed by an unknown key');
        return key;
      },
      {
        algorithms: ['RS256'],
        issuer: [...policy.issuers],
        audience: policy.audience,
        requiredClaims: ['exp', 'iat'],
        clockTolerance: policy.clockSkewMs / 1000,
        currentDate: new Date(nowMs),
      },
    ));
  } catch (error) {
    if (error instanceof AuthError || error instanceof AuthUnavailableError) throw error;
    throw new AuthError(reasonOf(error), `the token does not verify: ${(error as Error).message}`);
  }
  checkGoogleClaims(claims, policy, nowMs);
  verified?.add(token, claims, policy, nowMs);
  return claims;
}
