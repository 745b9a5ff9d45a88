// The API server's own share of a restart: the same strategic-merge PATCH the restarter sends,
// over the same keep-alive client, straight from the bench — then the moment the watch shows it.
// Measured in the same run as everything else, before the services start, so onpush's latency
// can be split into "the API server" and "onpush".
import {
  KINDS,
  PatchStrategy,
  kubeHttp,
  objectPath,
  restartPatch,
  type KubeClients,
} from '@onpush/kube';
import { summarize, type Summary } from './stats.js';

export interface FloorResult {
  rate: number;
  seconds: number;
  /** PATCH sent → the watch shows the new annotation. */
  latencyMs: Summary;
}

export async function benchKubeFloor(
  kube: KubeClients,
  seen: Map<string, number[]>,
  workloads: { count: number; namespaces: number },
  rate: number,
  seconds: number,
  /** Prefix of the event ids this run marks (each run its own: the watch keeps what it saw). */
  idPrefix = 'floor',
): Promise<FloorResult> {
  const http = await kubeHttp(kube.config);
  const sentAt = new Map<string, number>();
  const total = Math.max(1, Math.round(rate * seconds));
  const start = performance.now();
  const inFlight: Promise<unknown>[] = [];
  try {
    for (let n = 0; n < total; n += 1) {
      const wait = start + (n * 1_000) / rate - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const i = n % workloads.count;
      const path = objectPath(KINDS.Deployment, `bench-${i % workloads.namespaces}`, `app-${i}`);
      const eventId = `${idPrefix}-${n}`;
      sentAt.set(eventId, performance.now());
      const body = restartPatch({ at: new Date(), eventId });
      inFlight.push(http.patch(path, body, PatchStrategy.StrategicMergePatch));
    }
    await Promise.all(inFlight);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && [...sentAt.keys()].some((id) => !seen.has(id)))
      await new Promise((r) => setTimeout(r, 50));
  } finally {
    http.close();
  }
  const latencies = [...sentAt].flatMap(([id, t0]) => {
    const at = seen.get(id)?.[0];
    return at === undefined ? [] : [at - t0];
  });
  return { rate, seconds, latencyMs: summarize(latencies) };
}
