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

const EVENT = { 'x-github-event': 'package' };

function packageEvent(
  version: Record<string, unknown>,
  pkg: Record<string, unknown> = {},
  action = 'published',
) {
  return JSON.stringify({
    action,
    package: {
      name: 'Hello-World',
      package_type: 'CONTAINER',
      owner: { login: 'Octo-Org' },
      package_version: { version: D1, created_at: '2026-11-26T09:00:00Z', ...version },
      ...pkg,
    },
  });
}
const metadata = (tag: string, digest = D1) => ({
  container_metadata: { tag: { name: tag, digest }, manifest: { digest } },
});

describe('parser: GitHub package webhooks (ghcr.io)', () => {
  it('reads the documented example: an untagged push, digest from package_version.version', async () => {
    expect(
      await pushed('github', fixture('ghcr-package-published.json'), { transport: EVENT }),
    ).toEqual([
      expected({
        id: 'github:d1',
        source: 'github',
        image: 'ghcr.io/codertocat/hello-world-npm',
        digest: 'sha256:3da1996a8115d7616457760d9920b815241d0a03b34cf5f04e9a0e9d8de37498',
        pushedAt: '2019-05-09T23:28:29.000Z',
      }),
    ]);
  });

  it('publishes a tagged container push with owner and package lower-cased', async () => {
    expect(await pushed('github', packageEvent(metadata('v1.0')), { transport: EVENT })).toEqual([
      expected({
        id: 'github:d1',
        source: 'github',
        image: 'ghcr.io/octo-org/hello-world',
        tag: 'v1.0',
        digest: D1,
        pushedAt: '2026-11-26T09:00:00.000Z',
      }),
    ]);
  });

  it('reads the legacy registry_package event (updated action, tag in version)', async () => {
    const body = JSON.stringify({
      action: 'updated',
      registry_package: {
        name: 'app',
        package_type: 'docker',
        owner: { login: 'Me' },
        package_version: { version: '2.0' },
      },
    });
    const [push] = await pushed('github', body, {
      transport: { 'x-github-event': 'registry_package' },
    });
    expect(push).toMatchObject({ image: 'ghcr.io/me/app', tag: '2.0' });
    expect(push?.digest).toBeUndefined();
  });

  it('infers the event from the body when the header is missing', async () => {
    const [push] = await pushed('github', packageEvent(metadata('v2', D2)));
    expect(push).toMatchObject({ tag: 'v2', digest: D2 });
  });

  it('uses the endpoint registry host instead of ghcr.io (GitHub Enterprise Server)', async () => {
    const [push] = await pushed('github', packageEvent(metadata('v1')), {
      transport: EVENT,
      registryHost: 'containers.github.example.com',
    });
    expect(push?.image).toBe('containers.github.example.com/octo-org/hello-world');
  });

  it.each([
    [
      'a ping',
      JSON.stringify({ zen: 'Keep it simple', hook_id: 1 }),
      { 'x-github-event': 'ping' },
      'handshake',
    ],
    [
      'a ping without header',
      JSON.stringify({ zen: 'Design for failure', hook_id: 2 }),
      {},
      'handshake',
    ],
    [
      'an npm package',
      packageEvent({}, { package_type: 'npm', ecosystem: 'npm', registry: { type: 'npm' } }),
      EVENT,
      'not_a_push',
    ],
    ['another action', packageEvent(metadata('v1'), {}, 'deleted'), EVENT, 'delete'],
    ['another event', '{"ref":"main"}', { 'x-github-event': 'push' }, 'not_a_push'],
  ])('ends %s as ignored (%s)', async (_name, body, transport, reason) => {
    expect(await ignoredReason('github', body, { transport })).toBe(reason);
  });

  it.each([
    ['no package', '{"action":"published"}', EVENT, 'missing_field'],
    ['an unrecognisable body without header', '{"a":1}', {}, 'missing_field'],
    ['no package version', packageEvent({}, { package_version: null }), EVENT, 'missing_field'],
    [
      'no tag and no digest',
      packageEvent({ version: undefined, ...metadata('', '') }),
      EVENT,
      'missing_field',
    ],
    [
      'no tag and a malformed digest',
      packageEvent({ version: undefined, ...metadata('', 'sha256:6c62') }),
      EVENT,
      'invalid_reference',
    ],
    ['no owner', packageEvent(metadata('v1'), { owner: {} }), EVENT, 'missing_field'],
  ])('dead-letters %s as %s', async (_name, body, transport, type) => {
    expect(await failure('github', body, { transport })).toMatchObject({ type, retryable: false });
  });
});
