import { createHmac, createPublicKey, type JsonWebKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, AuthUnavailableError } from './errors.js';
import { JwksKeys } from './jwks.js';
import {
  VERIFIED_TOKEN_MS,
  VerifiedTokens,
  verifyOidc,
  type KeySource,
  type OidcPolicy,
} from './oidc.js';
import { rsaSigner, serve, signJwt } from './senders.test-support.js';

const NOW = Date.parse('2025-06-01T12:00:00Z');
const now = NOW / 1000;
const policy: OidcPolicy = {
  audience: 'https://onpush.example.com/webhooks/gcr',
  emails: ['push@project.iam.gserviceaccount.com'],
  issuers: ['accounts.google.com', 'https://accounts.google.com'],
  clockSkewMs: 30_000,
};
const claims = {
  iss: 'https://accounts.google.com',
  aud: policy.audience,
  email: 'push@project.iam.gserviceaccount.com',
  email_verified: true,
  iat: now - 60,
  exp: now + 3_540,
  sub: '1234',
};

const google = rsaSigner('google-1');
const attacker = rsaSigner('google-1');
let jwks: Awaited<ReturnType<typeof serve>>;
let keys: JwksKeys;

beforeAll(async () => {
  jwks = await serve({ '/certs': JSON.stringify(google.jwks) });
  keys = new JwksKeys({ url: `${jwks.url}/certs` }, fetch, () => NOW);
});
afterAll(() => jwks.close());

async function reason(authorization: string | undefined): Promise<string> {
  try {
    await verifyOidc(authorization, policy, keys, NOW);
    return 'ok';
  } catch (error) {
    if (error instanceof AuthError) return error.reason;
    throw error;
  }
}

const bearer = (c: Record<string, unknown>, header: Record<string, unknown> = {}) =>
  `Bearer ${signJwt(google, c, header)}`;

describe('Pub/Sub push OIDC token', () => {
  it.each([
    ['a valid token', bearer(claims), 'ok'],
    ['issuer without scheme', bearer({ ...claims, iss: 'accounts.google.com' }), 'ok'],
    ['audience in a list', bearer({ ...claims, aud: ['x', policy.audience] }), 'ok'],
    ['expired within the skew', bearer({ ...claims, exp: now - 20 }), 'ok'],
    ['expired just beyond the skew', bearer({ ...claims, exp: now - 31 }), 'expired'],
    ['forged: signed by another key', `Bearer ${signJwt(attacker, claims)}`, 'bad_signature'],
    [
      'forged: claims swapped after signing',
      (() => {
        const [h, , s] = signJwt(google, claims).split('.');
        const other = Buffer.from(JSON.stringify({ ...claims, email: 'me@evil.example' }));
        return `Bearer ${h}.${other.toString('base64url')}.${s}`;
      })(),
      'bad_signature',
    ],
    ['replayed but expired', bearer({ ...claims, iat: now - 7_200, exp: now - 3_600 }), 'expired'],
    ['issued in the future', bearer({ ...claims, iat: now + 600 }), 'not_yet_valid'],
    ['wrong audience', bearer({ ...claims, aud: 'https://other.example.com' }), 'wrong_audience'],
    ['wrong issuer', bearer({ ...claims, iss: 'https://evil.example.com' }), 'wrong_issuer'],
    ['wrong email', bearer({ ...claims, email: 'other@p.iam.gserviceaccount.com' }), 'wrong_email'],
    ['unverified email', bearer({ ...claims, email_verified: false }), 'unverified_email'],
    ['no exp', bearer({ ...claims, exp: undefined }), 'malformed'],
    ['unknown key', bearer(claims, { kid: 'rotated-away' }), 'unknown_key'],
    ['alg none', bearer(claims, { alg: 'none' }), 'malformed'],
    ['HS256', bearer(claims, { alg: 'HS256' }), 'malformed'],
    ['not a JWT', 'Bearer abc.def', 'malformed'],
    ['Basic auth', 'Basic dXNlcjpwYXNz', 'malformed'],
    ['missing header', undefined, 'missing'],
  ])('%s → %s', async (_, authorization, expected) => {
    expect(await reason(authorization)).toBe(expected);
  });

  it('fetches the keys once and keeps them for their max-age', () => {
    expect(jwks.hits.get('/certs')).toBe(1);
  });

  it('answers "unavailable" (503, the sender retries) when the keys cannot be fetched', async () => {
    const nowhere = new JwksKeys({ url: `${jwks.url}/missing` }, fetch, () => NOW);
    await expect(verifyOidc(bearer(claims), policy, nowhere, NOW)).rejects.toBeInstanceOf(
      AuthUnavailableError,
    );
  });
});

// Given an endpoint's cache of the tokens it verified lately
describe('a token seen again', () => {
  /** The JWKS keys, counting how often a signature needed one. */
  const counting = () => {
    const source = { asked: 0, key: (kid: string) => ((source.asked += 1), keys.key(kid)) };
    return source satisfies KeySource;
  };
  const verify = (authorization: string, source: KeySource, cache: VerifiedTokens, at = NOW) =>
    verifyOidc(authorization, policy, source, at, cache);

  it('is accepted without its signature checked again, within the trust time', async () => {
    const source = counting();
    const cache = new VerifiedTokens();
    const token = bearer(claims);
    await expect(verify(token, source, cache)).resolves.toMatchObject({ email: claims.email });
    await expect(verify(token, source, cache, NOW + 1_000)).resolves.toMatchObject({
      email: claims.email,
    });
    expect(source.asked).toBe(1);
    // past the trust time it is verified again
    await verify(token, source, cache, NOW + VERIFIED_TOKEN_MS);
    expect(source.asked).toBe(2);
  });

  it('is refused once expired (beyond the skew), though verified moments before', async () => {
    const source = counting();
    const cache = new VerifiedTokens();
    const token = bearer({ ...claims, exp: now + 5 });
    await verify(token, source, cache);
    await expect(verify(token, source, cache, NOW + 34_000)).resolves.toBeDefined();
    await expect(verify(token, source, cache, NOW + 36_000)).rejects.toMatchObject({
      reason: 'expired',
    });
  });

  it('is checked every time when it failed: a refused token is never kept', async () => {
    const source = counting();
    const cache = new VerifiedTokens();
    for (const forged of [
      `Bearer ${signJwt(attacker, claims)}`,
      bearer({ ...claims, email: 'x@y.z' }),
    ]) {
      await expect(verify(forged, source, cache)).rejects.toBeInstanceOf(AuthError);
      await expect(verify(forged, source, cache)).rejects.toBeInstanceOf(AuthError);
    }
    expect(source.asked).toBe(4);
  });

  it('keeps at most its limit, forgetting the least recently verified', async () => {
    const source = counting();
    const cache = new VerifiedTokens(VERIFIED_TOKEN_MS, 2);
    const [a, b, c] = [1, 2, 3].map((n) => bearer({ ...claims, sub: `s-${n}` }));
    for (const token of [a!, b!, c!, c!, b!]) await verify(token, source, cache);
    expect(source.asked).toBe(3);
    await verify(a!, source, cache);
    expect(source.asked).toBe(4);
  });
});

describe('JWKS from a file', () => {
  it('verifies tokens against keys read from jwksFile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onpush-jwks-'));
    const file = join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify(google.jwks));
    const fromFile = new JwksKeys({ file }, fetch, () => NOW);
    await expect(verifyOidc(bearer(claims), policy, fromFile, NOW)).resolves.toMatchObject({
      email: claims.email,
    });
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('refused algorithms: only RS256 is verified', () => {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${b64({ alg: 'RS256', typ: 'JWT', kid: google.kid })}.${b64(claims)}`;

  it('refuses an unsigned token (alg none, empty signature)', async () => {
    const none = `${b64({ alg: 'none', typ: 'JWT', kid: google.kid })}.${b64(claims)}.`;
    expect(await reason(`Bearer ${none}`)).toBe('malformed');
    expect(await reason(`Bearer ${unsigned}.`)).toBe('malformed');
  });

  it("refuses HS256 whose HMAC key is Google's RSA public key (PEM or JWK)", async () => {
    const publicKey = createPublicKey({ key: google.jwks.keys[0] as JsonWebKey, format: 'jwk' });
    const secrets = [
      publicKey.export({ type: 'spki', format: 'pem' }),
      JSON.stringify(google.jwks.keys[0]),
    ];
    for (const secret of secrets) {
      const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: google.kid })}.${b64(claims)}`;
      const mac = createHmac('sha256', secret).update(input).digest('base64url');
      expect(await reason(`Bearer ${input}.${mac}`)).toBe('malformed');
    }
  });
});

describe('key rotation', () => {
  it('accepts a token of a rotated-in key once the JWKS names it, refuses the rotated-out key', async () => {
    const next = rsaSigner('google-2');
    const routes = { '/rotating': JSON.stringify(google.jwks) };
    const server = await serve(routes);
    let clock = NOW;
    const rotating = new JwksKeys({ url: `${server.url}/rotating` }, fetch, () => clock);
    const check = async (signer: typeof google) => {
      try {
        await verifyOidc(`Bearer ${signJwt(signer, claims)}`, policy, rotating, NOW);
        return 'ok';
      } catch (error) {
        if (error instanceof AuthError) return error.reason;
        throw error;
      }
    };
    try {
      expect(await check(google)).toBe('ok');
      expect(await check(next)).toBe('unknown_key');
      // Google publishes the next key: an unknown kid refetches, but at most every 30 s.
      routes['/rotating'] = JSON.stringify({ keys: [...google.jwks.keys, ...next.jwks.keys] });
      clock += 10_000;
      expect(await check(next)).toBe('unknown_key');
      expect(server.hits.get('/rotating')).toBe(1);
      clock += 30_000;
      expect(await check(next)).toBe('ok');
      expect(await check(google)).toBe('ok');
      expect(server.hits.get('/rotating')).toBe(2);
      // The old key is withdrawn: once the cached document is stale, its tokens are refused.
      routes['/rotating'] = JSON.stringify(next.jwks);
      clock += 3_600_000;
      expect(await check(google)).toBe('unknown_key');
      expect(await check(next)).toBe('ok');
      expect(server.hits.get('/rotating')).toBe(3);
    } finally {
      await server.close();
    }
  });

  it('keeps the known keys when a refresh fails, and answers unavailable for an unknown one', async () => {
    const next = rsaSigner('google-2');
    const routes: Record<string, string> = { '/flaky': JSON.stringify(google.jwks) };
    const server = await serve(routes);
    let clock = NOW;
    const flaky = new JwksKeys({ url: `${server.url}/flaky` }, fetch, () => clock);
    try {
      await expect(verifyOidc(bearer(claims), policy, flaky, NOW)).resolves.toBeDefined();
      delete routes['/flaky'];
      clock += 2 * 3_600_000;
      await expect(verifyOidc(bearer(claims), policy, flaky, NOW)).resolves.toBeDefined();
      await expect(
        verifyOidc(`Bearer ${signJwt(next, claims)}`, policy, flaky, NOW),
      ).rejects.toBeInstanceOf(AuthUnavailableError);
    } finally {
      await server.close();
    }
  });
});
