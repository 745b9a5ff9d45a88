import { describe, expect, it } from 'vitest';
import { expected, failure, fixture, pushed } from './harness.test-support.js';

const hook = (repository: Record<string, unknown>, pushData: Record<string, unknown>): string =>
  JSON.stringify({ push_data: pushData, repository });

describe('parser: Docker Hub webhooks', () => {
  it('turns the documented webhook into a push on docker.io with the push time', async () => {
    expect(await pushed('dockerhub', fixture('dockerhub-push.json'))).toEqual([
      expected({
        id: 'dockerhub:d1',
        source: 'dockerhub',
        image: 'docker.io/svendowideit/testhook',
        tag: 'latest',
        pushedAt: '2014-12-03T00:22:41.000Z',
      }),
    ]);
  });

  it('puts a one-element repository (an official image) under library/', async () => {
    const [push] = await pushed('dockerhub', hook({ repo_name: 'nginx' }, { tag: '1.27' }));
    expect(push).toMatchObject({ image: 'docker.io/library/nginx', tag: '1.27' });
  });

  it('builds the repository from namespace and name when repo_name is missing, lower-cased', async () => {
    const body = hook({ namespace: 'Acme', name: 'Web' }, { tag: 'v2', pushed_at: 1_700_000_000 });
    expect(await pushed('dockerhub', body)).toEqual([
      expected({
        id: 'dockerhub:d1',
        source: 'dockerhub',
        image: 'docker.io/acme/web',
        tag: 'v2',
        pushedAt: '2023-11-14T22:13:20.000Z',
      }),
    ]);
  });

  it.each([
    ['no push_data', JSON.stringify({ repository: { repo_name: 'a/b' } }), 'missing_field'],
    ['no tag (Docker Hub sends no digest)', hook({ repo_name: 'a/b' }, {}), 'missing_field'],
    ['a tag that is not a string', hook({ repo_name: 'a/b' }, { tag: 7 }), 'missing_field'],
    ['no repository name', hook({}, { tag: 'x' }), 'missing_field'],
    [
      'a repository with an empty component',
      hook({ repo_name: 'a//b' }, { tag: 'x' }),
      'invalid_reference',
    ],
    ['a tag with a space', hook({ repo_name: 'a/b' }, { tag: 'x y' }), 'invalid_reference'],
    ['a list', '[]', 'missing_field'],
    ['not JSON', '{"push_data":', 'invalid_json'],
  ])('dead-letters %s as %s', async (_name, body, type) => {
    expect(await failure('dockerhub', body)).toMatchObject({ type, retryable: false });
  });

  it('dead-letters a body that is not UTF-8 as invalid_encoding', async () => {
    const body = new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    expect(await failure('dockerhub', body)).toMatchObject({ type: 'invalid_encoding' });
  });
});
