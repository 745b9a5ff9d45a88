import { delimiter } from 'node:path';
import { z } from 'zod';
import { RESOLVER_MEMORY_MS, WORKLOAD_KINDS } from '@onpush/contracts';
import { scopeFields, waveNumber } from '@onpush/kube';
import { baseServiceSchema } from '@onpush/service';
import { duration, enumOf, list, perNamespace, port } from '@onpush/config';

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A declared wave's name (WAVES): a word such as `staging` or `prod-eu`. */
const WAVE_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export const resolverSchema = baseServiceSchema
  .extend({
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
    /**
     * Staged rollouts: wave names in order, so `onpush.dev/wave: canary` reads as a wave
     * (`staging,canary,prod`: staging is wave 1, canary 2, prod 3). Numbers are waves too.
     */
    WAVES: list(z.string().regex(WAVE_NAME, { error: 'must be a wave name such as staging' }))
      .refine((names) => new Set(names).size === names.length, { error: 'names a wave twice' })
      .default([]),
    /** The wave of workloads without `onpush.dev/wave`, per namespace: `staging=1,prod=prod`. */
    WAVE_NAMESPACES: perNamespace(
      (wave) => (wave === '' ? undefined : wave),
      'namespace=wave such as prod=2',
    ).default({}),
  })
  .superRefine((config, ctx) => {
    for (const [namespace, wave] of Object.entries(config.WAVE_NAMESPACES)) {
      if (waveNumber(wave, config.WAVES) !== undefined) continue;
      const named = config.WAVES.length > 0 ? ` or one of WAVES (${config.WAVES.join(', ')})` : '';
      const message = `${namespace}=${wave}: the wave is not a number${named}`;
      ctx.addIssue({ code: 'custom', path: ['WAVE_NAMESPACES'], message });
    }
  });

/** How waves are named and which one a namespace's workloads are in when they name none. */
export interface WavePlan {
  readonly names: readonly string[];
  readonly namespaces: Readonly<Record<string, number>>;
}

export function wavePlan(config: Pick<ResolverConfig, 'WAVES' | 'WAVE_NAMESPACES'>): WavePlan {
  const namespaces: Record<string, number> = {};
  for (const [namespace, wave] of Object.entries(config.WAVE_NAMESPACES)) {
    const number = waveNumber(wave, config.WAVES);
    if (number !== undefined) namespaces[namespace] = number;
  }
  return { names: config.WAVES, namespaces };
}

export type ResolverConfig = z.output<typeof resolverSchema>;

/**
 * The file to load explicitly, or undefined to let client-node's default loading run: it reads
 * KUBECONFIG itself and, unlike loading one file, understands a list of files.
 */
export function kubeconfigFile(kubeconfig: string | undefined): string | undefined {
  return kubeconfig === undefined || kubeconfig.includes(delimiter) ? undefined : kubeconfig;
}
