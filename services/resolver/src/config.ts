import { delimiter } from 'node:path';
import { z } from 'zod';
import { RESOLVER_MEMORY_MS, WORKLOAD_KINDS } from '@onpush/contracts';
import { scopeFields } from '@onpush/kube';
import { baseServiceSchema } from '@onpush/service';
import { duration, enumOf, list, port } from '@onpush/config';

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export const resolverSchema = baseServiceSchema.extend({
  PORT: port({ allowZero: true }).default(8083),
  /** Where the index snapshot ConfigMaps live (the resolver's own namespace). */
  ONPUSH_NAMESPACE: z
    .string()
    .regex(DNS_LABEL, { error: 'must be a Kubernetes namespace (DNS label)' })
    .default('onpush'),
  ...scopeFields,
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
   * dispatched ends `ignored` (`duplicate_push`) instead of fanning out again; 0: never. At most
   * an hour: how long the last dispatches are kept (bucket onpush_resolver_repeats).
   */
  DUPLICATE_WINDOW: duration({ min: 0, max: RESOLVER_MEMORY_MS }).default(10_000),
});

export type ResolverConfig = z.output<typeof resolverSchema>;

/**
 * The file to load explicitly, or undefined to let client-node's default loading run: it reads
 * KUBECONFIG itself and, unlike loading one file, understands a list of files.
 */
export function kubeconfigFile(kubeconfig: string | undefined): string | undefined {
  return kubeconfig === undefined || kubeconfig.includes(delimiter) ? undefined : kubeconfig;
}
