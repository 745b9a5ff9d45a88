// Whether a rollout is done, from the object a watch brings: the rules `kubectl rollout status`
// applies (observed generation, updated/ready/available replicas, the Progressing condition),
// and Argo Rollouts' phase for a Rollout. Pure.
import type { WorkloadKind } from '@onpush/contracts';

export type RolloutFailure = 'progress_deadline_exceeded' | 'degraded' | 'aborted';

export type RolloutState =
  | { readonly state: 'progressing'; readonly detail: string }
  | { readonly state: 'completed'; readonly detail: string }
  | { readonly state: 'failed'; readonly reason: RolloutFailure; readonly detail: string }
  | { readonly state: 'untrackable'; readonly detail: string };

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

/** The fields a rollout's progress is judged on; everything else of the object is dropped. */
export interface RolloutObject {
  metadata?: { name?: string; namespace?: string; generation?: number };
  spec?: {
    replicas?: number;
    restartAt?: string;
    updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } };
  };
  status?: {
    observedGeneration?: number | string;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    currentRevision?: string;
    updateRevision?: string;
    desiredNumberScheduled?: number;
    updatedNumberScheduled?: number;
    numberAvailable?: number;
    phase?: string;
    message?: string;
    restartedAt?: string;
    conditions?: Condition[];
  };
}

/** Keeps only what judging needs (a watch cache of a whole namespace stays small). */
export function pruned(object: RolloutObject): RolloutObject {
  const { metadata, spec, status } = object;
  return {
    metadata: {
      ...(metadata?.name !== undefined ? { name: metadata.name } : {}),
      generation: metadata?.generation ?? 0,
    },
    spec: {
      ...(spec?.replicas !== undefined ? { replicas: spec.replicas } : {}),
      ...(spec?.restartAt !== undefined ? { restartAt: spec.restartAt } : {}),
      ...(spec?.updateStrategy !== undefined ? { updateStrategy: spec.updateStrategy } : {}),
    },
    status: status ?? {},
  };
}

const progressing = (detail: string): RolloutState => ({ state: 'progressing', detail });
const n = (value: number | undefined) => value ?? 0;

/** `failed` when the controller says the progress deadline passed (Deployments, Rollouts). */
function pastDeadline(conditions: Condition[] | undefined): RolloutState | undefined {
  const exceeded = conditions?.find(
    (c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded',
  );
  if (exceeded === undefined) return undefined;
  return {
    state: 'failed',
    reason: 'progress_deadline_exceeded',
    detail: exceeded.message ?? 'progress deadline exceeded',
  };
}

function deployment(o: RolloutObject): RolloutState {
  const s = o.status ?? {};
  const exceeded = pastDeadline(s.conditions);
  if (exceeded) return exceeded;
  const replicas = o.spec?.replicas ?? 1;
  const [updated, total, available] = [n(s.updatedReplicas), n(s.replicas), n(s.availableReplicas)];
  if (updated < replicas) return progressing(`${updated} of ${replicas} updated`);
  if (total > updated) return progressing(`${total - updated} old replicas pending termination`);
  if (available < updated) return progressing(`${available} of ${updated} updated available`);
  return { state: 'completed', detail: `${updated} of ${replicas} updated and available` };
}

function statefulSet(o: RolloutObject): RolloutState {
  const s = o.status ?? {};
  const replicas = o.spec?.replicas ?? 1;
  if (n(s.readyReplicas) < replicas)
    return progressing(`${n(s.readyReplicas)} of ${replicas} ready`);
  const partition = o.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
  if (partition > 0) {
    const want = replicas - partition;
    if (n(s.updatedReplicas) < want)
      return progressing(`${n(s.updatedReplicas)} of ${want} updated`);
    return { state: 'completed', detail: `${want} updated (partition ${partition})` };
  }
  if (s.updateRevision !== s.currentRevision)
    return progressing(`revision ${s.updateRevision ?? '?'} rolling out`);
  return { state: 'completed', detail: `${replicas} ready on revision ${s.updateRevision ?? '?'}` };
}

function daemonSet(o: RolloutObject): RolloutState {
  const s = o.status ?? {};
  const desired = n(s.desiredNumberScheduled);
  if (n(s.updatedNumberScheduled) < desired)
    return progressing(`${n(s.updatedNumberScheduled)} of ${desired} updated`);
  if (n(s.numberAvailable) < desired)
    return progressing(`${n(s.numberAvailable)} of ${desired} available`);
  return { state: 'completed', detail: `${desired} updated and available` };
}

function argoRollout(o: RolloutObject): RolloutState {
  const s = o.status ?? {};
  const exceeded = pastDeadline(s.conditions);
  if (exceeded) return exceeded;
  if (s.conditions?.some((c) => c.reason === 'RolloutAborted')) {
    return { state: 'failed', reason: 'aborted', detail: s.message ?? 'rollout aborted' };
  }
  if (s.phase === 'Degraded')
    return { state: 'failed', reason: 'degraded', detail: s.message ?? 'degraded' };
  const restartAt = Date.parse(o.spec?.restartAt ?? '');
  const restartedAt = Date.parse(s.restartedAt ?? '');
  if (!Number.isNaN(restartAt) && !(restartedAt >= restartAt))
    return progressing('pods restarting');
  if (s.phase === 'Healthy') return { state: 'completed', detail: s.message ?? 'healthy' };
  return progressing(`phase ${s.phase ?? 'unknown'}`);
}

/** How each kind that rolls out reports its progress (a CronJob rolls nothing out). */
const STATE_OF: Partial<Record<WorkloadKind, (o: RolloutObject) => RolloutState>> = {
  Deployment: deployment,
  StatefulSet: statefulSet,
  DaemonSet: daemonSet,
  Rollout: argoRollout,
};

/**
 * The state of a rollout started by a PATCH that left the object at `generation`. An older
 * generation is a state from before the PATCH: progressing.
 */
export function rolloutState(
  kind: WorkloadKind,
  o: RolloutObject,
  generation: number,
): RolloutState {
  const current = o.metadata?.generation ?? 0;
  if (current < generation) return progressing('waiting for the new generation');
  const strategy = o.spec?.updateStrategy?.type;
  if ((kind === 'StatefulSet' || kind === 'DaemonSet') && strategy === 'OnDelete') {
    return {
      state: 'untrackable',
      detail: 'updateStrategy OnDelete: nothing rolls out until pods are deleted',
    };
  }
  const observed = o.status?.observedGeneration;
  if (observed === undefined || Number(observed) < current)
    return progressing('not observed by its controller yet');
  return (
    STATE_OF[kind]?.(o) ?? {
      state: 'untrackable',
      detail: 'a CronJob rolls nothing out: its next run takes the change',
    }
  );
}
