// Shared by route.test.ts and handshakes.test.ts: ingest's webhook route on loopback with one
// endpoint per kind of authentication, a recording publish, and the senders' servers (keys,
// SNS certificate and confirmation URL).
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { Publish, PublishOptions } from '@onpush/nats';
import { startHttp } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { ingestMetrics, type IngestMetrics } from '../metrics.js';
import type { Endpoint } from './endpoints.js';
import { webhookRoute } from './route.js';
import { Secret } from './secret.js';
import { SNS_TEST_PEM, rsaSigner, serve } from './senders.test-support.js';

const log = createLogger({ service: 'ingest-test' }, { write: () => undefined });
export const PATH_TOKEN = 'Zx8_k2-PqLmN0vBc7TgHs4JdWe9RyUiO';
export const SECRET = 'a-shared-secret-of-some-length';
export const TOPIC = 'arn:aws:sns:us-west-2:123456789012:ecr-pushes';
export const AUDIENCE = 'https://onpush.example.com/webhooks/gcr';
export const EMAIL = 'push@p.iam.gserviceaccount.com';
export const google = rsaSigner();
const limits = { rateLimit: { perSecond: 1000, burst: 1000 }, maxBodyBytes: 4096 };

export interface Call {
  subject: string;
  data: Uint8Array;
  options: PublishOptions;
}

/** What was published since the test started. */
export let calls: Call[] = [];
let failing: Error | undefined;
/** The next publishes fail with `error` (until the next test). */
export const failWith = (error: Error): void => {
  failing = error;
};
const publish: Publish = (subject, data, options) => {
  if (failing) return Promise.reject(failing);
  calls.push({ subject, data, options });
  return Promise.resolve({ stream: 'ONPUSH', seq: calls.length, duplicate: false });
};

let maxPayload: number | undefined;
/** The NATS server's max_payload the route sees (until the next test; unknown by default). */
export const setMaxPayload = (bytes: number): void => {
  maxPayload = bytes;
};

let server: Server;
export let base = '';
export let aws: Awaited<ReturnType<typeof serve>>;
export let metrics: IngestMetrics;

function endpoints(): Endpoint[] {
  const secret = new Secret(SECRET);
  return [
    {
      name: 'hub',
      source: 'dockerhub',
      auth: { type: 'path', secret: new Secret(PATH_TOKEN) },
      ...limits,
    },
    {
      name: 'gh',
      source: 'github',
      auth: { type: 'hmac', header: 'x-hub-signature-256', secret },
      ...limits,
    },
    {
      name: 'harbor-a',
      source: 'harbor',
      auth: { type: 'token', header: 'authorization', prefix: '', secret },
      registryHost: 'harbor.example.com',
      ...limits,
    },
    {
      name: 'slow',
      source: 'jfrog',
      auth: { type: 'token', header: 'x-jfrog-event-auth', prefix: '', secret },
      rateLimit: { perSecond: 0.5, burst: 2 },
      maxBodyBytes: 4096,
    },
    {
      name: 'grid',
      source: 'eventgrid',
      auth: { type: 'token', header: 'x-onpush-key', prefix: '', secret },
      ...limits,
    },
    {
      name: 'ce',
      source: 'cloudevents',
      auth: { type: 'token', header: 'authorization', prefix: 'Bearer ', secret },
      ...limits,
    },
    {
      name: 'acr',
      source: 'acr',
      auth: { type: 'token', header: 'x-acr-key', prefix: '', secret },
      ...limits,
    },
    {
      name: 'ecr',
      source: 'ecr',
      auth: {
        type: 'sns',
        topicArns: [TOPIC],
        certOrigin: new RegExp(`^${aws.url.replaceAll('.', '\\.')}$`),
        maxAgeMs: 300_000,
      },
      ...limits,
    },
    {
      name: 'gcr',
      source: 'gcr',
      auth: {
        type: 'oidc',
        audience: AUDIENCE,
        emails: [EMAIL],
        issuers: ['https://accounts.google.com'],
        keys: { url: `${aws.url}/certs` },
        clockSkewMs: 30_000,
      },
      ...limits,
    },
  ];
}

/** Registers the hooks that start and stop the server around a test file. */
export function useWebhookServer(): void {
  beforeAll(async () => {
    const pem = readFileSync(SNS_TEST_PEM, 'utf8');
    aws = await serve({
      '/cert.pem': pem.slice(pem.indexOf('-----BEGIN CERTIFICATE')),
      '/confirm?Token=t': '<ConfirmSubscriptionResponse/>',
      '/certs': JSON.stringify(google.jwks),
    });
    metrics = ingestMetrics(createMetrics('ingest-test'));
    server = await startHttp({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      live: () => true,
      ready: () => ({ ready: true, detail: {} }),
      routes: [
        webhookRoute({
          endpoints: endpoints(),
          publish,
          metrics,
          log,
          now: () => new Date('2025-05-05T05:05:05Z'),
          maxPayload: () => maxPayload,
        }),
      ],
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await aws.close();
  });
  beforeEach(() => {
    calls = [];
    failing = undefined;
    maxPayload = undefined;
  });
}

export const json = { 'content-type': 'application/json' };
export const post = (path: string, body: string, headers: Record<string, string> = json) =>
  fetch(`${base}${path}`, { method: 'POST', headers, body });
export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
export const header = (call: Call | undefined, name: string) => call?.options.headers?.[name];
