// Where rollout outcomes and dead letters go: rollout-completed / rollout-failed are published to
// ONPUSH_OUTCOMES (informational: no request is accounted for by them) and, by the replica whose
// publish stored it (not a duplicate of another's), logged, traced and notified; every `dead`
// outcome of any stage is notified too, through a core-NATS queue subscription, so one replica of
// the restarter notifies each (best effort: a dead letter stored while no restarter runs is kept
// in the DLQ, but not notified).
import {
  HEADERS,
  OutcomeSchema,
  decode,
  encode,
  outcomeSubject,
  type Outcome,
} from '@onpush/contracts';
import type { NatsConnection, Publish } from '@onpush/nats';
import type { Notifier } from '@onpush/notify';
import type { Logger } from '@onpush/telemetry';
import { recordRollout } from '../telemetry.js';
import { rolloutMsgId } from './outcome.js';

export interface ReporterDeps {
  /** The stage's publish, once connected. */
  publish: () => Publish | undefined;
  notifier: Notifier | undefined;
  log: Logger;
  /** Waits before each retry of a failed publish. */
  retriesMs?: readonly number[];
  /** Called with each rollout outcome (Kubernetes Events); must not block nor throw. */
  onOutcome?: (outcome: Outcome) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Publishes a rollout outcome (retrying a few times) and notifies it; never throws. */
export function rolloutReporter(deps: ReporterDeps) {
  const retries = deps.retriesMs ?? [1_000, 5_000, 30_000];
  /** Stores the outcome: `duplicate` when another replica stored it first (same message id). */
  async function publish(outcome: Outcome): Promise<'stored' | 'duplicate' | 'failed'> {
    const msgId = rolloutMsgId({ eventId: outcome.eventId, workload: outcome.workload! });
    const headers = { [HEADERS.eventId]: outcome.eventId };
    for (let attempt = 0; ; attempt += 1) {
      try {
        const send = deps.publish();
        if (!send) throw new Error('not connected to NATS');
        const published = await send(outcomeSubject(outcome.fate), encode(outcome), {
          msgId,
          headers,
        });
        // A duplicate on a retry may be this replica's own first attempt, stored but unanswered:
        // telling twice beats telling nobody.
        return published.duplicate && attempt === 0 ? 'duplicate' : 'stored';
      } catch (error) {
        const wait = retries[attempt];
        if (wait === undefined) {
          deps.log.warn('rollout outcome not published', { error, eventId: outcome.eventId });
          return 'failed';
        }
        await sleep(wait);
      }
    }
  }
  return (outcome: Outcome, notify: readonly string[] | undefined, traceparent?: string): void => {
    const workload = `${outcome.workload?.kind}/${outcome.workload?.namespace}/${outcome.workload?.name}`;
    void publish(outcome).then((stored) => {
      // Another replica (one that followed it before this one started) told of it already.
      if (stored === 'duplicate') {
        deps.log.debug('rollout outcome stored already', { workload, eventId: outcome.eventId });
        return;
      }
      deps.log.info(outcome.fate, {
        workload,
        eventId: outcome.eventId,
        durationMs: outcome.durationMs,
        ...(outcome.reason !== undefined ? { reason: outcome.reason } : {}),
      });
      recordRollout(outcome, traceparent);
      // the push's trace id goes in the notification (people jump from it to the trace)
      deps.notifier?.notify(outcome, notify, { traceparent });
      deps.onOutcome?.(outcome);
    });
  };
}

/** Notifies every `dead` outcome (one replica of the queue group gets each); returns the stop. */
export function notifyDeadLetters(nc: NatsConnection, notifier: Notifier, log: Logger): () => void {
  const sub = nc.subscribe(outcomeSubject('dead'), {
    queue: 'onpush-notify',
    callback: (error, msg) => {
      if (error) return log.warn('dead-letter subscription failed', { error });
      const decoded = decode(OutcomeSchema, msg.data, 'Outcome');
      // its traceparent: the trace of the message that died
      const traceparent = msg.headers?.get(HEADERS.traceparent) || undefined;
      if (decoded.ok) notifier.notify(decoded.value, undefined, { traceparent });
    },
  });
  return () => {
    try {
      sub.unsubscribe();
    } catch {
      // The connection is already closed: so is the subscription.
    }
  };
}
