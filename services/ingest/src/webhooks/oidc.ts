import { verify, type KeyObject } from 'node:crypto';
import { AuthError } from './errors.js';

export interface OidcPolicy {
  audience: string;
  emails: readonly string[];
  issuers: readonly string[];
  clockSkewMs: number;
}

export interface KeySource {
  key(kid: string): Promise<KeyObject | undefined>;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;

function decodeSegment(segment: string, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new AuthError('malformed', `the token's ${what} is not a JSON object`);
}

/** The JWT of `Authorization: Bearer <jwt>`, split; throws AuthError when there is none. */
function bearerToken(authorization: string | undefined): [string, string, string] {
  if (authorization === undefined || authorization === '')
    throw new AuthError('missing', 'no Authorization header');
  const match = /^Bearer +([^ ]+)$/i.exec(authorization);
  const parts = match?.[1]?.split('.');
  if (parts?.length !== 3 || !parts.every((p) => SEGMENT.test(p)))
    throw new AuthError('malformed', 'Authorization is not "Bearer <JWT>"');
  return parts as [string, string, string];
}

function checkClaims(claims: Record<string, unknown>, policy: OidcPolicy, nowMs: number): void {
  const now = nowMs / 1000;
  const skew = policy.clockSkewMs / 1000;
  const { iss, aud, email, exp, iat, nbf } = claims;
  if (typeof exp !== 'number' || typeof iat !== 'number')
    throw new AuthError('malformed', 'the token has no exp or iat');
  if (now > exp + skew) throw new AuthError('expired', 'the token expired');
  if (iat > now + skew || (typeof nbf === 'number' && nbf > now + skew))
    throw new AuthError('not_yet_valid', 'the token is not valid yet');
  if (typeof iss !== 'string' || !policy.issuers.includes(iss))
    throw new AuthError('wrong_issuer', 'the token has another issuer');
  const audiences = Array.isArray(aud) ? aud : [aud];
  if (!audiences.includes(policy.audience))
    throw new AuthError('wrong_audience', 'the token is for another audience');
  if (typeof email !== 'string' || !policy.emails.includes(email))
    throw new AuthError('wrong_email', 'the token is for another service account');
  if (claims['email_verified'] !== true)
    throw new AuthError('unverified_email', 'the token email is not verified');
}

/**
 * Verifies a Google-signed OIDC ID token (Pub/Sub push): RS256 over the first two segments
 * with the key named by `kid`, then issuer, audience, service-account email, email_verified,
 * and exp / iat / nbf with a small clock skew. Throws AuthError with the reason.
 */
export async function verifyOidc(
  authorization: string | undefined,
  policy: OidcPolicy,
  keys: KeySource,
  nowMs: number = Date.now(),
): Promise<Record<string, unknown>> {
  const [head, body, signature] = bearerToken(authorization);
  const header = decodeSegment(head, 'header');
  if (header['alg'] !== 'RS256') throw new AuthError('malformed', 'the token is not RS256');
  const kid = header['kid'];
  if (typeof kid !== 'string') throw new AuthError('malformed', 'the token names no key');
  const key = await keys.key(kid);
  if (key === undefined)
    throw new AuthError('unknown_key', 'the token is signed by an unknown key');
  const signed = Buffer.from(`${head}.${body}`);
  if (!verify('RSA-SHA256', signed, key, Buffer.from(signature, 'base64url')))
    throw new AuthError('bad_signature', 'the token signature does not verify');
  const claims = decodeSegment(body, 'payload');
  checkClaims(claims, policy, nowMs);
  return claims;
}
