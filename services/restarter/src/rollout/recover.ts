// Rollouts a restarter was following when it stopped (a kill -9, an upgrade of onpush itself):
// found again at start in the outcomes stream — a `restarted` of the last ROLLOUT_TIMEOUT whose
// rollout has no outcome yet — and followed again, so their rollout-completed / rollout-failed,
// Event, notification and span are not lost with the process. Other replicas may still follow the
// same rollout: its outcome is stored once (its message id), and only the replica whose publish
// stored it tells anyone (report.ts).
import {
  HEADERS,
  OutcomeSchema,
  STREAMS,
  decode,
  outcomeSubject,
  type Outcome,
} from '@onpush/contracts';
import { scanStream, type JetStreamClient } from '@onpush/nats';
import type { TrackRequest } from './outcome.js';

/** An outcome as stored, with the trace it carried. */
export interface StoredOutcome {
  readonly outcome: Outcome;
  readonly traceparent?: string | undefined;
}

/** Folds stored outcomes, oldest first, into the rollouts still unfinished: the latest per workload. */
export class UnfinishedRollouts {
  readonly #open = new Map<string, TrackRequest>();

  add({ outcome, traceparent }: StoredOutcome): void {
    const { workload } = outcome;
    if (workload === undefined) return;
    const { kind, namespace, name } = workload;
    const key = `${kind}/${namespace}/${name}`;
    if (outcome.fate === 'restarted') {
      this.#open.set(key, {
        workload: { kind, namespace, name },
        eventId: outcome.eventId,
        image: outcome.image ?? '',
        tag: outcome.tag,
        digest: outcome.digest,
        // unknown: judged on the object as it is (a later PATCH replaces this restart anyway)
        generation: 0,
        respondedAt: new Date(outcome.at),
        ...(traceparent !== undefined ? { traceparent } : {}),
      });
    } else if (this.#open.get(key)?.eventId === outcome.eventId) {
      this.#open.delete(key);
    }
  }

  get rollouts(): TrackRequest[] {
    return [...this.#open.values()];
  }
}

/** The restarts stored since `since` whose rollout has no outcome yet. */
export async function readUnfinishedRollouts(
  js: JetStreamClient,
  since: Date,
): Promise<TrackRequest[]> {
  const fold = new UnfinishedRollouts();
  const subjects = (['restarted', 'rollout-completed', 'rollout-failed'] as const).map((fate) =>
    outcomeSubject(fate),
  );
  for await (const m of scanStream(js, STREAMS.outcomes, { subjects, since, batch: 512 })) {
    const decoded = decode(OutcomeSchema, m.data, 'Outcome');
    if (!decoded.ok) continue;
    fold.add({
      outcome: decoded.value,
      traceparent: m.headers?.get(HEADERS.traceparent) || undefined,
    });
  }
  return fold.rollouts;
}
