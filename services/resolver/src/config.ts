import { delimiter } from 'node:path';
import { z } from 'zod';
import { baseServiceSchema } from '@onpush/service';
import { duration, enumOf, port } from '@onpush/config';

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export const resolverSchema = baseServiceSchema.extend({
  PORT: port({ allowZero: true }).default(8083),
  /** Where the index snapshot ConfigMaps live (the resolver's own namespace). */
  ONPUSH_NAMESPACE: z
    .string()
    .regex(DNS_LABEL, { error: 'must be a Kubernetes namespace (DNS label)' })
    .default('onpush'),
  /** `labelled`: Deployments labelled onpush.dev/enabled=true; `all`: every Deployment. */
  ONPUSH_SELECT: enumOf(['labelled', 'all']).default('labelled'),
  /** A kubeconfig file; unset: the standard places, else the in-cluster ServiceAccount. */
  KUBECONFIG: z.string().optional(),
  SNAPSHOT_DEBOUNCE: duration({ min: 0 }).default(2_000),
  REBUILD_MIN_INTERVAL: duration({ min: 0 }).default(5_000),
});

export type ResolverConfig = z.output<typeof resolverSchema>;

/**
 * The file to load explicitly, or undefined to let client-node's default loading run: it reads
 * KUBECONFIG itself and, unlike loading one file, understands a list of files.
 */
export function kubeconfigFile(kubeconfig: string | undefined): string | undefined {
  return kubeconfig === undefined || kubeconfig.includes(delimiter) ? undefined : kubeconfig;
}
