// One workload as the index holds it: its keys (keys.ts), the tag each container runs, its policy.
import type { WorkloadKind } from '@onpush/contracts';
import { parsePolicy, type Policy } from '@onpush/kube';
import { containerKeys } from './keys.js';

export interface ContainerImage {
  readonly name: string;
  readonly image: string;
}

export interface WorkloadId {
  readonly kind: WorkloadKind;
  readonly namespace: string;
  readonly name: string;
}

/** A workload as the index holds it: the containers that count (init and sidecars included). */
export interface IndexedWorkload extends WorkloadId {
  readonly containers: readonly ContainerImage[];
  /** Its `onpush.dev/policy` value; absent means `restart`. */
  readonly policy?: string | undefined;
  /** Its `onpush.dev/wave`; absent: none (restarted at once). */
  readonly wave?: number | undefined;
}

export interface Entry extends IndexedWorkload {
  /** Index key → names of this workload's containers under that key. */
  readonly keys: ReadonlyMap<string, readonly string[]>;
  /** Container name → the tag it runs (for the tag policies' comparison). */
  readonly tags: ReadonlyMap<string, string | undefined>;
  readonly parsedPolicy: Policy;
  readonly skipped: number;
}

export function sameWorkload(a: IndexedWorkload, b: IndexedWorkload): boolean {
  const [x, y] = [a.containers, b.containers];
  return (
    a.policy === b.policy &&
    a.wave === b.wave &&
    x.length === y.length &&
    x.every((c, i) => c.name === y[i]?.name && c.image === y[i]?.image)
  );
}

export function toEntry(workload: IndexedWorkload): { entry: Entry; skipped: string[] } {
  const parsedPolicy = parsePolicy(workload.policy);
  const keys = new Map<string, string[]>();
  const tags = new Map<string, string | undefined>();
  const skipped: string[] = [];
  for (const container of workload.containers) {
    const found = containerKeys(container.image, parsedPolicy);
    if (found === undefined) {
      skipped.push(container.image);
      continue;
    }
    tags.set(container.name, found.tag);
    for (const key of found.keys) {
      const names = keys.get(key) ?? [];
      if (!names.includes(container.name)) names.push(container.name);
      keys.set(key, names);
    }
  }
  const { kind, namespace, name, policy, wave } = workload;
  const containers = workload.containers.map((c) => ({ name: c.name, image: c.image }));
  const entry: Entry = {
    kind,
    namespace,
    name,
    containers,
    ...(policy !== undefined ? { policy } : {}),
    ...(wave !== undefined ? { wave } : {}),
    keys,
    tags,
    parsedPolicy,
    skipped: skipped.length,
  };
  return { entry, skipped };
}
