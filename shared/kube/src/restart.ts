/** Pod-template annotations onpush writes; `restartedAt` is kubectl's own, so a restart looks like `kubectl rollout restart`. */
export const ANNOTATIONS = {
  restartedAt: 'kubectl.kubernetes.io/restartedAt',
  digest: 'onpush.dev/digest',
  eventId: 'onpush.dev/event-id',
  /** When the push restarted last was made (the restarter never goes back to an older one). */
  pushedAt: 'onpush.dev/pushed-at',
} as const;

export const LABELS = {
  enabled: 'onpush.dev/enabled',
} as const;

export interface RestartMark {
  at: Date;
  eventId: string;
  digest?: string | undefined;
  /** The push's own time, ISO 8601, when the source gave one. */
  pushedAt?: string | undefined;
}

/** The strategic-merge patch `kubectl rollout restart` sends, plus onpush's digest and event id. */
export function restartPatch(mark: RestartMark): {
  spec: { template: { metadata: { annotations: Record<string, string> } } };
} {
  const annotations: Record<string, string> = {
    [ANNOTATIONS.restartedAt]: mark.at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    [ANNOTATIONS.eventId]: mark.eventId,
  };
  if (mark.digest) annotations[ANNOTATIONS.digest] = mark.digest;
  if (mark.pushedAt) annotations[ANNOTATIONS.pushedAt] = mark.pushedAt;
  return { spec: { template: { metadata: { annotations } } } };
}
