// Semantic versions of image tags, and ranges as npm reads them: both from the `semver` package
// (node-semver, npm's own). Comparators (<, <=, >, >=, =), x-ranges (1.x, 1.2.*, *), tilde (~1.2),
// caret (^1.2.3, ^0.2), hyphen ranges (1.2 - 2.3), AND by spaces and OR by `||`. Tags may carry a
// `v` and may be partial: `v1.2` is 1.2.0. A pre-release (1.3.0-rc.1) satisfies a range only when
// one of its comparators names a pre-release of the same 1.3.0, as npm decides.
import { OnpushError } from '@onpush/contracts';
import { SemVer, Range as SemverRange, compare, parse } from 'semver';

export interface Version {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly prerelease: readonly (string | number)[];
}

/** A parsed range (node-semver's). */
export type Range = SemverRange;

/** A range that cannot be read; says which part. */
export class RangeSyntaxError extends OnpushError {
  override readonly name = 'RangeSyntaxError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, type: 'invalid_range', retryable: false });
  }
}

/** `1.2` → `1.2.0`, `v2-rc.1` → `v2.0.0-rc.1`: the minor and patch a partial tag leaves out. */
function completed(tag: string): string {
  const core = /^v?\d+(?:\.\d+){0,2}/.exec(tag)?.[0];
  if (core === undefined) return tag;
  const dots = core.split('.').length - 1;
  return `${core}${'.0'.repeat(2 - dots)}${tag.slice(core.length)}`;
}

/** The version a tag names (`1.2.3`, `v1.2`, `2.0.0-rc.1+build.5`), or undefined. */
export function parseVersion(tag: string): Version | undefined {
  if (/\s/.test(tag)) return undefined; // node-semver trims; a tag has no spaces
  const version = parse(completed(tag));
  if (version === null) return undefined;
  const { major, minor, patch, prerelease } = version;
  return { major, minor, patch, prerelease: [...prerelease] };
}

function semver(v: Version): SemVer {
  const pre = v.prerelease.length === 0 ? '' : `-${v.prerelease.join('.')}`;
  return new SemVer(`${v.major}.${v.minor}.${v.patch}${pre}`);
}

/** Negative when a < b, 0 when equal (build metadata aside), positive when a > b. */
export function compareVersions(a: Version, b: Version): number {
  return compare(semver(a), semver(b));
}

/** Parses a range such as `^1.2`, `~1.2.3 || >=2.0.0 <3`, `1.x`; throws RangeSyntaxError. */
export function parseRange(text: string): Range {
  try {
    return new SemverRange(text);
  } catch (error) {
    throw new RangeSyntaxError(`"${text}" is not a range: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** True when `version` is in `range`. */
export function satisfies(version: Version, range: Range): boolean {
  return range.test(semver(version));
}
