import { assign, fromPromise, setup } from 'xstate';
import type { WorkloadRef } from '@onpush/contracts';
import {
  decide,
  namespaceRefusal,
  type Decision,
  type HeldPush,
  type ImageChange,
  type RefusedReason,
  type RollbackPlan,
  type RestartScope,
  type UnchangedReason,
  type WorkloadSnapshot,
} from './decide.js';
import type { Turn } from './budget.js';

export {
  alreadyRestarted,
  supersededBy,
  type TemplateAnnotations,
  type WorkloadSnapshot,
} from './decide.js';

/** What the restart writes, besides the time (the effect stamps it when it sends the PATCH). */
export interface RestartMarkInput {
  eventId: string;
  digest?: string | undefined;
  /** The push's own time (ISO 8601), when the source gave one. */
  pushedAt?: string | undefined;
}

export interface PatchInput extends RestartMarkInput {
  /** On a rollback: the push it undoes, written as `onpush.dev/rolled-back`. */
  rolledBack?: string | undefined;
  /** From the GET the decision was made on; the API server refuses the PATCH if it changed since. */
  resourceVersion: string | undefined;
  /** Containers moved to another image (pin, semver/glob/regex); none: a plain restart. */
  images?: readonly ImageChange[] | undefined;
  /** The object as read (for kinds patched by JSON merge patch, whose arrays go whole). */
  source?: unknown;
}

/** What a PATCH tells: when its response arrived and the object's new generation. */
export interface Patched {
  respondedAt: Date;
  generation?: number | undefined;
  /** The workload as the PATCH's response showed it, when it carried the object. */
  snapshot?: WorkloadSnapshot;
}

/** How one API call goes. */
export interface CallOptions {
  /** Its rate-limiter token was already taken (by the coalescer, when the restart's turn came). */
  prepaid?: boolean;
}

/** The Kubernetes side of one restart, supplied with `.provide()` (real API or fakes). */
export interface RestartEffects {
  /** GET the workload. Rejects with `status: 404` when it is gone. */
  read(workload: WorkloadRef, options?: CallOptions): Promise<WorkloadSnapshot>;
  /** PATCH the restart (and image changes) onto the workload. */
  patch(workload: WorkloadRef, patch: PatchInput, options?: CallOptions): Promise<Patched>;
}

export interface RestartInput extends RestartMarkInput {
  workload: WorkloadRef;
  /**
   * The workload as the resolver's watch saw it. When given, the machine decides on it and PATCHes
   * at once (conditionally, on its resourceVersion); only a PATCH may follow from this view: any
   * other conclusion (unchanged, dry run, image changes) is confirmed by a GET first, and a 409
   * sends the machine to read.
   */
  observed?: WorkloadSnapshot | undefined;
  /** The pushed image (normalized name) and tag, for the policies that move containers. */
  image?: string | undefined;
  tag?: string | undefined;
  /** The containers the request names (those that run the pushed repository). */
  containers?: readonly string[] | undefined;
  /**
   * What the restarter may touch (the resolver's scope): checked on the object before any PATCH,
   * the namespace before any API call. Unset: no check (unit tests of the policy alone).
   */
  scope?: RestartScope | undefined;
  /** ONPUSH_DRY_RUN: decide, patch nothing. */
  dryRun?: boolean | undefined;
  /** The latest push held for this workload and image (maturity delay), read when it matters. */
  newerHeld?: HeldPush | undefined;
  /** The maturity delay where the workload names none (DELAY, DELAY_NAMESPACES). */
  defaultDelayMs?: number | undefined;
  /** Someone approved this push for the workload (`onpush.dev/approval: required`). */
  approved?: boolean | undefined;
  /** Approval and rollback where the workload says nothing (APPROVAL*, ROLLBACK*). */
  defaultApproval?: boolean | undefined;
  defaultRollback?: boolean | undefined;
  /** A rollout budget applies: the PATCH waits for a slot. */
  budgeted?: boolean | undefined;
  /** The request's place in the rollout budget's line (its stream sequence). */
  ticket?: number | undefined;
  /** The clock of the cooldown (default Date.now). */
  now?: (() => number) | undefined;
  /** Options for the next API call, given to the `read` and `patch` actors (e.g. prepaid). */
  calls?: CallCredit | undefined;
}

/** Hands out the options of each API call in turn (one restart's calls). */
export interface CallCredit {
  next(): CallOptions;
}

/** How the restart of one workload ended; `failed` carries the error for the broker to judge. */
export type RestartOutput =
  | {
      fate: 'restarted';
      respondedAt: Date;
      generation?: number | undefined;
      detail?: string | undefined;
      notify?: readonly string[] | undefined;
      /** Under `onpush.dev/rollback: auto`: how to undo it if its rollout fails. */
      rollback?: RollbackPlan | undefined;
    }
  | { fate: 'unchanged'; reason?: UnchangedReason; detail?: string | undefined }
  | { fate: 'would-restart'; detail?: string | undefined }
  | { fate: 'refused'; reason: RefusedReason; detail?: string | undefined }
  /**
   * Not yet: the push waits for the workload's maturity delay until `until`, or for someone's
   * approval (`approval`); then it is decided again.
   */
  | {
      fate: 'held';
      until?: Date | undefined;
      approval?: true;
      /** Waiting for a slot of the rollout budget: ask again after this many ms. */
      budget?: number | undefined;
      detail?: string | undefined;
    }
  | { fate: 'gone' }
  | { fate: 'failed'; error: unknown };

interface RestartContext extends RestartInput {
  snapshot: WorkloadSnapshot;
  /** True while the snapshot is the watch's view (not yet confirmed by a GET). */
  fromWatch: boolean;
  decision: Decision;
  conflicts: number;
  output: RestartOutput | undefined;
}

/** Re-reads after a 409 before the conflict goes to the broker as a retryable failure. */
export const MAX_CONFLICT_REREADS = 3;

/** Wait before re-reading after conflict number `n` (1-based): 10, 20, 40 ms. */
export function conflictDelayMs(n: number): number {
  return 10 * 2 ** Math.max(0, n - 1);
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
const planned = (d: Decision) => (d.kind === 'patch' ? d : undefined);

/** A plain restart (no image change, not a dry run): the one decision the watch's view may lead to. */
const plainRestart = (d: Decision) => d.kind === 'patch' && !d.dryRun && d.images.length === 0;

/** The decision on what was just read (decide.ts): pure, the clock from the input. */
const decisionOn = (context: RestartContext, snapshot: WorkloadSnapshot): Decision =>
  decide(snapshot, {
    ...context,
    namespace: context.workload.namespace,
    now: (context.now ?? Date.now)(),
  });

/** A namespace out of the scope: refused at once, before any API call. */
const outsideOf = (context: RestartInput) =>
  namespaceRefusal({ scope: context.scope, namespace: context.workload.namespace });

/**
 * Restarting ONE workload: a namespace out of the scope → refused at once; viewing (the
 * resolver's view of the workload, carried by the request) → deciding, or reading (GET) →
 * deciding (decide.ts: scope and opt-in — refused —, policy, marks, cooldown, dry run)
 * → patching (conditional on the resourceVersion seen) → restarted; → unchanged (with a reason
 * when there is one: superseded, cooldown, not_newer, ...); → wouldRestart in a dry run; → gone
 * on a 404 from either call; → conflicted on a 409, which reads again after a short delay (a
 * concurrent restart may have made this one moot); → failed with the API error otherwise. A
 * decision on the carried view may only PATCH (a plain restart); anything else, and a 409 on that
 * PATCH, reads first: the view saves the GET on the hot path and can never cause a wrong outcome.
 * Policy only: effects come from `.provide()`, and whether a failure is retryable is the error's own.
 */
export const restartMachine = setup({
  types: {
    context: {} as RestartContext,
    input: {} as RestartInput,
    output: {} as RestartOutput,
  },
  actors: {
    read: fromPromise<WorkloadSnapshot, { workload: WorkloadRef; calls?: CallCredit | undefined }>(
      notProvided,
    ),
    patch: fromPromise<
      Patched,
      { workload: WorkloadRef; patch: PatchInput; calls?: CallCredit | undefined }
    >(notProvided),
    /** A slot of the rollout budget for this restart, or how long to wait for one. */
    acquire: fromPromise<
      Turn,
      { workload: WorkloadRef; eventId: string; ticket: number | undefined }
    >(() => Promise.resolve({ granted: true })),
  },
  guards: {
    outOfNamespace: ({ context }) => outsideOf(context) !== undefined,
    observed: ({ context }) => context.observed !== undefined,
    refused: ({ context }) => context.decision.kind === 'refused',
    // A hold is not a conclusion (the push is decided again when it ends): the view suffices.
    unconfirmed: ({ context }) =>
      context.fromWatch && !plainRestart(context.decision) && context.decision.kind !== 'hold',
    held: ({ context }) => context.decision.kind === 'hold',
    staleView: ({ context }, params: { error: unknown }) =>
      context.fromWatch && isConflict(params.error),
    unchanged: ({ context }) => context.decision.kind === 'unchanged',
    dryRun: ({ context }) => planned(context.decision)?.dryRun === true,
    notFound: (_, params: { error: unknown }) => isNotFound(params.error),
    granted: (_, params: { turn: Turn }) => params.turn.granted,
    budgeted: ({ context }) => context.budgeted === true,
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
    fromWatch: false,
    decision: { kind: 'unchanged' },
    conflicts: 0,
    output: undefined,
  }),
  initial: 'viewing',
  states: {
    viewing: {
      always: [
        {
          guard: 'outOfNamespace',
          target: 'refused',
          actions: assign(({ context }) => ({ decision: outsideOf(context) ?? context.decision })),
        },
        {
          guard: 'observed',
          target: 'deciding',
          actions: assign(({ context }) => {
            const snapshot = context.observed ?? context.snapshot;
            return { snapshot, fromWatch: true, decision: decisionOn(context, snapshot) };
          }),
        },
        { target: 'reading' },
      ],
    },
    reading: {
      invoke: {
        src: 'read',
        input: ({ context }) => ({ workload: context.workload, calls: context.calls }),
        onDone: {
          target: 'deciding',
          actions: assign(({ context, event }) => ({
            snapshot: event.output,
            fromWatch: false,
            decision: decisionOn(context, event.output),
          })),
        },
        onError: [
          { guard: { type: 'notFound', params: errorOf }, target: 'gone' },
          { target: 'failed', actions: { type: 'fail', params: errorOf } },
        ],
      },
    },
    deciding: {
      always: [
        { guard: 'unconfirmed', target: 'reading' },
        { guard: 'refused', target: 'refused' },
        { guard: 'held', target: 'held' },
        { guard: 'unchanged', target: 'unchanged' },
        { guard: 'dryRun', target: 'wouldRestart' },
        { guard: 'budgeted', target: 'budgeting' },
        { target: 'patching' },
      ],
    },
    // Under a rollout budget, a slot first: or held, in line.
    budgeting: {
      invoke: {
        src: 'acquire',
        input: ({ context }) => ({
          workload: context.workload,
          eventId: context.eventId,
          ticket: context.ticket,
        }),
        onDone: [
          {
            guard: { type: 'granted', params: ({ event }) => ({ turn: event.output }) },
            target: 'patching',
          },
          {
            target: 'held',
            actions: assign({
              decision: ({ event }) => ({
                kind: 'hold' as const,
                budget: event.output.granted ? 0 : event.output.recheckMs,
                detail: event.output.granted ? '' : event.output.detail,
              }),
            }),
          },
        ],
        onError: { target: 'failed', actions: { type: 'fail', params: errorOf } },
      },
    },
    patching: {
      invoke: {
        src: 'patch',
        input: ({ context }) => ({
          workload: context.workload,
          calls: context.calls,
          patch: {
            eventId: context.eventId,
            digest: context.digest,
            pushedAt: context.pushedAt,
            resourceVersion: context.snapshot.resourceVersion,
            ...patchExtras(context),
          },
        }),
        onDone: {
          target: 'restarted',
          actions: assign({
            output: ({ context, event }) => restarted(context.decision, event.output),
          }),
        },
        onError: [
          { guard: { type: 'notFound', params: errorOf }, target: 'gone' },
          { guard: { type: 'staleView', params: errorOf }, target: 'reading' },
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
    unchanged: {
      type: 'final',
      entry: assign({ output: ({ context }) => unchanged(context.decision) }),
    },
    wouldRestart: {
      type: 'final',
      entry: assign({
        output: ({ context }) => withDetail({ fate: 'would-restart' as const }, context.decision),
      }),
    },
    refused: {
      type: 'final',
      entry: assign({ output: ({ context }) => refusedOutput(context.decision) }),
    },
    held: {
      type: 'final',
      entry: assign({ output: ({ context }) => heldOutput(context.decision) }),
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

/** Image changes and the object, only when there are changes (a plain restart sends neither). */
function patchExtras(context: RestartContext): Partial<PatchInput> {
  const images = planned(context.decision)?.images ?? [];
  return images.length === 0 ? {} : { images, source: context.snapshot.source };
}

function withDetail<T extends object>(output: T, decision: Decision): T & { detail?: string } {
  return decision.detail === undefined ? output : { ...output, detail: decision.detail };
}

function heldOutput(decision: Decision): RestartOutput {
  if (decision.kind !== 'hold') return { fate: 'failed', error: new Error('held without a hold') };
  return {
    fate: 'held',
    until: decision.until,
    detail: decision.detail,
    ...(decision.approval ? { approval: true } : {}),
    ...(decision.budget !== undefined ? { budget: decision.budget } : {}),
  };
}

function unchanged(decision: Decision): RestartOutput {
  const reason = decision.kind === 'unchanged' ? decision.reason : undefined;
  return withDetail({ fate: 'unchanged', ...(reason !== undefined ? { reason } : {}) }, decision);
}

function refusedOutput(decision: Decision): RestartOutput {
  if (decision.kind !== 'refused') {
    return { fate: 'failed', error: new Error(`refused without a refusal (${decision.kind})`) };
  }
  return { fate: 'refused', reason: decision.reason, detail: decision.detail };
}

function restarted(decision: Decision, patched: Patched): RestartOutput {
  const notify = planned(decision)?.notify;
  const rollback = planned(decision)?.rollback;
  return withDetail(
    {
      fate: 'restarted',
      respondedAt: patched.respondedAt,
      ...(patched.generation !== undefined ? { generation: patched.generation } : {}),
      ...(notify !== undefined ? { notify } : {}),
      ...(rollback !== undefined ? { rollback } : {}),
    },
    decision,
  );
}
