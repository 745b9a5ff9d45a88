// What onpush costs while workloads it does not restart change (issue 15): Deployments that did
// not opt in, in the same namespaces as opted-in ones, have their annotations changed at a steady
// rate, while onpush follows rollouts in those namespaces (its rollout watches are open). The CPU
// the five services spend then, beside the same time without the churn, just before.
import { SERVICES, type ServiceName } from '@onpush/cli';
import { PatchStrategy, ignoreConflict, setHeaderOptions, type KubeClients } from '@onpush/kube';
import { servicesCpu, total } from './idle.js';
import { round } from './stats.js';

export interface ChurnResult {
  /** Deployments that did not opt in, changed in turn. */
  others: number;
  rate: number;
  seconds: number;
  changes: number;
  /** CPU seconds per service: the quiet window before, then the churn. */
  cpuSeconds: { quiet: Record<string, number>; churn: Record<string, number> };
  /** (churn − quiet) of all five services, per change. */
  cpuPerChangeMs: number;
}

/** How long after the follow pushes the quiet window starts. */
const SETTLE_MS = 5_000;

/** CPU seconds each service spends while `work` runs. */
async function cpuDuring(
  ports: Record<ServiceName, number>,
  work: () => Promise<unknown>,
): Promise<Record<string, number>> {
  const before = await servicesCpu(ports);
  await work();
  const after = await servicesCpu(ports);
  return Object.fromEntries(SERVICES.map((s) => [s, round((after[s] ?? 0) - (before[s] ?? 0), 3)]));
}

export async function benchChurn(options: {
  kube: KubeClients;
  ports: Record<ServiceName, number>;
  /** The Deployments that did not opt in (`other-i` in namespace bench-(i % namespaces)). */
  others: number;
  namespaces: number;
  rate: number;
  seconds: number;
  /** Makes onpush follow rollouts in those namespaces (a push per namespace), before measuring. */
  follow: () => Promise<void>;
}): Promise<ChurnResult> {
  const { kube, ports, others, namespaces, rate, seconds } = options;
  await options.follow();
  // The follow pushes' own work (their Events, the rollout watches opening) is not the quiet's.
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const quiet = await cpuDuring(ports, () => new Promise((r) => setTimeout(r, seconds * 1_000)));
  const changes = Math.round(rate * seconds);
  const churn = await cpuDuring(ports, async () => {
    const start = performance.now();
    const inFlight: Promise<unknown>[] = [];
    for (let n = 0; n < changes; n += 1) {
      const wait = start + (n * 1_000) / rate - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const i = n % others;
      inFlight.push(
        ignoreConflict(
          kube.apps.patchNamespacedDeployment(
            {
              name: `other-${i}`,
              namespace: `bench-${i % namespaces}`,
              body: { metadata: { annotations: { 'bench.onpush.dev/churn': String(n) } } },
            },
            setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
          ),
        ),
      );
    }
    await Promise.all(inFlight);
  });
  return {
    others,
    rate,
    seconds,
    changes,
    cpuSeconds: { quiet, churn },
    cpuPerChangeMs: round(((total(churn) - total(quiet)) * 1_000) / changes, 3),
  };
}
