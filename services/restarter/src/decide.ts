// The decision for one workload, from what the GET returned (no other API call): refused when the
// workload is not one onpush may touch, else which containers change image (pin,
// semver/glob/regex), or only a restart, or nothing and why. Pure, so every rule is a unit test.
// docs/workloads.md explains each outcome to users.
import { normalizeImageRef, type ImageRef } from '@onpush/contracts';
import {
  ANNOTATIONS,
  acceptsTag,
  counts,
  isTagPolicy,
  matchesSelector,
  namespaceInScope,
  optedIn,
  parseSelector,
  readSettings,
  retagged,
  type Requirement,
  type Scope,
  type TemplateContainer,
  type WorkloadSettings,
  type WorkloadView,
} from '@onpush/kube';

/** A pod template's (or, for Argo Rollouts, the object's) annotations, as read. */
export type TemplateAnnotations = Readonly<Record<string, string>>;

/** What a GET tells the policy about a workload. */
export interface WorkloadSnapshot {
  /** Where onpush keeps its marks: the pod template's annotations (the object's for Rollouts). */
  annotations: TemplateAnnotations;
  /** `metadata.resourceVersion`: the PATCH sends it back as a precondition (409 when stale). */
  resourceVersion: string | undefined;
  /** The object's own annotations: policy, containers, cooldown, dry run, notify. */
  settings?: TemplateAnnotations | undefined;
  /** The pod template's containers (init containers included). */
  containers?: readonly TemplateContainer[] | undefined;
  /** The whole object, for patches that must send an array whole (JSON merge patch). */
  source?: unknown;
  /** The object's labels; undefined when the view did not carry them (then the GET tells). */
  labels?: Readonly<Record<string, string>> | undefined;
}

/** The snapshot of a view of the workload: a GET's body, or the resolver's watch view. */
export function snapshotFromView(view: WorkloadView): WorkloadSnapshot {
  return {
    annotations: view.marks,
    resourceVersion: view.resourceVersion,
    settings: view.settings,
    containers: view.containers,
    labels: view.labels,
  };
}

/** Why a request ends `unchanged` (no reason: the workload already carries this push). */
export type UnchangedReason =
  | 'superseded'
  | 'rolled_back'
  | 'cooldown'
  | 'not_newer'
  | 'no_digest'
  | 'not_running'
  | 'invalid_policy';

/**
 * Why a request ends `refused`: the workload read is not one onpush may touch — whoever could
 * publish the request, the restarter patches only what the resolver would have selected.
 */
export type RefusedReason =
  | 'namespace_out_of_scope'
  | 'not_opted_in'
  | 'selector_mismatch'
  | 'repository_mismatch';

/** What the restarter agrees to patch: the resolver's scope, its label selector parsed once. */
export interface RestartScope {
  readonly scope: Scope;
  readonly selector: readonly Requirement[];
}

/** The scope as the restarter checks it. Throws when the selector is not one (config checks it). */
export function restartScope(scope: Scope): RestartScope {
  return { scope, selector: parseSelector(scope.selector ?? '') };
}

/** One container moved to another image. */
export interface ImageChange {
  readonly container: string;
  readonly init: boolean;
  readonly from: string;
  readonly to: string;
}

/** What a failed rollout is undone with: images to put back, or why it cannot be. */
export type RollbackPlan =
  | { readonly images: readonly ImageChange[] }
  | { readonly unknown: string };

export type Decision =
  | { readonly kind: 'refused'; readonly reason: RefusedReason; readonly detail: string }
  /**
   * Not yet: the push is younger than the workload's maturity delay (wait until `until`, then
   * decide again), or the restart waits for someone's approval (`approval`).
   */
  | {
      readonly kind: 'hold';
      readonly until?: Date | undefined;
      readonly approval?: true;
      /** Waiting for a slot of the rollout budget: ask again after this many ms. */
      readonly budget?: number;
      readonly detail: string;
    }
  | { readonly kind: 'unchanged'; readonly reason?: UnchangedReason; readonly detail?: string }
  | {
      readonly kind: 'patch';
      readonly images: readonly ImageChange[];
      readonly dryRun: boolean;
      readonly notify?: readonly string[] | undefined;
      readonly detail?: string;
      /** Under `onpush.dev/rollback: auto`: how to undo it if its rollout fails. */
      readonly rollback?: RollbackPlan;
    };

export interface DecisionInput {
  /** The scope to check the workload against; unset: no check (unit tests of the policy alone). */
  scope?: RestartScope | undefined;
  /** The request's namespace (the PATCH's path). */
  namespace?: string | undefined;
  /** The request's containers: those that run the pushed repository; unset: any container. */
  containers?: readonly string[] | undefined;
  eventId: string;
  digest?: string | undefined;
  pushedAt?: string | undefined;
  /** The pushed image (normalized name) and tag; without them only a restart can be decided. */
  image?: string | undefined;
  tag?: string | undefined;
  /** ONPUSH_DRY_RUN. */
  dryRun?: boolean | undefined;
  /**
   * The latest push held for this workload and image (its maturity delay), when known: a later
   * one than this request's supersedes it.
   */
  newerHeld?: HeldPush | undefined;
  /** The maturity delay of a workload without `onpush.dev/delay` (DELAY, DELAY_NAMESPACES). */
  defaultDelayMs?: number | undefined;
  /** True when someone approved this push for the workload (`onpush.dev/approval: required`). */
  approved?: boolean | undefined;
  /** Whether a workload without `onpush.dev/approval` needs one (APPROVAL, APPROVAL_NAMESPACES). */
  defaultApproval?: boolean | undefined;
  /** Whether a workload without `onpush.dev/rollback` is rolled back (ROLLBACK, ROLLBACK_NAMESPACES). */
  defaultRollback?: boolean | undefined;
  /** Now, in ms (cooldowns, delays). */
  now: number;
}

/** A push waiting for a workload's maturity delay. */
export interface HeldPush {
  readonly eventId: string;
  readonly pushedAt: string;
}

/**
 * When a push made at `pushedAt` may be applied under a maturity delay of `delayMs`, if that is
 * after `now`. Without a push time there is nothing to wait from: undefined (applied at once).
 */
export function delayUntil(
  delayMs: number | undefined,
  pushedAt: string | undefined,
  now: number,
): Date | undefined {
  const pushed = Date.parse(pushedAt ?? '');
  if (delayMs === undefined || Number.isNaN(pushed) || now >= pushed + delayMs) return undefined;
  return new Date(pushed + delayMs);
}

/** True when `held` is another push, made after this request's. */
function heldLater(held: HeldPush | undefined, input: DecisionInput): held is HeldPush {
  if (held === undefined || held.eventId === input.eventId) return false;
  const at = Date.parse(held.pushedAt);
  const mine = Date.parse(input.pushedAt ?? '');
  return !Number.isNaN(at) && !Number.isNaN(mine) && at > mine;
}

/**
 * True when the marks already carry this push: the same digest, or — for a push without a digest
 * (a tag only) — the same event id.
 */
export function alreadyRestarted(
  annotations: TemplateAnnotations,
  mark: Pick<DecisionInput, 'eventId' | 'digest'>,
): boolean {
  if (mark.digest !== undefined) return annotations[ANNOTATIONS.digest] === mark.digest;
  return annotations[ANNOTATIONS.eventId] === mark.eventId;
}

/** What names a push in `onpush.dev/rolled-back`: its digest, else its event id. */
export const pushName = (mark: Pick<DecisionInput, 'eventId' | 'digest'>): string =>
  mark.digest ?? mark.eventId;

/** True when onpush rolled this very push back here (a late copy must not apply it again). */
export function rolledBack(
  annotations: TemplateAnnotations,
  mark: Pick<DecisionInput, 'eventId' | 'digest'>,
): boolean {
  return annotations[ANNOTATIONS.rolledBack] === pushName(mark);
}

/**
 * What to put back if the rollout of this restart fails (`onpush.dev/rollback: auto`): the images
 * a policy moves, moved back; for a plain restart of a mutable tag, the digest the marks say the
 * workload ran before, pinned (`repo:tag@sha256:…`). `unknown` when there is nothing to go back
 * to (no earlier digest known, or the containers name a digest already).
 */
export function rollbackPlan(
  settings: WorkloadSettings,
  snapshot: WorkloadSnapshot,
  input: DecisionInput,
  images: readonly ImageChange[],
): RollbackPlan {
  if (images.length > 0) {
    return { images: images.map((m) => ({ ...m, from: m.to, to: m.from })) };
  }
  const before = snapshot.annotations[ANNOTATIONS.digest];
  if (before === undefined || before === input.digest || input.image === undefined) {
    return { unknown: 'no earlier digest of this image is known here (first restart by onpush)' };
  }
  const pinned = candidates(settings, snapshot, input.image).flatMap(({ c, ref }) =>
    ref.digest === undefined && ref.tag !== undefined
      ? [{ container: c.name, init: c.init, from: c.image, to: retagged(c.image, ref.tag, before) }]
      : [],
  );
  return pinned.length > 0
    ? { images: pinned }
    : { unknown: 'its containers name no mutable tag of this image' };
}

/**
 * True when the marks carry a push made after this one (its pushed-at is later): restarting
 * would roll the workload back. Unknown when either time is missing: then not judged stale.
 */
export function supersededBy(
  annotations: TemplateAnnotations,
  mark: Pick<DecisionInput, 'pushedAt'> & Partial<DecisionInput>,
): boolean {
  const carried = Date.parse(annotations[ANNOTATIONS.pushedAt] ?? '');
  const pushed = Date.parse(mark.pushedAt ?? '');
  return !Number.isNaN(carried) && !Number.isNaN(pushed) && carried > pushed;
}

/** When the cooldown of the last restart ends, if it has not yet at `now`. */
export function cooldownUntil(
  annotations: TemplateAnnotations,
  cooldownMs: number | undefined,
  now: number,
): Date | undefined {
  const last = Date.parse(annotations[ANNOTATIONS.restartedAt] ?? '');
  if (cooldownMs === undefined || Number.isNaN(last) || now - last >= cooldownMs) return undefined;
  return new Date(last + cooldownMs);
}

const refOf = (image: string): ImageRef | undefined => {
  try {
    return normalizeImageRef(image);
  } catch {
    return undefined;
  }
};

type Refused = Extract<Decision, { kind: 'refused' }>;
type Unchanged = Extract<Decision, { kind: 'unchanged' }>;

const refused = (reason: RefusedReason, detail: string): Refused => ({
  kind: 'refused',
  reason,
  detail,
});

/** The refusal of a namespace out of the scope: known before any API call. */
export function namespaceRefusal(input: Pick<DecisionInput, 'scope' | 'namespace'>) {
  const { scope, namespace } = input;
  if (scope === undefined || namespace === undefined) return undefined;
  if (namespaceInScope(scope.scope, namespace)) return undefined;
  return refused(
    'namespace_out_of_scope',
    `namespace ${namespace} is outside ONPUSH_NAMESPACES / ONPUSH_EXCLUDE_NAMESPACES`,
  );
}

/**
 * Whether the workload read is one onpush may touch: its namespace in the scope, opted in (label
 * or annotation, as the resolver's ONPUSH_OPT_IN), matching ONPUSH_SELECTOR, and one of the
 * request's containers running the request's repository. Undefined when it may.
 */
export function refusal(snapshot: WorkloadSnapshot, input: DecisionInput): Refused | undefined {
  const { scope } = input;
  if (scope === undefined) return undefined;
  const outside = namespaceRefusal(input);
  if (outside !== undefined) return outside;
  const metadata = { labels: snapshot.labels, annotations: snapshot.settings };
  if (!optedIn(scope.scope, metadata)) {
    const how = scope.scope.optIn === 'label' ? 'label' : 'annotation';
    return refused('not_opted_in', `the workload has no ${how} ${ANNOTATIONS.enabled}=true`);
  }
  if (!matchesSelector(scope.selector, snapshot.labels)) {
    return refused(
      'selector_mismatch',
      `the workload's labels do not match ${scope.scope.selector ?? ''}`,
    );
  }
  if (input.image === undefined) return undefined;
  const named = (snapshot.containers ?? []).filter(
    (c) => input.containers === undefined || input.containers.includes(c.name),
  );
  if (!named.some((c) => refOf(c.image)?.name === input.image)) {
    const which = input.containers?.join(', ') ?? 'any container';
    return refused('repository_mismatch', `${which} runs no image of ${input.image}`);
  }
  return undefined;
}
type Moves = { readonly images: readonly ImageChange[] } | Unchanged;

/** Containers that run the pushed repository and count, with their parsed image. */
function candidates(settings: WorkloadSettings, snapshot: WorkloadSnapshot, image: string) {
  return (snapshot.containers ?? []).flatMap((c: TemplateContainer) => {
    const ref = refOf(c.image);
    return ref?.name === image && counts(settings, c.name) ? [{ c, ref }] : [];
  });
}

/** For `pin` and the tag policies: the image changes, or why there are none. */
function moves(
  settings: WorkloadSettings,
  snapshot: WorkloadSnapshot,
  input: DecisionInput,
): Moves {
  const { policy } = settings;
  const none = { images: [] };
  if (input.image === undefined || input.tag === undefined) return none;
  if (policy.kind !== 'pin' && !isTagPolicy(policy)) return none;
  const running = candidates(settings, snapshot, input.image);
  if (running.length === 0) return { kind: 'unchanged', reason: 'not_running' };
  const { tag, digest } = input;
  const change = (c: TemplateContainer, to: string): ImageChange[] =>
    c.image === to ? [] : [{ container: c.name, init: c.init, from: c.image, to }];
  if (policy.kind === 'pin') {
    if (digest === undefined) {
      return { kind: 'unchanged', reason: 'no_digest', detail: 'pin needs the pushed digest' };
    }
    const pins = running.flatMap(({ c, ref }) =>
      ref.tag === tag && ref.digest !== digest ? change(c, retagged(c.image, tag, digest)) : [],
    );
    return { images: pins };
  }
  const sameTag = running.some(({ ref }) => ref.tag === tag);
  const moved = running.flatMap(({ c, ref }) =>
    acceptsTag(policy, ref.tag, tag) ? change(c, retagged(c.image, tag)) : [],
  );
  if (moved.length === 0 && !sameTag) {
    const named = 'text' in policy ? policy.text : policy.kind;
    return { kind: 'unchanged', reason: 'not_newer', detail: `${named} does not take tag ${tag}` };
  }
  return { images: moved };
}

/** A push by digest only, of content the workload's containers already name by that digest. */
function runsDigest(settings: WorkloadSettings, snapshot: WorkloadSnapshot, input: DecisionInput) {
  if (input.tag !== undefined || input.digest === undefined || input.image === undefined)
    return false;
  const running = candidates(settings, snapshot, input.image);
  return running.length > 0 && running.every(({ ref }) => ref.digest === input.digest);
}

const describe = (images: readonly ImageChange[]): string | undefined =>
  images.length === 0
    ? undefined
    : images.map((m) => `${m.container}: ${m.from} → ${m.to}`).join('; ');

/**
 * In order: a workload onpush may not touch → refused (refusal); an invalid policy → unchanged; a push by digest only of what the containers already
 * name → unchanged; pin/tag policy with nothing to move → unchanged (why);
 * a restart the marks already carry → unchanged; a later push applied → superseded; under a
 * maturity delay a later push held → superseded, a push younger than it → hold; inside the
 * cooldown → cooldown; under `onpush.dev/approval: required` and not approved → hold for approval;
 * else patch (dry run: only say so).
 */
export function decide(snapshot: WorkloadSnapshot, input: DecisionInput): Decision {
  const refuse = refusal(snapshot, input);
  if (refuse !== undefined) return refuse;
  const settings = readSettings(snapshot.settings);
  if (settings.policy.kind === 'invalid') {
    return { kind: 'unchanged', reason: 'invalid_policy', detail: settings.policy.error };
  }
  if (rolledBack(snapshot.annotations, input)) {
    return {
      kind: 'unchanged',
      reason: 'rolled_back',
      detail: `onpush rolled this push back here (${ANNOTATIONS.rolledBack})`,
    };
  }
  if (runsDigest(settings, snapshot, input)) {
    return { kind: 'unchanged', detail: 'its containers name this digest already' };
  }
  const moved = moves(settings, snapshot, input);
  if ('kind' in moved) return moved;
  const { images } = moved;
  const pinned = settings.policy.kind === 'pin' && images.length === 0;
  if (pinned || (images.length === 0 && alreadyRestarted(snapshot.annotations, input))) {
    return { kind: 'unchanged' };
  }
  if (supersededBy(snapshot.annotations, input)) return { kind: 'unchanged', reason: 'superseded' };
  const delayMs = settings.delayMs ?? input.defaultDelayMs;
  if (delayMs !== undefined && delayMs > 0) {
    // Maturity delay: the latest push wins; an older one waiting beside it is never applied.
    const held = input.newerHeld;
    if (heldLater(held, input)) {
      return {
        kind: 'unchanged',
        reason: 'superseded',
        detail: `event ${held.eventId}, pushed later, waits for the same ${ANNOTATIONS.delay}`,
      };
    }
    const until = delayUntil(delayMs, input.pushedAt, input.now);
    if (until !== undefined) {
      return {
        kind: 'hold',
        until,
        detail: `${ANNOTATIONS.delay}: applied from ${until.toISOString()} if no later push comes`,
      };
    }
  }
  const until = cooldownUntil(snapshot.annotations, settings.cooldownMs, input.now);
  if (until !== undefined) {
    return {
      kind: 'unchanged',
      reason: 'cooldown',
      detail: `cooldown until ${until.toISOString()}`,
    };
  }
  const dryRun = input.dryRun === true || settings.dryRun;
  const approval = settings.approvalRequired ?? input.defaultApproval === true;
  if (approval && !dryRun && input.approved !== true) {
    return {
      kind: 'hold',
      approval: true,
      detail: `${ANNOTATIONS.approval}: waits until someone approves it (onpush approve)`,
    };
  }
  const detail = describe(images);
  return {
    kind: 'patch',
    images,
    ...((settings.rollbackAuto ?? input.defaultRollback === true)
      ? { rollback: rollbackPlan(settings, snapshot, input, images) }
      : {}),
    dryRun,
    notify: settings.notify,
    ...(detail !== undefined ? { detail } : {}),
  };
}
