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

const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

function event(id: string, target: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    id,
    timestamp: '2026-11-26T09:59:59.123456789Z',
    action: 'push',
    target: { repository: 'team/app', ...target },
    request: { host: 'registry.example.com:5000' },
    ...extra,
  };
}
const body = (...events: unknown[]): string => JSON.stringify({ events });

describe('parser: Distribution (and GitLab registry) notifications', () => {
  it('publishes the manifest push of the documented batch and ignores its layer pushes', async () => {
    expect(await pushed('distribution', fixture('distribution-push-batch.json'))).toEqual([
      expected({
        id: 'distribution:d1#asdf-asdf-asdf-asdf-0',
        source: 'distribution',
        image: 'registrycluster.local/library/test',
        digest: 'sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf',
        pushedAt: '2006-01-02T15:04:05.000Z',
      }),
    ]);
  });

  it('turns a batch of a tagged index and its per-platform manifests into one push each', async () => {
    const result = await pushed(
      'distribution',
      body(
        event('e1', { mediaType: MANIFEST, digest: D1 }),
        event('e2', { mediaType: INDEX, digest: D2, tag: 'v1.2' }),
        event('e3', { mediaType: LAYER, digest: D1 }),
      ),
    );
    expect(result).toEqual([
      expected({
        id: 'distribution:d1#e1',
        source: 'distribution',
        image: 'registry.example.com:5000/team/app',
        digest: D1,
        pushedAt: '2026-11-26T09:59:59.123Z',
      }),
      expected({
        id: 'distribution:d1#e2',
        source: 'distribution',
        image: 'registry.example.com:5000/team/app',
        tag: 'v1.2',
        digest: D2,
        pushedAt: '2026-11-26T09:59:59.123Z',
      }),
    ]);
  });

  it('keys entries by index when ids are missing or repeated', async () => {
    const result = await pushed(
      'distribution',
      body(
        event('same', { mediaType: MANIFEST, tag: 'a' }),
        event('same', { mediaType: MANIFEST, tag: 'b' }),
        { ...event('', { mediaType: MANIFEST, tag: 'c' }), id: undefined },
      ),
    );
    expect(result.map((p) => p.id)).toEqual([
      'distribution:d1#same',
      'distribution:d1#same~1',
      'distribution:d1#2',
    ]);
  });

  it('reads a manifest push without a media type from its tag, lower-cases the path', async () => {
    const [push] = await pushed(
      'distribution',
      body(event('x', { repository: 'Team/App', tag: 'v1' })),
    );
    expect(push).toMatchObject({ image: 'registry.example.com:5000/team/app', tag: 'v1' });
  });

  it('uses the endpoint registry host when the event names none', async () => {
    const entry = { ...event('x', { mediaType: MANIFEST, tag: 'v1' }), request: {} };
    const [push] = await pushed('distribution', body(entry), {
      registryHost: 'gitlab.example.com:5050',
    });
    expect(push?.image).toBe('gitlab.example.com:5050/team/app');
  });

  it.each([
    ['only layers', body(event('l', { mediaType: LAYER, digest: D1 })), 'layer'],
    ['a pull', body(event('p', { mediaType: MANIFEST, tag: 'v1' }, { action: 'pull' })), 'pull'],
    ['a delete', body(event('d', { digest: D1 }, { action: 'delete' })), 'delete'],
    ['a mount', body(event('m', { digest: D1 }, { action: 'mount' })), 'not_a_push'],
    ['an empty batch', body(), 'not_a_push'],
  ])('ends %s as ignored (%s)', async (_name, input, reason) => {
    expect(await ignoredReason('distribution', input)).toBe(reason);
  });

  it('publishes the valid pushes of a batch and dead-letters the delivery naming the malformed entry', async () => {
    const result = await run(
      'distribution',
      body(
        event('ok', { mediaType: MANIFEST, tag: 'v1' }),
        event('bad', { mediaType: MANIFEST, repository: 'a//b', tag: 'v1' }),
      ),
    );
    expect(result.pushed.map((p) => p.id)).toEqual(['distribution:d1#ok']);
    expect(result.dead).toHaveLength(1);
    expect(result.dead[0]).toMatchObject({
      stage: 'parser',
      reason: 'invalid_reference',
      subject: 'onpush.raw.distribution',
    });
    expect(result.dead[0]?.error).toMatch(
      /1 malformed entries \(1 pushes were published\): #bad: /,
    );
  });

  it.each([
    ['no events list', '{"events":{}}', 'missing_field'],
    ['an entry without action', body({ id: 'x', target: {} }), 'missing_field'],
    [
      'a push without target',
      body({ id: 'x', action: 'push', request: { host: 'x.io' } }),
      'missing_field',
    ],
    [
      'a push without host anywhere',
      body({ ...event('x', { mediaType: MANIFEST, tag: 'v1' }), request: {} }),
      'missing_field',
    ],
    [
      'a push without repository',
      body(event('x', { mediaType: MANIFEST, tag: 'v1', repository: 3 })),
      'missing_field',
    ],
    [
      'a push naming neither tag nor digest',
      body(event('x', { mediaType: MANIFEST })),
      'missing_field',
    ],
    [
      'a bare host name',
      body({ ...event('x', { tag: 'v1' }), request: { host: 'registry' } }),
      'invalid_reference',
    ],
    [
      'a malformed digest and no tag',
      body(event('x', { mediaType: MANIFEST, digest: 'sha256:abc' })),
      'invalid_reference',
    ],
  ])('dead-letters %s as %s', async (_name, input, type) => {
    expect(await failure('distribution', input)).toMatchObject({ type, retryable: false });
  });

  it('refuses a batch of more than 1,000 events as batch_too_large', async () => {
    const events = Array.from({ length: 1_001 }, (_, i) => event(`e${i}`, { tag: 'v1' }));
    expect(await failure('distribution', body(...events))).toMatchObject({
      type: 'batch_too_large',
    });
  });

  it('keeps a tag and drops the malformed digest beside it', async () => {
    const [push] = await pushed(
      'distribution',
      body(event('x', { mediaType: MANIFEST, tag: 'v1', digest: 'sha256:xxxx' })),
    );
    expect(push).toMatchObject({ tag: 'v1' });
    expect(push?.digest).toBeUndefined();
  });
});
