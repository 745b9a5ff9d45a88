// Which workloads onpush may touch: opted in (by label, or by annotation) unless
// ONPUSH_SELECT=all, in the allowed namespaces and not the excluded ones, and matching the
// operator's label selector. What the API server can filter (labels, excluded namespaces) it
// filters; the rest (annotations) is checked here, on every object the watch brings.
import { LABELS, ANNOTATIONS } from '@onpush/kube';

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
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
}

/** True when the workload opted in as the scope asks (always, with ONPUSH_SELECT=all). */
export function optedIn(scope: Scope, metadata: Metadata | undefined): boolean {
  if (scope.select === 'all') return true;
  const marks = scope.optIn === 'label' ? metadata?.labels : metadata?.annotations;
  const key = scope.optIn === 'label' ? LABELS.enabled : ANNOTATIONS.enabled;
  return marks?.[key] === 'true';
}
