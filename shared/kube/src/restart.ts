/** Pod-template annotations onpush writes; `restartedAt` is kubectl's own, so a restart looks like `kubectl rollout restart`. */
export const ANNOTATIONS = {
  restartedAt: 'kubectl.kubernetes.io/restartedAt',
  digest: 'onpush.dev/digest',
  eventId: 'onpush.dev/event-id',
  /** When the push restarted last was made (the restarter never goes back to an older one). */
  pushedAt: 'onpush.dev/pushed-at',
  // Set by people on the workload's own metadata (docs/workloads.md):
  /** Opt-in when ONPUSH_OPT_IN=annotation: `"true"`. */
  enabled: 'onpush.dev/enabled',
  /** `restart` (default), `pin`, `semver:<range>`, `glob:<pattern>`, `regex:<re>`. */
  policy: 'onpush.dev/policy',
  /** Comma-separated names of the containers that count (default: all, init and sidecars too). */
  containers: 'onpush.dev/containers',
  /** Least time between two restarts of the workload, e.g. `10m`. */
  cooldown: 'onpush.dev/cooldown',
  /** Maturity delay: a push is applied only once it is this old, e.g. `10m` (latest wins). */
  delay: 'onpush.dev/delay',
  /**
   * The workload's wave, a number: for one push, wave n+1 is restarted only once every workload
   * of wave n finished its rollout healthy (and soaked). Without it: restarted at once.
   */
  wave: 'onpush.dev/wave',
  /** How long a wave's workloads must stay healthy after their rollout before the next wave, e.g. `5m`. */
  soak: 'onpush.dev/soak',
  /**
   * `required`: a restart waits until someone approves it (`onpush approve`, the /approvals API),
   * ends `rejected` if someone rejects it, `expired` if nobody decides in time (APPROVAL_TIMEOUT).
   */
  approval: 'onpush.dev/approval',
  /**
   * `auto`: when a rollout onpush started fails, onpush puts the workload back on what it ran
   * before (the previous image, or the previous digest pinned) and marks it `rolled-back`.
   */
  rollback: 'onpush.dev/rollback',
  /** Set by onpush where it keeps its marks: the push (digest, else event id) it rolled back. */
  rolledBack: 'onpush.dev/rolled-back',
  /** `"true"`: decide as usual, patch nothing, end `would-restart`. */
  dryRun: 'onpush.dev/dry-run',
  /** Comma-separated notification target names, or `none`. */
  notify: 'onpush.dev/notify',
} as const;

export const LABELS = {
  /** Opt-in (the default, ONPUSH_OPT_IN=label): `"true"`. */
  enabled: 'onpush.dev/enabled',
} as const;

export interface RestartMark {
  at: Date;
  eventId: string;
  digest?: string | undefined;
  /** The push's own time, ISO 8601, when the source gave one. */
  pushedAt?: string | undefined;
  /** On a rollback: the push it undoes (its digest, else its event id). */
  rolledBack?: string | undefined;
}

/**
 * The field manager every write of onpush names (as `kubectl rollout restart` names its own), so
 * `kubectl get -o yaml --show-managed-fields` and server-side apply tools see who owns the marks.
 */
export const FIELD_MANAGER = 'onpush';

/** `path` with `fieldManager=onpush` in its query. */
export function managedBy(path: string): string {
  return `${path}${path.includes('?') ? '&' : '?'}fieldManager=${FIELD_MANAGER}`;
}

/** RFC 3339 to the second, as kubectl writes restartedAt. */
export function restartTime(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The annotations of a restart: kubectl's restartedAt, plus onpush's digest, event id, pushed-at. */
export function restartMarks(mark: RestartMark): Record<string, string> {
  const annotations: Record<string, string> = {
    [ANNOTATIONS.restartedAt]: restartTime(mark.at),
    [ANNOTATIONS.eventId]: mark.eventId,
  };
  if (mark.digest) annotations[ANNOTATIONS.digest] = mark.digest;
  if (mark.pushedAt) annotations[ANNOTATIONS.pushedAt] = mark.pushedAt;
  if (mark.rolledBack) annotations[ANNOTATIONS.rolledBack] = mark.rolledBack;
  return annotations;
}

/** The strategic-merge patch `kubectl rollout restart` sends, plus onpush's digest and event id. */
export function restartPatch(mark: RestartMark): {
  spec: { template: { metadata: { annotations: Record<string, string> } } };
} {
  return { spec: { template: { metadata: { annotations: restartMarks(mark) } } } };
}
