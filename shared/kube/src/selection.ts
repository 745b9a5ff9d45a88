// Which workloads onpush may touch: opted in (by label, or by annotation) unless
// ONPUSH_SELECT=all, in the allowed namespaces and not the excluded ones, and matching the
// operator's label selector. The resolver has the API server filter what it can (labels, excluded
// namespaces) and checks the rest on every object its watch brings; the restarter checks all of
// it again on the object it is about to patch (matchesSelector evaluates the selector itself).
import { ANNOTATIONS, LABELS } from './restart.js';

/** `labelled`: only workloads that opted in; `all`: every workload. */
export type Selection = 'labelled' | 'all';

export interface Scope {
  readonly select: Selection;
  /** How a workload opts in: the label `onpush.dev/enabled=true` or that annotation. */
  readonly optIn: 'label' | 'annotation';
  /** Allowed namespaces; empty: every namespace. */
  readonly namespaces: readonly string[];
  /** Namespaces never touched. */
  readonly exclude: readonly string[];
  /** A label selector every workload must also match, e.g. `team=web,tier!=batch`. */
  readonly selector?: string | undefined;
}

export function scopeOf(selection: Selection | Scope): Scope {
  if (typeof selection !== 'string') return selection;
  return { select: selection, optIn: 'label', namespaces: [], exclude: [] };
}

/** The label selector the API server applies: the opt-in label (when by label) and the operator's. */
export function labelSelector(selection: Selection | Scope): string | undefined {
  const scope = scopeOf(selection);
  const parts: string[] = [];
  if (scope.select === 'labelled' && scope.optIn === 'label') parts.push(`${LABELS.enabled}=true`);
  if (scope.selector !== undefined && scope.selector.trim() !== '')
    parts.push(scope.selector.trim());
  return parts.length === 0 ? undefined : parts.join(',');
}

/** The field selector of a cluster-wide watch: the excluded namespaces. */
export function fieldSelector(scope: Scope): string | undefined {
  if (scope.namespaces.length > 0 || scope.exclude.length === 0) return undefined;
  return scope.exclude.map((ns) => `metadata.namespace!=${ns}`).join(',');
}

/** One watch per allowed namespace, or one cluster-wide (`undefined`). */
export function watchedNamespaces(scope: Scope): (string | undefined)[] {
  return scope.namespaces.length > 0 ? [...scope.namespaces] : [undefined];
}

export function namespaceInScope(scope: Scope, namespace: string): boolean {
  if (scope.exclude.includes(namespace)) return false;
  return scope.namespaces.length === 0 || scope.namespaces.includes(namespace);
}

interface Metadata {
  labels?: Readonly<Record<string, string>> | undefined;
  annotations?: Readonly<Record<string, string>> | undefined;
}

/** True when the workload opted in as the scope asks (always, with ONPUSH_SELECT=all). */
export function optedIn(scope: Scope, metadata: Metadata | undefined): boolean {
  if (scope.select === 'all') return true;
  const marks = scope.optIn === 'label' ? metadata?.labels : metadata?.annotations;
  const key = scope.optIn === 'label' ? LABELS.enabled : ANNOTATIONS.enabled;
  return marks?.[key] === 'true';
}

/** One requirement of a label selector. */
export type Requirement =
  | { readonly key: string; readonly op: 'exists' | 'absent' }
  | { readonly key: string; readonly op: 'in' | 'notin'; readonly values: readonly string[] };

const KEY = String.raw`[A-Za-z0-9][A-Za-z0-9_./-]*`;
const VALUE = String.raw`[A-Za-z0-9_.-]*`;
const EXISTS = new RegExp(`^(${KEY})$`);
const ABSENT = new RegExp(String.raw`^!\s*(${KEY})$`);
const EQUALS = new RegExp(String.raw`^(${KEY})\s*(==|=|!=)\s*(${VALUE})$`);
const SET = new RegExp(String.raw`^(${KEY})\s+(in|notin)\s*\(([^()]*)\)$`);
const SET_VALUE = new RegExp(`^${VALUE}$`);

/** The terms of a selector: split at the commas outside parentheses. */
function terms(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i += 1) {
    const ch = selector[i];
    if (ch === '(') depth += 1;
    else if (ch === ')') depth -= 1;
    else if (ch === ',' && depth === 0) {
      out.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  out.push(selector.slice(start));
  return out.map((t) => t.trim());
}

function requirement(term: string): Requirement {
  const absent = ABSENT.exec(term);
  if (absent) return { key: absent[1] ?? '', op: 'absent' };
  const exists = EXISTS.exec(term);
  if (exists) return { key: exists[1] ?? '', op: 'exists' };
  const equals = EQUALS.exec(term);
  if (equals) {
    const values = [equals[3] ?? ''];
    return { key: equals[1] ?? '', op: equals[2] === '!=' ? 'notin' : 'in', values };
  }
  const set = SET.exec(term);
  const values = set?.[3]?.split(',').map((v) => v.trim());
  if (set && values?.every((v) => SET_VALUE.test(v))) {
    return { key: set[1] ?? '', op: set[2] === 'notin' ? 'notin' : 'in', values };
  }
  throw new Error(`"${term}" is not a label requirement such as team=web or tier notin (batch)`);
}

/**
 * A label selector as kubectl takes it (`key`, `!key`, `key=value`, `key==value`, `key!=value`,
 * `key in (a,b)`, `key notin (a,b)`, joined by commas). Throws when it is not one.
 */
export function parseSelector(selector: string): readonly Requirement[] {
  if (selector.trim() === '') return [];
  return terms(selector).map(requirement);
}

/** True when `labels` meet every requirement (`!=` and `notin` hold when the label is absent). */
export function matchesSelector(
  requirements: readonly Requirement[],
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  return requirements.every((r) => {
    const value = labels?.[r.key];
    switch (r.op) {
      case 'exists':
        return value !== undefined;
      case 'absent':
        return value === undefined;
      case 'in':
        return value !== undefined && r.values.includes(value);
      case 'notin':
        return value === undefined || !r.values.includes(value);
    }
  });
}
