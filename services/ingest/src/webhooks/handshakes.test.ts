import { describe, expect, it } from 'vitest';
import {
  AUDIENCE,
  EMAIL,
  SECRET,
  TOPIC,
  aws,
  base,
  calls,
  google,
  header,
  json,
  post,
  sha256,
  useWebhookServer,
} from './route-harness.test-support.js';
import { signJwt, snsSign } from './senders.test-support.js';

useWebhookServer();

describe('handshakes: answered, nothing published', () => {
  it('Event Grid subscription validation echoes the code', async () => {
    const body = JSON.stringify([
      {
        id: 'v1',
        eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
        data: { validationCode: 'ABC-123' },
      },
    ]);
    const res = await post('/webhooks/grid', body, {
      ...json,
      'x-onpush-key': SECRET,
      'aeg-event-type': 'SubscriptionValidation',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ validationResponse: 'ABC-123' });
    expect(calls).toEqual([]);
  });

  it('Event Grid events: one is keyed by its id, a batch by its body', async () => {
    const one = JSON.stringify([
      { id: 'e1', eventType: 'Microsoft.ContainerRegistry.ImagePushed' },
    ]);
    const two = JSON.stringify([{ id: 'e1' }, { id: 'e2' }]);
    for (const body of [one, two])
      await post('/webhooks/grid', body, { ...json, 'x-onpush-key': SECRET });
    expect(calls.map((c) => c.options.msgId)).toEqual(['e1', sha256(two)]);
  });

  it('CloudEvents OPTIONS allows the origin at the endpoint rate', async () => {
    const res = await fetch(`${base}/webhooks/ce`, {
      method: 'OPTIONS',
      headers: { 'webhook-request-origin': 'eventemitter.example.com' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('webhook-allowed-origin')).toBe('eventemitter.example.com');
    expect(res.headers.get('webhook-allowed-rate')).toBe('60000');
  });

  it('ACR ping', async () => {
    const res = await post('/webhooks/acr', '{"id":"p1","action":"ping"}', {
      ...json,
      'x-acr-key': SECRET,
    });
    expect(res.status).toBe(200);
    expect(calls).toEqual([]);
  });

  it('SNS: a signed SubscriptionConfirmation GETs the SubscribeURL; a Notification is stored', async () => {
    const common = {
      TopicArn: TOPIC,
      Timestamp: new Date().toISOString(),
      SigningCertURL: `${aws.url}/cert.pem`,
    };
    const confirm = snsSign({
      ...common,
      Type: 'SubscriptionConfirmation',
      MessageId: 'c1',
      Message: 'confirm',
      SubscribeURL: `${aws.url}/confirm?Token=t`,
      Token: 't',
    });
    const text = { 'content-type': 'text/plain; charset=UTF-8' };
    expect((await post('/webhooks/ecr', JSON.stringify(confirm), text)).status).toBe(200);
    expect(aws.hits.get('/confirm?Token=t')).toBe(1);
    expect(calls).toEqual([]);
    const note = snsSign({
      ...common,
      Type: 'Notification',
      MessageId: 'n1',
      Message: '{"id":"x"}',
    });
    expect((await post('/webhooks/ecr', JSON.stringify(note), text)).status).toBe(202);
    expect(calls[0]?.options.msgId).toBe('n1');
    const forged = { ...note, Message: '{"id":"y"}' };
    expect((await post('/webhooks/ecr', JSON.stringify(forged), text)).status).toBe(401);
    expect(calls).toHaveLength(1);
  });
});

describe('Pub/Sub push with OIDC', () => {
  it('stores the decoded message on onpush.raw.gar (204) with a valid token; 401 when expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: 'https://accounts.google.com',
      aud: AUDIENCE,
      email: EMAIL,
      email_verified: true,
      iat: now,
      exp: now + 3600,
    };
    const envelope = JSON.stringify({
      message: { data: Buffer.from('{"action":"INSERT"}').toString('base64'), messageId: 'm-1' },
    });
    const ok = await post('/webhooks/gcr', envelope, {
      ...json,
      authorization: `Bearer ${signJwt(google, claims)}`,
    });
    expect(ok.status).toBe(204);
    expect(calls[0]?.subject).toBe('onpush.raw.gar');
    expect(header(calls[0], 'Onpush-Endpoint')).toBe('gcr');
    const old = signJwt(google, { ...claims, iat: now - 7200, exp: now - 3600 });
    expect(
      (await post('/webhooks/gcr', envelope, { ...json, authorization: `Bearer ${old}` })).status,
    ).toBe(401);
    expect(calls).toHaveLength(1);
  });
});
