import { describe, expect, it } from 'vitest';
import { parseDeadLetter, parseImagePushed } from '@onpush/contracts';
import type { Incoming } from '@onpush/service';
import { globMatches } from './binding.js';
import { createHandler } from './handler.js';

const D = `sha256:${'ab'.repeat(32)}`;
const handle = createHandler({ now: () => new Date('2026-11-26T10:00:02Z') });

const raw = (subject: string, body: unknown, headers: Record<string, string> = {}): Incoming => ({
  subject,
  data: new TextEncoder().encode(JSON.stringify(body)),
  headers: {
    'Nats-Msg-Id': 'x:1',
    'Onpush-Event-Id': 'x:1',
    'Onpush-Received-At': '2026-11-26T10:00:01.000Z',
    ...headers,
  },
  seq: 7,
  deliveryCount: 1,
});

const garInsert = (image: string, publishTime: string, headers: Record<string, string> = {}) =>
  raw(
    'onpush.raw.gar',
    { action: 'INSERT', digest: `${image}@${D}` },
    { 'Onpush-Transport-publish-time': publishTime, ...headers },
  );

const harbor = (resourceUrl: string, headers: Record<string, string> = {}) =>
  raw(
    'onpush.raw.harbor',
    {
      type: 'PUSH_ARTIFACT',
      occur_at: 1764151200,
      event_data: {
        resources: [{ tag: 'v1', resource_url: resourceUrl }],
        repository: { name: 'app', namespace: 'team-a', repo_full_name: 'team-a/app' },
      },
    },
    headers,
  );

describe('globMatches: repository globs', () => {
  it.each([
    ['team-a/*', 'team-a/app', true],
    ['team-a/*', 'team-a/sub/app', false],
    ['team-a/**', 'team-a/sub/app', true],
    ['team-a/**', 'team-b/app', false],
    ['team-?/app', 'team-b/app', true],
    ['team-?/app', 'team-/app', false],
    ['*/app', 'x/app', true],
    ['team-a/app', 'team-a/app2', false],
    ['*', 'team-a/app', false],
    ['**', 'team-a/app', true],
  ])('%s against %s: %s', (pattern, repository, expected) => {
    expect(globMatches(pattern, repository)).toBe(expected);
  });

  it('answers at once for a pattern that makes backtracking matchers explode', () => {
    const pattern = `${'*a'.repeat(30)}b`;
    const input = 'a'.repeat(5_000);
    const started = performance.now();
    expect(globMatches(pattern, input)).toBe(false);
    expect(globMatches(`**${'a**'.repeat(30)}b`, input)).toBe(false);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('parser: the endpoint configuration outranks the payload', () => {
  it('dead-letters a push of a repository the endpoint is not bound to, reason repository_not_allowed', async () => {
    const out = await handle(
      harbor('harbor.example.com/team-b/app:v1', { 'Onpush-Repositories': 'team-a/*' }),
    ).catch((error: unknown) => error);
    expect(out).toMatchObject({ type: 'repository_not_allowed', retryable: false });
    expect((out as Error).message).toContain('team-b/app');
  });

  it('publishes a push of a repository the endpoint is bound to', async () => {
    const [out] = await handle(
      harbor('harbor.example.com/team-a/app:v1', {
        'Onpush-Repositories': 'team-x/*, team-a/*',
      }),
    );
    expect(parseImagePushed(out?.data).image).toBe('harbor.example.com/team-a/app');
  });

  it('publishes the allowed pushes of a batch and dead-letters the others with the reason', async () => {
    const push = (id: string, repository: string) => ({
      id,
      action: 'push',
      target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', repository, tag: 'v1' },
      request: { host: 'reg.example.com' },
    });
    const out = await handle(
      raw(
        'onpush.raw.distribution',
        { events: [push('a', 'team-a/app'), push('b', 'team-b/app')] },
        { 'Onpush-Repositories': 'team-a/*' },
      ),
    );
    expect(out.map((o) => o.subject)).toEqual([
      'onpush.pushed',
      'onpush.dead.parser',
      'onpush.outcome.dead',
    ]);
    expect(parseDeadLetter(out[1]?.data).reason).toBe('repository_not_allowed');
  });

  it('puts the push on the configured registry host, whatever host the body names', async () => {
    const [out] = await handle(
      harbor('evil.example.net/team-a/app:v1', { 'Onpush-Registry-Host': 'harbor.example.com' }),
    );
    expect(parseImagePushed(out?.data)).toMatchObject({
      image: 'harbor.example.com/team-a/app',
      registry: 'harbor.example.com',
      repository: 'team-a/app',
      tag: 'v1',
    });
  });

  it('clamps a far-future push time to the receipt plus five minutes', async () => {
    const [out] = await handle(garInsert('us-docker.pkg.dev/p/r/app', '9999-12-31T00:00:00Z'));
    expect(parseImagePushed(out?.data).pushedAt).toBe('2026-11-26T10:05:01.000Z');
  });

  it('keeps a push time within the allowed skew', async () => {
    const [out] = await handle(garInsert('us-docker.pkg.dev/p/r/app', '2026-11-26T10:03:00Z'));
    expect(parseImagePushed(out?.data).pushedAt).toBe('2026-11-26T10:03:00.000Z');
  });
});
