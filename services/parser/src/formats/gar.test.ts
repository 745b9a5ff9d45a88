import { describe, expect, it } from 'vitest';
import { D1, expected, failure, fixture, ignoredReason, pushed } from './harness.test-support.js';

const envelope = (data: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    message: {
      data,
      messageId: '2070443601311540',
      publishTime: '2026-11-26T09:00:00.749Z',
      attributes: {},
      ...extra,
    },
    subscription: 'projects/p/subscriptions/onpush',
  });
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64');

describe('parser: Artifact Registry on the gcr subject (Pub/Sub push or pull)', () => {
  it('reads a notification on onpush.raw.gcr as on onpush.raw.gar', async () => {
    expect(
      await pushed('gcr', fixture('gar-insert-tag.json'), {
        transport: { 'publish-time': '2026-11-26T09:00:00Z' },
      }),
    ).toEqual([
      expected({
        id: 'gcr:d1',
        source: 'gcr',
        image: 'us-west1-docker.pkg.dev/my-project/my-repo/hello-world',
        tag: '1.1',
        pushedAt: '2026-11-26T09:00:00.000Z',
      }),
    ]);
  });

  it('opens a whole Pub/Sub push envelope (base64 data, publishTime)', async () => {
    const body = envelope(b64({ action: 'INSERT', digest: `us-docker.pkg.dev/p/r/app@${D1}` }));
    expect(await pushed('gcr', body)).toEqual([
      expected({
        id: 'gcr:d1',
        source: 'gcr',
        image: 'us-docker.pkg.dev/p/r/app',
        digest: D1,
        pushedAt: '2026-11-26T09:00:00.749Z',
      }),
    ]);
  });

  it('ends an enveloped DELETE as ignored', async () => {
    expect(await ignoredReason('gcr', envelope(b64(JSON.parse(fixture('gar-delete.json')))))).toBe(
      'delete',
    );
  });

  it.each([
    ['an envelope without data', envelope('', {}), 'missing_field'],
    ['an envelope whose data is not base64', envelope('***'), 'invalid_encoding'],
    [
      'an envelope whose data is not JSON',
      envelope(Buffer.from('Hello Cloud Pub/Sub!').toString('base64')),
      'invalid_json',
    ],
    [
      'a digest that is not a reference',
      '{"action":"INSERT","digest":"sha256:abc"}',
      'invalid_reference',
    ],
  ])('dead-letters %s as %s', async (_name, body, type) => {
    expect(await failure('gcr', body)).toMatchObject({ type, retryable: false });
  });

  it('dead-letters the generic Pub/Sub example (data is not a notification) as invalid_json', async () => {
    expect(await failure('gcr', fixture('pubsub-push-envelope-generic.json'))).toMatchObject({
      type: 'invalid_json',
    });
  });
});
