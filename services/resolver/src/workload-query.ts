// The console's workload view asks the resolver how it sees one workload (WORKLOAD_QUERY, core
// NATS request–reply): the view its watch holds — labels, `onpush.dev/*` annotations, onpush's
// marks, containers — exactly what it hands the restarter with each request. So the console
// served by the dlq-manager, which has no Kubernetes access, shows a workload as onpush reads it
// without a second reader of the API server. One replica of the queue group answers each.
import {
  WORKLOAD_QUERY,
  WorkloadQuerySchema,
  decode,
  type ObservedWorkload,
  type WorkloadQuery,
  type WorkloadQueryReply,
} from '@onpush/contracts';
import type { NatsConnection } from '@onpush/nats';
import type { Logger } from '@onpush/telemetry';

/** The answer to one question (its bytes as they came): the view, null, or why it was refused. */
export function answerWorkloadQuery(
  data: Uint8Array,
  view: (ref: WorkloadQuery) => ObservedWorkload | undefined,
): WorkloadQueryReply {
  const asked = decode(WorkloadQuerySchema, data, 'WorkloadQuery');
  if (!asked.ok) return { v: 1, error: asked.error.message };
  return { v: 1, workload: view(asked.value) ?? null };
}

/** Answers WORKLOAD_QUERY on `nc` (queue group `resolver`); returns the stop. */
export function serveWorkloadQueries(
  nc: NatsConnection,
  view: (ref: WorkloadQuery) => ObservedWorkload | undefined,
  log: Logger,
): () => void {
  const sub = nc.subscribe(WORKLOAD_QUERY, {
    queue: 'resolver',
    callback: (error, msg) => {
      if (error) return log.warn('workload query subscription failed', { error });
      msg.respond(JSON.stringify(answerWorkloadQuery(msg.data, view)));
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
