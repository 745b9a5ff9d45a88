import { describe, expect, it } from 'vitest';
import {
  D1,
  D2,
  expected,
  failure,
  fixture,
  ignoredReason,
  pushed,
  run,
} from './harness.test-support.js';

const data = (tag: string | undefined, digest = D1) => ({
  id: 'd',
  timestamp: '2026-11-26T09:00:00Z',
  action: 'push',
  target: {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    repository: 'team/app',
    tag,
    digest,
  },
  request: { host: 'demo.azurecr.io' },
});
const egEvent = (id: string, eventType: string, payload: unknown = data('v1')) => ({
  id,
  topic: '/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/demo',
  subject: 'team/app:v1',
  eventType,
  eventTime: '2026-11-26T09:00:01Z',
  data: payload,
  dataVersion: '1.0',
  metadataVersion: '1',
});
const ceEvent = (id: string, type: string, payload: unknown = data('v1')) => ({
  specversion: '1.0',
  id,
  source: '/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/demo',
  type,
  time: '2026-11-26T09:00:02Z',
  datacontenttype: 'application/json',
  data: payload,
});
const PUSHED = 'Microsoft.ContainerRegistry.ImagePushed';

describe('parser: ACR through Event Grid', () => {
  it('reads the documented array (Event Grid schema), keyed by event id', async () => {
    expect(await pushed('eventgrid', fixture('acr-eventgrid-imagepushed.json'))).toEqual([
      expected({
        id: 'eventgrid:d1#831e1650-001e-001b-66ab-eeb76e069631',
        source: 'eventgrid',
        image: 'demo.azurecr.io/aci-helloworld',
        tag: 'v1',
        digest: 'sha256:213bbc182920ab41e18edc2001e06abcca6735d87782d9cef68abd83941cf0e5',
        pushedAt: '2018-04-25T21:39:47.276Z',
      }),
    ]);
  });

  it('publishes every push of a batch and ignores its deletes and chart pushes', async () => {
    const body = [
      egEvent('a', PUSHED, data('v1')),
      egEvent('b', 'Microsoft.ContainerRegistry.ImageDeleted'),
      egEvent('c', 'Microsoft.ContainerRegistry.ChartPushed'),
      egEvent('d', PUSHED, data(undefined, D2)),
    ];
    const result = await pushed('eventgrid', JSON.stringify(body));
    expect(result.map((p) => [p.id, p.tag, p.digest])).toEqual([
      ['eventgrid:d1#a', 'v1', D1],
      ['eventgrid:d1#d', undefined, D2],
    ]);
  });

  it('reads data sent as a JSON string', async () => {
    const [push] = await pushed(
      'eventgrid',
      JSON.stringify([egEvent('a', PUSHED, JSON.stringify(data('v9')))]),
    );
    expect(push).toMatchObject({ image: 'demo.azurecr.io/team/app', tag: 'v9' });
  });

  it('reads the CloudEvents schema, single or in an array, and data_base64', async () => {
    const single = await pushed('eventgrid', JSON.stringify(ceEvent('x', PUSHED)));
    expect(single.map((p) => [p.id, p.tag, p.pushedAt])).toEqual([
      ['eventgrid:d1#x', 'v1', '2026-11-26T09:00:00.000Z'],
    ]);
    const encoded = {
      ...ceEvent('y', PUSHED),
      data: undefined,
      data_base64: Buffer.from(JSON.stringify(data('v2'))).toString('base64'),
    };
    const batch = await pushed('eventgrid', JSON.stringify([encoded]));
    expect(batch.map((p) => [p.id, p.tag])).toEqual([['eventgrid:d1#y', 'v2']]);
  });

  it.each([
    [
      'the subscription validation',
      [egEvent('v', 'Microsoft.EventGrid.SubscriptionValidationEvent', { validationCode: 'x' })],
      'handshake',
    ],
    ['an image delete', [egEvent('d', 'Microsoft.ContainerRegistry.ImageDeleted')], 'delete'],
    ['a chart push', [ceEvent('c', 'Microsoft.ContainerRegistry.ChartPushed')], 'chart'],
    ['another event type', [egEvent('o', 'Microsoft.Storage.BlobCreated')], 'not_a_push'],
  ])('ends %s as ignored (%s)', async (_name, body, reason) => {
    expect(await ignoredReason('eventgrid', JSON.stringify(body))).toBe(reason);
  });

  it('dead-letters a batch whose only push is malformed, and keeps the valid pushes of a mixed one', async () => {
    const bad = egEvent('bad', PUSHED, '{not json');
    expect(await failure('eventgrid', JSON.stringify([bad]))).toMatchObject({
      type: 'invalid_json',
    });
    const mixed = await run('eventgrid', JSON.stringify([egEvent('ok', PUSHED), bad]));
    expect(mixed.pushed.map((p) => p.id)).toEqual(['eventgrid:d1#ok']);
    expect(mixed.dead.map((d) => d.reason)).toEqual(['invalid_json']);
  });

  it.each([
    ['a number', '42', 'missing_field'],
    ['an event without type', '[{"id":"x"}]', 'missing_field'],
    ['a push without data', JSON.stringify([egEvent('x', PUSHED, null)]), 'missing_field'],
    [
      'bad base64',
      JSON.stringify([{ ...ceEvent('y', PUSHED), data: undefined, data_base64: '!!!' }]),
      'invalid_encoding',
    ],
  ])('dead-letters %s as %s', async (_name, body, type) => {
    expect(await failure('eventgrid', body)).toMatchObject({ type, retryable: false });
  });
});
