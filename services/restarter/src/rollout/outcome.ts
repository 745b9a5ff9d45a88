import type { Outcome, RestartRequest, WorkloadRef } from '@onpush/contracts';
import type { RolloutResult } from './machine.js';

/** One rollout to follow: the restart that started it. */
export interface TrackRequest {
  readonly workload: WorkloadRef;
  readonly eventId: string;
  readonly image: string;
  readonly tag?: string | undefined;
  readonly digest?: string | undefined;
  /** The object's generation the PATCH left (0 when unknown). */
  readonly generation: number;
  /** When the PATCH response arrived: the rollout's start. */
  readonly respondedAt: Date;
  /** `onpush.dev/notify` of the workload, as read. */
  readonly notify?: readonly string[] | undefined;
  /** The traceparent of the request (the push's trace): its rollout's notification carries it. */
  readonly traceparent?: string | undefined;
}

export function trackRequest(
  request: RestartRequest,
  restarted: {
    respondedAt: Date;
    generation?: number | undefined;
    notify?: readonly string[] | undefined;
  },
  trace?: { readonly traceparent?: string | undefined },
): TrackRequest {
  const { kind, namespace, name } = request.workload;
  return {
    workload: { kind, namespace, name },
    eventId: request.eventId,
    image: request.image,
    tag: request.tag,
    digest: request.digest,
    generation: restarted.generation ?? 0,
    respondedAt: restarted.respondedAt,
    notify: restarted.notify,
    ...(trace?.traceparent !== undefined ? { traceparent: trace.traceparent } : {}),
  };
}

export type Ended = Extract<RolloutResult, { end: 'completed' | 'failed' }>;

/** `rollout-completed` / `rollout-failed`, with the rollout's duration (restart to end). */
export function rolloutOutcome(req: TrackRequest, result: Ended, at: Date): Outcome {
  return {
    v: 1,
    eventId: req.eventId,
    fate: result.end === 'completed' ? 'rollout-completed' : 'rollout-failed',
    stage: 'restarter',
    workload: req.workload,
    image: req.image,
    ...(req.tag !== undefined ? { tag: req.tag } : {}),
    ...(req.digest !== undefined ? { digest: req.digest } : {}),
    ...(result.end === 'failed' ? { reason: result.reason } : {}),
    detail: result.detail,
    durationMs: Math.max(0, at.getTime() - req.respondedAt.getTime()),
    at: at.toISOString(),
  };
}

/** One rollout outcome per (event, workload), whichever it is. */
export function rolloutMsgId(req: Pick<TrackRequest, 'eventId' | 'workload'>): string {
  const { kind, namespace, name } = req.workload;
  return `${req.eventId}:${kind}/${namespace}/${name}:rollout`;
}
