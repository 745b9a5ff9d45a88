import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADERS, rawSubject } from '@onpush/contracts';
import { connectNats, type NatsConnection } from '@onpush/nats';
import { eventually, useSandbox } from '@onpush/testing';
import {
  AUDIENCE,
  CASES,
  D2,
  PUSHER,
  SECRETS,
  TOPIC,
  endpoints,
  secretEnv,
  credentials,
  SOURCE,
  type Case,
} from './webhooks-cases.js';
import {
  SNS_CERT,
  fates,
  fixture,
  hubSignature,
  jwtSigner,
  lastOn,
  serve,
  signJwt,
  snsSign,
  startServices,
  type Fates,
  type Running,
} from './webhooks-harness.js';

// Given ingest (with thirteen webhook endpoints, one per source and two Harbors) and the parser,
// as processes against a real nats-server; keys and the SNS certificate served on loopback.
describe('webhooks: every registry through the real ingest, JetStream and parser', () => {
  const sandbox = useSandbox(['nats'], 'webhooks');
  const google = jwtSigner();
  let local: Awaited<ReturnType<typeof serve>>;
  let running: Running;
  let nc: NatsConnection;

  beforeAll(async () => {
    local = await serve({
      '/oauth2/v3/certs': google.jwks,
      '/cert.pem': SNS_CERT,
      '/confirm?Token=t1': 'ok',
    });
    const dir = sandbox().dir;
    writeFileSync(join(dir, 'hub-token'), `${SECRETS.hub}\n`);
    writeFileSync(join(dir, 'quay-token'), SECRETS.quay);
    running = await startServices(sandbox(), endpoints(dir, local.url), secretEnv);
    nc = await connectNats({ url: sandbox().need('nats').url, name: 'webhooks-test' });
  });

  afterAll(async () => {
    await nc?.close();
    await running?.supervisor.stop();
    await local?.close();
  });

  const post = (path: string, body: string, headers: Record<string, string>) =>
    fetch(`${running.ingest}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });

  /** The fates of `eventId`, once at least `expected` of them (a batch's pushes) are stored. */
  async function fatesOf(eventId: string, expected = 1): Promise<Fates> {
    return eventually(`the fate of ${eventId}`, async () => {
      const found = (await fates(nc))(eventId);
      const count = found.pushed.length + found.ignored.length + found.dead.length;
      return count >= expected || found.dead.length > 0 ? found : undefined;
    }).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${running.logs.slice(-20).join('\n')}`);
    });
  }

  function expectFate(found: Fates, expected: Case['expect']): void {
    expect(found.dead.map((d) => `${d.reason}: ${d.error}`)).toEqual([]);
    if ('ignored' in expected) {
      expect(found.ignored.map((o) => o.reason)).toEqual([expected.ignored]);
      expect(found.pushed).toEqual([]);
    } else {
      // A field left undefined in the expectation is not checked (e.g. a malformed digest dropped).
      const defined = (o: object) =>
        Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
      expect(found.pushed).toMatchObject(expected.pushed.map(defined));
    }
  }

  it.each(CASES)('$what: 202, stored untouched on onpush.raw.<source>, parsed', async (c) => {
    const { path, headers } = credentials(c.endpoint, c.body);
    const res = await post(path, c.body, { ...headers, ...c.headers });
    expect(res.status, await res.clone().text()).toBe(202);
    const { eventId } = (await res.json()) as { eventId: string };
    const source = SOURCE[c.endpoint] ?? '';
    expect(eventId.startsWith(`${source}:`)).toBe(true);

    const stored = await lastOn(nc, rawSubject(source));
    expect(Buffer.from(stored?.data ?? []).toString()).toBe(c.body);
    expect(stored?.headers).toMatchObject({
      [HEADERS.eventId]: eventId,
      [HEADERS.source]: source,
      [HEADERS.endpoint]: c.endpoint,
    });
    const id = eventId.slice(source.length + 1);
    expect([id, `${rawSubject(source)}|${id}`]).toContain(stored?.headers[HEADERS.msgId]);
    for (const secret of [
      'authorization',
      'x-hub-signature-256',
      'x-jfrog-event-auth',
      'x-api-key',
      'x-onpush-token',
    ])
      expect(stored?.headers[`Onpush-Transport-${secret}`]).toBeUndefined();
    if (c.endpoint === 'art') expect(stored?.headers[HEADERS.registryHost]).toBe('art.example.com');

    expectFate(await fatesOf(eventId, 'pushed' in c.expect ? c.expect.pushed.length : 1), c.expect);
  });

  it('ECR through SNS: confirms the subscription, then stores and parses a signed notification', async () => {
    const common = {
      TopicArn: TOPIC,
      Timestamp: new Date().toISOString(),
      SigningCertURL: `${local.url}/cert.pem`,
    };
    const text = { 'content-type': 'text/plain; charset=UTF-8' };
    const confirmation = snsSign({
      ...common,
      Type: 'SubscriptionConfirmation',
      MessageId: 'c-1',
      Message: 'confirm',
      SubscribeURL: `${local.url}/confirm?Token=t1`,
      Token: 't1',
    });
    const before = (await lastOn(nc, rawSubject('ecr')))?.seq ?? 0;
    expect((await post('/webhooks/ecr-sns', JSON.stringify(confirmation), text)).status).toBe(200);
    expect(local.hits.get('/confirm?Token=t1')).toBe(1);
    expect((await lastOn(nc, rawSubject('ecr')))?.seq ?? 0).toBe(before);

    const note = snsSign({
      ...common,
      Type: 'Notification',
      MessageId: 'sns-n-1',
      Message: fixture('ecr-eventbridge-push.json'),
    });
    const res = await post('/webhooks/ecr-sns', JSON.stringify(note), text);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ eventId: 'ecr:sns-n-1' });
    expectFate(await fatesOf('ecr:sns-n-1'), {
      pushed: [
        { image: '123456789012.dkr.ecr.us-west-2.amazonaws.com/my-repository-name', tag: 'latest' },
      ],
    });
  });

  it('Pub/Sub push with a valid OIDC token: stored on onpush.raw.gar, parsed', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = signJwt(google, {
      iss: 'https://accounts.google.com',
      aud: AUDIENCE,
      email: PUSHER,
      email_verified: true,
      iat: now,
      exp: now + 3600,
    });
    const envelope = JSON.stringify({
      message: {
        data: Buffer.from(fixture('gar-insert-tag.json')).toString('base64'),
        messageId: 'oidc-1',
        publishTime: new Date().toISOString(),
      },
      subscription: 'projects/p/subscriptions/push',
    });
    expect(
      (await post('/webhooks/pubsub', envelope, { authorization: `Bearer ${token}` })).status,
    ).toBe(204);
    expect((await lastOn(nc, rawSubject('gar')))?.headers[HEADERS.endpoint]).toBe('pubsub');
    expectFate(await fatesOf('gar:oidc-1'), {
      pushed: [{ image: 'us-west1-docker.pkg.dev/my-project/my-repo/hello-world', tag: '1.1' }],
    });
  });

  it('answers the handshakes and stores nothing: GitHub ping, ACR ping, Event Grid validation, CloudEvents OPTIONS', async () => {
    const seqs = async () =>
      Promise.all(
        ['github', 'acr', 'eventgrid'].map(
          async (s) => (await lastOn(nc, rawSubject(s)))?.seq ?? 0,
        ),
      );
    const before = await seqs();
    const ping = '{"zen":"Design for failure.","hook_id":1}';
    expect(
      (
        await post('/webhooks/gh', ping, {
          ...credentials('gh', ping).headers,
          'x-github-event': 'ping',
        })
      ).status,
    ).toBe(200);
    expect(
      (await post('/webhooks/acr', '{"id":"p","action":"ping"}', credentials('acr', '').headers))
        .status,
    ).toBe(200);
    const validation = JSON.stringify([
      {
        id: 'v',
        eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
        data: { validationCode: 'CODE-1' },
      },
    ]);
    const grid = await post('/webhooks/grid', validation, {
      ...credentials('grid', '').headers,
      'aeg-event-type': 'SubscriptionValidation',
    });
    expect(await grid.json()).toEqual({ validationResponse: 'CODE-1' });
    const options = await fetch(`${running.ingest}/webhooks/ce`, {
      method: 'OPTIONS',
      headers: { 'WebHook-Request-Origin': 'events.example.com' },
    });
    expect([options.status, options.headers.get('webhook-allowed-origin')]).toEqual([
      200,
      'events.example.com',
    ]);
    expect(await seqs()).toEqual(before);
  });

  const forgedNote = () => ({
    ...snsSign({
      Type: 'Notification',
      MessageId: 'sns-x',
      TopicArn: TOPIC,
      Message: '{}',
      Timestamp: new Date().toISOString(),
      SigningCertURL: `${local.url}/cert.pem`,
    }),
    Message: fixture('ecr-eventbridge-push.json'),
  });
  const jwt = (claims: Record<string, unknown>) => {
    const now = Math.floor(Date.now() / 1000);
    return `Bearer ${signJwt(google, { iss: 'https://accounts.google.com', aud: AUDIENCE, email: PUSHER, email_verified: true, iat: now, exp: now + 3600, ...claims })}`;
  };
  const body = '{"push_data":{"tag":"x"},"repository":{"repo_name":"a/b"}}';
  const refusals: [
    string,
    string,
    () => { path: string; headers: Record<string, string>; body?: string },
  ][] = [
    [
      'dockerhub',
      'wrong path token',
      () => ({ path: `/webhooks/hub/${'x'.repeat(44)}`, headers: {} }),
    ],
    ['dockerhub', 'missing path token', () => ({ path: '/webhooks/hub', headers: {} })],
    ['quay', 'wrong path token', () => ({ path: `/webhooks/quay/${SECRETS.hub}`, headers: {} })],
    [
      'distribution',
      'wrong token',
      () => ({ path: '/webhooks/dist', headers: { authorization: `Bearer ${SECRETS.ce}` } }),
    ],
    ['distribution', 'missing header', () => ({ path: '/webhooks/dist', headers: {} })],
    [
      'harbor',
      "the other Harbor's token",
      () => ({ path: '/webhooks/harbor-a', headers: { authorization: SECRETS.harborB } }),
    ],
    [
      'github',
      'forged signature',
      () => ({
        path: '/webhooks/gh',
        headers: { 'x-hub-signature-256': hubSignature('guessed-secret', body) },
      }),
    ],
    ['github', 'missing signature', () => ({ path: '/webhooks/gh', headers: {} })],
    [
      'acr',
      'wrong token',
      () => ({ path: '/webhooks/acr', headers: { 'x-onpush-token': SECRETS.grid } }),
    ],
    ['eventgrid', 'missing header', () => ({ path: '/webhooks/grid', headers: {} })],
    [
      'ecr',
      'forged SNS message',
      () => ({ path: '/webhooks/ecr-sns', headers: {}, body: JSON.stringify(forgedNote()) }),
    ],
    [
      'ecr',
      'wrong API key',
      () => ({ path: '/webhooks/ecr-api', headers: { 'x-api-key': SECRETS.jfrog } }),
    ],
    ['jfrog', 'missing header', () => ({ path: '/webhooks/art', headers: {} })],
    [
      'cloudevents',
      'wrong token',
      () => ({ path: '/webhooks/ce', headers: { authorization: `Bearer ${SECRETS.dist}` } }),
    ],
    [
      'gar',
      'replayed, expired OIDC token',
      () => ({
        path: '/webhooks/pubsub',
        headers: { authorization: jwt({ iat: 1_700_000_000, exp: 1_700_003_600 }) },
      }),
    ],
    [
      'gar',
      'OIDC token for another audience',
      () => ({
        path: '/webhooks/pubsub',
        headers: { authorization: jwt({ aud: 'https://elsewhere' }) },
      }),
    ],
    ['gar', 'missing OIDC token', () => ({ path: '/webhooks/pubsub', headers: {} })],
  ];

  it.each(refusals)('%s, %s → 401, nothing stored', async (source, _what, request) => {
    const { path, headers, body: own } = request();
    const envelope = JSON.stringify({
      message: {
        data: Buffer.from('{"action":"INSERT","tag":"a.example.com/b:1"}').toString('base64'),
        messageId: `x-${D2}`,
      },
    });
    const before = (await lastOn(nc, rawSubject(source)))?.seq ?? 0;
    const res = await post(path, own ?? (source === 'gar' ? envelope : body), headers);
    expect(res.status).toBe(401);
    expect((await lastOn(nc, rawSubject(source)))?.seq ?? 0).toBe(before);
  });

  it('counts the refusals by endpoint, source and reason', async () => {
    const text = await (await fetch(`${running.ingest}/metrics`)).text();
    expect(text).toMatch(
      /onpush_webhook_auth_failures_total\{endpoint="pubsub",source="gcr",reason="expired"[^}]*\} 1/,
    );
    expect(text).toMatch(
      /onpush_webhook_auth_failures_total\{endpoint="gh",source="github",reason="bad_signature"[^}]*\} 1/,
    );
    expect(text).toMatch(
      /onpush_webhook_responses_total\{endpoint="hub",source="dockerhub",status="202"[^}]*\} 2/,
    );
  });
});

describe('webhooks: a bad configuration stops ingest', () => {
  it('exits 78 with one line per problem, naming the variable and the endpoint, never a secret', async () => {
    const main = fileURLToPath(new URL('../../services/ingest/dist/main.js', import.meta.url));
    const webhooks = [
      { name: 'gh', source: 'github', auth: { type: 'hmac', secretEnv: 'GH_SECRET_UNSET' } },
      { name: 'hub', source: 'dockerhub', auth: { type: 'path', secretEnv: 'HUB' } },
    ];
    const env = {
      PATH: process.env['PATH'],
      PUBSUB_PULL: 'false',
      WEBHOOKS: JSON.stringify(webhooks),
      HUB: 'short-secret-value',
    };
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>(
      (resolve) => {
        execFile(process.execPath, [main], { env, timeout: 20_000 }, (error, _stdout, stderr) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr }),
        );
      },
    );
    expect(code).toBe(78);
    expect(stderr).toBe(
      [
        'ingest: invalid configuration',
        '  WEBHOOKS: endpoint "gh" (item 1): auth: the secret in $GH_SECRET_UNSET is empty or unset',
        '  WEBHOOKS: endpoint "hub" (item 2): auth: the secret must be at least 32 characters',
        '',
      ].join('\n'),
    );
  });
});
