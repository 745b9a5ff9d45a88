// What a notification says, and how each kind of target receives it: onpush's own JSON for a
// generic webhook, `{"text": ...}` for a Slack-compatible incoming webhook.
import type { Outcome } from '@onpush/contracts';
import type { NotifyEvent, TargetKind } from './config.js';

export interface Notification {
  readonly event: NotifyEvent;
  /** The workload's namespace, when the outcome names a workload (routing). */
  readonly namespace?: string | undefined;
  /** One line for people. */
  readonly text: string;
  /** The outcome it reports. */
  readonly outcome: Outcome;
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

/** The notification of a rollout outcome or a `dead` outcome; undefined for any other fate. */
export function notificationOf(outcome: Outcome): Notification | undefined {
  const namespace = outcome.workload?.namespace;
  const detail = outcome.detail !== undefined ? ` — ${outcome.detail}` : '';
  const base = { namespace, outcome };
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

/** The request body for a target of `kind`. */
export function bodyFor(kind: TargetKind, notification: Notification): unknown {
  if (kind === 'slack') return { text: notification.text };
  return { v: 1, type: notification.event, text: notification.text, outcome: notification.outcome };
}

/**
 * The targets of a notification: the workload's `onpush.dev/notify` names (or none for `none`),
 * else its namespace's route, else the default.
 */
export function routeOf(
  notification: Pick<Notification, 'namespace'>,
  annotation: readonly string[] | undefined,
  routes: Readonly<Record<string, readonly string[]>>,
  fallback: readonly string[],
): readonly string[] {
  if (annotation !== undefined) return annotation.includes('none') ? [] : annotation;
  const namespace = notification.namespace;
  return (namespace !== undefined ? routes[namespace] : undefined) ?? fallback;
}
