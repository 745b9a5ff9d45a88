import { describe, expect, it } from 'vitest';
import { expected, failure, fixture, ignoredReason, pushed } from './harness.test-support.js';

const HEX = '35c4a2c15539c6c1e4e5fa4e554dac323ad0107d8eb5c582d6ff386b383b7dce';
const event = (data: Record<string, unknown>, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    domain: 'docker',
    event_type: 'pushed',
    data: { repo_key: 'docker-local', image_name: 'team/app', tag: '1.0', sha256: HEX, ...data },
    ...extra,
  });

describe('parser: JFrog Artifactory webhooks', () => {
  it('reads the documented push with the endpoint registry host, digest prefixed sha256:', async () => {
    expect(
      await pushed('jfrog', fixture('jfrog-docker-tag-pushed.json'), {
        registryHost: 'art.example.com',
      }),
    ).toEqual([
      expected({
        id: 'jfrog:d1',
        source: 'jfrog',
        image: 'art.example.com/library/ubuntu',
        tag: 'latest',
        digest: `sha256:${HEX}`,
      }),
    ]);
  });

  it('puts the repository key where the endpoint host says (repository path method)', async () => {
    const [push] = await pushed('jfrog', event({}), {
      registryHost: 'https://Example.jfrog.io/{repo_key}/',
    });
    expect(push).toMatchObject({
      image: 'example.jfrog.io/docker-local/team/app',
      registry: 'example.jfrog.io',
      repository: 'docker-local/team/app',
    });
  });

  it('supports the subdomain method and a fixed path', async () => {
    const [sub] = await pushed('jfrog', event({}), { registryHost: '{repo_key}.example.jfrog.io' });
    expect(sub?.image).toBe('docker-local.example.jfrog.io/team/app');
    const [fixed] = await pushed('jfrog', event({}), {
      registryHost: 'example.jfrog.io/docker-prod',
    });
    expect(fixed?.image).toBe('example.jfrog.io/docker-prod/team/app');
  });

  it('publishes a push by digest only (no tag)', async () => {
    const [push] = await pushed('jfrog', event({ tag: undefined }), {
      registryHost: 'art.example.com',
    });
    expect(push).toMatchObject({ digest: `sha256:${HEX}` });
    expect(push?.tag).toBeUndefined();
  });

  it.each([
    ['a delete', event({}, { event_type: 'deleted' }), 'delete'],
    ['a promotion', event({}, { event_type: 'promoted' }), 'not_a_push'],
    ['an artifact event', event({}, { domain: 'artifact', event_type: 'deployed' }), 'not_a_push'],
  ])('ends %s as ignored (%s)', async (_name, body, reason) => {
    expect(await ignoredReason('jfrog', body, { registryHost: 'art.example.com' })).toBe(reason);
  });

  it('dead-letters a push when the endpoint configures no registry host', async () => {
    expect(await failure('jfrog', fixture('jfrog-docker-tag-pushed.json'))).toMatchObject({
      type: 'missing_registry_host',
      retryable: false,
    });
  });

  it.each([
    ['no domain', '{"event_type":"pushed"}', 'missing_field'],
    ['no data', '{"domain":"docker","event_type":"pushed"}', 'missing_field'],
    ['no image_name', event({ image_name: undefined }), 'missing_field'],
    [
      'a malformed sha256 and no tag',
      event({ tag: undefined, sha256: 'abc' }),
      'invalid_reference',
    ],
  ])('dead-letters %s as %s', async (_name, body, type) => {
    expect(await failure('jfrog', body, { registryHost: 'art.example.com' })).toMatchObject({
      type,
      retryable: false,
    });
  });

  it('dead-letters a {repo_key} host when the event has no repo_key', async () => {
    expect(
      await failure('jfrog', event({ repo_key: undefined }), { registryHost: 'a.io/{repo_key}' }),
    ).toMatchObject({
      type: 'missing_field',
    });
  });
});
