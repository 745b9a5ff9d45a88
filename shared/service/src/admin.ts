// The admin surface of a service (the dlq-manager's /dlq API, and any operator API after it):
//   - a bearer token, read from a file (a mounted Secret) and read again at most every
//     `refreshMs`, so a rotated Secret takes effect without a restart; compared in constant time;
//   - no token configured: the API is not served (401 `admin_disabled`), unless the insecure
//     switch for local development is on (logged loudly at start);
//   - cross-site browser requests refused (403) before anything else: a `Sec-Fetch-Site` of
//     `cross-site` or `same-site`, or an `Origin` other than the request's own host. Requiring
//     the Authorization header already keeps out a "simple" cross-site request (a browser cannot
//     send it without a CORS preflight, which is never granted); the refusal holds without a token
//     too, in the insecure mode;
//   - optionally its own listener (`ADMIN_PORT`), apart from /healthz, /readyz and /metrics.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { bool, port } from '@onpush/config';
import type { Logger } from '@onpush/telemetry';
import { sendJson, type Route } from './http.js';
import {
  adminOidcFields,
  looksLikeJwt,
  oidcAdminsOf,
  oidcVerifier,
  type AdminOidcConfig,
  type OidcVerdict,
} from './admin-oidc.js';

/** The shortest token accepted: shorter ones are refused as if none were configured. */
export const MIN_TOKEN_LENGTH = 16;
const REFRESH_MS = 5_000;

/** The admin variables, for a service's schema to extend. */
export const adminFields = {
  /** A port of its own for the admin API; unset: served on PORT beside /metrics. */
  ADMIN_PORT: port({ allowZero: true }).optional(),
  /** A file holding the bearer token (a mounted Secret); unset: the admin API is not served. */
  ADMIN_TOKEN_FILE: z.string().min(1).optional(),
  /** Local development only: serve the admin API without a token (cross-site still refused). */
  ADMIN_INSECURE_NO_AUTH: bool().default(false),
  /** People signed in with the identity provider (admin-oidc.ts): ADMIN_OIDC_*. */
  ...adminOidcFields,
};

export interface AdminConfig extends AdminOidcConfig {
  readonly ADMIN_PORT?: number | undefined;
  readonly ADMIN_TOKEN_FILE?: string | undefined;
  readonly ADMIN_INSECURE_NO_AUTH: boolean;
}

/** Where and how an admin API is served (runService's `admin`). */
export interface AdminOptions {
  readonly routes: Route[];
  /**
   * Served on the admin listener without the token, before it is asked for: files that hold no
   * data (the console's page and bundle, which then asks for the token itself).
   */
  readonly open?: Route[];
  /** Its own port; undefined: on the service's PORT. */
  readonly port?: number | undefined;
  readonly tokenFile?: string | undefined;
  /** A token given directly instead of a file (`onpush console`); the file wins when both are. */
  readonly token?: string | undefined;
  /** Judges an OIDC ID token given as the bearer (ADMIN_OIDC_*); unset: only the admin token. */
  readonly oidc?: ((token: string) => Promise<OidcVerdict>) | undefined;
  /** The issuer, for the start-up log line. */
  readonly oidcIssuer?: string | undefined;
  readonly insecure?: boolean;
  /** How long a token read from the file is trusted before the file is read again. */
  readonly refreshMs?: number;
  readonly now?: () => number;
}

function oidcOptions(config: AdminConfig): Pick<AdminOptions, 'oidc' | 'oidcIssuer'> {
  const admins = oidcAdminsOf(config);
  return admins === undefined ? {} : { oidc: oidcVerifier(admins), oidcIssuer: admins.issuer };
}

/** An admin API's options from the configuration (ADMIN_PORT, ADMIN_TOKEN_FILE, the switch). */
export function adminOptions(config: AdminConfig, routes: Route[], open?: Route[]): AdminOptions {
  return {
    routes,
    ...(open === undefined ? {} : { open }),
    port: config.ADMIN_PORT,
    tokenFile: config.ADMIN_TOKEN_FILE,
    ...oidcOptions(config),
    insecure: config.ADMIN_INSECURE_NO_AUTH,
  };
}

/** Why a request is refused: its HTTP status and the `{error, type}` it is answered. */
export interface Refusal {
  readonly status: 401 | 403 | 503;
  readonly type: string;
  readonly error: string;
}

/** The token as last read: a value, or why there is none. */
type TokenState = { readonly token: string } | { readonly refusal: Refusal };

const DISABLED: Refusal = {
  status: 401,
  type: 'admin_disabled',
  error: 'the admin API is disabled: no token is configured (set ADMIN_TOKEN_FILE)',
};

/** Reads the token file at most every `refreshMs`; a missing or short token is a refusal. */
export function tokenFile(
  path: string,
  refreshMs = REFRESH_MS,
  now: () => number = Date.now,
): () => Promise<TokenState> {
  let last: { at: number; state: Promise<TokenState> } | undefined;
  const read = async (): Promise<TokenState> => {
    try {
      const token = (await readFile(path, 'utf8')).trim();
      if (token.length >= MIN_TOKEN_LENGTH) return { token };
      return unavailable(`the token in ADMIN_TOKEN_FILE is under ${MIN_TOKEN_LENGTH} characters`);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      return unavailable(`ADMIN_TOKEN_FILE cannot be read (${code})`);
    }
  };
  return () => {
    const at = now();
    if (last === undefined || at - last.at >= refreshMs) last = { at, state: read() };
    return last.state;
  };
}

function unavailable(why: string): TokenState {
  return { refusal: { status: 503, type: 'admin_token_unavailable', error: why } };
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Whether `given` is `expected`, in time independent of where they differ (and of lengths). */
export function sameToken(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** A 403 when a browser sent the request from another site or origin; undefined otherwise. */
export function crossSiteRefusal(req: IncomingMessage): Refusal | undefined {
  const site = header(req, 'sec-fetch-site');
  if (site === 'cross-site' || site === 'same-site') {
    return { status: 403, type: 'cross_site', error: `refused: Sec-Fetch-Site is ${site}` };
  }
  const origin = header(req, 'origin');
  if (origin === undefined) return undefined;
  const host = URL.canParse(origin) ? new URL(origin).host : undefined;
  if (host !== undefined && host !== '' && host === header(req, 'host')) return undefined;
  return {
    status: 403,
    type: 'cross_site',
    error: 'refused: the request comes from another origin',
  };
}

/** The bearer token of the Authorization header, if it has one. */
function bearerOf(req: IncomingMessage): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header(req, 'authorization') ?? '');
  return match?.[1];
}

/** Checks one request: undefined when it may go on, else why not. */
export type AdminGuard = (req: IncomingMessage) => Promise<Refusal | undefined>;

export function adminGuard(
  options: Pick<AdminOptions, 'tokenFile' | 'token' | 'insecure' | 'refreshMs' | 'now' | 'oidc'>,
): AdminGuard {
  const given = options.token;
  const fixed: TokenState | undefined =
    given === undefined
      ? undefined
      : given.length >= MIN_TOKEN_LENGTH
        ? { token: given }
        : unavailable(`the token is under ${MIN_TOKEN_LENGTH} characters`);
  const token =
    options.tokenFile !== undefined
      ? tokenFile(options.tokenFile, options.refreshMs, options.now)
      : fixed === undefined
        ? undefined
        : () => Promise.resolve(fixed);
  const { oidc } = options;
  return async (req) => {
    const crossSite = crossSiteRefusal(req);
    if (crossSite !== undefined) return crossSite;
    if (token === undefined && oidc === undefined)
      return options.insecure === true ? undefined : DISABLED;
    const state = await token?.();
    const given = bearerOf(req);
    if (given === undefined) {
      if (state !== undefined && 'refusal' in state && oidc === undefined) return state.refusal;
      return {
        status: 401,
        type: 'missing_token',
        error: 'an Authorization: Bearer token is required',
      };
    }
    if (state !== undefined && 'token' in state && sameToken(given, state.token)) return undefined;
    // Not the admin token: an ID token of someone ADMIN_OIDC_ALLOW lets in?
    if (oidc !== undefined && looksLikeJwt(given)) {
      const verdict = await oidc(given);
      if (verdict.ok) return undefined;
      return { status: verdict.status, type: verdict.type, error: verdict.why };
    }
    if (state !== undefined && 'refusal' in state) return state.refusal;
    return { status: 401, type: 'invalid_token', error: 'the bearer token is not valid' };
  };
}

/**
 * One route that lets a request through to `routes` only when `guard` allows it; a refused request
 * is answered with its status and `{error, type}` (401s with `WWW-Authenticate: Bearer`).
 */
export function guardedRoute(guard: AdminGuard, routes: readonly Route[], log?: Logger): Route {
  return async (req, res, url) => {
    const refusal = await guard(req);
    if (refusal !== undefined) {
      log?.warn('admin request refused', {
        type: refusal.type,
        method: req.method,
        path: url.pathname,
        remote: req.socket.remoteAddress,
      });
      if (refusal.status === 401) res.setHeader('www-authenticate', 'Bearer realm="onpush"');
      sendJson(res, refusal.status, { error: refusal.error, type: refusal.type });
      return true;
    }
    for (const route of routes) if (await route(req, res, url)) return true;
    return false;
  };
}

/** Says at start how the admin API is protected; the insecure switch loudly. */
export function logAdminMode(options: AdminOptions, log: Logger): void {
  const where = options.port === undefined ? 'on PORT' : `on ADMIN_PORT ${options.port}`;
  if (options.oidc !== undefined) {
    log.info(
      `admin API ${where}, ID tokens of ${options.oidcIssuer ?? 'the OIDC issuer'} for ADMIN_OIDC_ALLOW` +
        (options.tokenFile !== undefined ? ', and the bearer token from ADMIN_TOKEN_FILE' : ''),
    );
  } else if (options.tokenFile !== undefined) {
    log.info(`admin API ${where}, bearer token from ADMIN_TOKEN_FILE`);
  } else if (options.token !== undefined) {
    log.info(`admin API ${where}, bearer token given at start`);
  } else if (options.insecure === true) {
    log.warn(
      `INSECURE: admin API ${where} WITHOUT AUTHENTICATION (ADMIN_INSECURE_NO_AUTH=true); ` +
        'anyone who reaches this port can read, replay and purge; for local development only',
    );
  } else {
    log.warn(`admin API disabled: ADMIN_TOKEN_FILE is not set (requests answered 401)`);
  }
}
