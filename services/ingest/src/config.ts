import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, bool, duration, int, loadConfig, port, type Env } from '@onpush/config';
import { baseServiceSchema } from '@onpush/service';
import type { Endpoint } from './webhooks/endpoints.js';
import { loadWebhooks } from './webhooks/load.js';

const MIB = 1024 * 1024;

/** 127.0.0.0/8, ::1 (also IPv4-mapped) or localhost: reachable from this machine only. */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase();
  return a === 'localhost' || a === '::1' || /^(?:::ffff:)?127(?:\.\d{1,3}){3}$/.test(a);
}

/**
 * A Pub/Sub topic or subscription id (a letter, then 2-254 of `A-Za-z0-9-_.~+%`), or its full
 * name `projects/<project>/<kind>/<id>`, which the client library also accepts.
 */
const resourceId = (kind: 'topics' | 'subscriptions') =>
  z
    .string()
    .regex(
      new RegExp(`^(?:projects/[^/]+/${kind}/)?[A-Za-z][A-Za-z0-9\\-_.~+%]{2,254}$`),
      `must be a Pub/Sub id (a letter, then 2-254 of A-Z a-z 0-9 - _ . ~ + %) or projects/<project>/${kind}/<id>`,
    );

export const ingestSchema = baseServiceSchema
  .extend({
    PORT: port({ allowZero: true }).default(8081),
    /** /metrics on a port of its own, off the public one; unset: on PORT. */
    METRICS_PORT: port({ allowZero: true }).optional(),
    /** The Google Cloud project of the subscription; required when pulling. */
    PUBSUB_PROJECT: z.string().optional(),
    PUBSUB_SUBSCRIPTION: resourceId('subscriptions').default('onpush-gcr'),
    /** The topic the registry publishes to (Artifact Registry: literally `gcr`). */
    PUBSUB_TOPIC: resourceId('topics').default('gcr'),
    /** Create the topic and subscription when missing (sandbox, demo). */
    PUBSUB_CREATE_SUBSCRIPTION: bool().default(false),
    /** false: HTTP push only, no streaming pull. */
    PUBSUB_PULL: bool().default(true),
    /** `host:port` of the Pub/Sub emulator (the standard variable). */
    PUBSUB_EMULATOR_HOST: z.string().optional(),
    /** Largest HTTP push body accepted. */
    MAX_BODY_BYTES: int({ min: 1, max: 64 * MIB }).default(MIB),
    /** Pub/Sub flow control: messages held (being handled) at once. */
    PUBSUB_MAX_MESSAGES: int({ min: 1, max: 10_000 }).default(500),
    /** Webhook endpoints, inline JSON (see docs/sources.md); read by loadIngestConfig. */
    WEBHOOKS: z.string().optional(),
    /** A JSON file of webhook endpoints (instead of WEBHOOKS). */
    WEBHOOKS_FILE: z.string().optional(),
    /**
     * Serve `POST /pubsub/push` without authentication: local development only (the sandbox, the
     * demo). Only with PUBSUB_PULL=false and BIND_ADDRESS on loopback; logged as a warning.
     */
    INSECURE_ALLOW_ANONYMOUS_PUSH: bool().default(false),
    /** Longest time to receive a whole request (headers and body); then 408. */
    HTTP_REQUEST_TIMEOUT: duration({ min: 1_000, max: 600_000 }).default(30_000),
    /** Longest time to receive the request headers. */
    HTTP_HEADERS_TIMEOUT: duration({ min: 1_000, max: 600_000 }).default(10_000),
    /**
     * Bytes of request bodies held at once, across requests, until JetStream stored them; a body
     * larger than this is answered 413, one that finds no room 503 (Retry-After). The default
     * keeps ingest within a 256 MiB memory limit (see the README).
     */
    MAX_BUFFERED_BYTES: int({ min: 64 * 1024, max: 1024 * MIB }).default(16 * MIB),
    /** Request bodies being read at once; beyond, 503 (Retry-After). */
    MAX_CONCURRENT_BODIES: int({ min: 1, max: 10_000 }).default(64),
    /** How long a request waits for room (MAX_BUFFERED_BYTES, MAX_CONCURRENT_BODIES) before a 503. */
    BODY_QUEUE_TIMEOUT: duration({ min: 0, max: 60_000 }).default(2_000),
    /** Bytes of a refused body read (and dropped) before the answer, so the sender sees it. */
    HTTP_DRAIN_BYTES: int({ min: 0, max: 1024 * MIB }).default(128 * MIB),
    /** How long a refused body is read before the answer; then the connection is closed. */
    HTTP_DRAIN_TIMEOUT: duration({ min: 0, max: 600_000 }).default(10_000),
    /** Pub/Sub flow control: bytes of message data held (being handled) at once. */
    PUBSUB_MAX_BYTES: int({ min: MIB, max: 1024 * MIB }).default(16 * MIB),
  })
  // Checked even when another variable is invalid (`when`), so every problem is listed at once.
  .refine(
    (c) =>
      c.PUBSUB_PROJECT !== undefined ||
      (c.PUBSUB_PULL !== true && c.PUBSUB_CREATE_SUBSCRIPTION !== true),
    {
      path: ['PUBSUB_PROJECT'],
      message:
        'required when PUBSUB_PULL or PUBSUB_CREATE_SUBSCRIPTION is true (PUBSUB_PULL=false: HTTP push only)',
      when: () => true,
    },
  )
  .refine((c) => c.INSECURE_ALLOW_ANONYMOUS_PUSH !== true || c.PUBSUB_PULL === false, {
    path: ['INSECURE_ALLOW_ANONYMOUS_PUSH'],
    message: 'only with PUBSUB_PULL=false: pulling ingest serves no push route',
    when: () => true,
  })
  .refine(
    (c) => c.INSECURE_ALLOW_ANONYMOUS_PUSH !== true || isLoopback(String(c.BIND_ADDRESS ?? '')),
    {
      path: ['INSECURE_ALLOW_ANONYMOUS_PUSH'],
      message:
        'only with BIND_ADDRESS on loopback (127.0.0.1, ::1 or localhost): whoever reaches an anonymous push route can restart workloads',
      when: () => true,
    },
  );

export type IngestConfig = z.output<typeof ingestSchema>;

export interface IngestSettings {
  config: IngestConfig;
  /** The webhook endpoints; undefined when none are configured (only the Pub/Sub push routes). */
  endpoints: Endpoint[] | undefined;
}

/**
 * The environment and the webhook endpoints (WEBHOOKS or WEBHOOKS_FILE, secrets from files or
 * the environment), checked together: throws one ConfigError listing every problem.
 */
export function loadIngestConfig(
  env: Env,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): IngestSettings {
  let config: IngestConfig | undefined;
  const problems = [];
  try {
    config = loadConfig(ingestSchema, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  const maxBodyBytes = config?.MAX_BODY_BYTES ?? 1024 * 1024;
  const webhooks = loadWebhooks({ env, readFile }, { maxBodyBytes });
  problems.push(...webhooks.problems);
  if (config === undefined || problems.length > 0) throw new ConfigError(problems);
  return { config, endpoints: webhooks.endpoints };
}
