// The workloads this replica patched last, each as its PATCH's response showed it. A restart
// request carries the resolver's watch view of the workload, taken when the push was resolved; in
// a burst, requests wait their turn while this replica's own PATCHes change the object, so that
// view is stale by the time it is used and its conditional PATCH would earn a 409 (then a GET and
// a second PATCH). The response of our own last PATCH is at least as new as any view taken before
// it, so it stands in for such a view.
import type { WorkloadRef } from '@onpush/contracts';
import { ANNOTATIONS } from '@onpush/kube';
import type { WorkloadSnapshot } from './decide.js';

/** Workloads remembered at most (least recently patched forgotten first). */
export const OWN_WRITES_LIMIT = 10_000;

export const workloadKey = ({ kind, namespace, name }: WorkloadRef): string =>
  `${kind}/${namespace}/${name}`;

export class OwnWrites {
  private readonly written = new Map<string, WorkloadSnapshot>();

  constructor(private readonly limit = OWN_WRITES_LIMIT) {}

  /** The workload as the response to our PATCH showed it (its whole object is not kept). */
  patched(workload: WorkloadRef, snapshot: WorkloadSnapshot): void {
    const key = workloadKey(workload);
    const kept = { ...snapshot };
    delete kept.source;
    this.written.delete(key);
    this.written.set(key, kept);
    if (this.written.size > this.limit) {
      const oldest = this.written.keys().next().value;
      if (oldest !== undefined) this.written.delete(oldest);
    }
  }

  /**
   * The view to decide on: the request's, unless it predates our last PATCH of the workload — it
   * does not show that PATCH's mark — and then the PATCH's response. (A view that shows our mark
   * is as new or newer; a change by someone else after our PATCH still ends in a 409 and a GET.)
   * No view (a redelivery, a replay): none, the machine reads the object.
   */
  freshest(
    workload: WorkloadRef,
    view: WorkloadSnapshot | undefined,
  ): WorkloadSnapshot | undefined {
    if (view === undefined) return undefined;
    const own = this.written.get(workloadKey(workload));
    if (own === undefined) return view;
    const ours = own.annotations[ANNOTATIONS.eventId];
    return view.annotations[ANNOTATIONS.eventId] === ours ? view : own;
  }

  size(): number {
    return this.written.size;
  }
}
