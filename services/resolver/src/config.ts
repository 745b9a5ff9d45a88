import { delimiter } from 'node:path';
import { z } from 'zod';
import { WORKLOAD_KINDS } from '@onpush/contracts';
import { baseServiceSchema } from '@onpush/service';
import { duration, enumOf, list, port } from '@onpush/config';

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const namespaces = () =>
  list(z.string().regex(DNS_LABEL, { error: 'must list Kubernetes namespaces (DNS labels)' }));
// Label selector syntax as kubectl takes it: key[=|==|!=]value, key in (a,b), !key, ... The API
// server has the last word; this only keeps out what could never be one.
const SELECTOR = /^[A-Za-z0-9_./!=,() -]+$/;

export const resolverSchema = baseServiceSchema.extend({
  PORT: port({ allowZero: true }).default(8083),
  /** Where the index snapshot ConfigMaps live (the resolver's own namespace). */
  ONPUSH_NAMESPACE: z
    .string()
    .regex(DNS_LABEL, { error: 'must be a Kubernetes namespace (DNS label)' })
    .default('onpush'),
  /** `labelled`: workloads that opted in (ONPUSH_OPT_IN); `all`: every workload. */
  ONPUSH_SELECT: enumOf(['labelled', 'all']).default('labelled'),
  /** How a workload opts in: label `onpush.dev/enabled=true`, or that annotation. */
  ONPUSH_OPT_IN: enumOf(['label', 'annotation']).default('label'),
  /** Only these namespaces (one watch each, so a Role per namespace suffices); unset: all. */
  ONPUSH_NAMESPACES: namespaces().default([]),
  /** Never these namespaces. */
  ONPUSH_EXCLUDE_NAMESPACES: namespaces().default([]),
  /** A label selector every workload must also match, e.g. `team=web`. */
  ONPUSH_SELECTOR: z
    .string()
    .regex(SELECTOR, { error: 'must be a label selector such as team=web,tier!=batch' })
    .optional(),
  /** The kinds to watch; Rollout only when Argo Rollouts' CRD is installed (checked at start). */
  ONPUSH_KINDS: list(enumOf(WORKLOAD_KINDS))
    .pipe(z.array(z.enum(WORKLOAD_KINDS)).min(1, { error: 'must name at least one kind' }))
    .default([...WORKLOAD_KINDS]),
  /** A kubeconfig file; unset: the standard places, else the in-cluster ServiceAccount. */
  KUBECONFIG: z.string().optional(),
  SNAPSHOT_DEBOUNCE: duration({ min: 0 }).default(2_000),
  REBUILD_MIN_INTERVAL: duration({ min: 0 }).default(5_000),
  /**
   * A push of the same image, tag and digest to the same workloads within this time of one already
   * dispatched ends `ignored` (`duplicate_push`) instead of fanning out again; 0: never.
   */
  DUPLICATE_WINDOW: duration({ min: 0 }).default(10_000),
});

export type ResolverConfig = z.output<typeof resolverSchema>;

/**
 * The file to load explicitly, or undefined to let client-node's default loading run: it reads
 * KUBECONFIG itself and, unlike loading one file, understands a list of files.
 */
export function kubeconfigFile(kubeconfig: string | undefined): string | undefined {
  return kubeconfig === undefined || kubeconfig.includes(delimiter) ? undefined : kubeconfig;
}
