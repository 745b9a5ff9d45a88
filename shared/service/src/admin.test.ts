import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { adminGuard, guardedRoute, sameToken, type AdminOptions } from './admin.js';
import { adminOidcProblems, oidcVerifier, type OidcAdmins } from './admin-oidc.js';
import { startHttp, sendJson, type Route } from './http.js';

const TOKEN = 'a-token-of-32-characters-0123456';
const dir = mkdtempSync(join(tmpdir(), 'onpush-admin-'));
const tokenPath = join(dir, 'token');

/** What the admin API did: how many state-changing requests reached it. */
let changes = 0;
const api: Route = (req, res, url) => {
  if (url.pathname !== '/dlq/1/replay') return false;
  if (req.method === 'POST') changes += 1;
  sendJson(res, 200, { replayed: 1 });
  return true;
};

async function serve(
  options: Omit<AdminOptions, 'routes'>,
): Promise<{ base: string; server: Server }> {
  const server = await startHttp({
    port: 0,
    host: '127.0.0.1',
    routes: [guardedRoute(adminGuard(options), [api])],
  });
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

async function post(base: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/dlq/1/replay`, { method: 'POST', headers });
  return {
    status: res.status,
    body: (await res.json()) as { type?: string },
    headers: res.headers,
  };
}

describe('sameToken', () => {
  it('is true for the same token only, whatever the lengths', () => {
    expect(sameToken(TOKEN, TOKEN)).toBe(true);
    expect(sameToken(`${TOKEN}x`, TOKEN)).toBe(false);
    expect(sameToken('', TOKEN)).toBe(false);
    expect(sameToken(TOKEN.toUpperCase(), TOKEN)).toBe(false);
  });
});

describe('the admin API behind a token from a file', () => {
  let now = 0;
  let server: Server;
  let base = '';

  beforeAll(async () => {
    writeFileSync(tokenPath, `${TOKEN}\n`);
    ({ server, base } = await serve({ tokenFile: tokenPath, refreshMs: 1_000, now: () => now }));
  });

  afterAll(async () => {
    await close(server);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers the right bearer token (the file may end with a newline)', async () => {
    changes = 0;
    expect(await post(base, { authorization: `Bearer ${TOKEN}` })).toMatchObject({ status: 200 });
    expect(changes).toBe(1);
  });

  it('refuses no token and a wrong one with 401 and WWW-Authenticate, changing nothing', async () => {
    changes = 0;
    const none = await post(base);
    expect(none).toMatchObject({ status: 401, body: { type: 'missing_token' } });
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="onpush"');
    expect(await post(base, { authorization: `Bearer ${TOKEN.slice(1)}` })).toMatchObject({
      status: 401,
      body: { type: 'invalid_token' },
    });
    expect(await post(base, { authorization: `Basic ${TOKEN}` })).toMatchObject({ status: 401 });
    expect(changes).toBe(0);
  });

  it('refuses a cross-site request with 403, even with the token', async () => {
    changes = 0;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const simple = { origin: 'http://evil.example', 'content-type': 'text/plain' };
    expect(await post(base, simple)).toMatchObject({ status: 403, body: { type: 'cross_site' } });
    expect(await post(base, { ...auth, origin: 'http://localhost:3000' })).toMatchObject({
      status: 403,
    });
    expect(await post(base, { ...auth, origin: 'null' })).toMatchObject({ status: 403 });
    for (const site of ['cross-site', 'same-site']) {
      expect(await post(base, { ...auth, 'sec-fetch-site': site })).toMatchObject({ status: 403 });
    }
    expect(changes).toBe(0);
    // Its own origin, or a request typed by a user, is not cross-site.
    const own = { ...auth, origin: base, 'sec-fetch-site': 'same-origin' };
    expect(await post(base, own)).toMatchObject({ status: 200 });
    expect(await post(base, { ...auth, 'sec-fetch-site': 'none' })).toMatchObject({ status: 200 });
    expect(changes).toBe(2);
  });

  it('takes a rotated token once the refresh time passed, without a restart', async () => {
    const rotated = 'the-rotated-token-0123456789abcdef';
    writeFileSync(tokenPath, rotated);
    expect(await post(base, { authorization: `Bearer ${TOKEN}` })).toMatchObject({ status: 200 });
    now += 1_000;
    expect(await post(base, { authorization: `Bearer ${TOKEN}` })).toMatchObject({ status: 401 });
    expect(await post(base, { authorization: `Bearer ${rotated}` })).toMatchObject({ status: 200 });
  });

  it('refuses everything (503) while the file is gone or holds a short token', async () => {
    rmSync(tokenPath);
    now += 1_000;
    const gone = await post(base, { authorization: `Bearer ${TOKEN}` });
    expect(gone).toMatchObject({ status: 503, body: { type: 'admin_token_unavailable' } });
    writeFileSync(tokenPath, 'short');
    now += 1_000;
    expect(await post(base, { authorization: 'Bearer short' })).toMatchObject({ status: 503 });
    writeFileSync(tokenPath, TOKEN);
    now += 1_000;
    expect(await post(base, { authorization: `Bearer ${TOKEN}` })).toMatchObject({ status: 200 });
  });
});

describe('the admin API without a token file', () => {
  it('is not served: 401 admin_disabled, naming ADMIN_TOKEN_FILE', async () => {
    const { server, base } = await serve({});
    try {
      changes = 0;
      const answer = await post(base, { authorization: `Bearer ${TOKEN}` });
      expect(answer).toMatchObject({ status: 401, body: { type: 'admin_disabled' } });
      expect(JSON.stringify(answer.body)).toContain('ADMIN_TOKEN_FILE');
      expect(changes).toBe(0);
    } finally {
      await close(server);
    }
  });

  it('with the insecure switch: served without a token, still never cross-site', async () => {
    const { server, base } = await serve({ insecure: true });
    try {
      changes = 0;
      expect(await post(base)).toMatchObject({ status: 200 });
      expect(await post(base, { origin: 'http://evil.example' })).toMatchObject({ status: 403 });
      expect(changes).toBe(1);
    } finally {
      await close(server);
    }
  });
});

describe('the admin API with a token given at start (onpush console)', () => {
  it('answers that token only; a short one is refused as unavailable', async () => {
    const { server, base } = await serve({ token: TOKEN });
    try {
      changes = 0;
      expect(await post(base, { authorization: `Bearer ${TOKEN}` })).toMatchObject({
        status: 200,
      });
      expect(await post(base, { authorization: `Bearer ${TOKEN}x` })).toMatchObject({
        status: 401,
        body: { type: 'invalid_token' },
      });
      expect(await post(base)).toMatchObject({ status: 401, body: { type: 'missing_token' } });
      expect(changes).toBe(1);
    } finally {
      await close(server);
    }
    const short = await serve({ token: 'short' });
    try {
      expect(await post(short.base, { authorization: 'Bearer short' })).toMatchObject({
        status: 503,
        body: { type: 'admin_token_unavailable' },
      });
    } finally {
      await close(short.server);
    }
  });
});

// With OIDC: an identity provider of our own on loopback (its discovery document and key set),
// signing ID tokens with jose, and the same admin route behind the guard.
const AUDIENCE = 'onpush-console';

const listen = (server: Server) =>
  new Promise<string>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );

describe('the admin API with OIDC: ID tokens of the people ADMIN_OIDC_ALLOW names', () => {
  let idp: Server;
  let issuer = '';
  let key: CryptoKey;
  let stranger: CryptoKey;
  let admin: Server;
  let base = '';

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    ({ privateKey: stranger } = await generateKeyPair('RS256'));
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    key = pair.privateKey;
    idp = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openid-configuration')
        res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/keys` }));
      else if (req.url === '/keys') res.end(JSON.stringify({ keys: [jwk] }));
      else res.writeHead(404).end('{}');
    });
    issuer = await listen(idp);
    const admins: OidcAdmins = {
      issuer,
      audience: AUDIENCE,
      allow: ['alice@example.com', 'group:platform'],
      groupsClaim: 'groups',
    };
    admin = await startHttp({
      port: 0,
      host: '127.0.0.1',
      routes: [guardedRoute(adminGuard({ token: TOKEN, oidc: oidcVerifier(admins) }), [api])],
    });
    base = `http://127.0.0.1:${(admin.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await close(admin);
    await close(idp);
  });

  /** An ID token as the provider would sign it, with `claims` over a valid default. */
  const idToken = (
    claims: Record<string, unknown>,
    options: { signer?: CryptoKey; aud?: string; iss?: string; exp?: string } = {},
  ) =>
    new SignJWT({ email_verified: true, ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(options.iss ?? issuer)
      .setAudience(options.aud ?? AUDIENCE)
      .setSubject(typeof claims['email'] === 'string' ? claims['email'] : 'someone')
      .setIssuedAt()
      .setExpirationTime(options.exp ?? '5m')
      .sign(options.signer ?? key);

  const replay = async (bearer: string) => {
    const res = await fetch(`${base}/dlq/1/replay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}` },
    });
    return { status: res.status, type: ((await res.json()) as { type?: string }).type };
  };

  it('lets in an allowed e-mail, a member of an allowed group, and the admin token still', async () => {
    const before = changes;
    expect(await replay(await idToken({ email: 'Alice@Example.com' }))).toEqual({
      status: 200,
      type: undefined,
    });
    expect(
      (await replay(await idToken({ email: 'bob@example.com', groups: ['dev', 'platform'] })))
        .status,
    ).toBe(200);
    expect((await replay(TOKEN)).status).toBe(200);
    expect(changes - before).toBe(3);
  });

  it('refuses anyone else, and every token that does not verify — before the API is reached', async () => {
    const before = changes;
    const refused = [
      // signed in, but not listed; a listed e-mail the provider did not verify
      [await idToken({ email: 'carol@example.com', groups: ['dev'] }), 403, 'not_allowed'],
      [await idToken({ email: 'alice@example.com', email_verified: false }), 403, 'not_allowed'],
      // for another client, from another issuer, expired, signed by a key the issuer does not have
      [await idToken({ email: 'alice@example.com' }, { aud: 'other-app' }), 401, 'invalid_token'],
      [
        await idToken({ email: 'alice@example.com' }, { iss: 'https://evil.example' }),
        401,
        'invalid_token',
      ],
      [await idToken({ email: 'alice@example.com' }, { exp: '-10m' }), 401, 'invalid_token'],
      [await idToken({ email: 'alice@example.com' }, { signer: stranger }), 401, 'invalid_token'],
      // unsigned ("alg": "none") and not a token at all
      [
        `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(`{"email":"alice@example.com","iss":"${issuer}","aud":"${AUDIENCE}"}`).toString('base64url')}.`,
        401,
        'invalid_token',
      ],
      ['not-the-admin-token-0123456789', 401, 'invalid_token'],
    ] as const;
    for (const [bearer, status, type] of refused)
      expect(await replay(bearer), bearer.slice(0, 40)).toEqual({ status, type });
    expect(changes).toBe(before);
  });

  it('answers 503 while the provider cannot be reached, and names the variables a partial set-up lacks', async () => {
    const verify = oidcVerifier({
      issuer: 'http://127.0.0.1:9',
      audience: AUDIENCE,
      allow: ['alice@example.com'],
      groupsClaim: 'groups',
    });
    expect(await verify(await idToken({ email: 'alice@example.com' }))).toMatchObject({
      ok: false,
      status: 503,
      type: 'oidc_unavailable',
    });
    expect(
      adminOidcProblems({ ADMIN_OIDC_ISSUER: issuer, ADMIN_OIDC_GROUPS_CLAIM: 'groups' }).map(
        (p) => p.path,
      ),
    ).toEqual(['ADMIN_OIDC_AUDIENCE', 'ADMIN_OIDC_ALLOW']);
    expect(adminOidcProblems({ ADMIN_OIDC_GROUPS_CLAIM: 'groups' })).toEqual([]);
    // the keys that decide who is let in come over TLS (plain HTTP from this machine only)
    expect(
      adminOidcProblems({
        ADMIN_OIDC_ISSUER: 'http://idp.example.com',
        ADMIN_OIDC_AUDIENCE: AUDIENCE,
        ADMIN_OIDC_ALLOW: ['alice@example.com'],
        ADMIN_OIDC_GROUPS_CLAIM: 'groups',
      }).map((p) => p.path),
    ).toEqual(['ADMIN_OIDC_ISSUER']);
  });
});
