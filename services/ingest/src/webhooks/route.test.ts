import { createHmac } from 'node:crypto';
import { createConnection, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { readBody, startHttp } from '@onpush/service';
import { PayloadTooLargeError } from '../payload-limit.js';
import {
  AUDIENCE,
  EMAIL,
  PATH_TOKEN,
  SECRET,
  calls,
  failWith,
  header,
  json,
  metrics,
  post,
  sha256,
  useWebhookServer,
  base,
  google,
  setMaxPayload,
} from './route-harness.test-support.js';
import { signJwt } from './senders.test-support.js';

useWebhookServer();

/** A Google-signed OIDC token the gcr endpoint accepts. */
function gcrToken(): string {
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: 'https://accounts.google.com', aud: AUDIENCE, email: EMAIL };
  return signJwt(google, { ...claims, email_verified: true, iat: now, exp: now + 3600 });
}

describe('accepted webhooks', () => {
  it('Docker Hub with its path token: 202, the untouched body on onpush.raw.dockerhub, keyed by its sha256', async () => {
    const body = '{"push_data":{"tag":"latest"},"repository":{"repo_name":"acme/web"}}';
    const res = await post(`/webhooks/hub/${PATH_TOKEN}`, body, {
      ...json,
      'user-agent': 'hub',
      cookie: 'c=1',
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ eventId: `dockerhub:${sha256(body)}`, duplicate: false });
    const [call] = calls;
    expect(call?.subject).toBe('onpush.raw.dockerhub');
    expect(Buffer.from(call?.data ?? []).toString()).toBe(body);
    expect(call?.options.msgId).toBe(sha256(body));
    expect(call?.options.headers).toMatchObject({
      'Onpush-Event-Id': `dockerhub:${sha256(body)}`,
      'Onpush-Source': 'dockerhub',
      'Onpush-Endpoint': 'hub',
      'Onpush-Received-At': '2025-05-05T05:05:05.000Z',
      'Onpush-Content-Type': 'application/json',
      'Onpush-Transport-user-agent': 'hub',
    });
    expect(header(call, 'Onpush-Transport-cookie')).toBeUndefined();
  });

  it('GitHub: keyed by X-GitHub-Delivery; the signature is not copied; ping publishes nothing', async () => {
    const body = '{"action":"published","package":{}}';
    const sig = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
    const headers = {
      ...json,
      'x-github-event': 'package',
      'x-github-delivery': 'd-1',
      'x-hub-signature-256': sig,
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    };
    expect((await post('/webhooks/gh', body, headers)).status).toBe(202);
    expect(calls[0]?.options.msgId).toBe('d-1');
    expect(header(calls[0], 'Onpush-Transport-x-github-event')).toBe('package');
    expect(header(calls[0], 'Onpush-Transport-x-hub-signature-256')).toBeUndefined();
    expect(header(calls[0], 'traceparent')).toBe(headers.traceparent);
    const ping = '{"zen":"Keep it simple."}';
    const pingSig = `sha256=${createHmac('sha256', SECRET).update(ping).digest('hex')}`;
    const res = await post('/webhooks/gh', ping, {
      ...json,
      'x-github-event': 'ping',
      'x-hub-signature-256': pingSig,
    });
    expect(res.status).toBe(200);
    expect(calls).toHaveLength(1);
  });

  it('Harbor: the Authorization header is checked, never copied; the registry host is added', async () => {
    expect(
      (
        await post('/webhooks/harbor-a', '{"type":"PUSH_ARTIFACT"}', {
          ...json,
          authorization: SECRET,
        })
      ).status,
    ).toBe(202);
    expect(header(calls[0], 'Onpush-Transport-authorization')).toBeUndefined();
    expect(header(calls[0], 'Onpush-Registry-Host')).toBe('harbor.example.com');
  });

  it('CloudEvents binary mode: keyed by ce-id', async () => {
    const res = await post('/webhooks/ce', '{"repository":"a/b"}', {
      ...json,
      authorization: `Bearer ${SECRET}`,
      'ce-id': 'evt-7',
      'ce-type': 'x',
    });
    expect(res.status).toBe(202);
    expect(calls[0]?.options.msgId).toBe('evt-7');
    expect(header(calls[0], 'Onpush-Event-Id')).toBe('cloudevents:evt-7');
  });

  it('answers 503 when JetStream did not store it, and 413 naming the limit when it exceeds max_payload (a Pub/Sub envelope: 503 while its dead letter cannot be stored)', async () => {
    failWith(new Error('timeout'));
    const res = await post('/webhooks/harbor-a', '{}', { ...json, authorization: SECRET });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    failWith(new PayloadTooLargeError(3_000, 200, 3_100));
    const big = await post('/webhooks/harbor-a', '{}', { ...json, authorization: SECRET });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: 'payload_too_large', limit: 2_900 });
    // The gcr endpoint (a Pub/Sub push envelope) dead-letters such a message (push.test.ts);
    // here the dead letter is refused too, so Pub/Sub is asked to retry.
    failWith(new PayloadTooLargeError(3_000, 200, 3_100));
    const envelope = JSON.stringify({ message: { data: 'e30=', messageId: '1' } });
    const gcr = await post('/webhooks/gcr', envelope, {
      ...json,
      authorization: `Bearer ${gcrToken()}`,
    });
    expect(gcr.status).toBe(503);
  });
});

describe('refused before anything is published', () => {
  it.each([
    ['wrong path token', `/webhooks/hub/${'x'.repeat(32)}`, json, 401],
    ['no path token', '/webhooks/hub', json, 401],
    [
      'forged GitHub signature',
      '/webhooks/gh',
      { ...json, 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` },
      401,
    ],
    ['missing Harbor header', '/webhooks/harbor-a', json, 401],
    ['wrong Harbor token', '/webhooks/harbor-a', { ...json, authorization: 'Bearer guess' }, 401],
    ['missing OIDC token', '/webhooks/gcr', json, 401],
    ['not JSON', '/webhooks/harbor-a', { 'content-type': 'text/html', authorization: SECRET }, 415],
    ['no content type', '/webhooks/harbor-a', { authorization: SECRET }, 415],
    ['unknown endpoint', '/webhooks/nope', json, 404],
    ['a token on a header-token endpoint', `/webhooks/harbor-a/${PATH_TOKEN}`, json, 404],
  ])('%s → %d', async (_, path, headers, status) => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers, body: '{"a":1}' });
    expect(res.status).toBe(status);
    expect(calls).toEqual([]);
  });

  it('counts auth failures by endpoint, source and reason', async () => {
    await post('/webhooks/harbor-a', '{}', { ...json, authorization: 'nope' });
    const text = await metrics.registry.getSingleMetricAsString(
      'onpush_webhook_auth_failures_total',
    );
    expect(text).toContain(
      'onpush_webhook_auth_failures_total{endpoint="harbor-a",source="harbor",reason="wrong_token"',
    );
  });

  it('413 over the body limit, naming it', async () => {
    const res = await post('/webhooks/harbor-a', JSON.stringify({ x: 'y'.repeat(5000) }), {
      ...json,
      authorization: SECRET,
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({
      error: 'payload_too_large',
      message: "body over 4096 bytes (the endpoint's maxBodyBytes)",
      limit: 4096,
    });
  });

  it("413 over the NATS server's max_payload when it is below the endpoint's limit", async () => {
    setMaxPayload(1_000);
    const res = await post('/webhooks/harbor-a', JSON.stringify({ x: 'y'.repeat(2000) }), {
      ...json,
      authorization: SECRET,
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({
      error: 'payload_too_large',
      message: "body over 1000 bytes (the NATS server's max_payload)",
      limit: 1000,
    });
    expect(calls).toEqual([]);
  });

  it('405 for GET', async () => {
    expect((await fetch(`${base}/webhooks/gh`)).status).toBe(405);
  });

  it('429 with Retry-After once the endpoint bucket is empty', async () => {
    const send = () => post('/webhooks/slow', '{}', { ...json, 'x-jfrog-event-auth': SECRET });
    const statuses = [(await send()).status, (await send()).status];
    const limited = await send();
    expect([...statuses, limited.status]).toEqual([202, 202, 429]);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('server timeouts', () => {
  it('answers 408 and closes when a body never arrives whole', async () => {
    const server = await startHttp({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      live: () => true,
      ready: () => ({ ready: true, detail: {} }),
      timeouts: { requestMs: 300, headersMs: 200 },
      routes: [
        async (req, res) => {
          await readBody(req).catch(() => undefined);
          res.end();
          return true;
        },
      ],
    });
    try {
      const { port } = server.address() as AddressInfo;
      const socket = createConnection(port, '127.0.0.1');
      socket.write('POST /webhooks/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"a"');
      const started = Date.now();
      const answer = await new Promise<string>((resolve) => {
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
        socket.on('close', () => resolve(text));
      });
      expect(answer).toMatch(/^HTTP\/1.1 408/);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
