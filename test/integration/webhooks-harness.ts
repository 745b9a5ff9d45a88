// Shared by the webhook tests: the senders' side (signatures, tokens, keys and certificates
// served on loopback), ingest + parser as real processes, and readers of what JetStream holds.
import {
  createHmac,
  createPrivateKey,
  generateKeyPairSync,
  sign,
  type KeyObject,
} from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  HEADERS,
  PUSHED,
  STREAMS,
  parseDeadLetter,
  parseImagePushed,
  parseOutcome,
  type DeadLetter,
  type ImagePushed,
  type Outcome,
} from '@onpush/contracts';
import { Supervisor, type ServiceName } from '@onpush/cli';
import { snsStringToSign, type SnsMessage } from '@onpush/ingest';
import { jetstream, jetstreamManager, type NatsConnection } from '@onpush/nats';
import { freePort, waitUntil, type Sandbox } from '@onpush/sandbox';

export const fixture = (name: string): string =>
  readFileSync(
    fileURLToPath(new URL(`../fixtures/registry-events/${name}`, import.meta.url)),
    'utf8',
  );

// ---- senders ----

export const hubSignature = (secret: string, body: string | Buffer): string =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

export interface JwtSigner {
  kid: string;
  privateKey: KeyObject;
  jwks: string;
}

export function jwtSigner(kid = 'google-test-1'): JwtSigner {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, jwks: JSON.stringify({ keys: [jwk] }) };
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

export function signJwt(signer: JwtSigner, claims: Record<string, unknown>): string {
  const input = `${b64({ alg: 'RS256', typ: 'JWT', kid: signer.kid })}.${b64(claims)}`;
  return `${input}.${sign('RSA-SHA256', Buffer.from(input), signer.privateKey).toString('base64url')}`;
}

/** The self-signed certificate (and key) standing in for SNS's signing certificate. */
const SNS_PEM = readFileSync(
  fileURLToPath(new URL('../../services/ingest/testdata/sns-test-signing.pem', import.meta.url)),
  'utf8',
);
export const SNS_CERT = SNS_PEM.slice(SNS_PEM.indexOf('-----BEGIN CERTIFICATE'));

export function snsSign(message: Omit<SnsMessage, 'Signature' | 'SignatureVersion'>): SnsMessage {
  const unsigned = { ...message, SignatureVersion: '2', Signature: '' } as SnsMessage;
  const signature = sign(
    'RSA-SHA256',
    Buffer.from(snsStringToSign(unsigned)),
    createPrivateKey(SNS_PEM),
  );
  return { ...unsigned, Signature: signature.toString('base64') };
}

/** A loopback server: `routes[path]` with 200, 404 otherwise; GETs counted by path. */
export async function serve(routes: Record<string, string>) {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    hits.set(req.url ?? '/', (hits.get(req.url ?? '/') ?? 0) + 1);
    const body = routes[req.url ?? '/'];
    res.writeHead(body === undefined ? 404 : 200);
    res.end(body ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, hits, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

// ---- ingest (and parser) as processes ----

export interface Running {
  supervisor: Supervisor;
  ports: Partial<Record<ServiceName, number>>;
  logs: string[];
  ingest: string;
}

/** Runs `services` (ingest first) against the sandbox, ingest with these webhook endpoints. */
export async function startServices(
  sandbox: Sandbox,
  endpoints: unknown[],
  env: NodeJS.ProcessEnv,
  services: readonly ServiceName[] = ['ingest', 'parser'],
): Promise<Running> {
  const file = join(sandbox.dir, 'webhooks.json');
  writeFileSync(file, JSON.stringify({ endpoints }, null, 2));
  const ports: Partial<Record<ServiceName, number>> = {};
  for (const s of services) ports[s] = await freePort();
  const logs: string[] = [];
  const supervisor = new Supervisor({
    env: { ...process.env, ...sandbox.env, PUBSUB_PULL: 'false', LOG_LEVEL: 'info', ...env },
    envFor: (service) => ({
      PORT: String(ports[service]),
      ...(service === 'ingest' ? { WEBHOOKS_FILE: file } : {}),
    }),
    services,
    write: (line) => logs.push(line),
  });
  supervisor.start();
  for (const s of services) {
    await waitUntil(
      `${s} ready`,
      async () => (await fetch(`http://127.0.0.1:${ports[s]}/readyz`)).ok,
      {
        timeoutMs: 60_000,
        intervalMs: 100,
      },
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${logs.slice(-30).join('\n')}`);
    });
  }
  return { supervisor, ports, logs, ingest: `http://127.0.0.1:${ports.ingest}` };
}

// ---- what JetStream holds ----

export interface Stored {
  seq: number;
  subject: string;
  headers: Record<string, string>;
  data: Uint8Array;
}

/** The last message stored on `subject` in ONPUSH, or undefined. */
export async function lastOn(nc: NatsConnection, subject: string): Promise<Stored | undefined> {
  const jsm = await jetstreamManager(nc);
  const msg = await jsm.streams
    .getMessage(STREAMS.main, { last_by_subj: subject })
    .catch(() => null);
  if (!msg) return undefined;
  const headers: Record<string, string> = {};
  for (const key of msg.header?.keys() ?? []) headers[key] = msg.header.get(key);
  return { seq: msg.seq, subject: msg.subject, headers, data: msg.data };
}

/** Every message of a stream, in order (an ordered consumer up to the last sequence). */
export async function readStream(nc: NatsConnection, stream: string): Promise<Stored[]> {
  const last = (await (await jetstreamManager(nc)).streams.info(stream)).state.last_seq;
  const out: Stored[] = [];
  if (last === 0) return out;
  const messages = await (
    await jetstream(nc).consumers.get(stream)
  ).consume({ max_messages: 1_000 });
  for await (const msg of messages) {
    const headers: Record<string, string> = {};
    for (const key of msg.headers?.keys() ?? []) headers[key] = msg.headers?.get(key) ?? '';
    out.push({ seq: msg.seq, subject: msg.subject, headers, data: msg.data });
    if (msg.seq >= last) break;
  }
  await messages.close();
  return out;
}

export interface Fates {
  pushed: ImagePushed[];
  ignored: Outcome[];
  dead: DeadLetter[];
}

const ofEvent = (id: string, eventId: string): boolean =>
  id === eventId || id.startsWith(`${eventId}#`);

/** Fates of events, keyed by event id (the parser's pushes, ignored outcomes, dead letters). */
export async function fates(nc: NatsConnection): Promise<(eventId: string) => Fates> {
  const [main, outcomes, dlq] = await Promise.all([
    readStream(nc, STREAMS.main),
    readStream(nc, STREAMS.outcomes),
    readStream(nc, STREAMS.dlq),
  ]);
  const pushed = main.filter((m) => m.subject === PUSHED).map((m) => parseImagePushed(m.data));
  const ignored = outcomes
    .filter((m) => m.subject === 'onpush.outcome.ignored')
    .map((m) => parseOutcome(m.data));
  const dead = dlq.map((m) => parseDeadLetter(m.data));
  return (eventId) => ({
    pushed: pushed.filter((p) => ofEvent(p.id, eventId)),
    ignored: ignored.filter((o) => ofEvent(o.eventId, eventId)),
    dead: dead.filter((d) => ofEvent(String(d.headers[HEADERS.eventId] ?? ''), eventId)),
  });
}
