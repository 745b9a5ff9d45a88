import { describe, expect, it } from 'vitest';
import { KINDS, templateContainers } from './kinds.js';
import {
  acceptsTag,
  counts,
  globPattern,
  MAX_PATTERN_LENGTH,
  parseCooldown,
  parsePolicy,
  readSettings,
  waveNumber,
  retagged,
} from './policy.js';

describe('onpush.dev/policy', () => {
  it('reads restart (default), pin and the tag policies; names what is wrong', () => {
    expect(parsePolicy(undefined).kind).toBe('restart');
    expect(parsePolicy(' restart ').kind).toBe('restart');
    expect(parsePolicy('pin').kind).toBe('pin');
    expect(parsePolicy('semver:^1.2').kind).toBe('semver');
    expect(parsePolicy('glob:1.*').kind).toBe('glob');
    expect(parsePolicy('regex:^v\\d+$').kind).toBe('regex');
    expect(parsePolicy('semver:').kind).toBe('invalid');
    expect(parsePolicy('semver:>=abc')).toMatchObject({ kind: 'invalid' });
    expect(parsePolicy('regex:(')).toMatchObject({ kind: 'invalid' });
    expect(parsePolicy('force')).toMatchObject({ kind: 'invalid', text: 'force' });
  });

  it('semver moves to a greater version in the range, from a version only', () => {
    const p = parsePolicy('semver:^1.2');
    expect(acceptsTag(p, '1.2', '1.3.0')).toBe(true);
    expect(acceptsTag(p, '1.2.5', '1.2.4')).toBe(false); // older
    expect(acceptsTag(p, '1.2.5', '2.0.0')).toBe(false); // outside
    expect(acceptsTag(p, '1.2.5', '1.3.0-rc.1')).toBe(false); // a pre-release
    expect(acceptsTag(p, 'latest', '1.3.0')).toBe(false); // from no version
    expect(acceptsTag(p, '1.2.5', '1.2.5')).toBe(false); // the same tag: a restart, not a move
  });

  it('glob matches the whole tag; regex as written', () => {
    expect(globPattern('1.*-alpine').test('1.27.3-alpine')).toBe(true);
    expect(globPattern('1.?').test('1.27')).toBe(false);
    expect(globPattern('v1.+').test('v1.+')).toBe(true);
    expect(acceptsTag(parsePolicy('glob:release-*'), 'release-1', 'release-2')).toBe(true);
    expect(acceptsTag(parsePolicy('glob:release-*'), 'release-1', 'main-2')).toBe(false);
    expect(acceptsTag(parsePolicy('regex:^build-\\d+$'), 'build-1', 'build-22')).toBe(true);
    expect(acceptsTag(parsePolicy('regex:^build-\\d+$'), 'build-1', 'build-x')).toBe(false);
    expect(acceptsTag(parsePolicy('pin'), '1.2', '1.3')).toBe(false);
    expect(acceptsTag(parsePolicy('restart'), '1.2', '1.3')).toBe(false);
  });
});

describe('tag patterns run in linear time', () => {
  // A backtracking engine takes hours on these (2^40 ways to split the tag); RE2 answers at once.
  it('a pattern that backtracks catastrophically answers a 40+ character tag at once', () => {
    const tag = `${'a'.repeat(48)}!`;
    const started = performance.now();
    expect(acceptsTag(parsePolicy('regex:^(\\w+)+$'), '1', tag)).toBe(false);
    expect(acceptsTag(parsePolicy('regex:^(a|aa)+$'), '1', tag)).toBe(false);
    expect(acceptsTag(parsePolicy('regex:^(a*)*b$'), '1', tag)).toBe(false);
    expect(acceptsTag(parsePolicy('glob:*a*a*a*a*a*a*a*a*a*a*b'), '1', tag)).toBe(false);
    expect(acceptsTag(parsePolicy('regex:^(\\w+)+$'), '1', 'a'.repeat(48))).toBe(true);
    expect(performance.now() - started).toBeLessThan(500);
  }, 2_000);

  it('what RE2 does not take is an invalid policy, reported with the annotation', () => {
    for (const re of ['(a)\\1', '(?=v)\\d+', '(?!rc)', '(?<=v)1', 'a{1001}', '[z-a]', '(']) {
      expect(parsePolicy(`regex:${re}`)).toMatchObject({ kind: 'invalid', text: `regex:${re}` });
    }
    expect(readSettings({ 'onpush.dev/policy': 'regex:^(?=v)' }).problems).toEqual([
      expect.stringMatching(/^onpush\.dev\/policy: .*unsupported Perl syntax/),
    ]);
  });

  it(`a pattern longer than ${MAX_PATTERN_LENGTH} characters is an invalid policy`, () => {
    const long = 'a'.repeat(MAX_PATTERN_LENGTH + 1);
    for (const kind of ['regex', 'glob', 'semver']) {
      expect(parsePolicy(`${kind}:${long}`)).toMatchObject({
        kind: 'invalid',
        error: `${kind}: the pattern is longer than ${MAX_PATTERN_LENGTH} characters`,
      });
    }
    expect(parsePolicy(`regex:${'a'.repeat(MAX_PATTERN_LENGTH)}`).kind).toBe('regex');
  });

  it('glob metacharacters of RE2 are literal', () => {
    expect(globPattern('v1.(x)|[y]\\*').test('v1.(x)|[y]\\anything')).toBe(true);
    expect(globPattern('v1.(x)').test('v1a(x)')).toBe(false);
    expect(globPattern('*').test('')).toBe(true);
  });
});

describe('workload settings', () => {
  it('reads every annotation, and lists the ones it cannot read', () => {
    const settings = readSettings({
      'onpush.dev/policy': 'semver:~2.1',
      'onpush.dev/containers': 'app, sidecar',
      'onpush.dev/cooldown': '1h30m',
      'onpush.dev/delay': '10m',
      'onpush.dev/dry-run': 'True',
      'onpush.dev/notify': 'ops,shop-slack',
      'onpush.dev/wave': ' 2 ',
      'onpush.dev/soak': '5m',
      'onpush.dev/approval': 'Required',
      'onpush.dev/rollback': 'auto',
    });
    expect(settings).toMatchObject({
      rollbackAuto: true,
      approvalRequired: true,
      wave: 2,
      soakMs: 300_000,
      policy: { kind: 'semver', text: 'semver:~2.1' },
      containers: ['app', 'sidecar'],
      cooldownMs: 5_400_000,
      delayMs: 600_000,
      dryRun: true,
      notify: ['ops', 'shop-slack'],
      problems: [],
    });
    expect(counts(settings, 'app')).toBe(true);
    expect(counts(settings, 'migrate')).toBe(false);
    const defaults = readSettings(undefined);
    expect(defaults).toMatchObject({ policy: { kind: 'restart' }, dryRun: false, problems: [] });
    expect(counts(defaults, 'anything')).toBe(true);
    expect(readSettings({ 'onpush.dev/containers': '*' }).containers).toBeUndefined();
    expect(readSettings({ 'onpush.dev/delay': '0s' }).delayMs).toBe(0);
    expect(readSettings({ 'onpush.dev/delay': 'later' }).problems).toEqual([
      'onpush.dev/delay: "later" is not a duration such as 10m',
    ]);
    expect(readSettings({ 'onpush.dev/wave': 'prod', 'onpush.dev/soak': 'a while' })).toMatchObject(
      {
        wave: undefined,
        soakMs: undefined,
        problems: [
          'onpush.dev/wave: "prod" is not a wave number such as 1',
          'onpush.dev/soak: "a while" is not a duration such as 5m',
        ],
      },
    );
    expect(
      readSettings({ 'onpush.dev/cooldown': 'soon', 'onpush.dev/policy': 'x' }).problems,
    ).toHaveLength(2);
  });

  it('reads a declared wave name as its place in WAVES, and says which names there are', () => {
    const names = ['staging', 'canary', 'prod'];
    expect(readSettings({ 'onpush.dev/wave': 'canary' }, names).wave).toBe(2);
    expect(readSettings({ 'onpush.dev/wave': ' 7 ' }, names).wave).toBe(7);
    expect(readSettings({ 'onpush.dev/wave': 'qa' }, names).problems).toEqual([
      'onpush.dev/wave: "qa" is not a wave number such as 1 or one of WAVES (staging, canary, prod)',
    ]);
    expect(waveNumber('prod', names)).toBe(3);
    expect(waveNumber('prod')).toBeUndefined();
  });

  it('leaves approval and rollback undecided when a workload says nothing, so defaults can apply', () => {
    expect(readSettings({})).toMatchObject({
      approvalRequired: undefined,
      rollbackAuto: undefined,
    });
    expect(
      readSettings({ 'onpush.dev/approval': 'none', 'onpush.dev/rollback': 'none' }),
    ).toMatchObject({ approvalRequired: false, rollbackAuto: false });
  });

  it('reads cooldowns', () => {
    expect(parseCooldown('30s')).toBe(30_000);
    expect(parseCooldown('1.5m')).toBe(90_000);
    expect(parseCooldown('1d')).toBe(86_400_000);
    expect(parseCooldown('250ms')).toBe(250);
    expect(parseCooldown('10')).toBeUndefined();
    expect(parseCooldown('-1m')).toBeUndefined();
  });

  it('rewrites an image to a tag or a pinned tag, keeping its spelling', () => {
    const digest = `sha256:${'c'.repeat(64)}`;
    expect(retagged('nginx:1.27', '1.27', digest)).toBe(`nginx:1.27@${digest}`);
    expect(retagged(`nginx:1.27@sha256:${'a'.repeat(64)}`, '1.27', digest)).toBe(
      `nginx:1.27@${digest}`,
    );
    expect(retagged('localhost:5000/app:1.2', '1.3')).toBe('localhost:5000/app:1.3');
    expect(retagged('localhost:5000/app', 'latest', digest)).toBe(
      `localhost:5000/app:latest@${digest}`,
    );
  });
});

describe('kinds', () => {
  it("finds a CronJob's containers in its job template, init containers first", () => {
    const cronJob = {
      spec: {
        jobTemplate: {
          spec: {
            template: {
              spec: {
                initContainers: [{ name: 'proxy', image: 'envoy:1' }],
                containers: [{ name: 'job', image: 'app:1' }, { name: 'noimage' }],
              },
            },
          },
        },
      },
    };
    expect(templateContainers(KINDS.CronJob, cronJob)).toEqual([
      { name: 'proxy', image: 'envoy:1', init: true },
      { name: 'job', image: 'app:1', init: false },
    ]);
    expect(templateContainers(KINDS.Deployment, {})).toEqual([]);
  });
});
