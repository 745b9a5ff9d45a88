// What a workload asks of onpush through its own annotations (metadata.annotations of the
// Deployment, StatefulSet, ... — not of its pod template): the update policy, which containers
// count, a cooldown, dry run and where to notify. Pure: the resolver reads them from its watch,
// the restarter from the GET it makes anyway. docs/workloads.md has the table.
import { splitReference } from '@onpush/contracts';
import { RE2JS } from 're2js';
import { ANNOTATIONS } from './restart.js';
import { compareVersions, parseRange, parseVersion, satisfies, type Range } from './semver.js';

export type Policy =
  | { readonly kind: 'restart' }
  | { readonly kind: 'pin' }
  | { readonly kind: 'semver'; readonly text: string; readonly range: Range }
  | { readonly kind: 'glob' | 'regex'; readonly text: string; readonly pattern: TagPattern }
  | { readonly kind: 'invalid'; readonly text: string; readonly error: string };

export type PolicyKind = Policy['kind'];

/**
 * A compiled tag pattern. It runs on an RE2 engine, whose matching time is linear in the tag
 * whatever the pattern: a workload's annotation is input from whoever can edit the workload, and
 * a backtracking engine would let `^(\w+)+$` stall the resolver and the restarter.
 */
export interface TagPattern {
  test(tag: string): boolean;
}

/** The longest pattern a tag policy (semver, glob, regex) may have; a longer one is invalid. */
export const MAX_PATTERN_LENGTH = 256;

/** `*` any run of characters, `?` one character; everything else literal; the whole tag. */
export function globPattern(glob: string): TagPattern {
  const body = glob
    .split(/([*?])/)
    .map((part) => (part === '*' ? '.*' : part === '?' ? '.' : RE2JS.quote(part)))
    .join('');
  const re = RE2JS.compile(body, RE2JS.DOTALL);
  return { test: (tag) => re.testExact(tag) };
}

/**
 * A regular expression in RE2 syntax, matched anywhere in the tag (anchor it with `^...$`).
 * Throws on what RE2 does not take: backreferences, lookahead and lookbehind, possessive or
 * atomic groups, a malformed pattern.
 */
export function regexPattern(source: string): TagPattern {
  const re = RE2JS.compile(source);
  return { test: (tag) => re.test(tag) };
}

function invalid(text: string, error: string): Policy {
  return { kind: 'invalid', text, error };
}

/** The policy an `onpush.dev/policy` value names; absent or empty is `restart`. */
export function parsePolicy(value: string | undefined): Policy {
  const text = value?.trim() ?? '';
  if (text === '' || text === 'restart') return { kind: 'restart' };
  if (text === 'pin') return { kind: 'pin' };
  const colon = text.indexOf(':');
  const [kind, arg] = colon < 0 ? [text, ''] : [text.slice(0, colon), text.slice(colon + 1)];
  if (arg.trim() === '' && ['semver', 'glob', 'regex'].includes(kind)) {
    return invalid(text, `${kind}: needs a pattern`);
  }
  if (arg.length > MAX_PATTERN_LENGTH && ['semver', 'glob', 'regex'].includes(kind)) {
    return invalid(text, `${kind}: the pattern is longer than ${MAX_PATTERN_LENGTH} characters`);
  }
  try {
    if (kind === 'semver') return { kind, text, range: parseRange(arg.trim()) };
    if (kind === 'glob') return { kind, text, pattern: globPattern(arg.trim()) };
    if (kind === 'regex') return { kind, text, pattern: regexPattern(arg) };
  } catch (error) {
    return invalid(text, error instanceof Error ? error.message : String(error));
  }
  return invalid(text, 'expected restart, pin, semver:<range>, glob:<pattern> or regex:<re>');
}

/** True for the policies that move a container to another tag (Keel's). */
export function isTagPolicy(policy: Policy): boolean {
  return policy.kind === 'semver' || policy.kind === 'glob' || policy.kind === 'regex';
}

/**
 * Whether a push of tag `pushed` moves a container that runs tag `current` (another tag) under
 * `policy`: semver — both tags are versions, the pushed one is in the range and greater; glob and
 * regex — the pushed tag matches (which push is newer is the restarter's pushed-at guard).
 */
export function acceptsTag(policy: Policy, current: string | undefined, pushed: string): boolean {
  if (pushed === current) return false;
  if (policy.kind === 'glob' || policy.kind === 'regex') return policy.pattern.test(pushed);
  if (policy.kind !== 'semver') return false;
  const to = parseVersion(pushed);
  const from = current === undefined ? undefined : parseVersion(current);
  if (to === undefined || from === undefined) return false;
  return compareVersions(to, from) > 0 && satisfies(to, policy.range);
}

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** `30s`, `10m`, `1h30m`, `1d`: milliseconds, or undefined when it is not a duration. */
export function parseCooldown(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const m of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) {
    total += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0);
  }
  return Math.round(total);
}

export interface WorkloadSettings {
  readonly policy: Policy;
  /** `onpush.dev/containers`: the names that count; undefined = every container. */
  readonly containers: readonly string[] | undefined;
  /** `onpush.dev/cooldown`: least time between two restarts, ms. */
  readonly cooldownMs: number | undefined;
  /**
   * `onpush.dev/delay`: a push is applied only once it is this old (its pushed-at), ms; `0`: none,
   * whatever the default; undefined: the restarter's default (DELAY, DELAY_NAMESPACES).
   */
  readonly delayMs: number | undefined;
  /** `onpush.dev/wave`: the workload's wave (a non-negative integer); undefined: none. */
  readonly wave: number | undefined;
  /** `onpush.dev/soak`: how long its rollout must stay healthy before the next wave, ms. */
  readonly soakMs: number | undefined;
  /** `onpush.dev/rollback`: `auto` (true), `none` (false); undefined: not said (the defaults decide). */
  readonly rollbackAuto: boolean | undefined;
  /** `onpush.dev/approval`: `required` (true), `none` (false); undefined: not said (the defaults decide). */
  readonly approvalRequired: boolean | undefined;
  /** `onpush.dev/dry-run: "true"`. */
  readonly dryRun: boolean;
  /** `onpush.dev/notify`: notification target names; `none` silences; undefined = routing. */
  readonly notify: readonly string[] | undefined;
  /** Annotations that could not be read (the workload is then handled as if they were absent, except an invalid policy). */
  readonly problems: readonly string[];
}

const names = (value: string | undefined): string[] | undefined => {
  if (value === undefined) return undefined;
  const list = value
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  return list.length === 0 || list.includes('*') ? undefined : list;
};

/** `yes` → true, `none` → false; anything else (absent, empty, unreadable) → undefined. */
const choice = (text: string | undefined, yes: string): boolean | undefined =>
  text === yes ? true : text === 'none' ? false : undefined;

/**
 * A wave as `onpush.dev/wave` or WAVE_NAMESPACES spells it: a number, or one of the declared
 * names (WAVES: `staging,canary,prod` makes `staging` wave 1); undefined: neither.
 */
export function waveNumber(text: string, names: readonly string[] = []): number | undefined {
  const trimmed = text.trim();
  if (/^\d{1,6}$/.test(trimmed)) return Number(trimmed);
  const at = names.indexOf(trimmed);
  return at < 0 ? undefined : at + 1;
}

/** The settings in a workload's annotations (`waveNames`: WAVES, in order). Never throws. */
export function readSettings(
  annotations: Readonly<Record<string, string>> | undefined,
  waveNames: readonly string[] = [],
): WorkloadSettings {
  const a = annotations ?? {};
  const policy = parsePolicy(a[ANNOTATIONS.policy]);
  const problems: string[] = [];
  if (policy.kind === 'invalid') problems.push(`${ANNOTATIONS.policy}: ${policy.error}`);
  const cooldownText = a[ANNOTATIONS.cooldown];
  const cooldownMs = cooldownText === undefined ? undefined : parseCooldown(cooldownText);
  if (cooldownText !== undefined && cooldownMs === undefined) {
    problems.push(`${ANNOTATIONS.cooldown}: "${cooldownText}" is not a duration such as 10m`);
  }
  const delayText = a[ANNOTATIONS.delay];
  const delayMs = delayText === undefined ? undefined : parseCooldown(delayText);
  if (delayText !== undefined && delayMs === undefined) {
    problems.push(`${ANNOTATIONS.delay}: "${delayText}" is not a duration such as 10m`);
  }
  const waveText = a[ANNOTATIONS.wave]?.trim();
  const wave = waveText === undefined ? undefined : waveNumber(waveText, waveNames);
  if (waveText !== undefined && wave === undefined) {
    const named = waveNames.length > 0 ? ` or one of WAVES (${waveNames.join(', ')})` : '';
    problems.push(`${ANNOTATIONS.wave}: "${waveText}" is not a wave number such as 1${named}`);
  }
  const soakText = a[ANNOTATIONS.soak];
  const soakMs = soakText === undefined ? undefined : parseCooldown(soakText);
  if (soakText !== undefined && soakMs === undefined) {
    problems.push(`${ANNOTATIONS.soak}: "${soakText}" is not a duration such as 5m`);
  }
  const rollbackText = a[ANNOTATIONS.rollback]?.trim().toLowerCase();
  const rollbackAuto = choice(rollbackText, 'auto');
  if (rollbackText !== undefined && !['auto', 'none', ''].includes(rollbackText)) {
    problems.push(`${ANNOTATIONS.rollback}: "${rollbackText}" is not auto or none`);
  }
  const approvalText = a[ANNOTATIONS.approval]?.trim().toLowerCase();
  const approvalRequired = choice(approvalText, 'required');
  if (approvalText !== undefined && !['required', 'none', ''].includes(approvalText)) {
    problems.push(`${ANNOTATIONS.approval}: "${approvalText}" is not required or none`);
  }
  return {
    policy,
    containers: names(a[ANNOTATIONS.containers]),
    approvalRequired,
    rollbackAuto,
    cooldownMs,
    delayMs,
    wave,
    soakMs,
    dryRun: a[ANNOTATIONS.dryRun]?.trim().toLowerCase() === 'true',
    notify: names(a[ANNOTATIONS.notify]),
    problems,
  };
}

/** True when container `name` counts for the workload (`onpush.dev/containers`). */
export function counts(settings: Pick<WorkloadSettings, 'containers'>, name: string): boolean {
  return settings.containers === undefined || settings.containers.includes(name);
}

/** The container's image with tag `tag` (and `@digest` when given), its spelling kept. */
export function retagged(image: string, tag: string, digest?: string): string {
  const { name } = splitReference(image.trim());
  return `${name}:${tag}${digest === undefined ? '' : `@${digest}`}`;
}
