import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { EndpointAuth } from './endpoints.js';
import { AuthError } from './errors.js';
import type { Fetcher } from './fetch.js';
import { JwksKeys } from './jwks.js';
import { headerOf } from './request.js';
import { VerifiedTokens, verifyOidc } from './oidc.js';
import { safeEqual } from './secret.js';
import { SnsCertificates, verifySns } from './sns.js';

export interface AuthRequest {
  headers: IncomingHttpHeaders;
  /** The path segment after `/webhooks/<name>/`, when there is one. */
  pathToken: string | undefined;
  body: Buffer;
}

/** One endpoint's check of its sender. `needsBody`: it can only decide once the body is read. */
export interface Authenticator {
  readonly needsBody: boolean;
  /** Resolves when the sender is proven; throws AuthError (401) or AuthUnavailableError (503). */
  verify(request: AuthRequest): Promise<void>;
}

export interface AuthDeps {
  fetcher?: Fetcher;
  now?: () => number;
}

function hmac(auth: Extract<EndpointAuth, { type: 'hmac' }>): Authenticator {
  return {
    needsBody: true,
    async verify({ headers, body }) {
      const signature = headerOf(headers, auth.header);
      if (!signature) throw new AuthError('missing', `no ${auth.header} header`);
      const expected = `sha256=${createHmac('sha256', auth.secret.bytes()).update(body).digest('hex')}`;
      if (!safeEqual(Buffer.from(signature.toLowerCase()), Buffer.from(expected)))
        throw new AuthError('bad_signature', 'the body signature does not verify');
    },
  };
}

function token(auth: Extract<EndpointAuth, { type: 'token' }>): Authenticator {
  return {
    needsBody: false,
    async verify({ headers }) {
      const value = headerOf(headers, auth.header);
      if (!value) throw new AuthError('missing', `no ${auth.header} header`);
      if (!auth.secret.equals(value, auth.prefix))
        throw new AuthError('wrong_token', `${auth.header} is not the configured token`);
    },
  };
}

function path(auth: Extract<EndpointAuth, { type: 'path' }>): Authenticator {
  return {
    needsBody: false,
    async verify({ pathToken }) {
      if (!pathToken) throw new AuthError('missing', 'no token in the path');
      if (!auth.secret.equals(pathToken)) throw new AuthError('wrong_token', 'wrong path token');
    },
  };
}

/** The authenticator of an endpoint (its key and certificate caches live as long as it). */
export function authenticator(auth: EndpointAuth, deps: AuthDeps = {}): Authenticator {
  switch (auth.type) {
    case 'hmac':
      return hmac(auth);
    case 'token':
      return token(auth);
    case 'path':
      return path(auth);
    case 'oidc': {
      const keys = new JwksKeys(auth.keys, deps.fetcher, deps.now);
      const verified = new VerifiedTokens();
      const now = deps.now ?? Date.now;
      return {
        needsBody: false,
        verify: async ({ headers }) =>
          void (await verifyOidc(headers.authorization, auth, keys, now(), verified)),
      };
    }
    case 'sns': {
      const certs = new SnsCertificates(deps.fetcher);
      return {
        needsBody: true,
        verify: async ({ body }) =>
          void (await verifySns(body, auth, certs, (deps.now ?? Date.now)())),
      };
    }
  }
}
