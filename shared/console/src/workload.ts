// A workload as the console shows it: its recent pushes and their fates, the digests it was
// restarted onto, read from the pushes the feed keeps (pure); and, where the serving process may
// read Kubernetes, its onpush settings as the resolver reads them (a WorkloadReader).
import {
  WORKLOAD_KINDS,
  WORKLOAD_QUERY,
  WorkloadQueryReplySchema,
  decode,
  type WorkloadKind,
  type WorkloadRef,
} from '@onpush/contracts';
import type { NatsConnection } from '@onpush/nats';
import type { Push, WorkloadFate } from './pushes.js';

/** One push as it concerned the workload. */
export interface WorkloadEvent {
  readonly eventId: string;
  readonly image?: string;
  readonly tag?: string;
  readonly digest?: string;
  readonly cluster?: string;
  readonly fate: WorkloadFate['fate'];
  readonly reason?: string;
  readonly detail?: string;
  readonly durationMs?: number;
  readonly rollout?: WorkloadFate['rollout'];
  readonly at: string;
  readonly traceId?: string;
}

/** What onpush reads of the workload in Kubernetes (labels, `onpush.dev/*`, containers). */
export interface WorkloadSettingsView {
  readonly labels: Record<string, string>;
  /** The workload's `onpush.dev/*` annotations (policy, containers, cooldown, ...). */
  readonly settings: Record<string, string>;
  /** onpush's marks on the pod template (digest, event id, restartedAt). */
  readonly marks: Record<string, string>;
  readonly containers: readonly { name: string; image: string }[];
}

export type WorkloadReader = (ref: WorkloadRef) => Promise<WorkloadSettingsView | undefined>;

export interface WorkloadView {
  readonly workload: WorkloadRef;
  /** The pushes that reached it, newest first (from the pushes the console keeps). */
  readonly events: readonly WorkloadEvent[];
  /** The digests it was restarted onto, newest first, each with when. */
  readonly digests: readonly { digest: string; at: string; eventId: string }[];
  /** Undefined: not read (no Kubernetes access here, or the workload is not there). */
  readonly kubernetes?: WorkloadSettingsView;
  /** Why `kubernetes` is missing, for people. */
  readonly kubernetesNote?: string;
}

/** `Deployment/shop/web` path segments as a workload, or undefined when they are not one. */
export function parseWorkloadRef(
  kind: string | undefined,
  namespace: string | undefined,
  name: string | undefined,
): WorkloadRef | undefined {
  if (kind === undefined || namespace === undefined || name === undefined) return undefined;
  if (!(WORKLOAD_KINDS as readonly string[]).includes(kind)) return undefined;
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(namespace)) return undefined;
  if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(name)) return undefined;
  return { kind: kind as WorkloadKind, namespace, name };
}

const same = (a: WorkloadRef, b: WorkloadRef): boolean =>
  a.kind === b.kind && a.namespace === b.namespace && a.name === b.name;

/** The workload's part of `pushes` (newest change first, as the feed lists them). */
export function workloadEvents(
  pushes: readonly Push[],
  ref: WorkloadRef,
  cluster?: string,
): Pick<WorkloadView, 'events' | 'digests'> {
  const events: WorkloadEvent[] = [];
  for (const push of pushes) {
    for (const w of push.workloads) {
      if (!same(w.workload, ref) || (cluster !== undefined && w.cluster !== cluster)) continue;
      events.push({
        eventId: push.eventId,
        ...(push.image === undefined ? {} : { image: push.image }),
        ...(push.tag === undefined ? {} : { tag: push.tag }),
        ...(push.digest === undefined ? {} : { digest: push.digest }),
        ...(w.cluster === undefined ? {} : { cluster: w.cluster }),
        fate: w.fate,
        ...(w.reason === undefined ? {} : { reason: w.reason }),
        ...(w.detail === undefined ? {} : { detail: w.detail }),
        ...(w.durationMs === undefined ? {} : { durationMs: w.durationMs }),
        ...(w.rollout === undefined ? {} : { rollout: w.rollout }),
        at: w.at,
        ...(push.traceId === undefined ? {} : { traceId: push.traceId }),
      });
    }
  }
  events.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  const digests: { digest: string; at: string; eventId: string }[] = [];
  for (const e of events) {
    if (e.fate !== 'restarted' || e.digest === undefined) continue;
    if (digests.some((d) => d.digest === e.digest)) continue;
    digests.push({ digest: e.digest, at: e.at, eventId: e.eventId });
  }
  return { events, digests };
}

/**
 * A WorkloadReader that asks the resolver (WORKLOAD_QUERY): the workload as its watch sees it,
 * for a console without Kubernetes access of its own (the dlq-manager's). Undefined when the
 * resolver does not watch it (not opted in, out of scope, gone); throws when no resolver answers
 * (at a fleet's hub the resolvers run in the clusters) or the question was refused.
 */
export function resolverReader(nc: NatsConnection, timeoutMs = 2_000): WorkloadReader {
  return async (ref) => {
    const answer = await nc
      .request(WORKLOAD_QUERY, JSON.stringify(ref), { timeout: timeoutMs })
      .catch((error: unknown) => {
        throw new Error(
          `no resolver answered (${error instanceof Error ? error.message : String(error)})`,
          { cause: error },
        );
      });
    const reply = decode(WorkloadQueryReplySchema, answer.data, 'WorkloadQueryReply');
    if (!reply.ok) throw new Error(`the resolver's answer: ${reply.error.message}`);
    if ('error' in reply.value) throw new Error(`the resolver refused: ${reply.value.error}`);
    const seen = reply.value.workload;
    if (seen === null) return undefined;
    return {
      labels: { ...(seen.labels ?? {}) },
      settings: { ...seen.settings },
      marks: { ...seen.marks },
      containers: seen.containers.map(({ name, image }) => ({ name, image })),
    };
  };
}
