// Kubernetes Events on the workload for what onpush decided about it and saw of its rollout
// (restarted, refused, skipped, would restart, held for a delay or a wave, halted, rollout completed
// or failed), so `kubectl describe`
// and `kubectl get events` tell what happened and why, next to the controllers' own events.
// Best effort, as Kubernetes' own event recorders are: the outcome stream is the record; Events
// have their own rate limit (EVENTS_QPS), wait in a bounded queue (full: dropped and counted) and
// are sent after the outcome, never on a restart's path.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Approval, Outcome, RestartRequest, WorkloadKind } from '@onpush/contracts';
import { KINDS, managedBy, type KubeHttp } from '@onpush/kube';
import type { TokenBucket } from '@onpush/service';
import { counter, type Counter, type Logger, type Registry } from '@onpush/telemetry';

/** What an Event says about one workload. */
export interface WorkloadEvent {
  readonly workload: { kind: WorkloadKind; namespace: string; name: string };
  readonly type: 'Normal' | 'Warning';
  /** CamelCase, as controllers write them: `Restarted`, `RestartRefused`, ... */
  readonly reason: string;
  /** What onpush did or tried: `Restart`, `Rollout`. */
  readonly action: string;
  /** For people (at most 1 KiB, Kubernetes' limit). */
  readonly note: string;
}

/** Who reports the Events (`reportingController`). */
export const REPORTING_CONTROLLER = 'onpush.dev/restarter';
const MAX_NOTE = 1024;

function pushOf(o: Pick<Outcome, 'image' | 'tag' | 'digest' | 'eventId'>): string {
  const ref = `${o.image ?? 'image'}${o.tag !== undefined ? `:${o.tag}` : ''}`;
  return `${ref}${o.digest !== undefined ? `@${o.digest}` : ''} (event ${o.eventId})`;
}

const why = (o: Outcome): string =>
  [o.reason, o.detail].filter((part) => part !== undefined && part !== '').join(': ');

/**
 * The Event an outcome is worth, if any: none for a push superseded in a burst (the Event of the
 * push applied says it), a workload gone, or a request refused for a namespace outside onpush's
 * scope (onpush writes nothing there).
 */
export function eventOfOutcome(o: Outcome): WorkloadEvent | undefined {
  if (o.workload === undefined) return undefined;
  const workload = o.workload;
  const at = (
    type: WorkloadEvent['type'],
    reason: string,
    action: string,
    note: string,
  ): WorkloadEvent => ({ workload, type, reason, action, note: note.slice(0, MAX_NOTE) });
  const after = o.durationMs !== undefined ? `, ${Math.round(o.durationMs)} ms after the push` : '';
  switch (o.fate) {
    case 'restarted':
      return at('Normal', 'Restarted', 'Restart', `restarted for ${pushOf(o)}${after}`);
    case 'would-restart':
      return at('Normal', 'WouldRestart', 'Restart', `would restart for ${pushOf(o)} (dry run)`);
    case 'unchanged':
      if (o.reason === 'superseded') return undefined;
      return at('Normal', 'RestartSkipped', 'Restart', `not restarted for ${pushOf(o)}: ${why(o)}`);
    case 'refused':
      if (o.reason === 'namespace_out_of_scope') return undefined;
      return at('Warning', 'RestartRefused', 'Restart', `refused ${pushOf(o)}: ${why(o)}`);
    case 'halted':
      return at('Warning', 'RestartHalted', 'Restart', `not restarted for ${pushOf(o)}: ${why(o)}`);
    case 'rejected':
      return at(
        'Warning',
        'RestartRejected',
        'Restart',
        `not restarted for ${pushOf(o)}: ${why(o)}`,
      );
    case 'expired':
      return at(
        'Warning',
        'RestartExpired',
        'Restart',
        `not restarted for ${pushOf(o)}: ${why(o)}`,
      );
    case 'rolled-back':
      return at('Warning', 'RolledBack', 'Rollback', `rolled back ${pushOf(o)}: ${o.detail ?? ''}`);
    case 'rollout-completed':
      return at(
        'Normal',
        'RolloutCompleted',
        'Rollout',
        `the rollout onpush started for ${pushOf(o)} completed` +
          (o.durationMs !== undefined ? ` in ${Math.round(o.durationMs)} ms` : ''),
      );
    case 'rollout-failed':
      return at(
        'Warning',
        'RolloutFailed',
        'Rollout',
        `the rollout onpush started for ${pushOf(o)} failed: ${why(o)}`,
      );
    default:
      return undefined;
  }
}

/** The Event of a push first held for the workload's maturity delay. */
export function eventOfHold(
  request: Pick<RestartRequest, 'workload' | 'image' | 'tag' | 'digest' | 'eventId'>,
  until: Date,
): WorkloadEvent {
  const { kind, namespace, name } = request.workload;
  const push = pushOf(request);
  return {
    workload: { kind, namespace, name },
    type: 'Normal',
    reason: 'RestartDelayed',
    action: 'Restart',
    note: `held for its maturity delay until ${until.toISOString()}: ${push}`.slice(0, MAX_NOTE),
  };
}

/**
 * The Event of a push first held at a wave gate (the wave before it has not finished:
 * `RestartWaiting`) or in the rollout budget's line (`RestartQueued`).
 */
export function eventOfWait(
  request: Pick<RestartRequest, 'workload' | 'image' | 'tag' | 'digest' | 'eventId'>,
  detail: string,
  why: 'wave' | 'budget',
): WorkloadEvent {
  const { kind, namespace, name } = request.workload;
  const what = why === 'wave' ? 'waiting for the wave before it' : 'waiting for a rollout slot';
  return {
    workload: { kind, namespace, name },
    type: 'Normal',
    reason: why === 'wave' ? 'RestartWaiting' : 'RestartQueued',
    action: 'Restart',
    note: `${what}: ${detail}; ${pushOf(request)}`.slice(0, MAX_NOTE),
  };
}

/** The Event of a failed rollout onpush could not undo (`onpush.dev/rollback: auto`). */
export function eventOfRollbackUnavailable(o: Outcome): WorkloadEvent | undefined {
  if (o.workload === undefined) return undefined;
  return {
    workload: o.workload,
    type: 'Warning',
    reason: 'RollbackUnavailable',
    action: 'Rollback',
    note: `${pushOf(o)}: ${o.detail ?? ''}`.slice(0, MAX_NOTE),
  };
}

/** The Event of a restart that starts waiting for someone's approval. */
export function eventOfApproval(approval: Approval): WorkloadEvent {
  return {
    workload: approval.workload,
    type: 'Normal',
    reason: 'RestartAwaitingApproval',
    action: 'Restart',
    note: (
      `waits for approval until ${approval.deadline}: onpush approve ${approval.id} ` +
      `(or reject); ${pushOf(approval)}`
    ).slice(0, MAX_NOTE),
  };
}

/** `2026-12-06T21:15:00.123000Z`: a MicroTime (six fractional digits), as the API wants it. */
export function microTime(at: Date): string {
  return at.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The events.k8s.io/v1 Event for `event`, regarding its workload. */
export function eventBody(event: WorkloadEvent, instance: string, at: Date): object {
  const { kind, namespace, name } = event.workload;
  const spec = KINDS[kind];
  return {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name: `${name}.${randomBytes(8).toString('hex')}`, namespace },
    eventTime: microTime(at),
    reportingController: REPORTING_CONTROLLER,
    reportingInstance: instance.slice(0, 128),
    action: event.action,
    reason: event.reason,
    type: event.type,
    note: event.note,
    regarding: { apiVersion: `${spec.group}/${spec.version}`, kind, namespace, name },
  };
}

/** `onpush_restarter_events_total{result}`: sent, failed (the API refused or did not answer), dropped (queue full). */
export function eventCounter(registry: Registry): Counter<'result'> {
  return counter(
    registry,
    'onpush_restarter_events_total',
    'Kubernetes Events about workloads, by result (sent; failed: refused or no answer; dropped: queue full)',
    ['result'],
  );
}

export type EventResult = 'sent' | 'failed' | 'dropped';

export interface EventRecorderDeps {
  http: Pick<KubeHttp, 'post'>;
  /** EVENTS_QPS / EVENTS_BURST: apart from the restarts' own limit. */
  bucket: Pick<TokenBucket, 'take'>;
  /** EVENTS_QUEUE: Events waiting at most; more are dropped. */
  queueSize: number;
  counter: { inc(labels: { result: EventResult }): void };
  log: Logger;
  /** `reportingInstance` (default: the pod's name). */
  instance?: string;
  now?: () => Date;
}

export interface EventRecorder {
  /** Queues the Event an outcome is worth; never blocks, never throws. */
  record(outcome: Outcome): void;
  /** Queues an Event; never blocks, never throws. */
  recordEvent(event: WorkloadEvent): void;
  /** Waits for what is queued (at most `timeoutMs`). */
  close(timeoutMs?: number): Promise<void>;
}

export function createEventRecorder(deps: EventRecorderDeps): EventRecorder {
  const instance = deps.instance ?? process.env['HOSTNAME'] ?? hostname();
  const now = deps.now ?? (() => new Date());
  const queue: WorkloadEvent[] = [];
  let sending: Promise<void> | undefined;
  // One warning per kind of failure, not one per Event (a missing RBAC grant fails them all).
  const warned = new Set<string>();

  async function send(event: WorkloadEvent): Promise<void> {
    const path = `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(event.workload.namespace)}/events`;
    try {
      await deps.bucket.take();
      await deps.http.post(managedBy(path), eventBody(event, instance, now()));
      deps.counter.inc({ result: 'sent' });
    } catch (error) {
      deps.counter.inc({ result: 'failed' });
      const status = (error as { status?: number }).status;
      const key = String(status ?? 'network');
      if (!warned.has(key)) {
        warned.add(key);
        deps.log.warn('Kubernetes Event not recorded (further such failures are only counted)', {
          error,
          namespace: event.workload.namespace,
        });
      }
    }
  }

  async function drain(): Promise<void> {
    for (let event = queue.shift(); event !== undefined; event = queue.shift()) await send(event);
    sending = undefined;
  }

  function recordEvent(event: WorkloadEvent): void {
    if (queue.length >= deps.queueSize) {
      deps.counter.inc({ result: 'dropped' });
      return;
    }
    queue.push(event);
    sending ??= drain();
  }

  return {
    record(outcome) {
      const event = eventOfOutcome(outcome);
      if (event !== undefined) recordEvent(event);
    },
    recordEvent,
    async close(timeoutMs = 5_000) {
      if (!sending) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        sending,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(timer);
    },
  };
}
