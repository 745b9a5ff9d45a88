import { describe, expect, it } from 'vitest';
import {
  compareVersions,
  parseRange,
  parseVersion,
  satisfies,
  RangeSyntaxError,
} from './semver.js';

const allows = (range: string, tag: string): boolean => {
  const version = parseVersion(tag);
  if (version === undefined) throw new Error(`not a version: ${tag}`);
  return satisfies(version, parseRange(range));
};

describe('image tags as versions', () => {
  it('reads full, partial, v-prefixed, pre-release and build tags', () => {
    expect(parseVersion('1.2.3')).toEqual({ major: 1, minor: 2, patch: 3, prerelease: [] });
    expect(parseVersion('v1.2')).toEqual({ major: 1, minor: 2, patch: 0, prerelease: [] });
    expect(parseVersion('2')).toEqual({ major: 2, minor: 0, patch: 0, prerelease: [] });
    expect(parseVersion('1.0.0-rc.1+build.7')?.prerelease).toEqual(['rc', 1]);
    for (const tag of ['latest', '1.2.3.4', '01.2', 'v', '1.2-', 'main-abc123', ''])
      expect(parseVersion(tag), tag).toBeUndefined();
  });

  it('orders versions as SemVer 2.0 does', () => {
    const sorted = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.1',
      '1.1.0',
      '2.0.0',
      '10.0.0',
    ];
    const shuffled = [...sorted].reverse();
    shuffled.sort((a, b) => compareVersions(parseVersion(a)!, parseVersion(b)!));
    expect(shuffled).toEqual(sorted);
    expect(compareVersions(parseVersion('1.2.3+a')!, parseVersion('1.2.3+b')!)).toBe(0);
  });
});

describe('ranges, as npm reads them', () => {
  const cases: [string, string[], string[]][] = [
    ['^1.2.3', ['1.2.3', '1.9.0', '1.2.10'], ['1.2.2', '2.0.0', '2.0.0-rc.1', '1.3.0-rc.1']],
    ['^0.2.3', ['0.2.3', '0.2.9'], ['0.3.0', '0.2.2']],
    ['^0.0.3', ['0.0.3'], ['0.0.4']],
    ['^1.2', ['1.2.0', '1.99.0'], ['2.0.0', '1.1.9']],
    ['^0.x', ['0.0.1', '0.9.9'], ['1.0.0']],
    ['~1.2.3', ['1.2.3', '1.2.99'], ['1.3.0', '1.2.2']],
    ['~1.2', ['1.2.0', '1.2.5'], ['1.3.0']],
    ['~1', ['1.0.0', '1.9.9'], ['2.0.0']],
    ['1.x', ['1.0.0', '1.5.5'], ['2.0.0', '0.9.0']],
    ['1.2.*', ['1.2.0', '1.2.9'], ['1.3.0']],
    ['*', ['0.0.1', '9.9.9'], ['1.0.0-rc.1']],
    ['', ['1.0.0'], []],
    ['>=1.2.3 <2', ['1.2.3', '1.99.0'], ['2.0.0', '1.2.2']],
    ['>= 1.2.3 < 2', ['1.5.0'], ['2.0.0']],
    ['>1.2', ['1.3.0'], ['1.2.9']],
    ['<=1.2', ['1.2.9', '0.1.0'], ['1.3.0']],
    ['<1.2', ['1.1.9'], ['1.2.0']],
    ['=1.2.3', ['1.2.3'], ['1.2.4']],
    ['1.2.3', ['1.2.3'], ['1.2.4']],
    ['1.2.3 - 2.3.4', ['1.2.3', '2.3.4'], ['2.3.5', '1.2.2']],
    ['1.2 - 2.3', ['1.2.0', '2.3.9'], ['2.4.0']],
    ['^1.0.0 || ^3.0.0', ['1.5.0', '3.1.0'], ['2.0.0']],
    ['>=1.3.0-rc.1 <1.4.0', ['1.3.0-rc.1', '1.3.0-rc.2', '1.3.0'], ['1.3.0-beta', '1.4.0-rc.1']],
    ['~1.2.3-beta.2', ['1.2.3-beta.2', '1.2.3-beta.4', '1.2.5'], ['1.2.4-beta.2', '1.2.3-beta.1']],
  ];
  for (const [range, inside, outside] of cases) {
    it(`"${range}"`, () => {
      for (const tag of inside) expect(allows(range, tag), `${tag} in ${range}`).toBe(true);
      for (const tag of outside) expect(allows(range, tag), `${tag} not in ${range}`).toBe(false);
    });
  }

  it('refuses what is not a range', () => {
    for (const bad of ['>=abc', '1.2.3.4', '^^1', '~> 1.x.y'])
      expect(() => parseRange(bad), bad).toThrow(RangeSyntaxError);
  });

  // Where the hand-written reader this module had before node-semver strayed from npm.
  it('decides the edge cases as npm does', () => {
    expect(allows('>1.2', '1.3.0-rc.1')).toBe(false);
    expect(allows('>1', '2.0.0-rc.1')).toBe(false);
    for (const bad of ['1.x.3', '1.*.3', 'x.1', '>=', '^', '~'])
      expect(() => parseRange(bad), bad).toThrow(RangeSyntaxError);
    // SemVer 2.0: a numeric pre-release identifier has no leading zero.
    expect(parseVersion('1.2.3-01')).toBeUndefined();
    expect(parseVersion('1.2.3-rc.01')).toBeUndefined();
  });
});
