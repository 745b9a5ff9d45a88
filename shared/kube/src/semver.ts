// Semantic versions of image tags and the range syntax of node-semver (npm), small and
// hand-written: comparators (<, <=, >, >=, =), x-ranges (1.x, 1.2.*, *), tilde (~1.2), caret
// (^1.2.3, ^0.2), hyphen ranges (1.2 - 2.3), AND by spaces and OR by `||`. Tags may carry a `v`
// and may be partial: `v1.2` is 1.2.0. A pre-release (1.3.0-rc.1) satisfies a range only when
// one of its comparators names a pre-release of the same 1.3.0, as npm decides.

export interface Version {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly prerelease: readonly (string | number)[];
}

const NUMBER = '0|[1-9]\\d*';
const IDENT = '[0-9A-Za-z-]+';
const TAG = new RegExp(
  `^v?(${NUMBER})(?:\\.(${NUMBER}))?(?:\\.(${NUMBER}))?(?:-(${IDENT}(?:\\.${IDENT})*))?(?:\\+${IDENT}(?:\\.${IDENT})*)?$`,
);

function identifiers(text: string | undefined): (string | number)[] {
  if (text === undefined) return [];
  return text.split('.').map((id) => (/^\d+$/.test(id) ? Number(id) : id));
}

/** The version a tag names (`1.2.3`, `v1.2`, `2.0.0-rc.1+build.5`), or undefined. */
export function parseVersion(tag: string): Version | undefined {
  const m = TAG.exec(tag);
  if (m === null) return undefined;
  const [major, minor, patch] = [m[1], m[2], m[3]].map((n) => Number(n ?? 0));
  if (![major, minor, patch].every((n) => Number.isSafeInteger(n))) return undefined;
  return { major: major!, minor: minor!, patch: patch!, prerelease: identifiers(m[4]) };
}

function compareIds(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Negative when a < b, 0 when equal (build metadata aside), positive when a > b. */
export function compareVersions(a: Version, b: Version): number {
  const core = a.major - b.major || a.minor - b.minor || a.patch - b.patch;
  if (core !== 0) return core;
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    return b.prerelease.length - a.prerelease.length;
  }
  for (let i = 0; i < Math.max(a.prerelease.length, b.prerelease.length); i += 1) {
    const [x, y] = [a.prerelease[i], b.prerelease[i]];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const order = compareIds(x, y);
    if (order !== 0) return order;
  }
  return 0;
}

type Operator = '<' | '<=' | '>' | '>=' | '=';

interface Comparator {
  readonly op: Operator;
  readonly version: Version;
}

/** A parsed range: any of its sets, each a conjunction of comparators. */
export type Range = readonly (readonly Comparator[])[];

/** A range that cannot be read; says which part. */
export class RangeSyntaxError extends Error {
  override readonly name = 'RangeSyntaxError';
  readonly type = 'invalid_range';
  readonly retryable = false;
}

const X = '[xX*]';
const PART = `(?:${NUMBER}|${X})`;
const PARTIAL = new RegExp(
  `^v?(${PART})(?:\\.(${PART}))?(?:\\.(${PART}))?(?:-(${IDENT}(?:\\.${IDENT})*))?(?:\\+${IDENT}(?:\\.${IDENT})*)?$`,
);

/** A version with wildcards: undefined parts are x (or absent). */
interface Partial {
  readonly major?: number;
  readonly minor?: number;
  readonly patch?: number;
  readonly prerelease: readonly (string | number)[];
}

function parsePartial(text: string): Partial {
  if (text === '') return { prerelease: [] };
  const m = PARTIAL.exec(text);
  if (m === null) throw new RangeSyntaxError(`"${text}" is not a version`);
  const num = (s: string | undefined) =>
    s === undefined || /^[xX*]$/.test(s) ? undefined : Number(s);
  const [major, minor, patch] = [num(m[1]), num(m[2]), num(m[3])];
  const out: { major?: number; minor?: number; patch?: number; prerelease: (string | number)[] } = {
    prerelease: identifiers(m[4]),
  };
  if (major === undefined) return out;
  out.major = major;
  if (minor === undefined) return out;
  out.minor = minor;
  if (patch !== undefined) out.patch = patch;
  return out;
}

const v = (major: number, minor = 0, patch = 0, prerelease: readonly (string | number)[] = []) => ({
  major,
  minor,
  patch,
  prerelease,
});
/** The lowest version at `major.minor.patch`: below every pre-release of it. */
const floor = (major: number, minor = 0, patch = 0): Version => v(major, minor, patch, [0]);
const cmp = (op: Operator, version: Version): Comparator => ({ op, version });
const ANY: Comparator[] = [cmp('>=', v(0))];

/** The first version above everything `p` covers (`1.2` → 1.3.0-0). */
function above(p: Partial): Version | undefined {
  if (p.major === undefined) return undefined;
  if (p.minor === undefined) return floor(p.major + 1);
  if (p.patch === undefined) return floor(p.major, p.minor + 1);
  return undefined;
}

function lowest(p: Partial): Version {
  return v(p.major ?? 0, p.minor ?? 0, p.patch ?? 0, p.patch === undefined ? [] : p.prerelease);
}

function tilde(p: Partial): Comparator[] {
  if (p.major === undefined) return ANY;
  const upper = p.minor === undefined ? floor(p.major + 1) : floor(p.major, p.minor + 1);
  return [cmp('>=', lowest(p)), cmp('<', upper)];
}

function caret(p: Partial): Comparator[] {
  if (p.major === undefined) return ANY;
  const { major, minor, patch } = p;
  let upper: Version;
  if (major > 0 || minor === undefined) upper = floor(major + 1);
  else if (minor > 0 || patch === undefined) upper = floor(0, minor + 1);
  else upper = floor(0, 0, patch + 1);
  return [cmp('>=', lowest(p)), cmp('<', upper)];
}

function primitive(op: Operator, p: Partial): Comparator[] {
  const upper = above(p);
  if (p.major === undefined) return op === '<' || op === '>' ? [cmp('<', v(0, 0, 0, [0]))] : ANY;
  if (upper === undefined) return [cmp(op, lowest(p))];
  switch (op) {
    case '=':
      return [cmp('>=', lowest(p)), cmp('<', upper)];
    case '>':
      return [cmp('>=', upper)];
    case '<=':
      return [cmp('<', upper)];
    default:
      return [cmp(op, lowest(p))];
  }
}

const COMPARATOR = /^(<=|>=|<|>|=|~>?|\^)?\s*(\S*)$/;

function comparator(token: string): Comparator[] {
  const m = COMPARATOR.exec(token);
  if (m === null) throw new RangeSyntaxError(`"${token}" is not a comparator`);
  const p = parsePartial(m[2] ?? '');
  const op = m[1];
  if (op === '^') return caret(p);
  if (op?.startsWith('~')) return tilde(p);
  return primitive((op ?? '=') as Operator, p);
}

function hyphen(from: string, to: string): Comparator[] {
  const low = parsePartial(from);
  const high = parsePartial(to);
  const upper = above(high);
  const top = upper === undefined ? cmp('<=', lowest(high)) : cmp('<', upper);
  return [cmp('>=', lowest(low)), ...(high.major === undefined ? [] : [top])];
}

function comparatorSet(text: string): Comparator[] {
  const hyphenated = /^(\S+)\s+-\s+(\S+)$/.exec(text);
  if (hyphenated) return hyphen(hyphenated[1]!, hyphenated[2]!);
  // `>= 1.2` is one comparator: glue an operator to the version that follows it.
  const tokens = text
    .replace(/(<=|>=|<|>|=|~>?|\^)\s+/g, '$1')
    .split(/\s+/)
    .filter(Boolean);
  return tokens.length === 0 ? ANY : tokens.flatMap(comparator);
}

/** Parses a range such as `^1.2`, `~1.2.3 || >=2.0.0 <3`, `1.x`; throws RangeSyntaxError. */
export function parseRange(text: string): Range {
  return text.split('||').map((set) => comparatorSet(set.trim()));
}

function test(c: Comparator, version: Version): boolean {
  const order = compareVersions(version, c.version);
  switch (c.op) {
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
    default:
      return order === 0;
  }
}

const sameCore = (a: Version, b: Version) =>
  a.major === b.major && a.minor === b.minor && a.patch === b.patch;

function setAllows(set: readonly Comparator[], version: Version): boolean {
  if (!set.every((c) => test(c, version))) return false;
  if (version.prerelease.length === 0) return true;
  return set.some((c) => c.version.prerelease.length > 0 && sameCore(c.version, version));
}

/** True when `version` is in `range`. */
export function satisfies(version: Version, range: Range): boolean {
  return range.some((set) => setAllows(set, version));
}
