import { assign, fromPromise, setup } from 'xstate';
import type { WorkloadRef } from '@onpush/contracts';
import { ANNOTATIONS } from '@onpush/kube';

/** A pod template's annotations, as read from the workload. */
export type TemplateAnnotations = Readonly<Record<string, string>>;

/** What a GET tells the policy about a workload. */
export interface WorkloadSnapshot {
  /** The pod template's annotations. */
  annotations: TemplateAnnotations;
  /** `metadata.resourceVersion`: the PATCH sends it back as a precondition (409 when stale). */
  resourceVersion: string | undefined;
}

/** What the restart writes, besides the time (the effect stamps it when it sends the PATCH). */
export interface RestartMarkInput {
  eventId: string;
  digest?: string | undefined;
  /** The push's own time (ISO 8601), when the source gave one. */
  pushedAt?: string | undefined;
}

export interface PatchInput extends RestartMarkInput {
  /** From the GET the decision was made on; the API server refuses the PATCH if it changed since. */
  resourceVersion: string | undefined;
}

/** The Kubernetes side of one restart, supplied with `.provide()` (real API or fakes). */
export interface RestartEffects {
  /** GET the workload. Rejects with `status: 404` when it is gone. */
  read(workload: WorkloadRef): Promise<WorkloadSnapshot>;
  /** PATCH the restart mark onto the pod template; resolves with the time the response arrived. */
  patch(workload: WorkloadRef, patch: PatchInput): Promise<Date>;
}

export interface RestartInput extends RestartMarkInput {
  workload: WorkloadRef;
}

/** How the restart of one workload ended; `failed` carries the error for the broker to judge. */
export type RestartOutput =
  | { fate: 'restarted'; respondedAt: Date }
  | { fate: 'unchanged'; reason?: 'superseded' }
  | { fate: 'gone' }
  | { fate: 'failed'; error: unknown };

interface RestartContext extends RestartInput {
  snapshot: WorkloadSnapshot;
  conflicts: number;
  output: RestartOutput | undefined;
}

/** Re-reads after a 409 before the conflict goes to the broker as a retryable failure. */
export const MAX_CONFLICT_REREADS = 3;

/** Wait before re-reading after conflict number `n` (1-based): 10, 20, 40 ms. */
export function conflictDelayMs(n: number): number {
  return 10 * 2 ** Math.max(0, n - 1);
}

/**
 * True when the pod template already carries this push: the same digest, or — for a push
 * without a digest (a tag only) — the same event id.
 */
export function alreadyRestarted(
  annotations: TemplateAnnotations,
  mark: RestartMarkInput,
): boolean {
  if (mark.digest !== undefined) return annotations[ANNOTATIONS.digest] === mark.digest;
  return annotations[ANNOTATIONS.eventId] === mark.eventId;
}

/**
 * True when the pod template already carries a push made after this one (its pushed-at
 * annotation is later): restarting would roll the workload back to an older digest. Unknown
 * when either time is missing: then the request is not judged stale.
 */
export function supersededBy(annotations: TemplateAnnotations, mark: RestartMarkInput): boolean {
  const carried = Date.parse(annotations[ANNOTATIONS.pushedAt] ?? '');
  const pushed = Date.parse(mark.pushedAt ?? '');
  return !Number.isNaN(carried) && !Number.isNaN(pushed) && carried > pushed;
}

const statusOf = (error: unknown): unknown =>
  typeof error === 'object' && error !== null ? (error as { status?: unknown }).status : undefined;

/** 404 from the API server: the workload (or its namespace) no longer exists. */
export function isNotFound(error: unknown): boolean {
  return statusOf(error) === 404;
}

/** 409 from the API server: the workload changed between our GET and our PATCH. */
export function isConflict(error: unknown): boolean {
  return statusOf(error) === 409;
}

const notProvided = (): Promise<never> => Promise.reject(new Error('effect not provided'));
const errorOf = ({ event }: { event: { error: unknown } }) => ({ error: event.error });

/**
 * Restarting ONE workload: reading (GET) → deciding → patching (strategic-merge PATCH, as
 * `kubectl rollout restart`, conditional on the resourceVersion read) → restarted; → unchanged
 * when it already carries this push; → superseded (fate `unchanged`) when it carries a later one; → gone on a 404 from either call; → conflicted on a 409,
 * which reads again after a short delay (a concurrent restart may have made this one moot);
 * → failed with the API error otherwise. Policy only: effects come from `.provide()`, and whether
 * a failure is retryable is the error's own property.
 */
export const restartMachine = setup({
  types: {
    context: {} as RestartContext,
    input: {} as RestartInput,
    output: {} as RestartOutput,
  },
  actors: {
    read: fromPromise<WorkloadSnapshot, { workload: WorkloadRef }>(notProvided),
    patch: fromPromise<Date, { workload: WorkloadRef; patch: PatchInput }>(notProvided),
  },
  guards: {
    alreadyRestarted: ({ context }) => alreadyRestarted(context.snapshot.annotations, context),
    superseded: ({ context }) => supersededBy(context.snapshot.annotations, context),
    notFound: (_, params: { error: unknown }) => isNotFound(params.error),
    mayReread: ({ context }, params: { error: unknown }) =>
      isConflict(params.error) && context.conflicts < MAX_CONFLICT_REREADS,
  },
  actions: {
    fail: assign((_, params: { error: unknown }) => ({
      output: { fate: 'failed', error: params.error } as const,
    })),
  },
  delays: {
    conflict: ({ context }) => conflictDelayMs(context.conflicts),
  },
}).createMachine({
  id: 'restart',
  context: ({ input }) => ({
    ...input,
    snapshot: { annotations: {}, resourceVersion: undefined },
    conflicts: 0,
    output: undefined,
  }),
  initial: 'reading',
  states: {
    reading: {
      invoke: {
        src: 'read',
        input: ({ context }) => ({ workload: context.workload }),
        onDone: { target: 'deciding', actions: assign({ snapshot: ({ event }) => event.output }) },
        onError: [
          { guard: { type: 'notFound', params: errorOf }, target: 'gone' },
          { target: 'failed', actions: { type: 'fail', params: errorOf } },
        ],
      },
    },
    deciding: {
      always: [
        { guard: 'alreadyRestarted', target: 'unchanged' },
        { guard: 'superseded', target: 'superseded' },
        { target: 'patching' },
      ],
    },
    patching: {
      invoke: {
        src: 'patch',
        input: ({ context }) => ({
          workload: context.workload,
          patch: {
            eventId: context.eventId,
            digest: context.digest,
            pushedAt: context.pushedAt,
            resourceVersion: context.snapshot.resourceVersion,
          },
        }),
        onDone: {
          target: 'restarted',
          actions: assign({
            output: ({ event }) => ({ fate: 'restarted', respondedAt: event.output }) as const,
          }),
        },
        onError: [
          { guard: { type: 'notFound', params: errorOf }, target: 'gone' },
          { guard: { type: 'mayReread', params: errorOf }, target: 'conflicted' },
          { target: 'failed', actions: { type: 'fail', params: errorOf } },
        ],
      },
    },
    conflicted: {
      entry: assign({ conflicts: ({ context }) => context.conflicts + 1 }),
      after: { conflict: 'reading' },
    },
    restarted: { type: 'final' },
    unchanged: { type: 'final', entry: assign({ output: { fate: 'unchanged' } }) },
    superseded: {
      type: 'final',
      entry: assign({ output: { fate: 'unchanged', reason: 'superseded' } as const }),
    },
    gone: { type: 'final', entry: assign({ output: { fate: 'gone' } }) },
    failed: { type: 'final' },
  },
  output: ({ context }) =>
    context.output ?? {
      fate: 'failed',
      error: new Error('restart machine stopped without an outcome'),
    },
});
