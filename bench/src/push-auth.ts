// Pub/Sub push as it authenticates for real: ingest gets a `gcr` endpoint `pubsub` checking an
// OIDC token against this process's own signing key (a JWKS file, as Google's keys would be), and
// each push carries a token signed like Google's.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const PUSH_PATH = '/webhooks/pubsub';
const AUDIENCE = 'https://onpush.bench/webhooks/pubsub';
const EMAIL = 'pubsub-push@onpush-bench.iam.gserviceaccount.com';
const KID = 'onpush-bench-push';

let key: KeyObject | undefined;
let publicJwk: object | undefined;
let token: { value: string; until: number } | undefined;

/**
 * Ingest's environment for the `pubsub` endpoint; writes the public key into `dir`. One key per
 * process: every ingest started (the cluster section starts a second set) checks the same tokens.
 */
export function pushAuthEnv(
  dir: string,
  /** false: the endpoint's default rate limit, as a user's endpoint has it. */
  benchLimits = true,
): NodeJS.ProcessEnv {
  if (key === undefined || publicJwk === undefined) {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    key = pair.privateKey;
    publicJwk = pair.publicKey.export({ format: 'jwk' });
  }
  const jwk = { ...publicJwk, kid: KID, alg: 'RS256', use: 'sig' };
  const jwksFile = join(dir, 'bench-push-jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  const endpoint = {
    name: 'pubsub',
    source: 'gcr',
    auth: { type: 'oidc', audience: AUDIENCE, email: EMAIL, jwksFile },
    // the benchmark pushes far faster than a subscription would
    ...(benchLimits ? { rateLimit: { perSecond: 100_000, burst: 1_000_000 } } : {}),
  };
  return { WEBHOOKS: JSON.stringify([endpoint]) };
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The Authorization header of a push (one token, renewed every ten minutes). */
export function pushAuthorization(): string {
  if (key === undefined) throw new Error('pushAuthEnv was not called');
  if (token === undefined || Date.now() > token.until) {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: 'https://accounts.google.com',
      aud: AUDIENCE,
      email: EMAIL,
      email_verified: true,
      iat: now,
      exp: now + 3600,
    };
    const input = `${b64({ alg: 'RS256', typ: 'JWT', kid: KID })}.${b64(claims)}`;
    const signature = sign('RSA-SHA256', Buffer.from(input), key).toString('base64url');
    token = { value: `${input}.${signature}`, until: Date.now() + 600_000 };
  }
  return `Bearer ${token.value}`;
}
