import { describe, expect, it } from 'vitest';
import { D1, expected, failure, fixture, ignoredReason, pushed } from './harness.test-support.js';

const event = (action: string, target: Record<string, unknown> = {}): string =>
  JSON.stringify({
    id: 'cb8c3971',
    timestamp: '2026-11-26T09:00:00.5Z',
    action,
    target: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      repository: 'hello-world',
      tag: 'v1',
      digest: D1,
      ...target,
    },
    request: { id: 'r1', host: 'MyRegistry.azurecr.io', method: 'PUT' },
  });

describe('parser: ACR webhooks', () => {
  it('keeps the tag of the documented push and drops its placeholder digest (xxxx)', async () => {
    expect(await pushed('acr', fixture('acr-webhook-push.json'))).toEqual([
      expected({
        id: 'acr:d1',
        source: 'acr',
        image: 'myregistry.azurecr.io/hello-world',
        tag: 'v1',
        pushedAt: '2023-11-17T16:52:01.343Z',
      }),
    ]);
  });

  it('publishes a push with tag and digest, the host lower-cased', async () => {
    expect(await pushed('acr', event('push'))).toEqual([
      expected({
        id: 'acr:d1',
        source: 'acr',
        image: 'myregistry.azurecr.io/hello-world',
        tag: 'v1',
        digest: D1,
        pushedAt: '2026-11-26T09:00:00.500Z',
      }),
    ]);
  });

  it('publishes a push by digest only', async () => {
    const [push] = await pushed('acr', event('push', { tag: undefined }));
    expect(push).toMatchObject({ digest: D1 });
    expect(push?.tag).toBeUndefined();
  });

  it.each([
    ['ping', 'handshake'],
    ['delete', 'delete'],
    ['chart_push', 'chart'],
    ['chart_delete', 'delete'],
    ['quarantine', 'not_a_push'],
    ['__proto__', 'not_a_push'],
  ])('ends action %s as ignored (%s)', async (action, reason) => {
    expect(await ignoredReason('acr', event(action))).toBe(reason);
  });

  it.each([
    ['no action', '{"target":{}}', 'missing_field'],
    ['no target', '{"action":"push","request":{"host":"a.azurecr.io"}}', 'missing_field'],
    ['no repository', event('push', { repository: '' }), 'missing_field'],
    [
      'no tag and a placeholder digest',
      event('push', { tag: undefined, digest: 'sha256:xxxx' }),
      'invalid_reference',
    ],
  ])('dead-letters %s as %s', async (_name, body, type) => {
    expect(await failure('acr', body)).toMatchObject({ type, retryable: false });
  });
});
