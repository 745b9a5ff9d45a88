// Operators signed in with the organisation's identity provider: an OIDC ID token as the admin
// API's bearer, beside (or instead of) the shared admin token. Put an authenticating proxy in
// front (oauth2-proxy with --pass-authorization-header, an ingress doing OIDC) and every request
// reaching the dlq-manager carries the signed-in person's ID token; this checks it with jose — the
// issuer's keys from its discovery document, signature, issuer, audience (the client id), expiry —
// and lets in only the people and groups ADMIN_OIDC_ALLOW names.
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { z } from 'zod';
import { list, url } from '@onpush/config';

/** The OIDC variables, for a service's schema beside adminFields. */
export const adminOidcFields = {
  /** The identity provider's issuer URL (its /.well-known/openid-configuration is read). */
  ADMIN_OIDC_ISSUER: url(['https', 'http']).optional(),
  /** The client id the ID tokens are issued to (their `aud`). */
  ADMIN_OIDC_AUDIENCE: z.string().min(1).optional(),
  /** Who may in: e-mail addresses, and `group:<name>` for members of a group (see the claim). */
  ADMIN_OIDC_ALLOW: list().optional(),
  /** The claim that lists a person's groups. */
  ADMIN_OIDC_GROUPS_CLAIM: z.string().min(1).default('groups'),
};

export interface AdminOidcConfig {
  readonly ADMIN_OIDC_ISSUER?: string | undefined;
  readonly ADMIN_OIDC_AUDIENCE?: string | undefined;
  readonly ADMIN_OIDC_ALLOW?: readonly string[] | undefined;
  readonly ADMIN_OIDC_GROUPS_CLAIM: string;
}

/** The configuration problems of the OIDC variables (all or none), each naming its variable. */
export function adminOidcProblems(config: AdminOidcConfig): { path: string; message: string }[] {
  if (config.ADMIN_OIDC_ISSUER === undefined) return [];
  const problems: { path: string; message: string }[] = [];
  const { protocol, hostname } = new URL(config.ADMIN_OIDC_ISSUER);
  // its keys decide who is let in: fetched over TLS, except from this machine (tests)
  if (protocol !== 'https:' && !['127.0.0.1', 'localhost', '[::1]'].includes(hostname))
    problems.push({
      path: 'ADMIN_OIDC_ISSUER',
      message: 'must be https:// (http only on loopback)',
    });
  if (config.ADMIN_OIDC_AUDIENCE === undefined)
    problems.push({ path: 'ADMIN_OIDC_AUDIENCE', message: 'required with ADMIN_OIDC_ISSUER' });
  if (!config.ADMIN_OIDC_ALLOW?.length)
    problems.push({
      path: 'ADMIN_OIDC_ALLOW',
      message: 'required with ADMIN_OIDC_ISSUER: who may in (e-mails, group:<name>)',
    });
  return problems;
}

export interface OidcAdmins {
  readonly issuer: string;
  readonly audience: string;
  readonly allow: readonly string[];
  readonly groupsClaim: string;
}

/** The OIDC admins of a configuration, or undefined when ADMIN_OIDC_ISSUER is not set. */
export function oidcAdminsOf(config: AdminOidcConfig): OidcAdmins | undefined {
  const { ADMIN_OIDC_ISSUER: issuer, ADMIN_OIDC_AUDIENCE: audience } = config;
  if (issuer === undefined || audience === undefined) return undefined;
  return {
    issuer,
    audience,
    allow: config.ADMIN_OIDC_ALLOW ?? [],
    groupsClaim: config.ADMIN_OIDC_GROUPS_CLAIM,
  };
}

/** What an ID token was judged: who it names, or why it does not let in (and with what status). */
export type OidcVerdict =
  | { readonly ok: true; readonly who: string }
  | {
      readonly ok: false;
      readonly status: 401 | 403 | 503;
      readonly type: string;
      readonly why: string;
    };

/** Three base64url segments: what an ID token looks like (anything else is not one). */
export const looksLikeJwt = (token: string): boolean =>
  /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);

const DiscoverySchema = z.object({ issuer: z.string(), jwks_uri: z.url() });

/** Asymmetric algorithms only: never `none`, never an HMAC keyed by something public. */
const ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'EdDSA',
];

const unavailable = (why: string): OidcVerdict => ({
  ok: false,
  status: 503,
  type: 'oidc_unavailable',
  why,
});

/** Whether the token's person is allowed: a verified e-mail the list names, or a listed group. */
function allowed(claims: JWTPayload, admins: OidcAdmins): string | undefined {
  const email = typeof claims['email'] === 'string' ? claims['email'].toLowerCase() : undefined;
  const emails = admins.allow.filter((a) => !a.startsWith('group:')).map((a) => a.toLowerCase());
  if (email !== undefined && claims['email_verified'] !== false && emails.includes(email))
    return email;
  const groups = claims[admins.groupsClaim];
  if (Array.isArray(groups)) {
    const wanted = new Set(
      admins.allow.filter((a) => a.startsWith('group:')).map((a) => a.slice(6)),
    );
    const member = groups.find((g): g is string => typeof g === 'string' && wanted.has(g));
    if (member !== undefined) return `${email ?? String(claims.sub)} (group ${member})`;
  }
  return undefined;
}

/**
 * Judges ID tokens for `admins`: the issuer's discovery document is read once (again after a
 * failure), its keys through jose's remote key set (cached, refreshed for an unknown key at most
 * every 30 s). An invalid token is a 401, a valid one of someone not allowed a 403, keys that
 * cannot be had a 503.
 */
export function oidcVerifier(
  admins: OidcAdmins,
  options: { fetch?: typeof fetch; now?: () => Date } = {},
): (token: string) => Promise<OidcVerdict> {
  const get = options.fetch ?? fetch;
  const issuer = admins.issuer.replace(/\/+$/, '');
  let keys: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  const discover = async () => {
    const res = await get(`${issuer}/.well-known/openid-configuration`, {
      signal: AbortSignal.timeout(5_000),
    });
    if (!res.ok) throw new Error(`the issuer's discovery document answered ${res.status}`);
    const doc = DiscoverySchema.parse(await res.json());
    if (doc.issuer.replace(/\/+$/, '') !== issuer)
      throw new Error(`the discovery document names another issuer (${doc.issuer})`);
    return createRemoteJWKSet(new URL(doc.jwks_uri), {
      timeoutDuration: 5_000,
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
    });
  };
  return async (token) => {
    let jwks: ReturnType<typeof createRemoteJWKSet>;
    try {
      jwks = await (keys ??= discover());
    } catch (error) {
      keys = undefined;
      return unavailable(`OIDC discovery failed: ${(error as Error).message}`);
    }
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, jwks, {
        issuer: [issuer, `${issuer}/`],
        audience: admins.audience,
        algorithms: ALGORITHMS,
        requiredClaims: ['exp', 'iat', 'sub'],
        clockTolerance: 60,
        ...(options.now ? { currentDate: options.now() } : {}),
      }));
    } catch (error) {
      // not a verdict on the token: the keys could not be had (timeout, network, a bad key set)
      if (
        !(error instanceof errors.JOSEError) ||
        error instanceof errors.JWKSTimeout ||
        error instanceof errors.JWKSInvalid
      )
        return unavailable(`the issuer's keys: ${(error as Error).message}`);
      const why = error instanceof Error ? error.message : String(error);
      return { ok: false, status: 401, type: 'invalid_token', why: `the ID token: ${why}` };
    }
    const who = allowed(claims, admins);
    if (who === undefined) {
      return {
        ok: false,
        status: 403,
        type: 'not_allowed',
        why: 'signed in, but not among ADMIN_OIDC_ALLOW',
      };
    }
    return { ok: true, who };
  };
}
