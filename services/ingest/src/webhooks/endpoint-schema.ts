import { z } from 'zod';
import { AUTH_TYPES, SOURCES } from './sources.js';

/** Google's OIDC signing keys, and the issuers of its ID tokens. */
export const GOOGLE_JWKS_URL = 'https://www.googleapis.com/oauth2/v3/certs';
export const GOOGLE_ISSUERS = ['accounts.google.com', 'https://accounts.google.com'] as const;
/** Where SNS signing certificates (and subscription confirmations) may come from. */
export const SNS_ORIGIN =
  '^https://sns\\.[a-z]{2}(?:-[a-z]+)+-\\d{1,2}\\.amazonaws\\.com(?:\\.cn)?$';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** An endpoint name: one URL path segment and one NATS header value, a DNS label. */
export const endpointName = z
  .string({ error: 'must be a string' })
  .regex(/^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$/, 'must be a DNS label (a-z, 0-9, "-", "_")');

const header = z
  .string()
  .regex(HEADER_NAME, 'must be an HTTP header name')
  .transform((h) => h.toLowerCase());

/** Where a secret comes from: a file (a mounted Secret) or an environment variable; never inline. */
const secretSource = {
  secretFile: z.string().min(1, 'must be a file path').optional(),
  secretEnv: z.string().regex(ENV_NAME, 'must be an environment variable name').optional(),
};

const httpUrl = z
  .string()
  .refine(
    (s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol),
    'must be an http(s) URL',
  );

const regex = z.string().refine((s) => {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
}, 'must be a regular expression');

const stringList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
  error: 'must be a string or a non-empty list of strings',
});

const hmacAuth = z.strictObject({
  type: z.literal('hmac'),
  header: header.default('x-hub-signature-256'),
  ...secretSource,
});

const tokenAuth = z.strictObject({
  type: z.literal('token'),
  header: header.optional(),
  /** Expected before the secret in the header, e.g. `Bearer ` (default: the secret verbatim). */
  prefix: z.string().default(''),
  ...secretSource,
});

const pathAuth = z.strictObject({ type: z.literal('path'), ...secretSource });

const oidcAuth = z.strictObject({
  type: z.literal('oidc'),
  /** The audience the push subscription puts in its tokens (usually the endpoint URL). */
  audience: z.string().min(1),
  /** The service account(s) the push subscription signs as. */
  email: stringList,
  issuers: z
    .array(z.string().min(1))
    .min(1)
    .default([...GOOGLE_ISSUERS]),
  jwksUrl: httpUrl.optional(),
  jwksFile: z.string().min(1).optional(),
  clockSkewSeconds: z.number().int().min(0).max(300).default(30),
});

const snsAuth = z.strictObject({
  type: z.literal('sns'),
  /** Only messages of these topics are accepted: SNS signs every topic's messages alike. */
  topicArns: z
    .array(
      z
        .string()
        .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$/, 'must be an SNS topic ARN'),
    )
    .min(1),
  /** Anchored pattern on the origin (`https://host[:port]`) of SigningCertURL and SubscribeURL. */
  certOrigin: regex.default(SNS_ORIGIN),
  /** Messages older than this (their signed Timestamp) are refused: a replay, or too late. */
  maxAgeSeconds: z.number().int().min(30).max(3600).default(300),
});

export const authSchema = z.discriminatedUnion(
  'type',
  [hmacAuth, tokenAuth, pathAuth, oidcAuth, snsAuth],
  { error: `must be an object whose type is one of ${AUTH_TYPES.join(', ')}` },
);

export const endpointSchema = z.strictObject({
  name: endpointName,
  source: z.enum(SOURCES, { error: `must be one of ${SOURCES.join(', ')}` }),
  auth: authSchema,
  /** The registry host, for a sender whose events do not name it (JFrog). */
  registryHost: z
    .string()
    .regex(/^[a-z0-9.-]+(:\d{1,5})?$/i, 'must be a host[:port]')
    .optional(),
  /**
   * The repositories this endpoint may push (globs on the path: `*` within a segment, `**`
   * across, `?` one character); the parser dead-letters any other (`repository_not_allowed`).
   */
  repositories: z
    .array(
      z
        .string()
        .regex(
          /^[a-z0-9._/*?-]{1,255}$/,
          'must be a repository glob: a-z 0-9 . _ - / and * (within a segment), ** (across), ?',
        ),
    )
    .min(1, 'must list at least one repository glob')
    .max(64)
    .optional(),
  rateLimit: z
    .strictObject({
      perSecond: z.number().positive().max(100_000),
      burst: z.number().int().min(1).max(1_000_000),
    })
    .optional(),
  maxBodyBytes: z
    .number()
    .int()
    .min(1)
    .max(64 * 1024 * 1024)
    .optional(),
});

export type EndpointInput = z.output<typeof endpointSchema>;
export type AuthInput = z.output<typeof authSchema>;
