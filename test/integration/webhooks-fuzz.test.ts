import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAMS } from '@onpush/contracts';
import { connectNats, jetstreamManager, type NatsConnection } from '@onpush/nats';
import { eventually, useSandbox } from '@onpush/testing';
import { AUDIENCE, CASES, PUSHER, SECRETS, TOPIC, endpoints, secretEnv } from './webhooks-cases.js';
import { fuzzBody, int, pick, seeded, type Rng } from './webhooks-fuzz-gen.js';
import {
  SNS_CERT,
  fates,
  fixture,
  hubSignature,
  jwtSigner,
  serve,
  signJwt,
  snsSign,
  startServices,
  type Running,
} from './webhooks-harness.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20_251_126);
const REQUESTS = Number(process.env['FUZZ_REQUESTS'] ?? 10_000);
const CONCURRENCY = 32;
const MAX_BODY = 64 * 1024;

/** The real payloads each endpoint's fuzzed bodies start from. */
const BASES: Record<string, string[]> = {
  'ecr-sns': [fixture('ecr-eventbridge-push.json')],
  pubsub: [fixture('gar-insert-tag.json'), fixture('gar-delete.json')],
};
for (const c of CASES) (BASES[c.endpoint] ??= []).push(c.body);
const NAMES = Object.keys(BASES);
const TOKEN_HEADERS: Record<string, [string, string]> = {
  dist: ['authorization', `Bearer ${SECRETS.dist}`],
  'harbor-a': ['authorization', SECRETS.harborA],
  'harbor-b': ['authorization', SECRETS.harborB],
  acr: ['x-onpush-token', SECRETS.acr],
  grid: ['x-onpush-token', SECRETS.grid],
  'ecr-api': ['x-api-key', SECRETS.ecr],
  art: ['x-jfrog-event-auth', SECRETS.jfrog],
  ce: ['authorization', `Bearer ${SECRETS.ce}`],
};

interface Sent {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  messageId?: string;
}

const safe = (rng: Rng): string =>
  pick(rng, [
    'package',
    'registry_package',
    'ping',
    'push',
    'x',
    'Microsoft.ContainerRegistry.ImagePushed',
    'dev.image.pushed',
    'harbor.artifact.deleted',
  ]);

describe('webhooks fuzz: hostile bodies on every endpoint', () => {
  const sandbox = useSandbox(['nats'], 'webhooks-fuzz');
  const google = jwtSigner();
  const rng = seeded(SEED);
  let local: Awaited<ReturnType<typeof serve>>;
  let running: Running;
  let nc: NatsConnection;
  let bearer = '';

  beforeAll(async () => {
    local = await serve({
      '/oauth2/v3/certs': google.jwks,
      '/cert.pem': SNS_CERT,
      '/confirm?Token=t': 'ok',
    });
    const dir = sandbox().dir;
    writeFileSync(join(dir, 'hub-token'), SECRETS.hub);
    writeFileSync(join(dir, 'quay-token'), SECRETS.quay);
    const extra = { rateLimit: { perSecond: 100_000, burst: 100_000 }, maxBodyBytes: MAX_BODY };
    running = await startServices(sandbox(), endpoints(dir, local.url, extra), {
      ...secretEnv,
      RETRY_SCHEDULE: '100ms',
    });
    nc = await connectNats({ url: sandbox().need('nats').url, name: 'webhooks-fuzz' });
    const now = Math.floor(Date.now() / 1000);
    bearer = `Bearer ${signJwt(google, { iss: 'accounts.google.com', aud: AUDIENCE, email: PUSHER, email_verified: true, iat: now, exp: now + 3600 })}`;
    // Warm-up: ingest fetches the signing keys and the SNS certificate once, before the storm.
    const envelope = JSON.stringify({ message: { data: '', messageId: 'warm-up' } });
    const note = snsSign({
      Type: 'Notification',
      MessageId: 'warm-up',
      TopicArn: TOPIC,
      Message: '{}',
      Timestamp: new Date().toISOString(),
      SigningCertURL: `${local.url}/cert.pem`,
    });
    for (const [path, headers, body] of [
      ['/webhooks/pubsub', { authorization: bearer, 'content-type': 'application/json' }, envelope],
      ['/webhooks/ecr-sns', { 'content-type': 'text/plain' }, JSON.stringify(note)],
    ] as const)
      expect(
        (await fetch(`${running.ingest}${path}`, { method: 'POST', headers, body })).status,
      ).toBeLessThan(300);
  });

  afterAll(async () => {
    await nc?.close();
    await running?.supervisor.stop();
    await local?.close();
  });

  /** The request a sender (or an attacker) makes with a fuzzed body. */
  function request(i: number, name: string): Sent {
    let body = fuzzBody(rng, BASES[name] ?? ['{}']);
    if (rng() < 0.005) body = Buffer.alloc(MAX_BODY + 1 + int(rng, 1000), 'x');
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    let path = `/webhooks/${name}`;
    let messageId: string | undefined;
    if (name === 'hub' || name === 'quay')
      path += `/${name === 'hub' ? SECRETS.hub : SECRETS.quay}`;
    const token = TOKEN_HEADERS[name];
    if (token) headers[token[0]] = token[1];
    if (name === 'gh')
      Object.assign(headers, { 'x-github-event': safe(rng), 'x-github-delivery': `fz-${i}` });
    if (name === 'ce' && rng() < 0.5)
      Object.assign(headers, {
        'ce-id': `fz-${i}`,
        'ce-type': safe(rng),
        'ce-source': 'fuzz',
        'ce-specversion': '1.0',
      });
    if (name === 'ce' && rng() < 0.3)
      headers['content-type'] = pick(rng, [
        'application/cloudevents+json',
        'application/cloudevents-batch+json',
      ]);
    if (name === 'grid' && rng() < 0.1) headers['aeg-event-type'] = 'SubscriptionValidation';
    if (name === 'pubsub') {
      messageId = `fz-${i}`;
      headers['authorization'] = bearer;
      if (rng() < 0.9)
        body = Buffer.from(
          JSON.stringify({ message: { data: body.toString('base64'), messageId } }),
        );
    }
    if (name === 'ecr-sns') {
      headers['content-type'] = 'text/plain; charset=UTF-8';
      const common = {
        MessageId: `fz-${i}`,
        TopicArn: TOPIC,
        Timestamp: new Date().toISOString(),
        SigningCertURL: `${local.url}/cert.pem`,
      };
      const confirm = rng() < 0.05;
      const message = confirm
        ? snsSign({
            ...common,
            Type: 'SubscriptionConfirmation',
            Message: 'c',
            Token: 't',
            SubscribeURL: pick(rng, [`${local.url}/confirm?Token=t`, 'https://evil.example.com/x']),
          })
        : snsSign({ ...common, Type: 'Notification', Message: body.toString('utf8') });
      body = Buffer.from(JSON.stringify(message));
    }
    if (name === 'gh') headers['x-hub-signature-256'] = hubSignature(SECRETS.github, body);
    const r = rng();
    if (r < 0.04) {
      delete headers['authorization'];
      delete headers['x-hub-signature-256'];
      if (token) delete headers[token[0]];
      if (path.split('/').length > 3) path = `/webhooks/${name}/${'z'.repeat(44)}`;
    } else if (r < 0.06)
      headers['content-type'] = pick(rng, [
        'text/html',
        'application/x-www-form-urlencoded',
        'application/xml',
      ]);
    else if (r < 0.07) body = Buffer.concat([body, Buffer.from(' ')]); // after signing: forged
    return { path, headers, body, ...(messageId ? { messageId } : {}) };
  }

  it(
    `answers ${REQUESTS} fuzzed requests with 2xx/4xx only, stays up, and accounts for every accepted body`,
    { timeout: 180_000 },
    async () => {
      const statuses = new Map<number, number>();
      const accepted = new Set<string>();
      const failures: string[] = [];
      let next = 0;
      const worker = async () => {
        while (next < REQUESTS) {
          const i = next++;
          const sent = request(i, pick(rng, NAMES));
          try {
            const res = await fetch(`${running.ingest}${sent.path}`, {
              method: 'POST',
              headers: sent.headers,
              body: sent.body,
            });
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            const text = await res.text();
            if (res.status === 202) accepted.add((JSON.parse(text) as { eventId: string }).eventId);
            if (res.status === 204 && sent.messageId) accepted.add(`gar:${sent.messageId}`);
            if (res.status >= 500) failures.push(`${res.status} ${sent.path}: ${text}`);
          } catch (error) {
            // Every request is answered, an oversized one too (its body is drained before the
            // 413): no answer is a failure.
            failures.push(`request ${i} ${sent.path}: ${String(error)}`);
          }
        }
      };
      const started = Date.now();
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      if (process.env['FUZZ_DEBUG'])
        console.info(
          running.logs
            .filter((l) => l.startsWith('[ingest]') && /warn|error/.test(l))
            .slice(0, 20)
            .join('\n'),
        );
      console.info(`fuzz: ${REQUESTS} requests in ${Date.now() - started} ms`);
      console.info(
        `fuzz seed ${SEED}: statuses ${JSON.stringify(Object.fromEntries(statuses))}, ${accepted.size} events accepted`,
      );
      expect(failures.slice(0, 5)).toEqual([]);
      expect([...statuses.keys()].every((s) => s >= 200 && s < 500)).toBe(true);

      // Ingest and the parser are still up, never restarted.
      expect((await fetch(`${running.ingest}/healthz`)).status).toBe(200);
      expect(running.logs.filter((l) => /exited with/.test(l))).toEqual([]);

      // Once the parser has settled everything, every accepted event has a fate.
      const jsm = await jetstreamManager(nc);
      await eventually(
        'the parser to settle every delivery',
        async () => {
          const info = await jsm.consumers.info(STREAMS.main, 'parser');
          return info.num_pending === 0 && info.num_ack_pending === 0;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      const settled = Date.now();
      const fateOf = await fates(nc);
      console.info(
        `fuzz: parser settled after ${settled - started} ms, streams read in ${Date.now() - settled} ms`,
      );
      const counts = { pushed: 0, ignored: 0, dead: 0 };
      const unaccounted: string[] = [];
      for (const eventId of accepted) {
        const f = fateOf(eventId);
        if (f.pushed.length) counts.pushed += 1;
        if (f.ignored.length) counts.ignored += 1;
        if (f.dead.length) counts.dead += 1;
        if (f.pushed.length + f.ignored.length + f.dead.length === 0) unaccounted.push(eventId);
      }
      console.info(
        `fuzz: ${accepted.size} accepted = events with pushes ${counts.pushed} + ignored ${counts.ignored} + in the DLQ ${counts.dead} (a batch may count twice)`,
      );
      expect(unaccounted.slice(0, 10)).toEqual([]);
      expect(counts.pushed + counts.ignored + counts.dead).toBeGreaterThanOrEqual(accepted.size);
      expect(counts.dead).toBeGreaterThan(0);
    },
  );
});
