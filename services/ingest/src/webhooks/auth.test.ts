import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { authenticator, type AuthRequest } from './auth.js';
import type { EndpointAuth } from './endpoints.js';
import { AuthError } from './errors.js';
import { Secret } from './secret.js';

const SECRET = 'a-shared-secret-of-some-length';
const body = Buffer.from('{"action":"published"}');

function request(headers: IncomingHttpHeaders, pathToken?: string): AuthRequest {
  return { headers, pathToken, body };
}

/** The reason the request is refused, or 'ok'. */
async function outcome(auth: EndpointAuth, req: AuthRequest): Promise<string> {
  try {
    await authenticator(auth).verify(req);
    return 'ok';
  } catch (error) {
    if (error instanceof AuthError) return error.reason;
    throw error;
  }
}

const hmacAuth: EndpointAuth = {
  type: 'hmac',
  header: 'x-hub-signature-256',
  secret: new Secret(SECRET),
};
const signature = (key: string, data: Buffer = body): string =>
  `sha256=${createHmac('sha256', key).update(data).digest('hex')}`;

describe('HMAC-SHA256 over the raw body (GitHub X-Hub-Signature-256)', () => {
  it.each([
    ['valid', { 'x-hub-signature-256': signature(SECRET) }, 'ok'],
    ['upper-case hex', { 'x-hub-signature-256': signature(SECRET).toUpperCase() }, 'ok'],
    [
      'forged with another key',
      { 'x-hub-signature-256': signature('another-key') },
      'bad_signature',
    ],
    [
      'signature of another body',
      { 'x-hub-signature-256': signature(SECRET, Buffer.from('{}')) },
      'bad_signature',
    ],
    ['sha1 header only', { 'x-hub-signature': 'sha1=abc' }, 'missing'],
    ['truncated', { 'x-hub-signature-256': signature(SECRET).slice(0, 20) }, 'bad_signature'],
    ['missing header', {}, 'missing'],
  ])('%s → %s', async (_, headers, expected) => {
    expect(await outcome(hmacAuth, request(headers))).toBe(expected);
  });
});

describe('shared token in a header (Harbor, JFrog, ACR, Distribution, CloudEvents)', () => {
  const harbor: EndpointAuth = {
    type: 'token',
    header: 'authorization',
    prefix: '',
    secret: new Secret(SECRET),
  };
  const bearer: EndpointAuth = { ...harbor, prefix: 'Bearer ' };
  it.each([
    ['verbatim', harbor, { authorization: SECRET }, 'ok'],
    ['with a prefix', bearer, { authorization: `Bearer ${SECRET}` }, 'ok'],
    ['prefix missing', bearer, { authorization: SECRET }, 'wrong_token'],
    ['wrong token', harbor, { authorization: 'a-shared-secret-of-some-lengtH' }, 'wrong_token'],
    ['longer token', harbor, { authorization: `${SECRET}x` }, 'wrong_token'],
    ['another header', harbor, { 'x-jfrog-event-auth': SECRET }, 'missing'],
    ['empty header', harbor, { authorization: '' }, 'missing'],
  ])('%s → %s', async (_, auth, headers, expected) => {
    expect(await outcome(auth, request(headers))).toBe(expected);
  });
});

describe('secret path token (Docker Hub, Quay)', () => {
  const token = 'Zx8_k2-PqLmN0vBc7TgHs4JdWe9RyUiO';
  const auth: EndpointAuth = { type: 'path', secret: new Secret(token) };
  it.each([
    ['right token', token, 'ok'],
    ['wrong token', `${token.slice(0, -1)}P`, 'wrong_token'],
    ['prefix of the token', token.slice(0, 10), 'wrong_token'],
    ['no token', undefined, 'missing'],
    ['empty token', '', 'missing'],
  ])('%s → %s', async (_, pathToken, expected) => {
    expect(await outcome(auth, request({}, pathToken))).toBe(expected);
  });

  it('never shows the secret when logged or serialized', () => {
    const secret = new Secret(token);
    expect(JSON.stringify({ secret })).not.toContain(token);
    expect(String(secret)).toBe('***');
  });
});
