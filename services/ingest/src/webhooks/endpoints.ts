import type { Env } from '@onpush/config';
import type { AuthInput, EndpointInput } from './endpoint-schema.js';
import { GOOGLE_JWKS_URL } from './endpoint-schema.js';
import { Secret } from './secret.js';
import { SOURCE_SPECS, type Source } from './sources.js';

/** How one endpoint authenticates its sender, with its secrets read. */
export type EndpointAuth =
  | { type: 'hmac'; header: string; secret: Secret }
  | { type: 'token'; header: string; prefix: string; secret: Secret }
  | { type: 'path'; secret: Secret }
  | {
      type: 'oidc';
      audience: string;
      emails: readonly string[];
      issuers: readonly string[];
      keys: { url: string } | { file: string };
      clockSkewMs: number;
    }
  | { type: 'sns'; topicArns: readonly string[]; certOrigin: RegExp; maxAgeMs: number };

/** One `POST /webhooks/<name>` endpoint. */
export interface Endpoint {
  name: string;
  source: Source;
  auth: EndpointAuth;
  registryHost?: string | undefined;
  /** The repository globs this endpoint is bound to; undefined: any repository. */
  repositories?: readonly string[] | undefined;
  rateLimit: { perSecond: number; burst: number };
  maxBodyBytes: number;
}

/**
 * What one endpoint accepts from authenticated senders: a registry's burst (a CI run pushing a
 * few hundred images at once) in full — most registries do not retry a 429 — and 200 pushes a
 * second after it, a tenth of what ingest sustains on two cores. It bounds a runaway sender, not an
 * attacker: unauthenticated requests are charged to their own per-address buckets.
 */
export const DEFAULT_RATE_LIMIT = { perSecond: 200, burst: 2_000 } as const;

/** Smallest secrets accepted: a path token is a password in a URL, so it must be long. */
export const MIN_PATH_TOKEN = 32;
export const MIN_SECRET = 16;
const PATH_TOKEN = /^[A-Za-z0-9._~-]+$/;

export interface SecretReader {
  env: Env;
  readFile: (path: string) => string;
}

function readSecret(
  auth: { secretFile?: string | undefined; secretEnv?: string | undefined },
  io: SecretReader,
  problems: string[],
): Secret | undefined {
  if ((auth.secretFile === undefined) === (auth.secretEnv === undefined)) {
    problems.push('auth: set exactly one of secretFile and secretEnv (secrets are never inline)');
    return undefined;
  }
  let value: string | undefined;
  if (auth.secretFile !== undefined) {
    try {
      value = io.readFile(auth.secretFile).trim();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      problems.push(`auth.secretFile: cannot read ${auth.secretFile} (${String(code ?? error)})`);
      return undefined;
    }
  } else {
    value = io.env[auth.secretEnv ?? '']?.trim();
  }
  const where = auth.secretFile ?? `$${auth.secretEnv}`;
  if (!value) {
    problems.push(`auth: the secret in ${where} is empty or unset`);
    return undefined;
  }
  return new Secret(value);
}

function checkLength(secret: Secret | undefined, min: number, problems: string[]): void {
  if (secret !== undefined && secret.length < min)
    problems.push(`auth: the secret must be at least ${min} characters`);
}

function resolveAuth(
  auth: AuthInput,
  source: Source,
  io: SecretReader,
  problems: string[],
): EndpointAuth | undefined {
  switch (auth.type) {
    case 'oidc':
      return {
        type: 'oidc',
        audience: auth.audience,
        emails: typeof auth.email === 'string' ? [auth.email] : auth.email,
        issuers: auth.issuers,
        keys:
          auth.jwksFile !== undefined
            ? { file: auth.jwksFile }
            : { url: auth.jwksUrl ?? GOOGLE_JWKS_URL },
        clockSkewMs: auth.clockSkewSeconds * 1000,
      };
    case 'sns':
      return {
        type: 'sns',
        topicArns: auth.topicArns,
        certOrigin: new RegExp(`^(?:${auth.certOrigin})$`),
        maxAgeMs: auth.maxAgeSeconds * 1000,
      };
    case 'path': {
      const secret = readSecret(auth, io, problems);
      checkLength(secret, MIN_PATH_TOKEN, problems);
      if (secret !== undefined && !PATH_TOKEN.test(secret.bytes().toString()))
        problems.push('auth: a path token may only hold A-Z a-z 0-9 . _ ~ -');
      return secret && { type: 'path', secret };
    }
    case 'hmac':
    case 'token': {
      const secret = readSecret(auth, io, problems);
      checkLength(secret, MIN_SECRET, problems);
      if (secret === undefined) return undefined;
      if (auth.type === 'hmac') return { type: 'hmac', header: auth.header, secret };
      const header = auth.header ?? SOURCE_SPECS[source].tokenHeader;
      return { type: 'token', header, prefix: auth.prefix, secret };
    }
  }
}

/** The endpoint, or undefined with `problems` saying why (never a secret value). */
export function resolveEndpoint(
  input: EndpointInput,
  io: SecretReader,
  defaults: { maxBodyBytes: number },
  problems: string[],
): Endpoint | undefined {
  const allowed = SOURCE_SPECS[input.source].auth;
  if (!allowed.includes(input.auth.type)) {
    problems.push(`auth.type: source ${input.source} accepts ${allowed.join(', ')}`);
    return undefined;
  }
  if (input.auth.type === 'oidc' && input.auth.jwksFile && input.auth.jwksUrl)
    problems.push('auth: set jwksUrl or jwksFile, not both');
  const auth = resolveAuth(input.auth, input.source, io, problems);
  if (auth === undefined || problems.length > 0) return undefined;
  return {
    name: input.name,
    source: input.source,
    auth,
    registryHost: input.registryHost,
    repositories: input.repositories,
    rateLimit: input.rateLimit ?? { ...DEFAULT_RATE_LIMIT },
    maxBodyBytes: input.maxBodyBytes ?? defaults.maxBodyBytes,
  };
}
