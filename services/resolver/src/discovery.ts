// Which workload kinds the cluster serves (Argo Rollouts' CRD installed or not), and the sources
// that watch and list them: known once the API server answered, asked once.
import {
  discoverRollouts,
  kubeHttp,
  watchedNamespaces,
  type KubeConfig,
  type Scope,
} from '@onpush/kube';
import type { WorkloadKind } from '@onpush/contracts';
import type { Logger } from '@onpush/telemetry';
import { activeKinds } from './active-kinds.js';
import type { WavePlan } from './config.js';
import { workloadSources, type WorkloadSource } from './sources.js';

export interface Discovery {
  /** The sources to watch and list; empty until `discover` ran. */
  readonly sources: () => WorkloadSource[];
  /** True for a kind the cluster serves and onpush watches. */
  readonly serves: (kind: string) => boolean;
  /** Asks the API server once; later calls return at once. */
  readonly discover: () => Promise<void>;
}

export function createDiscovery(options: {
  kubeConfig: KubeConfig;
  wanted: readonly WorkloadKind[];
  scope: Scope;
  /** Wave names and namespace waves (WAVES, WAVE_NAMESPACES). */
  waves?: WavePlan;
  log: Logger;
}): Discovery {
  const { kubeConfig, scope, log } = options;
  let found: { sources: WorkloadSource[]; kinds: ReadonlySet<string> } | undefined;
  return {
    sources: () => found?.sources ?? [],
    serves: (kind) => found?.kinds.has(kind) ?? false,
    async discover() {
      if (found !== undefined) return;
      const http = await kubeHttp(kubeConfig);
      try {
        const active = await activeKinds(options.wanted, () => discoverRollouts(http), log);
        const sources = workloadSources(
          kubeConfig,
          active,
          scope,
          watchedNamespaces(scope),
          options.waves,
        );
        found = { sources, kinds: new Set(active) };
        log.info('watching', {
          kinds: active,
          namespaces: scope.namespaces,
          exclude: scope.exclude,
        });
      } finally {
        http.close();
      }
    },
  };
}
