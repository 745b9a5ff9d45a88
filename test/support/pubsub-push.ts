// Pub/Sub push as it really authenticates, for the tests that drive the pipeline over HTTP: ingest
// gets a `gcr` endpoint `pubsub` that checks an OIDC token (jwksFile: this process's own signing
// key, as Google's keys would be), and each push carries a token signed like Google's.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PUSH_PATH = '/webhooks/pubsub';
export const PUSH_AUDIENCE = 'https://onpush.test/webhooks/pubsub';
export const PUSH_EMAIL = 'pubsub-push@onpush-test.iam.gserviceaccount.com';
const KID = 'onpush-test-push';

interface Signer {
  privateKey: KeyObject;
  jwksFile: string;
}

let signer: Signer | undefined;

/** This process's signing key, its public half written once as a JWKS file ingest reads. */
function pushSigner(): Signer {
  if (signer !== undefined) return signer;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' };
  const jwksFile = join(mkdtempSync(join(tmpdir(), 'onpush-push-')), 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  signer = { privateKey, jwksFile };
  return signer;
}

/** The `pubsub` endpoint, with more `fields` (e.g. `repositories`, `registryHost`). */
export function pushEndpoint(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'pubsub',
    source: 'gcr',
    auth: {
      type: 'oidc',
      audience: PUSH_AUDIENCE,
      email: PUSH_EMAIL,
      jwksFile: pushSigner().jwksFile,
    },
    // The tests push faster than a real subscription would: the default 50/s would shed them.
    rateLimit: { perSecond: 100_000, burst: 1_000_000 },
    ...fields,
  };
}

/** Ingest's environment for authenticated Pub/Sub push at PUSH_PATH (and no pull unless asked). */
export function pushEnv(fields: Record<string, unknown> = {}): NodeJS.ProcessEnv {
  return { WEBHOOKS: JSON.stringify([pushEndpoint(fields)]) };
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token as Pub/Sub push signs it (RS256, Google's issuer, the audience and service account). */
export function pushToken(claims: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    iss: 'https://accounts.google.com',
    aud: PUSH_AUDIENCE,
    email: PUSH_EMAIL,
    email_verified: true,
    iat: now,
    exp: now + 3600,
    ...claims,
  };
  const input = `${b64({ alg: 'RS256', typ: 'JWT', kid: KID })}.${b64(payload)}`;
  const signature = sign('RSA-SHA256', Buffer.from(input), pushSigner().privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

let cached: { token: string; until: number } | undefined;

/** The headers of an authenticated push (one token, renewed every ten minutes). */
export function pushHeaders(): Record<string, string> {
  if (cached === undefined || Date.now() > cached.until)
    cached = { token: pushToken(), until: Date.now() + 600_000 };
  return { 'content-type': 'application/json', authorization: `Bearer ${cached.token}` };
}
