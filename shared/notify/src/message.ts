// What a notification says (how each kind of target receives it: formats.ts), and where it goes.
import type { Approval, Outcome } from '@onpush/contracts';
import type { NotifyEvent } from './config.js';

export interface Notification {
  readonly event: NotifyEvent;
  /** The workload's namespace, when the outcome names a workload (routing). */
  readonly namespace?: string | undefined;
  /** One line for people. */
  readonly text: string;
  /** The outcome it reports, or */
  readonly outcome?: Outcome;
  /** the restart that waits for approval. */
  readonly approval?: Approval;
  /** The trace id of the push (32 lower-case hex), when the message that led here carried one. */
  readonly traceId?: string;
  /** That message's W3C traceparent (a CloudEvent carries it: distributed tracing extension). */
  readonly traceparent?: string;
  /** The fleet cluster it happened in (CLUSTER_NAME), named in every format. */
  readonly cluster?: string;
}

/** What the restarter knows of the push's trace: the traceparent of the message it handled. */
export interface TraceContext {
  readonly traceparent?: string | undefined;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/** `traceId` and `traceparent` of a valid W3C traceparent (version 00, ids not all zero), or {}. */
export function traceOf(
  trace: TraceContext | undefined,
): { traceId: string; traceparent: string } | Record<string, never> {
  const traceparent = trace?.traceparent?.trim().toLowerCase() ?? '';
  const match = TRACEPARENT.exec(traceparent);
  if (!match || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!)) return {};
  return { traceId: match[1]!, traceparent };
}

/** The notification of a restart that starts waiting for someone's approval. */
export function approvalNotification(approval: Approval, trace?: TraceContext): Notification {
  const { kind, namespace, name } = approval.workload;
  const image = `${approval.image}${approval.tag !== undefined ? `:${approval.tag}` : ''}`;
  const wave = approval.wave !== undefined ? `, wave ${approval.wave}` : '';
  return {
    event: 'approval',
    namespace,
    approval,
    ...traceOf(trace),
    text:
      `✋ Waiting for approval: ${kind} ${namespace}/${name} (${image}${wave}) — ` +
      `onpush approve ${approval.id} (or reject) before ${approval.deadline}`,
  };
}

const seconds = (ms: number | undefined): string =>
  ms === undefined ? '' : ` in ${ms < 10_000 ? (ms / 1000).toFixed(1) : Math.round(ms / 1000)} s`;

function pushed(o: Outcome): string {
  const ref = `${o.image ?? '?'}${o.tag !== undefined ? `:${o.tag}` : ''}`;
  return o.digest !== undefined ? `${ref}@${o.digest.slice(0, 19)}…` : ref;
}

function workloadOf(o: Outcome): string {
  return o.workload ? `${o.workload.kind} ${o.workload.namespace}/${o.workload.name}` : '';
}

/**
 * The notification of a rollout outcome, a `halted` or a `dead` one; undefined for any other fate.
 * `trace`: the traceparent of the message that led to it (the push's trace), when known.
 */
export function notificationOf(outcome: Outcome, trace?: TraceContext): Notification | undefined {
  const namespace = outcome.workload?.namespace;
  const detail = outcome.detail !== undefined ? ` — ${outcome.detail}` : '';
  const base = { namespace, outcome, ...traceOf(trace) };
  switch (outcome.fate) {
    case 'rollout-completed':
      return {
        ...base,
        event: outcome.fate,
        text: `✅ Rollout completed: ${workloadOf(outcome)} (${pushed(outcome)})${seconds(outcome.durationMs)}${detail}`,
      };
    case 'rollout-failed':
      return {
        ...base,
        event: outcome.fate,
        text: `❌ Rollout failed (${outcome.reason ?? 'failed'}): ${workloadOf(outcome)} (${pushed(outcome)})${seconds(outcome.durationMs)}${detail}`,
      };
    case 'rolled-back':
      return {
        ...base,
        event: 'rolled-back',
        text: `↩️ Rolled back: ${workloadOf(outcome)} (${pushed(outcome)})${detail}`,
      };
    case 'halted':
      return {
        ...base,
        event: 'halted',
        text: `⏸️ Not restarted, wave halted: ${workloadOf(outcome)} (${pushed(outcome)})${detail}`,
      };
    case 'dead': {
      const what = outcome.workload ? `, ${workloadOf(outcome)}` : '';
      return {
        ...base,
        event: 'dead',
        text: `⚠️ Dead letter at ${outcome.stage} (${outcome.reason ?? 'dead'}): event ${outcome.eventId}${what}${detail}`,
      };
    }
    default:
      return undefined;
  }
}

/** Where a notification goes, and the names its annotation gave that its namespace may not use. */
export interface Routed {
  readonly targets: readonly string[];
  readonly refused: readonly string[];
}

type Routes = Readonly<Record<string, readonly string[]>>;

/**
 * The targets of a notification: the workload's `onpush.dev/notify` names (or none for `none`),
 * else its namespace's route, else the default. An annotation may name only targets its namespace
 * may use — its route, the default, and what `allowed` grants it (or every namespace, `*`): any
 * other name is refused, so one team's workload cannot post to another team's channel. When an
 * annotation names nothing it may use, the namespace's route applies.
 */
export function routeOf(
  notification: Pick<Notification, 'namespace'>,
  annotation: readonly string[] | undefined,
  routes: Routes,
  fallback: readonly string[],
  allowed: Routes = {},
): Routed {
  const namespace = notification.namespace;
  const route = (namespace !== undefined ? routes[namespace] : undefined) ?? fallback;
  if (annotation === undefined) return { targets: route, refused: [] };
  if (annotation.includes('none')) return { targets: [], refused: [] };
  const may = new Set([
    ...route,
    ...fallback,
    ...(allowed['*'] ?? []),
    ...(namespace !== undefined ? (allowed[namespace] ?? []) : []),
  ]);
  const targets = annotation.filter((name) => may.has(name));
  const refused = annotation.filter((name) => !may.has(name));
  return { targets: targets.length > 0 ? targets : route, refused };
}
