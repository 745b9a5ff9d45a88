import { describe, expect, it } from 'vitest';
import {
  D1,
  D2,
  expected,
  failure,
  fixture,
  ignoredReason,
  pushed,
} from './harness.test-support.js';

const resources = [
  { digest: D1, tag: 'v1', resource_url: 'harbor.example.com/lib/app:v1' },
  { digest: D2, tag: 'v2', resource_url: 'harbor.example.com/lib/app:v2' },
];
const repository = {
  name: 'app',
  namespace: 'lib',
  repo_full_name: 'lib/app',
  repo_type: 'private',
};
const defaultFormat = (type: string, list: unknown = resources): string =>
  JSON.stringify({
    type,
    occur_at: 1_680_501_893,
    operator: 'ci',
    event_data: { resources: list, repository },
  });
const cloudEvent = (type: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    specversion: '1.0',
    id: '66e18103-09c1-41f6-982f-37df223f3eeb',
    source: '/projects/2/webhook/policies/15',
    type,
    datacontenttype: 'application/json',
    time: '2023-04-03T06:04:46Z',
    data: { resources, repository },
    operator: 'harbor-jobservice',
    ...extra,
  });

describe('parser: Harbor webhooks', () => {
  it('turns the documented push by digest (tag equal to the digest) into a digest-only push', async () => {
    expect(await pushed('harbor', fixture('harbor-default-push.json'))).toEqual([
      expected({
        id: 'harbor:d1#0',
        source: 'harbor',
        image: 'localhost/harbor/alpine',
        digest: 'sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4',
        pushedAt: '2023-04-03T06:04:53.000Z',
      }),
    ]);
  });

  it('publishes one push per resource, keyed by index', async () => {
    const common = {
      source: 'harbor',
      image: 'harbor.example.com/lib/app',
      pushedAt: '2023-04-03T06:04:53.000Z',
    };
    expect(await pushed('harbor', defaultFormat('PUSH_ARTIFACT'))).toEqual([
      expected({ ...common, id: 'harbor:d1#0', tag: 'v1', digest: D1 }),
      expected({ ...common, id: 'harbor:d1#1', tag: 'v2', digest: D2 }),
    ]);
  });

  it('reads the CloudEvents format (structured mode) with the event time', async () => {
    const result = await pushed('harbor', cloudEvent('harbor.artifact.pushed'), {
      contentType: 'application/cloudevents+json',
    });
    expect(result.map((p) => [p.id, p.image, p.tag, p.digest, p.pushedAt])).toEqual([
      ['harbor:d1#0', 'harbor.example.com/lib/app', 'v1', D1, '2023-04-03T06:04:46.000Z'],
      ['harbor:d1#1', 'harbor.example.com/lib/app', 'v2', D2, '2023-04-03T06:04:46.000Z'],
    ]);
  });

  it('reads a CloudEvents binary-mode delivery (attributes in ce-* headers)', async () => {
    const result = await pushed(
      'harbor',
      JSON.stringify({ resources: [resources[0]], repository }),
      {
        transport: {
          'ce-type': 'harbor.artifact.pushed',
          'ce-specversion': '1.0',
          'content-type': 'application/json',
        },
      },
    );
    expect(result.map((p) => [p.image, p.tag])).toEqual([['harbor.example.com/lib/app', 'v1']]);
  });

  it('takes the image from the repository and the endpoint host when resource_url is missing', async () => {
    const [push] = await pushed(
      'harbor',
      defaultFormat('PUSH_ARTIFACT', [{ tag: 'v3', digest: D1 }]),
      {
        registryHost: 'harbor.example.com:8443',
      },
    );
    expect(push).toMatchObject({ image: 'harbor.example.com:8443/lib/app', tag: 'v3', digest: D1 });
  });

  it.each([
    ['PULL_ARTIFACT', 'pull'],
    ['DELETE_ARTIFACT', 'delete'],
    ['SCANNING_COMPLETED', 'scan'],
    ['SCANNING_FAILED', 'scan'],
    ['REPLICATION', 'replication'],
    ['QUOTA_EXCEED', 'not_a_push'],
    ['TAG_RETENTION', 'not_a_push'],
  ])('ends a Default-format %s as ignored (%s)', async (type, reason) => {
    expect(await ignoredReason('harbor', defaultFormat(type))).toBe(reason);
  });

  it.each([
    ['harbor.artifact.deleted', 'delete'],
    ['harbor.artifact.pulled', 'pull'],
    ['harbor.scan.completed', 'scan'],
  ])('ends a CloudEvents %s as ignored (%s)', async (type, reason) => {
    expect(await ignoredReason('harbor', cloudEvent(type))).toBe(reason);
  });

  it.each([
    ['no type', JSON.stringify({ event_data: {} }), 'missing_field'],
    [
      'no resources',
      JSON.stringify({ type: 'PUSH_ARTIFACT', event_data: { repository } }),
      'missing_field',
    ],
    ['a resource that is a string', defaultFormat('PUSH_ARTIFACT', ['x']), 'missing_field'],
    [
      'a push by a malformed digest only',
      defaultFormat('PUSH_ARTIFACT', [
        { digest: 'sha256:1', tag: 'sha256:1', resource_url: 'h.io/a/b@sha256:1' },
      ]),
      'invalid_reference',
    ],
    [
      'no resource_url and no endpoint host',
      defaultFormat('PUSH_ARTIFACT', [{ tag: 'v1' }]),
      'missing_field',
    ],
    [
      'a CloudEvent whose data is not an object',
      cloudEvent('harbor.artifact.pushed', { data: 'x' }),
      'missing_field',
    ],
  ])('dead-letters %s as %s', async (_name, body, type) => {
    expect(await failure('harbor', body)).toMatchObject({ type, retryable: false });
  });
});
