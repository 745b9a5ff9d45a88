// Where each workload kind lives in the API and where its pod template is: one table for the
// resolver (list + watch), the restarter (GET, PATCH) and the rollout tracker (watch).
import type { ObservedWorkload, WorkloadKind } from '@onpush/contracts';
import { ANNOTATIONS } from './restart.js';

export interface KindSpec {
  readonly kind: WorkloadKind;
  /** `apps`, `batch`, `argoproj.io`. */
  readonly group: string;
  readonly version: string;
  /** The resource name in URLs and RBAC rules. */
  readonly plural: string;
  /** Path from the object to its pod template. */
  readonly templatePath: readonly string[];
  /**
   * How a PATCH is sent: built-in kinds take a strategic-merge patch (containers merge by name);
   * a custom resource only a JSON merge patch (arrays are replaced whole).
   */
  readonly patch: 'strategic' | 'merge';
  /**
   * Where onpush keeps its marks (digest, event id, pushed-at, restartedAt): on the pod template
   * (a change there is the rollout) or on the object's own metadata (Argo Rollouts restart
   * through `spec.restartAt`; a template annotation would be a second, full rollout).
   */
  readonly marks: 'template' | 'object';
  /** How a plain restart is asked for: the restartedAt annotation, or `spec.restartAt`. */
  readonly restart: 'annotation' | 'restartAt';
  /** False when nothing rolls out after a PATCH (a CronJob's next run takes the template). */
  readonly rollsOut: boolean;
}

const templated = (kind: WorkloadKind, group: string, plural: string): KindSpec => ({
  kind,
  group,
  version: 'v1',
  plural,
  templatePath: ['spec', 'template'],
  patch: 'strategic',
  marks: 'template',
  restart: 'annotation',
  rollsOut: true,
});

export const KINDS: Readonly<Record<WorkloadKind, KindSpec>> = {
  Deployment: templated('Deployment', 'apps', 'deployments'),
  StatefulSet: templated('StatefulSet', 'apps', 'statefulsets'),
  DaemonSet: templated('DaemonSet', 'apps', 'daemonsets'),
  CronJob: {
    ...templated('CronJob', 'batch', 'cronjobs'),
    templatePath: ['spec', 'jobTemplate', 'spec', 'template'],
    rollsOut: false,
  },
  Rollout: {
    kind: 'Rollout',
    group: 'argoproj.io',
    version: 'v1alpha1',
    plural: 'rollouts',
    templatePath: ['spec', 'template'],
    patch: 'merge',
    marks: 'object',
    restart: 'restartAt',
    rollsOut: true,
  },
};

/** `/apis/<group>/<version>[/namespaces/<ns>]/<plural>`: a collection, in one or all namespaces. */
export function collectionPath(spec: KindSpec, namespace?: string): string {
  const scope = namespace === undefined ? '' : `/namespaces/${encodeURIComponent(namespace)}`;
  return `/apis/${spec.group}/${spec.version}${scope}/${spec.plural}`;
}

/** The path of one object. */
export function objectPath(spec: KindSpec, namespace: string, name: string): string {
  return `${collectionPath(spec, namespace)}/${encodeURIComponent(name)}`;
}

/** The value at `path` inside `object`, when every step is an object. */
export function dig(object: unknown, path: readonly string[]): unknown {
  let at: unknown = object;
  for (const step of path) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<string, unknown>)[step];
  }
  return at;
}

/** `{a: {b: value}}` for path `['a', 'b']`. */
export function nest(path: readonly string[], value: unknown): Record<string, unknown> {
  return path.reduceRight<unknown>((inner, step) => ({ [step]: inner }), value) as Record<
    string,
    unknown
  >;
}

/** A container of a pod template; `init` for init containers (native sidecars among them). */
export interface TemplateContainer {
  readonly name: string;
  readonly image: string;
  readonly init: boolean;
}

interface RawContainer {
  name?: unknown;
  image?: unknown;
}

function containersAt(template: unknown, field: string, init: boolean): TemplateContainer[] {
  const list = dig(template, ['spec', field]);
  if (!Array.isArray(list)) return [];
  return (list as RawContainer[]).flatMap((c) =>
    typeof c.name === 'string' && typeof c.image === 'string' && c.image !== ''
      ? [{ name: c.name, image: c.image, init }]
      : [],
  );
}

/** Init containers (native sidecars among them) first, then the app containers. */
export function templateContainers(spec: KindSpec, object: unknown): TemplateContainer[] {
  const template = dig(object, spec.templatePath);
  return [
    ...containersAt(template, 'initContainers', true),
    ...containersAt(template, 'containers', false),
  ];
}

/** The annotations onpush writes on each restart (kept where the kind keeps its marks). */
const MARK_KEYS: readonly string[] = [
  ANNOTATIONS.restartedAt,
  ANNOTATIONS.digest,
  ANNOTATIONS.eventId,
  ANNOTATIONS.pushedAt,
  ANNOTATIONS.rolledBack,
];

/** What a restart decision needs from an object: its version, marks, settings and containers. */
export interface WorkloadView {
  readonly resourceVersion: string | undefined;
  /** onpush's marks: the pod template's annotations (the object's own for Argo Rollouts). */
  readonly marks: Readonly<Record<string, string>>;
  /** The object's own annotations. */
  readonly settings: Readonly<Record<string, string>>;
  readonly containers: readonly TemplateContainer[];
  /** The object's labels (opt-in, label selector); undefined when the view does not carry them. */
  readonly labels?: Readonly<Record<string, string>> | undefined;
}

type Annotations = Record<string, string> | undefined;

/** The whole view of `object` (every annotation kept): what a GET tells. */
export function viewOf(spec: KindSpec, object: unknown): WorkloadView {
  const settings = (dig(object, ['metadata', 'annotations']) as Annotations) ?? {};
  const marks =
    spec.marks === 'object'
      ? settings
      : ((dig(object, [...spec.templatePath, 'metadata', 'annotations']) as Annotations) ?? {});
  const resourceVersion = dig(object, ['metadata', 'resourceVersion']);
  return {
    resourceVersion: typeof resourceVersion === 'string' ? resourceVersion : undefined,
    marks,
    settings,
    containers: templateContainers(spec, object),
    labels: (dig(object, ['metadata', 'labels']) as Annotations) ?? {},
  };
}

const pick = (from: Readonly<Record<string, string>>, keep: (key: string) => boolean) =>
  Object.fromEntries(Object.entries(from).filter(([key]) => keep(key)));

/**
 * The compact view of `object` that a RestartRequest carries (only onpush's marks and `onpush.dev/`
 * settings, and the labels the restarter checks the scope on), or undefined without a resourceVersion (nothing to make the PATCH conditional on).
 */
export function compactViewOf(spec: KindSpec, object: unknown): ObservedWorkload | undefined {
  const view = viewOf(spec, object);
  if (view.resourceVersion === undefined) return undefined;
  return {
    resourceVersion: view.resourceVersion,
    marks: pick(view.marks, (key) => MARK_KEYS.includes(key)),
    settings: pick(view.settings, (key) => key.startsWith('onpush.dev/')),
    containers: view.containers.map((c) => ({ ...c })),
    labels: { ...view.labels },
  };
}
