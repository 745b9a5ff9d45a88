import { describe, expect, it } from 'vitest';
import { ANNOTATIONS } from '@onpush/kube';
import { cooldownUntil, decide, type DecisionInput, type WorkloadSnapshot } from './decide.js';

const REPO = 'ghcr.io/acme/api';
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const NOW = Date.parse('2026-11-26T10:00:00Z');

function snapshot(
  settings: Record<string, string>,
  images: Record<string, string>,
  marks: Record<string, string> = {},
): WorkloadSnapshot {
  return {
    annotations: marks,
    resourceVersion: '7',
    settings,
    containers: Object.entries(images).map(([name, image]) => ({
      name,
      image,
      init: name.startsWith('init-'),
    })),
  };
}

const push = (tag: string, digest?: string, extra: Partial<DecisionInput> = {}): DecisionInput => ({
  eventId: `evt-${tag}`,
  image: REPO,
  tag,
  ...(digest !== undefined ? { digest } : {}),
  now: NOW,
  ...extra,
});

describe('decide', () => {
  it('restarts by default, and not twice for one digest', () => {
    const s = snapshot({}, { app: `${REPO}:1.2` });
    expect(decide(s, push('1.2', D1))).toEqual({
      kind: 'patch',
      images: [],
      dryRun: false,
      notify: undefined,
    });
    expect(decide({ ...s, annotations: { [ANNOTATIONS.digest]: D1 } }, push('1.2', D1))).toEqual({
      kind: 'unchanged',
    });
  });

  it('pins the counted containers that follow the pushed tag to its digest', () => {
    const s = snapshot(
      { [ANNOTATIONS.policy]: 'pin', [ANNOTATIONS.containers]: 'app,init-proxy' },
      {
        'init-proxy': `${REPO}:1.2@${D1}`,
        app: `${REPO}:1.2`,
        debug: `${REPO}:1.2`,
        other: `${REPO}:1.3`,
      },
    );
    expect(decide(s, push('1.2', D2))).toMatchObject({
      kind: 'patch',
      images: [
        { container: 'init-proxy', init: true, from: `${REPO}:1.2@${D1}`, to: `${REPO}:1.2@${D2}` },
        { container: 'app', init: false, from: `${REPO}:1.2`, to: `${REPO}:1.2@${D2}` },
      ],
    });
    const pinned = snapshot({ [ANNOTATIONS.policy]: 'pin' }, { app: `${REPO}:1.2@${D2}` });
    expect(decide(pinned, push('1.2', D2))).toEqual({ kind: 'unchanged' });
    expect(decide(pinned, push('1.2'))).toMatchObject({ kind: 'unchanged', reason: 'no_digest' });
  });

  it('moves to a newer tag under semver, glob and regex; restarts on a re-push of its own tag', () => {
    const semver = snapshot({ [ANNOTATIONS.policy]: 'semver:^1.2' }, { app: `${REPO}:1.2.0` });
    expect(decide(semver, push('1.3.0'))).toMatchObject({
      kind: 'patch',
      images: [{ container: 'app', to: `${REPO}:1.3.0` }],
      detail: `app: ${REPO}:1.2.0 → ${REPO}:1.3.0`,
    });
    expect(decide(semver, push('1.1.0'))).toMatchObject({ kind: 'unchanged', reason: 'not_newer' });
    expect(decide(semver, push('2.0.0'))).toMatchObject({ kind: 'unchanged', reason: 'not_newer' });
    expect(decide(semver, push('1.2.0', D1))).toMatchObject({ kind: 'patch', images: [] });
    const glob = snapshot({ [ANNOTATIONS.policy]: 'glob:v1.*' }, { app: `${REPO}:v1.0` });
    expect(decide(glob, push('v1.9'))).toMatchObject({ images: [{ to: `${REPO}:v1.9` }] });
    const regex = snapshot({ [ANNOTATIONS.policy]: 'regex:^main-' }, { app: `${REPO}:main-a` });
    expect(decide(regex, push('main-b'))).toMatchObject({ images: [{ to: `${REPO}:main-b` }] });
    expect(decide(regex, push('dev-b'))).toMatchObject({ reason: 'not_newer' });
  });

  it('ends unchanged with a reason: not running, invalid policy, superseded, cooldown', () => {
    const gone = snapshot({ [ANNOTATIONS.policy]: 'pin' }, { app: 'ghcr.io/acme/other:1.2' });
    expect(decide(gone, push('1.2', D1))).toMatchObject({ reason: 'not_running' });
    const invalid = snapshot({ [ANNOTATIONS.policy]: 'semver:nope' }, { app: `${REPO}:1` });
    expect(decide(invalid, push('2'))).toMatchObject({ reason: 'invalid_policy' });
    const later = snapshot(
      {},
      { app: `${REPO}:1.2` },
      { [ANNOTATIONS.pushedAt]: '2026-11-26T09:59:00Z' },
    );
    expect(decide(later, push('1.2', D2, { pushedAt: '2026-11-26T09:58:00Z' }))).toEqual({
      kind: 'unchanged',
      reason: 'superseded',
    });
    const recent = snapshot(
      { [ANNOTATIONS.cooldown]: '10m' },
      { app: `${REPO}:1.2` },
      { [ANNOTATIONS.restartedAt]: '2026-11-26T09:55:00Z' },
    );
    expect(decide(recent, push('1.2', D2))).toEqual({
      kind: 'unchanged',
      reason: 'cooldown',
      detail: 'cooldown until 2026-11-26T10:05:00.000Z',
    });
    expect(
      decide(recent, push('1.2', D2, { now: Date.parse('2026-11-26T10:05:00Z') })),
    ).toMatchObject({
      kind: 'patch',
    });
  });

  it('only says what it would do in a dry run (global or per workload), and carries notify', () => {
    const s = snapshot({ [ANNOTATIONS.notify]: 'ops' }, { app: `${REPO}:1.2` });
    expect(decide(s, push('1.2', D1, { dryRun: true }))).toMatchObject({
      dryRun: true,
      notify: ['ops'],
    });
    const own = snapshot({ [ANNOTATIONS.dryRun]: 'true' }, { app: `${REPO}:1.2` });
    expect(decide(own, push('1.2', D1))).toMatchObject({ kind: 'patch', dryRun: true });
  });

  it('asks for an approval and plans a rollback by default where a workload says nothing', () => {
    const plain = snapshot({}, { app: `${REPO}:1.2` });
    const defaults = { defaultApproval: true, defaultRollback: true };
    expect(decide(plain, push('1.2', D1, defaults))).toMatchObject({
      kind: 'hold',
      approval: true,
    });
    expect(decide(plain, push('1.2', D1, { ...defaults, approved: true }))).toMatchObject({
      kind: 'patch',
      rollback: expect.anything() as object,
    });
    // a workload's own `none` wins over the defaults
    const own = snapshot(
      { [ANNOTATIONS.approval]: 'none', [ANNOTATIONS.rollback]: 'none' },
      { app: `${REPO}:1.2` },
    );
    const decided = decide(own, push('1.2', D1, defaults));
    expect(decided).toMatchObject({ kind: 'patch' });
    expect(decided).not.toHaveProperty('rollback');
    expect(decide(plain, push('1.2', D1))).not.toHaveProperty('rollback');
  });

  it('leaves alone a workload whose containers already name a digest-only push', () => {
    const fixed = snapshot({}, { app: `${REPO}@${D1}` });
    const digestOnly = { eventId: 'evt-d', image: REPO, digest: D1, now: NOW };
    expect(decide(fixed, digestOnly)).toMatchObject({ kind: 'unchanged' });
    expect(decide(fixed, { ...digestOnly, digest: D2 })).toMatchObject({ kind: 'patch' });
  });

  it('knows when a cooldown ends', () => {
    const marks = { [ANNOTATIONS.restartedAt]: '2026-11-26T09:59:00Z' };
    expect(cooldownUntil(marks, 120_000, NOW)?.toISOString()).toBe('2026-11-26T10:01:00.000Z');
    expect(cooldownUntil(marks, 60_000, NOW)).toBeUndefined();
    expect(cooldownUntil({}, 60_000, NOW)).toBeUndefined();
    expect(cooldownUntil(marks, undefined, NOW)).toBeUndefined();
  });
});
