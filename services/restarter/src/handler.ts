import { createActor, fromPromise, toPromise } from 'xstate';
import {
  ContractError,
  HEADERS,
  approvalId,
  type Approval,
  encode,
  heldSubject,
  outcomeSubject,
  parseRestartRequest,
  type Outcome,
  type RestartRequest,
} from '@onpush/contracts';
import { ANNOTATIONS, type Scope } from '@onpush/kube';
import type { ApprovalBook } from '@onpush/nats';
import { Held, type Incoming, type Outgoing } from '@onpush/service';
import type { Histogram } from '@onpush/telemetry';
import type { CoalesceMode, MemberResult } from './coalesce.js';
import { createCoalescer } from './coalescer.js';
import {
  pushName,
  restartScope,
  snapshotFromView,
  type HeldPush,
  type RollbackPlan,
} from './decide.js';
import type { ReadRollout, ReadWorkload } from './rollout/read.js';
import type { Budget } from './budget.js';
import { rolloutState } from './rollout/status.js';
import type { Holds } from './holds.js';
import { inNamespace, type ByNamespace } from './by-namespace.js';
import { gatesLater, previousWave, type HaltReason, type Settled, type Waves } from './waves.js';
import { RestartError } from './errors.js';
import { OwnWrites } from './own-writes.js';
import {
  restartMachine,
  type CallCredit,
  type CallOptions,
  type RestartEffects,
  type RestartOutput,
  type WorkloadSnapshot,
} from './machine.js';
import type { OutcomeCounter } from './metrics.js';
import { annotateRestart, recordOutcome } from './telemetry.js';

export interface HandlerDeps {
  /** The Kubernetes side: `kubeEffects(...)` in production, fakes in tests. */
  effects: RestartEffects;
  /**
   * What may be restarted: the resolver's scope (ONPUSH_SELECT, ONPUSH_OPT_IN, ONPUSH_NAMESPACES,
   * ONPUSH_EXCLUDE_NAMESPACES, ONPUSH_SELECTOR). Every request is checked against it on the
   * object before any PATCH; one that fails ends `refused`.
   */
  scope: Scope;
  /** `onpush_restarter_outcomes_total{fate, reason}`. */
  outcomes?: Pick<OutcomeCounter, 'inc'>;
  /** Coalescing window (`windowMs(COALESCE_WINDOW, ack wait)`); 0 or unset: none. */
  windowMs?: number;
  /** How a window restarts: `leading` (first push at once, latest at the end) or `trailing`. */
  coalesceMode?: CoalesceMode;
  now?: () => Date;
  /** `onpush_push_to_restart_seconds`, observed for each restart with a known push time. */
  pushToRestart?: Pick<Histogram, 'observe'>;
  /** ONPUSH_DRY_RUN: every request is decided as usual and ends `would-restart`, nothing patched. */
  dryRun?: boolean;
  /**
   * Resolves when the next API request may go, taking its token (the rate limiter the effects
   * use): with a window, a workload's restart chooses its push only then (latest wins).
   */
  turn?: () => Promise<void>;
  /** Called with each `restarted` (the rollout tracker); must not block nor throw. */
  onRestarted?: (request: RestartRequest, result: Restarted, trace: RequestTrace) => void;
  /** Called with each workload fate (Kubernetes Events, notifications); must not block nor throw. */
  onOutcome?: (outcome: Outcome, trace: RequestTrace) => void;
  /**
   * Pushes held for a workload's maturity delay, shared by the replicas (latest wins). Unset: a
   * held push is NAKed all the same, but an older one is not known to be superseded.
   */
  holds?: Holds;
  /**
   * The maturity delay of workloads without `onpush.dev/delay`: per namespace, else `all`
   * (DELAY_NAMESPACES, DELAY). Unset: none.
   */
  delays?: ByNamespace<number>;
  /** Whether a workload that names none needs an approval (APPROVAL, APPROVAL_NAMESPACES). */
  approvalDefaults?: ByNamespace<boolean>;
  /** Whether a workload that names none is rolled back (ROLLBACK, ROLLBACK_NAMESPACES). */
  rollbackDefaults?: ByNamespace<boolean>;
  /** Called when a push is first held (Kubernetes Events); must not block nor throw. */
  onHeld?: (request: RestartRequest, until: Date, detail: string | undefined) => void;
  /**
   * Staged rollouts (`onpush.dev/wave`): the gate a request of wave n asks, and where each
   * request records how it settled for the next wave. Unset: waves are ignored (all at once).
   */
  waves?: Waves;
  /** Called when a request first waits at a wave gate (Kubernetes Events); must not block nor throw. */
  onWaiting?: (request: RestartRequest, detail: string, why: 'wave' | 'budget') => void;
  /**
   * Restarts waiting for approval (`onpush.dev/approval: required`), shared with the operators'
   * `onpush approve|reject` and the /approvals API. Unset: such a restart is held all the same,
   * but nobody can approve it (it ends `expired`).
   */
  approvals?: ApprovalBook;
  /** How long a restart waits for approval before it ends `expired` (APPROVAL_TIMEOUT). */
  approvalTimeoutMs?: number;
  /** Called once when a restart starts waiting for approval (Event, notification); must not throw. */
  onAwaiting?: (approval: Approval, trace: RequestTrace) => void;
  /**
   * Reads a workload's rollout from the API server: for following, durably, the rollouts of
   * `onpush.dev/rollback: auto` workloads. Unset: no automatic rollback.
   */
  readRollout?: ReadRollout;
  /** A rollout not done this long after its restart counts as failed (ROLLOUT_TIMEOUT). */
  rolloutTimeoutMs?: number;
  /** Called with each rollback made, or found impossible (Event, notification); must not throw. */
  onRollback?: (outcome: Outcome, done: boolean, trace: RequestTrace) => void;
  /** The rollout budget (ROLLOUT_BUDGET): a restart takes a slot first, or waits in line. */
  budget?: Budget;
}

/** The push's trace as a request carried it: its traceparent header (for notifications). */
export interface RequestTrace {
  readonly traceparent?: string | undefined;
}

const traceOf = (msg: Incoming): RequestTrace => ({
  traceparent: msg.headers[HEADERS.traceparent],
});

/**
 * How long a request waiting on a person or a rollout (an approval, a rollout followed for a
 * rollback) is held before it asks again: 5 s, doubling with each copy put back, to 30 s.
 */
export function approvalRecheckMs(copies: number): number {
  return Math.min(30_000, 5_000 * 2 ** Math.max(0, copies));
}

/**
 * Deliveries a request may be held at a wave gate (NAKed) before the restarter puts a copy back
 * on onpush.restart.held.<namespace> and acks it: a wait is never counted against the consumer's
 * max deliver, and a failure after the gate opens keeps its retries.
 */
export const REQUEUE_AFTER = 3;

const DAY_MS = 24 * 60 * 60 * 1000;

const GRANTED = { granted: true } as const;

/** The request's place in line: the stream sequence of the original (a copy carries it). */
const ticketOf = (msg: Incoming): number =>
  Number(msg.headers[HEADERS.ticket] ?? msg.seq) || msg.seq;

/** How many times a request was put back (its held copy's number; 0: the original). */
const copiesOf = (msg: Incoming): number => Number(msg.headers[HEADERS.heldCopy] ?? '0') || 0;

/** A little past the delay's end, so the redelivery does not come back a moment too early. */
const HOLD_MARGIN_MS = 50;

export type Restarted = Extract<RestartOutput, { fate: 'restarted' }>;

type Finished =
  | Exclude<MemberResult, { fate: 'failed' } | { fate: 'held' }>
  | { fate: 'halted'; reason: HaltReason; detail: string }
  | { fate: 'rejected' | 'expired'; detail: string };
type HeldResult = Extract<MemberResult, { fate: 'held' }>;

/** Bytes → RestartRequest; a message that breaks the contract is permanent (`invalid_message`). */
export function decodeRequest(data: Uint8Array): RestartRequest {
  try {
    return parseRestartRequest(data);
  } catch (error) {
    if (!(error instanceof ContractError)) throw error;
    throw new RestartError('invalid_message', error.message, { cause: error });
  }
}

/** The workload fate of one request, as published on `onpush.outcome.<fate>`. */
export function restartOutcome(request: RestartRequest, result: Finished, now: Date): Outcome {
  const { kind, namespace, name } = request.workload;
  const at = result.fate === 'restarted' ? result.respondedAt : now;
  const detail =
    'by' in result
      ? `superseded by ${describePush(result.by)}`
      : 'detail' in result
        ? result.detail
        : undefined;
  const reason =
    result.fate === 'unchanged' || result.fate === 'refused' || result.fate === 'halted'
      ? result.reason
      : undefined;
  const pushedAt = request.pushedAt === undefined ? undefined : Date.parse(request.pushedAt);
  const durationMs =
    result.fate === 'restarted' && pushedAt !== undefined
      ? Math.max(0, at.getTime() - pushedAt)
      : undefined;
  return {
    v: 1,
    eventId: request.eventId,
    fate: result.fate,
    stage: 'restarter',
    workload: { kind, namespace, name },
    image: request.image,
    ...(request.tag !== undefined ? { tag: request.tag } : {}),
    ...(request.digest !== undefined ? { digest: request.digest } : {}),
    ...(durationMs !== undefined ? { durationMs } : {}),
    ...(reason !== undefined ? { reason } : {}),
    ...(detail !== undefined ? { detail } : {}),
    at: at.toISOString(),
  };
}

/** The resolver's view of the workload as the machine's snapshot (without the object itself). */
export function snapshotOfView(view: RestartRequest['observed']): WorkloadSnapshot | undefined {
  return view === undefined ? undefined : snapshotFromView(view);
}

/**
 * The request, without its watch view unless this is the request's first delivery: a redelivery
 * follows an attempt that may have changed the workload, and a replay from the DLQ carries a view
 * from long ago — either would cost a 409 before the GET it needs anyway.
 */
export function trustedView(msg: Incoming, request: RestartRequest): RestartRequest {
  const first =
    msg.deliveryCount <= 1 &&
    msg.headers[HEADERS.replayOf] === undefined &&
    msg.headers[HEADERS.heldCopy] === undefined;
  if (first || request.observed === undefined) return request;
  const withoutView = { ...request };
  delete withoutView.observed;
  return withoutView;
}

/**
 * A copy of a request held at a wave gate, to put back on onpush.restart.held.<namespace> (then
 * the original is acked): the same body and headers, numbered so a copy made twice (the ack lost)
 * is stored once.
 */
export function heldCopy(msg: Incoming, request: RestartRequest): Outgoing {
  const copies = Number(msg.headers[HEADERS.heldCopy] ?? '0') + 1;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(msg.headers)) {
    if (!name.toLowerCase().startsWith('nats-')) headers[name] = value;
  }
  headers[HEADERS.heldCopy] = String(copies);
  headers[HEADERS.ticket] = String(ticketOf(msg));
  const { kind, namespace, name } = request.workload;
  // a followed rollout's copies are numbered apart from the request's own holds (a wave gate)
  const what = msg.headers[HEADERS.rollback] === undefined ? 'held' : 'follow';
  return {
    subject: heldSubject(namespace),
    data: msg.data,
    msgId: `${request.eventId}:${kind}/${namespace}/${name}:${what}:${copies}`,
    headers,
  };
}

/** A rollout followed until it ends, and how to undo it (the header HEADERS.rollback). */
export interface FollowPlan {
  readonly generation: number;
  /** When the restart's PATCH was answered. */
  readonly since: string;
  readonly rollback: RollbackPlan;
}

/** The follow plan a message carries, if it is a followed rollout. */
export function followPlanOf(msg: Incoming): FollowPlan | undefined {
  const raw = msg.headers[HEADERS.rollback];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as FollowPlan;
  } catch {
    throw new RestartError('invalid_message', `${HEADERS.rollback} is not JSON`);
  }
}

/**
 * The copy of a restart request to follow its rollout (`onpush.dev/rollback: auto`) — durable, so
 * a kill -9 of the restarter loses no rollback — on onpush.restart.held.<namespace>.
 */
export function followCopy(
  msg: Incoming,
  request: RestartRequest,
  result: Restarted,
  at: Date,
): Outgoing {
  const copy = heldCopy(msg, request);
  const { kind, namespace, name } = request.workload;
  const plan: FollowPlan = {
    generation: result.generation ?? 0,
    since: (result.respondedAt ?? at).toISOString(),
    rollback: result.rollback ?? { unknown: 'no plan' },
  };
  return {
    ...copy,
    msgId: `${request.eventId}:${kind}/${namespace}/${name}:follow`,
    headers: { ...copy.headers, [HEADERS.heldCopy]: '0', [HEADERS.rollback]: JSON.stringify(plan) },
  };
}

/** True when the marks say this push was rolled back already (a redelivered follow). */
const rolledBackHere = (read: ReadWorkload, request: RestartRequest): boolean =>
  read.marks[ANNOTATIONS.rolledBack] === pushName(request);

/** The informational `rolled-back` outcome: what the workload went back to, and why. */
export function rolledBackOutcome(
  request: RestartRequest,
  plan: FollowPlan,
  failure: string,
  at: Date,
): Outcome {
  const { kind, namespace, name } = request.workload;
  const back =
    'images' in plan.rollback
      ? `back to ${plan.rollback.images.map((m) => `${m.container}: ${m.to}`).join('; ')}`
      : `not rolled back: ${plan.rollback.unknown}`;
  return {
    v: 1,
    eventId: request.eventId,
    fate: 'rolled-back',
    stage: 'restarter',
    workload: { kind, namespace, name },
    image: request.image,
    ...(request.tag !== undefined ? { tag: request.tag } : {}),
    ...(request.digest !== undefined ? { digest: request.digest } : {}),
    reason: failure.split(':')[0]!.replaceAll(/[^a-z0-9_]/g, '_'),
    detail: `its rollout failed (${failure}); ${back}`,
    at: at.toISOString(),
  };
}

/**
 * How a request settled, as the next wave of its push judges it: a workload still there is judged
 * by its rollout (against the generation its PATCH left, or as it is when this push did not
 * restart it: already on the push, superseded, cooling down — the next wave waits for it to be
 * healthy all the same); one gone, refused or only dry-run restarted has nothing to wait for.
 */
export function settlementOf(request: RestartRequest, result: Finished, now: Date): Settled {
  const { kind, namespace, name } = request.workload;
  const workload = { kind, namespace, name };
  switch (result.fate) {
    case 'restarted':
    case 'unchanged':
      return {
        state: 'rolling',
        workload,
        since: now.toISOString(),
        generation: (result.fate === 'restarted' ? result.generation : undefined) ?? 0,
      };
    case 'halted':
    case 'rejected':
    case 'expired':
      // a restart someone rejected (or nobody approved) stops the later waves as a failure does
      return { state: 'halted', workload, detail: result.detail };
    default:
      return { state: 'healthy', workload, detail: `${result.fate}: nothing rolls out` };
  }
}

/** `event <id> (<digest or tag>)`, for people reading an outcome. */
function describePush(request: RestartRequest): string {
  return `event ${request.eventId} (${request.digest ?? request.tag ?? request.image})`;
}

/** The Nats-Msg-Id of a request's outcome: one per (event, workload), whatever the fate. */
export function outcomeMsgId(request: RestartRequest): string {
  const { kind, namespace, name } = request.workload;
  return `${request.eventId}:${kind}/${namespace}/${name}:outcome`;
}

function outcomeHeaders(msg: Incoming, eventId: string): Record<string, string> {
  const headers: Record<string, string> = { [HEADERS.eventId]: eventId };
  for (const name of [HEADERS.traceparent, HEADERS.tracestate]) {
    const value = msg.headers[name];
    if (value) headers[name] = value;
  }
  return headers;
}

/**
 * RestartRequest → exactly one workload fate (`restarted`, `unchanged`, `gone`, `would-restart`,
 * `refused` — the workload is not one onpush may touch, checked on the object read); requests for one
 * workload and image within the window restart it once, the others end `unchanged` with reason
 * `superseded`. A failure is
 * thrown as is: its `type`, `retryable` and `retryAfterMs` tell the stage to NAK with a delay or
 * to dead-letter the request.
 */
export function createHandler(deps: HandlerDeps): (msg: Incoming) => Promise<Outgoing[]> {
  const now = deps.now ?? (() => new Date());
  const scope = restartScope(deps.scope);
  const ownWrites = new OwnWrites();
  // Provided once: each restart's calls come with its input (`calls`), so no machine is built
  // per restart.
  const machine = restartMachine.provide({
    actors: {
      read: fromPromise(({ input }) => deps.effects.read(input.workload, input.calls?.next())),
      acquire: fromPromise(({ input }) =>
        deps.budget ? deps.budget.acquire(input, input.ticket) : Promise.resolve(GRANTED),
      ),
      patch: fromPromise(async ({ input }) => {
        const patched = await deps.effects.patch(input.workload, input.patch, input.calls?.next());
        if (patched.snapshot) ownWrites.patched(input.workload, patched.snapshot);
        return patched;
      }),
    },
  });
  /** The first API call `prepaid` (its token taken when its turn came), the others not. */
  const prepaidOnce = (): CallCredit => {
    let credit = 1;
    return {
      next: (): CallOptions => {
        if (credit === 0) return {};
        credit -= 1;
        return { prepaid: true };
      },
    };
  };
  // The latest push held beside a redelivered request (read only then: a held request comes
  // back as a redelivery), for its decision: a later one supersedes it.
  const newerHeld = new WeakMap<RestartRequest, HeldPush>();
  // Requests someone approved (read before the restart, on a redelivery).
  const approved = new WeakSet<RestartRequest>();
  // Each request's place in the rollout budget's line: the stream sequence of the original.
  const tickets = new WeakMap<RestartRequest, number>();
  const restart = (request: RestartRequest, prepaid = false) => {
    const actor = createActor(machine, {
      input: {
        newerHeld: newerHeld.get(request),
        approved: approved.has(request),
        budgeted: deps.budget?.applies(request.workload.namespace),
        ticket: tickets.get(request),
        defaultDelayMs: inNamespace(deps.delays, request.workload.namespace),
        defaultApproval: inNamespace(deps.approvalDefaults, request.workload.namespace),
        defaultRollback: inNamespace(deps.rollbackDefaults, request.workload.namespace),
        calls: prepaid ? prepaidOnce() : undefined,
        workload: request.workload,
        eventId: request.eventId,
        digest: request.digest,
        pushedAt: request.pushedAt,
        image: request.image,
        tag: request.tag,
        containers: request.workload.containers,
        scope,
        dryRun: deps.dryRun,
        observed: ownWrites.freshest(request.workload, snapshotOfView(request.observed)),
      },
    });
    actor.start();
    return toPromise(actor);
  };
  const windowMs = deps.windowMs ?? 0;
  const coalescer =
    windowMs > 0
      ? createCoalescer({
          windowMs,
          restart,
          mode: deps.coalesceMode ?? 'leading',
          ...(deps.turn ? { turn: deps.turn } : {}),
        })
      : undefined;
  /**
   * A held push: recorded as the latest held for its workload (unless a later one is — then it is
   * superseded now), and NAKed until its delay ends.
   */
  const hold = async (
    msg: Incoming,
    request: RestartRequest,
    result: HeldResult,
  ): Promise<Finished | { fate: 'requeued'; copy: Outgoing }> => {
    if (result.approval) return awaitApproval(msg, request);
    if (result.budget !== undefined) {
      if (msg.deliveryCount === 1 && msg.headers[HEADERS.heldCopy] === undefined) {
        deps.onWaiting?.(request, result.detail ?? '', 'budget');
      }
      return waitFor(msg, request, `waiting for a slot: ${result.detail ?? ''}`, result.budget);
    }
    if (result.until === undefined) throw new Error('held without a time');
    if (deps.holds && request.pushedAt !== undefined) {
      const latest = await deps.holds.hold({ ...request, pushedAt: request.pushedAt });
      if (latest.eventId !== request.eventId) {
        return {
          fate: 'unchanged',
          reason: 'superseded',
          detail: `event ${latest.eventId}, pushed later, waits for the same ${ANNOTATIONS.delay}`,
        };
      }
    }
    if (msg.deliveryCount === 1) deps.onHeld?.(request, result.until, result.detail);
    const forMs = result.until.getTime() - now().getTime() + HOLD_MARGIN_MS;
    throw new Held(`held until ${result.until.toISOString()}: ${result.detail ?? ''}`, forMs);
  };
  /** Held until someone approves: the pending approval recorded (once), then held or put back. */
  const awaitApproval = async (
    msg: Incoming,
    request: RestartRequest,
  ): Promise<Finished | { fate: 'requeued'; copy: Outgoing }> => {
    const at = now();
    const mine: Approval = {
      id: approvalId(request.eventId, request.workload),
      eventId: request.eventId,
      workload: {
        kind: request.workload.kind,
        namespace: request.workload.namespace,
        name: request.workload.name,
      },
      image: request.image,
      ...(request.tag !== undefined ? { tag: request.tag } : {}),
      ...(request.digest !== undefined ? { digest: request.digest } : {}),
      ...(request.waves?.wave !== undefined ? { wave: request.waves.wave } : {}),
      state: 'pending',
      requestedAt: at.toISOString(),
      deadline: new Date(at.getTime() + (deps.approvalTimeoutMs ?? DAY_MS)).toISOString(),
    };
    const recorded = deps.approvals ? await deps.approvals.request(mine) : mine;
    if (recorded.requestedAt === mine.requestedAt) deps.onAwaiting?.(recorded, traceOf(msg));
    const verdict = await verdictOn(msg, request, recorded);
    if (verdict !== 'approved') return verdict;
    // approved while it was away (a redelivery before it was marked): restart it now
    approved.add(request);
    const again = coalescer
      ? await coalescer.join({ request, seq: msg.seq })
      : await restart(request);
    if (again.fate === 'failed') throw again.error;
    return again.fate === 'held' ? hold(msg, request, again) : again;
  };
  /**
   * Held for `forMs` (a NAK), or after a few holds put back as a copy (the original acked); a
   * copy waiting for approval is marked so, and asks the book alone when it comes back.
   */
  const waitFor = (
    msg: Incoming,
    request: RestartRequest,
    why: string,
    forMs: number,
    awaiting?: 'approval',
  ): { fate: 'requeued'; copy: Outgoing } => {
    if (msg.deliveryCount >= REQUEUE_AFTER) {
      const copy = heldCopy(msg, request);
      if (awaiting !== undefined) copy.headers = { ...copy.headers, [HEADERS.awaiting]: awaiting };
      return { fate: 'requeued', copy };
    }
    throw new Held(why, forMs);
  };
  /** What an approval says of its request now: approved, held again, or its end. */
  const verdictOn = async (
    msg: Incoming,
    request: RestartRequest,
    found: Approval,
  ): Promise<Finished | { fate: 'requeued'; copy: Outgoing } | 'approved'> => {
    const { id } = found;
    let approval: Approval | undefined = found;
    const at = now();
    if (approval.state === 'pending' && at.getTime() >= Date.parse(approval.deadline)) {
      approval = await deps.approvals
        ?.decide(id, 'expired', 'restarter', at, 'nobody decided before the deadline')
        .catch(async () => deps.approvals?.get(id));
      if (approval === undefined) throw new Error(`approval ${id} vanished`);
    }
    switch (approval.state) {
      case 'approved':
        return 'approved';
      case 'pending':
        return waitFor(
          msg,
          request,
          `waiting for approval ${id}`,
          approvalRecheckMs(copiesOf(msg)),
          'approval',
        );
      case 'rejected':
      case 'expired': {
        const by = approval.decidedBy !== undefined ? ` by ${approval.decidedBy}` : '';
        const when = approval.decidedAt !== undefined ? ` at ${approval.decidedAt}` : '';
        const note = approval.note !== undefined ? `: ${approval.note}` : '';
        return {
          fate: approval.state,
          detail: `approval ${id} ${approval.state}${by}${when}${note}`,
        };
      }
    }
  };
  /**
   * A copy put back while it waited for approval asks the book alone (no API call): rejected or
   * expired end it, approved lets it restart, still pending holds it again. Any other request
   * reads nothing here: the restart's decision says whether it needs an approval.
   */
  const approvalVerdict = async (
    msg: Incoming,
    request: RestartRequest,
  ): Promise<Finished | { fate: 'requeued'; copy: Outgoing } | undefined> => {
    if (deps.approvals === undefined || msg.headers[HEADERS.awaiting] !== 'approval') return;
    const approval = await deps.approvals.get(approvalId(request.eventId, request.workload));
    if (approval === undefined) return undefined;
    const verdict = await verdictOn(msg, request, approval);
    if (verdict !== 'approved') return verdict;
    approved.add(request);
    return undefined;
  };
  /** The restart, unless a wave gate holds it (thrown Held) or halted it (the fate `halted`). */
  const restartOrGate = async (
    msg: Incoming,
    request: RestartRequest,
  ): Promise<Finished | HeldResult | { fate: 'requeued'; copy: Outgoing }> => {
    const waves = deps.waves;
    if (waves !== undefined && previousWave(request) !== undefined) {
      const verdict = await waves.gate(request);
      if (verdict.state === 'halted') {
        return { fate: 'halted', reason: verdict.reason, detail: verdict.detail };
      }
      if (verdict.state === 'waiting') {
        const first = msg.deliveryCount === 1 && msg.headers[HEADERS.heldCopy] === undefined;
        if (first) deps.onWaiting?.(request, verdict.detail, 'wave');
        return waitFor(
          msg,
          request,
          `waiting at the wave gate: ${verdict.detail}`,
          verdict.recheckMs,
        );
      }
    }
    const decided = await approvalVerdict(msg, request);
    if (decided !== undefined) return decided;
    const joined = coalescer
      ? await coalescer.join({ request, seq: msg.seq })
      : await restart(request);
    if (joined.fate === 'failed') throw joined.error;
    return joined;
  };
  /** A rollout followed for `onpush.dev/rollback: auto`: done, still going (held), or undone. */
  const followRollout = async (
    msg: Incoming,
    request: RestartRequest,
    plan: FollowPlan,
  ): Promise<Outgoing[]> => {
    const read = deps.readRollout ? await deps.readRollout(request.workload) : undefined;
    // gone, or a later push (or a person) changed it since: nothing of this push to undo
    if (read === undefined || read.marks[ANNOTATIONS.eventId] !== request.eventId) return [];
    if (read.marks[ANNOTATIONS.rolledBack] !== undefined && rolledBackHere(read, request))
      return [];
    const state = rolloutState(request.workload.kind, read.object, plan.generation);
    const at = now();
    let failure: string;
    if (state.state === 'failed') failure = `${state.reason}: ${state.detail}`;
    else if (state.state !== 'progressing') return [];
    else {
      const age = at.getTime() - Date.parse(plan.since);
      if (age <= (deps.rolloutTimeoutMs ?? 600_000)) {
        return [
          waitFor(msg, request, 'following its rollout', approvalRecheckMs(copiesOf(msg))).copy,
        ];
      }
      failure = `timeout: not ready ${Math.round(age / 1000)} s after its restart (${state.detail})`;
    }
    const undone = rolledBackOutcome(request, plan, failure, at);
    if ('unknown' in plan.rollback) {
      deps.onRollback?.(undone, false, traceOf(msg));
      return [];
    }
    await deps.effects.patch(request.workload, {
      eventId: request.eventId,
      digest: request.digest,
      pushedAt: request.pushedAt,
      resourceVersion: read.resourceVersion,
      images: plan.rollback.images,
      source: read.source,
      rolledBack: pushName(request),
    });
    deps.onRollback?.(undone, true, traceOf(msg));
    const { kind, namespace, name } = request.workload;
    return [
      {
        subject: outcomeSubject('rolled-back'),
        data: encode(undone),
        msgId: `${request.eventId}:${kind}/${namespace}/${name}:rolled-back`,
        headers: outcomeHeaders(msg, request.eventId),
      },
    ];
  };
  return async (msg: Incoming): Promise<Outgoing[]> => {
    const request = trustedView(msg, decodeRequest(msg.data));
    annotateRestart(request);
    const plan = followPlanOf(msg);
    if (plan !== undefined) return followRollout(msg, request, plan);
    tickets.set(request, ticketOf(msg));
    if (deps.holds && msg.deliveryCount > 1) {
      const latest = await deps.holds.latest(request);
      if (latest !== undefined) newerHeld.set(request, latest);
    }
    const joined = await restartOrGate(msg, request);
    const result = joined.fate === 'held' ? await hold(msg, request, joined) : joined;
    if (result.fate === 'requeued') return [result.copy];
    const following =
      result.fate === 'restarted' && result.rollback !== undefined && deps.readRollout
        ? [followCopy(msg, request, result, now())]
        : [];
    if (deps.waves !== undefined && gatesLater(request)) {
      await deps.waves.settle(request, settlementOf(request, result, now()));
    }
    if (result.fate === 'restarted') {
      if (deps.budget?.applies(request.workload.namespace)) {
        await deps.budget.started(request, result.generation ?? 0);
      }
      deps.onRestarted?.(request, result, traceOf(msg));
    }
    const outcome = restartOutcome(request, result, now());
    recordOutcome(outcome, deps.pushToRestart);
    deps.outcomes?.inc({ fate: outcome.fate, reason: outcome.reason ?? '' });
    deps.onOutcome?.(outcome, traceOf(msg));
    return [
      {
        subject: outcomeSubject(outcome.fate),
        data: encode(outcome),
        msgId: outcomeMsgId(request),
        headers: outcomeHeaders(msg, request.eventId),
      },
      ...following,
    ];
  };
}
