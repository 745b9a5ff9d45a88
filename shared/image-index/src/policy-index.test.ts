import { describe, expect, it } from 'vitest';
import { ImageIndex, type IndexedWorkload, type LookupQuery } from './index-store.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const REPO = 'ghcr.io/acme/api';

function workload(
  name: string,
  containers: Record<string, string>,
  policy?: string,
  kind: IndexedWorkload['kind'] = 'Deployment',
): IndexedWorkload {
  return {
    kind,
    namespace: 'shop',
    name,
    containers: Object.entries(containers).map(([c, image]) => ({ name: c, image })),
    ...(policy !== undefined ? { policy } : {}),
  };
}

function found(index: ImageIndex, query: LookupQuery): string[] {
  return index.lookup(query).map((m) => `${m.name}[${m.containers.join(',')}]`);
}

describe('ImageIndex with policies', () => {
  const index = new ImageIndex();
  index.upsert(workload('plain', { app: `${REPO}:1.2.0` }));
  index.upsert(workload('pinned', { app: `${REPO}:1.2.0@${DIGEST}` }, 'pin'));
  index.upsert(workload('fixed', { app: `${REPO}:1.2.0@${DIGEST}` }));
  index.upsert(workload('semver', { app: `${REPO}:1.2.0`, proxy: 'envoy:1' }, 'semver:^1.2'));
  index.upsert(workload('glob', { app: `${REPO}:release-7` }, 'glob:release-*'));
  index.upsert(workload('regex', { app: `${REPO}:build-7` }, 'regex:^build-\\d+$'));
  index.upsert(workload('broken', { app: `${REPO}:1.2.0` }, 'semver:>=nope'));
  index.upsert(workload('cron', { job: `${REPO}:1.2.0` }, undefined, 'CronJob'));

  it('finds restart and pin workloads by the tag they follow, pinned or not', () => {
    expect(found(index, { image: REPO, tag: '1.2.0', digest: DIGEST })).toEqual([
      'cron[job]',
      'pinned[app]',
      'plain[app]',
      'semver[app]',
    ]);
  });

  it('finds a tag-policy workload through its repository when the policy accepts the tag', () => {
    expect(found(index, { image: REPO, tag: '1.3.0' })).toEqual(['semver[app]']);
    expect(found(index, { image: REPO, tag: '2.0.0' })).toEqual([]);
    expect(found(index, { image: REPO, tag: '1.1.9' })).toEqual([]);
    expect(found(index, { image: REPO, tag: 'release-8' })).toEqual(['glob[app]']);
    expect(found(index, { image: REPO, tag: 'build-8' })).toEqual(['regex[app]']);
    expect(found(index, { image: REPO, tag: 'latest' })).toEqual([]);
  });

  it('matches a digest-only push only where a container names that digest and no pin follows a tag', () => {
    expect(found(index, { image: REPO, digest: DIGEST })).toEqual(['fixed[app]']);
    expect(found(index, { image: REPO, digest: `sha256:${'f'.repeat(64)}` })).toEqual([]);
  });

  it('keeps an invalid policy, matching nothing; reports it', () => {
    const fresh = new ImageIndex();
    expect(fresh.upsert(workload('broken', { app: `${REPO}:1` }, 'regex:(')).invalid).toMatch(
      /regex|Invalid|Unterminated/i,
    );
    expect(fresh.stats().workloads).toBe(1);
    expect(found(fresh, { image: REPO, tag: '1' })).toEqual([]);
  });

  it('changes when only the policy changes, and snapshots it', () => {
    const fresh = new ImageIndex();
    fresh.upsert(workload('api', { app: `${REPO}:1.2.0` }));
    const before = fresh.version;
    expect(fresh.upsert(workload('api', { app: `${REPO}:1.2.0` }, 'semver:~1.2')).changed).toBe(
      true,
    );
    expect(fresh.version).toBe(before + 1);
    const copy = ImageIndex.deserialize(fresh.serialize());
    expect(found(copy, { image: REPO, tag: '1.2.7' })).toEqual(['api[app]']);
    const old = JSON.stringify({
      v: 1,
      w: [['Deployment', 'shop', 'api', [['app', `${REPO}:1`]]]],
    });
    expect(found(ImageIndex.deserialize(old), { image: REPO, tag: '1' })).toEqual(['api[app]']);
  });

  it('restores only what the configuration still selects', () => {
    const copy = new ImageIndex();
    copy.restore(index.serialize(), (id) => id.kind === 'CronJob');
    expect(copy.stats().workloads).toBe(1);
  });

  it('replaces one namespace of a kind without touching the others', () => {
    const fresh = new ImageIndex();
    fresh.upsert({ ...workload('a', { app: 'nginx' }), namespace: 'one' });
    fresh.upsert({ ...workload('b', { app: 'nginx' }), namespace: 'two' });
    fresh.replaceKind('Deployment', [], 'one');
    expect(found(fresh, { image: 'docker.io/library/nginx', tag: 'latest' })).toEqual(['b[app]']);
  });
});
