import { describe, expect, it } from 'vitest';
import { expected, failure, fixture, ignoredReason, pushed } from './harness.test-support.js';

const push = (updated: unknown, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    name: 'repository',
    repository: 'mynamespace/repository',
    namespace: 'mynamespace',
    docker_url: 'quay.io/mynamespace/repository',
    updated_tags: updated,
    ...extra,
  });

describe('parser: Quay repository push notifications', () => {
  it('turns the documented notification into one push per updated tag', async () => {
    expect(await pushed('quay', fixture('quay-push.json'))).toEqual([
      expected({
        id: 'quay:d1#0',
        source: 'quay',
        image: 'quay.io/mynamespace/repository',
        tag: 'latest',
      }),
    ]);
  });

  it('publishes several tags as several pushes keyed by index', async () => {
    const result = await pushed('quay', push(['v1', 'v1.2', 'latest']));
    expect(result.map((p) => [p.id, p.tag])).toEqual([
      ['quay:d1#0', 'v1'],
      ['quay:d1#1', 'v1.2'],
      ['quay:d1#2', 'latest'],
    ]);
  });

  it('publishes a tag listed twice once', async () => {
    const result = await pushed('quay', push(['v1', 'v1', 'v2']));
    expect(result.map((p) => [p.id, p.tag])).toEqual([
      ['quay:d1#0', 'v1'],
      ['quay:d1#2', 'v2'],
    ]);
  });

  it('reads the old payload whose updated_tags is an object keyed by tag', async () => {
    const result = await pushed('quay', push({ latest: 'b9d5c7e1f', stable: '0c1d2e3f' }));
    expect(result.map((p) => p.tag)).toEqual(['latest', 'stable']);
  });

  it('keeps the host of a self-hosted Quay and lower-cases the path', async () => {
    const [first] = await pushed(
      'quay',
      push(['v1'], { docker_url: 'Quay.Example.com:8443/Team/App' }),
    );
    expect(first).toMatchObject({
      image: 'quay.example.com:8443/team/app',
      registry: 'quay.example.com:8443',
    });
  });

  it('uses the endpoint registry host when docker_url is missing', async () => {
    const [first] = await pushed('quay', push(['v1'], { docker_url: undefined }), {
      registryHost: 'quay.internal',
    });
    expect(first?.image).toBe('quay.internal/mynamespace/repository');
  });

  it.each([
    ['an empty tag list', push([]), 'not_a_push'],
    [
      'a build notification',
      JSON.stringify({ build_id: 'b1', docker_url: 'quay.io/a/b', docker_tags: ['x'] }),
      'not_a_push',
    ],
    [
      'a vulnerability notification',
      JSON.stringify({ vulnerability: { id: 'CVE-1' }, tags: ['x'] }),
      'not_a_push',
    ],
  ])('ends %s as ignored (%s)', async (_name, body, reason) => {
    expect(await ignoredReason('quay', body)).toBe(reason);
  });

  it.each([
    ['no updated_tags', JSON.stringify({ docker_url: 'quay.io/a/b' }), 'missing_field'],
    ['updated_tags that is a string', push('latest'), 'missing_field'],
    ['only non-string tags', push([1, null]), 'missing_field'],
    [
      'no docker_url and no endpoint host',
      push(['v1'], { docker_url: undefined }),
      'missing_field',
    ],
    ['a docker_url without path', push(['v1'], { docker_url: 'quay.io' }), 'invalid_reference'],
    ['an invalid tag', push(['-bad']), 'invalid_reference'],
  ])('dead-letters %s as %s', async (_name, body, type) => {
    expect(await failure('quay', body)).toMatchObject({ type, retryable: false });
  });
});
