import { describe, expect, it } from 'vitest';
import { ImageIndex, type IndexedWorkload, type LookupQuery } from './index-store.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const OTHER_DIGEST = `sha256:${'b'.repeat(64)}`;

function deployment(
  name: string,
  containers: Record<string, string>,
  namespace = 'shop',
): IndexedWorkload {
  return {
    kind: 'Deployment',
    namespace,
    name,
    containers: Object.entries(containers).map(([container, image]) => ({
      name: container,
      image,
    })),
  };
}

function names(index: ImageIndex, query: LookupQuery): string[] {
  return index.lookup(query).map((m) => `${m.namespace}/${m.name}[${m.containers.join(',')}]`);
}

describe('ImageIndex matching', () => {
  const index = new ImageIndex();
  index.upsert(deployment('web', { app: 'nginx:1.27', sidecar: 'envoyproxy/envoy:v1.31' }));
  index.upsert(deployment('plain', { app: 'nginx' }));
  index.upsert(deployment('hub', { app: 'docker.io/library/nginx:latest' }));
  index.upsert(deployment('aliased', { app: 'index.docker.io/library/nginx:1.27' }));
  index.upsert(deployment('pinned', { app: `nginx@${DIGEST}` }));
  index.upsert(deployment('pinned-tagged', { app: `nginx:1.27@${DIGEST}` }));
  index.upsert(deployment('init', { migrate: 'ghcr.io/acme/api:v2', app: 'ghcr.io/acme/web:v2' }));
  index.upsert(deployment('twice', { a: 'ghcr.io/acme/api:v2', b: 'ghcr.io/acme/api:v2' }, 'ops'));
  index.upsert(deployment('local', { app: 'localhost:5000/acme/api:v2' }));
  index.upsert(deployment('other', { app: 'redis:7' }));

  const cases: [string, LookupQuery, string[]][] = [
    [
      'tag push, every spelling',
      { image: 'docker.io/library/nginx', tag: '1.27' },
      ['shop/aliased[app]', 'shop/web[app]'],
    ],
    [
      'no tag means latest',
      { image: 'docker.io/library/nginx', tag: 'latest' },
      ['shop/hub[app]', 'shop/plain[app]'],
    ],
    [
      'digest-pinned containers ignore tag pushes, even with a digest',
      { image: 'docker.io/library/nginx', tag: '1.27', digest: DIGEST },
      ['shop/aliased[app]', 'shop/web[app]'],
    ],
    [
      'digest-only push matches pinned containers',
      { image: 'docker.io/library/nginx', digest: DIGEST },
      ['shop/pinned[app]', 'shop/pinned-tagged[app]'],
    ],
    [
      'another digest matches nothing',
      { image: 'docker.io/library/nginx', digest: OTHER_DIGEST },
      [],
    ],
    ['sidecar image', { image: 'docker.io/envoyproxy/envoy', tag: 'v1.31' }, ['shop/web[sidecar]']],
    [
      'init container',
      { image: 'ghcr.io/acme/api', tag: 'v2' },
      ['ops/twice[a,b]', 'shop/init[migrate]'],
    ],
    ['other tag', { image: 'docker.io/library/nginx', tag: '1.26' }, []],
    ['other image', { image: 'docker.io/library/httpd', tag: 'latest' }, []],
    ['same path on another registry', { image: 'ghcr.io/acme/web', tag: 'v1' }, []],
    ['registry with port', { image: 'localhost:5000/acme/api', tag: 'v2' }, ['shop/local[app]']],
  ];

  it.each(cases)('%s', (_name, query, expected) => {
    expect(names(index, query)).toEqual(expected);
  });

  it('counts workloads and distinct images', () => {
    expect(index.stats()).toEqual({ workloads: 10, images: 8, skippedContainers: 0 });
  });
});

describe('ImageIndex changes', () => {
  it('skips and counts unparsable images, still indexing the rest', () => {
    const index = new ImageIndex();
    const result = index.upsert(deployment('web', { bad: 'Not An Image', app: 'nginx' }));
    expect(result.skipped).toEqual(['Not An Image']);
    expect(index.stats().skippedContainers).toBe(1);
    expect(names(index, { image: 'docker.io/library/nginx', tag: 'latest' })).toEqual([
      'shop/web[app]',
    ]);
    index.remove({ kind: 'Deployment', namespace: 'shop', name: 'web' });
    expect(index.stats()).toEqual({ workloads: 0, images: 0, skippedContainers: 0 });
  });

  it('moves a workload to its new image on update', () => {
    const index = new ImageIndex();
    index.upsert(deployment('web', { app: 'nginx:1.26' }));
    index.upsert(deployment('web', { app: 'nginx:1.27' }));
    expect(names(index, { image: 'docker.io/library/nginx', tag: '1.26' })).toEqual([]);
    expect(names(index, { image: 'docker.io/library/nginx', tag: '1.27' })).toEqual([
      'shop/web[app]',
    ]);
    expect(index.stats()).toEqual({ workloads: 1, images: 1, skippedContainers: 0 });
  });

  it('does not count an update with the same containers as a change', () => {
    const index = new ImageIndex();
    let changes = 0;
    index.onChange(() => (changes += 1));
    index.upsert(deployment('web', { app: 'nginx' }));
    expect(index.upsert(deployment('web', { app: 'nginx' })).changed).toBe(false);
    expect(changes).toBe(1);
  });

  it('keeps workloads of other kinds and namespaces apart', () => {
    const index = new ImageIndex();
    index.upsert(deployment('web', { app: 'nginx' }));
    index.upsert({ ...deployment('web', { app: 'nginx' }), kind: 'StatefulSet' });
    index.upsert(deployment('web', { app: 'nginx' }, 'other'));
    expect(
      index.lookup({ image: 'docker.io/library/nginx', tag: 'latest' }).map((m) => m.kind),
    ).toEqual(['Deployment', 'Deployment', 'StatefulSet']);
    index.replaceKind('Deployment', [deployment('api', { app: 'nginx' })]);
    expect(names(index, { image: 'docker.io/library/nginx', tag: 'latest' })).toEqual([
      'shop/api[app]',
      'shop/web[app]',
    ]);
    expect(index.has({ kind: 'StatefulSet', namespace: 'shop', name: 'web' })).toBe(true);
  });
});

describe('ImageIndex snapshot', () => {
  it('round-trips through its JSON', () => {
    const index = new ImageIndex();
    index.upsert(deployment('web', { app: 'nginx:1.27', bad: 'UPPER CASE' }));
    index.upsert(deployment('pinned', { app: `nginx@${DIGEST}` }, 'ops'));
    const copy = ImageIndex.deserialize(index.serialize());
    expect(copy.stats()).toEqual(index.stats());
    expect(names(copy, { image: 'docker.io/library/nginx', tag: '1.27' })).toEqual([
      'shop/web[app]',
    ]);
    expect(names(copy, { image: 'docker.io/library/nginx', digest: DIGEST })).toEqual([
      'ops/pinned[app]',
    ]);
    expect(copy.serialize()).toBe(index.serialize());
  });

  it("keeps each workload's wave, with or without a policy", () => {
    const index = new ImageIndex();
    index.upsert({ ...deployment('web', { app: 'nginx:1.27' }), wave: 2 });
    index.upsert({ ...deployment('pinned', { app: 'nginx:1.27' }, 'ops'), policy: 'pin', wave: 0 });
    index.upsert(deployment('plain', { app: 'nginx:1.27' }, 'dev'));
    const copy = ImageIndex.deserialize(index.serialize());
    const waves = copy
      .lookup({ image: 'docker.io/library/nginx', tag: '1.27' })
      .map((m) => [m.namespace, m.name, m.wave]);
    expect(waves).toEqual([
      ['dev', 'plain', undefined],
      ['ops', 'pinned', 0],
      ['shop', 'web', 2],
    ]);
    expect(copy.serialize()).toBe(index.serialize());
    // an older snapshot (no wave) still loads
    const old = ImageIndex.deserialize(
      '{"v":1,"w":[["Deployment","a","b",[["app","nginx:1"]],"pin"]]}',
    );
    expect(old.stats().workloads).toBe(1);
  });

  it('rejects a snapshot that is not one and keeps its content', () => {
    const index = new ImageIndex();
    index.upsert(deployment('web', { app: 'nginx' }));
    expect(() => index.restore('{"v":2,"w":[]}')).toThrow();
    expect(() => index.restore('not json')).toThrow();
    expect(index.stats().workloads).toBe(1);
  });
});
