import { describe, expect, it } from 'vitest';
import { D1, D2, expected, failure, ignoredReason, pushed, run } from './harness.test-support.js';

const STRUCTURED = 'application/cloudevents+json; charset=utf-8';
const BATCH = 'application/cloudevents-batch+json';
const ce = (id: string, type: string, data: unknown, extra: Record<string, unknown> = {}) => ({
  specversion: '1.0',
  id,
  source: 'ci://builds',
  type,
  time: '2026-11-26T09:00:00Z',
  datacontenttype: 'application/json',
  data,
  ...extra,
});

describe('parser: generic CloudEvents', () => {
  it('reads a structured event whose data is {image}', async () => {
    const body = JSON.stringify(
      ce('e1', 'dev.example.image.pushed', { image: `ghcr.io/Acme/App:v1@${D1}` }),
    );
    expect(await pushed('cloudevents', body, { contentType: STRUCTURED })).toEqual([
      expected({
        id: 'cloudevents:d1',
        source: 'cloudevents',
        image: 'ghcr.io/acme/app',
        tag: 'v1',
        digest: D1,
        pushedAt: '2026-11-26T09:00:00.000Z',
      }),
    ]);
  });

  it('reads a binary-mode event: ce-* headers, the body is the data', async () => {
    const [push] = await pushed(
      'cloudevents',
      JSON.stringify({ repository: 'team/app', tag: 'v2', host: 'reg.example.com' }),
      {
        transport: {
          'ce-specversion': '1.0',
          'ce-type': 'dev.example.pushed',
          'ce-id': 'b1',
          'ce-time': '2026-11-26T08:00:00Z',
          'content-type': 'application/json',
        },
      },
    );
    expect(push).toMatchObject({
      id: 'cloudevents:d1',
      image: 'reg.example.com/team/app',
      tag: 'v2',
      pushedAt: '2026-11-26T08:00:00.000Z',
    });
  });

  it('reads a binary-mode text body as a reference', async () => {
    const [push] = await pushed('cloudevents', `docker.io/library/nginx@${D2}`, {
      transport: { 'ce-type': 'dev.example.pushed', 'content-type': 'text/plain' },
    });
    expect(push).toMatchObject({ image: 'docker.io/library/nginx', digest: D2 });
  });

  it('reads a batch keyed by event id, with data_base64 and the accepted field names', async () => {
    const b64 = Buffer.from(JSON.stringify({ reference: 'quay.io/a/b:1' })).toString('base64');
    const body = JSON.stringify([
      ce('a', 'x.pushed', { imageRef: 'reg.example.com/a:1' }),
      ce('b', 'x.pushed', undefined, { data_base64: b64 }),
      ce('c', 'x.pushed', { uri: `docker://reg.example.com/c@${D1}` }),
      ce('d', 'x.pushed', { image: { repository: 'd', registry: 'reg.example.com', tag: '4' } }),
      ce('e', 'x.deleted', { image: 'reg.example.com/e:1' }),
    ]);
    const result = await pushed('cloudevents', body, { contentType: BATCH });
    expect(result.map((p) => [p.id, p.image, p.tag, p.digest])).toEqual([
      ['cloudevents:d1#a', 'reg.example.com/a', '1', undefined],
      ['cloudevents:d1#b', 'quay.io/a/b', '1', undefined],
      ['cloudevents:d1#c', 'reg.example.com/c', undefined, D1],
      ['cloudevents:d1#d', 'reg.example.com/d', '4', undefined],
    ]);
  });

  it('uses the endpoint registry host for {repository, tag} without host', async () => {
    const body = JSON.stringify(ce('e1', 'x.pushed', { repository: 'team/app', tag: 'v1' }));
    const [push] = await pushed('cloudevents', body, { registryHost: 'reg.internal:5000' });
    expect(push?.image).toBe('reg.internal:5000/team/app');
  });

  it('reads Harbor and Event Grid types as those sources do', async () => {
    const harbor = ce('h', 'harbor.artifact.pushed', {
      resources: [{ tag: 'v1', digest: D1, resource_url: 'harbor.example.com/lib/app:v1' }],
      repository: { repo_full_name: 'lib/app' },
    });
    const acr = ce('g', 'Microsoft.ContainerRegistry.ImagePushed', {
      action: 'push',
      target: { repository: 'x', tag: 'v2' },
      request: { host: 'demo.azurecr.io' },
    });
    const result = await pushed('cloudevents', JSON.stringify([harbor, acr]));
    expect(result.map((p) => [p.id, p.image, p.tag])).toEqual([
      ['cloudevents:d1#h/0', 'harbor.example.com/lib/app', 'v1'],
      ['cloudevents:d1#g', 'demo.azurecr.io/x', 'v2'],
    ]);
  });

  it.each([
    ['com.example.image.deleted', 'delete'],
    ['com.example.image.removed', 'delete'],
    ['com.example.image.pulled', 'pull'],
    ['com.example.scan.completed', 'scan'],
    ['com.example.push.failed', 'failed'],
    ['harbor.artifact.deleted', 'delete'],
    ['Microsoft.EventGrid.SubscriptionValidationEvent', 'handshake'],
  ])('ends type %s as ignored (%s)', async (type, reason) => {
    expect(await ignoredReason('cloudevents', JSON.stringify(ce('e', type, {})))).toBe(reason);
  });

  it('publishes the valid events of a batch and dead-letters the delivery for a malformed one', async () => {
    const body = JSON.stringify([
      ce('ok', 'x.pushed', { image: 'reg.example.com/a:1' }),
      ce('bad', 'x.pushed', { foo: 1 }),
    ]);
    const result = await run('cloudevents', body);
    expect(result.pushed.map((p) => p.id)).toEqual(['cloudevents:d1#ok']);
    expect(result.dead.map((d) => d.reason)).toEqual(['missing_field']);
  });

  it.each([
    ['a JSON object that is no event', '{"hello":1}', {}, 'missing_field'],
    [
      'data naming no image',
      JSON.stringify(ce('e', 'x.pushed', { foo: 'bar' })),
      {},
      'missing_field',
    ],
    [
      'a reference naming neither tag nor digest',
      JSON.stringify(ce('e', 'x.pushed', { image: 'reg.example.com/a' })),
      {},
      'missing_field',
    ],
    [
      'an invalid reference',
      JSON.stringify(ce('e', 'x.pushed', { image: 'https://reg.example.com/a:1' })),
      {},
      'invalid_reference',
    ],
    [
      'bad data_base64',
      JSON.stringify(ce('e', 'x.pushed', undefined, { data_base64: 'a$b' })),
      {},
      'invalid_encoding',
    ],
    [
      'data_base64 that is not UTF-8 JSON',
      JSON.stringify(ce('e', 'x.pushed', undefined, { data_base64: '/w==' })),
      {},
      'invalid_encoding',
    ],
    ['binary mode without ce-type', '{}', { 'ce-specversion': '1.0' }, 'missing_field'],
    [
      'binary mode with a JSON body that is broken',
      '{"image":',
      { 'ce-type': 'x', 'content-type': 'application/json' },
      'invalid_json',
    ],
  ])('dead-letters %s as %s', async (_name, body, transport, type) => {
    expect(await failure('cloudevents', body, { transport })).toMatchObject({
      type,
      retryable: false,
    });
  });
});
