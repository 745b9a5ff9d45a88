// The image → workloads index: pure, in memory, answered without any API call. Keys: keys.ts.
// Decisions:
// - A container pinned by digest (`image@sha256:…`, with or without a tag) never matches a tag
//   push: it runs fixed content, restarting it changes nothing. It matches only a push that
//   names that digest and no tag. Under the `pin` policy it follows its tag instead.
// - A push with a tag looks up the tag only, even when it also carries a digest; workloads with a
//   tag policy are also found through the repository, when their policy accepts the pushed tag.
// - A workload with an invalid policy is kept but matches nothing (onpush never guesses).
// - An update whose containers and policy are unchanged (status updates, scaling) changes nothing,
//   so it does not bump `version` nor wake the snapshot writer.
import { acceptsTag } from '@onpush/kube';
import type { WorkloadKind } from '@onpush/contracts';
import {
  sameWorkload,
  toEntry,
  type Entry,
  type IndexedWorkload,
  type WorkloadId,
} from './entry.js';
import { queryKey, repositoryKey, type LookupQuery } from './keys.js';
import { SnapshotSchema, type SnapshotRow } from './snapshot-format.js';

export { containerKey, queryKey, type LookupQuery } from './keys.js';
export type { ContainerImage, IndexedWorkload, WorkloadId } from './entry.js';

export interface Match extends WorkloadId {
  /** Names of the containers that run the image, in the workload's order. */
  readonly containers: string[];
  /** The workload's `onpush.dev/wave`, when it has one. */
  readonly wave?: number | undefined;
}

export interface IndexStats {
  readonly workloads: number;
  /** Distinct image keys (`name:tag`, `name@digest`, `name:*`). */
  readonly images: number;
  /** Containers whose image could not be parsed, so they can never match. */
  readonly skippedContainers: number;
}

export interface UpsertResult {
  readonly changed: boolean;
  /** Container images that could not be parsed (skipped). */
  readonly skipped: readonly string[];
  /** Why the workload matches nothing at all (an invalid policy), when it does not. */
  readonly invalid?: string;
}

/** `${kind}/${namespace}/${name}`: one key space for every workload kind. */
export function workloadKey(id: WorkloadId): string {
  return `${id.kind}/${id.namespace}/${id.name}`;
}

/** In a snapshot row with a wave and no policy: the policy's place, empty. */
const NO_POLICY = '';

/** A snapshot row's optional tail: `[policy]`, `[policy or '', wave]` or nothing. */
function snapshotTail(w: Entry): string[] {
  if (w.wave !== undefined) return [w.policy ?? NO_POLICY, String(w.wave)];
  return w.policy !== undefined ? [w.policy] : [];
}

export class ImageIndex {
  readonly #workloads = new Map<string, Entry>();
  readonly #byKey = new Map<string, Map<string, readonly string[]>>();
  readonly #listeners = new Set<() => void>();
  #skipped = 0;
  #version = 0;

  /** Grows on every change that alters what a lookup can return. */
  get version(): number {
    return this.#version;
  }

  /** Adds or replaces a workload, in O(its containers). */
  upsert(workload: IndexedWorkload): UpsertResult {
    const id = workloadKey(workload);
    const previous = this.#workloads.get(id);
    if (previous && sameWorkload(previous, workload)) return { changed: false, skipped: [] };
    if (previous) this.#unlink(id, previous);
    const { entry, skipped } = toEntry(workload);
    this.#link(id, entry);
    this.#changed();
    const policy = entry.parsedPolicy;
    return {
      changed: true,
      skipped,
      ...(policy.kind === 'invalid' ? { invalid: policy.error } : {}),
    };
  }

  /** Removes a workload; false when it was not indexed. */
  remove(id: WorkloadId): boolean {
    const key = workloadKey(id);
    const previous = this.#workloads.get(key);
    if (!previous) return false;
    this.#unlink(key, previous);
    this.#changed();
    return true;
  }

  /**
   * Makes the workloads of `kind` exactly `workloads` (after a full list) — in `namespace` only
   * when given (a source that watches one namespace).
   */
  replaceKind(kind: WorkloadKind, workloads: readonly IndexedWorkload[], namespace?: string): void {
    const keep = new Set(workloads.map(workloadKey));
    for (const entry of [...this.#workloads.values()]) {
      const inScope =
        entry.kind === kind && (namespace === undefined || entry.namespace === namespace);
      if (inScope && !keep.has(workloadKey(entry))) this.remove(entry);
    }
    for (const workload of workloads) if (workload.kind === kind) this.upsert(workload);
  }

  /** The workloads running the pushed image (or following it by policy), sorted by workload key. No I/O. */
  lookup(query: LookupQuery): Match[] {
    const found = new Map<string, string[]>();
    const key = queryKey(query);
    for (const [id, names] of (key === undefined ? undefined : this.#byKey.get(key)) ?? []) {
      found.set(id, [...names]);
    }
    if (query.tag !== undefined) this.#byPolicy(query.image, query.tag, found);
    return [...found.keys()].sort().flatMap((id) => {
      const entry = this.#workloads.get(id);
      const names = found.get(id);
      if (!entry || !names) return [];
      const ordered = entry.containers.map((c) => c.name).filter((n) => names.includes(n));
      const { kind, namespace, name, wave } = entry;
      return [
        { kind, namespace, name, containers: ordered, ...(wave !== undefined ? { wave } : {}) },
      ];
    });
  }

  /** Adds the containers whose tag policy accepts `tag` over the tag they run. */
  #byPolicy(image: string, tag: string, found: Map<string, string[]>): void {
    for (const [id, names] of this.#byKey.get(repositoryKey(image)) ?? []) {
      const entry = this.#workloads.get(id);
      if (!entry) continue;
      const accepted = names.filter((n) => acceptsTag(entry.parsedPolicy, entry.tags.get(n), tag));
      if (accepted.length === 0) continue;
      found.set(id, [...new Set([...(found.get(id) ?? []), ...accepted])]);
    }
  }

  has(id: WorkloadId): boolean {
    return this.#workloads.has(workloadKey(id));
  }

  stats(): IndexStats {
    return {
      workloads: this.#workloads.size,
      images: this.#byKey.size,
      skippedContainers: this.#skipped,
    };
  }

  /** Calls `listener` after every change; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Compact JSON: `{"v":1,"w":[[kind,namespace,name,[[container,image],…],policy?,wave?],…]}`. */
  serialize(): string {
    const rows: SnapshotRow[] = [...this.#workloads.values()].map((w) => [
      w.kind,
      w.namespace,
      w.name,
      w.containers.map((c): [string, string] => [c.name, c.image]),
      ...snapshotTail(w),
    ]);
    return JSON.stringify({ v: 1, w: rows });
  }

  /**
   * Replaces the whole content with a snapshot, keeping only the workloads `keep` accepts (the
   * configuration may have narrowed since it was written); throws when it is not one (index untouched).
   */
  restore(json: string, keep: (id: WorkloadId) => boolean = () => true): void {
    const snapshot = SnapshotSchema.parse(JSON.parse(json));
    for (const [key, entry] of [...this.#workloads]) this.#unlink(key, entry);
    for (const [kind, namespace, name, containers, policy, wave] of snapshot.w) {
      if (!keep({ kind, namespace, name })) continue;
      const { entry } = toEntry({
        kind,
        namespace,
        name,
        containers: containers.map(([n, image]) => ({ name: n, image })),
        ...(policy !== undefined && policy !== NO_POLICY ? { policy } : {}),
        ...(wave !== undefined && /^\d+$/.test(wave) ? { wave: Number(wave) } : {}),
      });
      this.#link(workloadKey(entry), entry);
    }
    this.#changed();
  }

  static deserialize(json: string): ImageIndex {
    const index = new ImageIndex();
    index.restore(json);
    return index;
  }

  #link(id: string, entry: Entry): void {
    this.#workloads.set(id, entry);
    this.#skipped += entry.skipped;
    for (const [key, names] of entry.keys) {
      const holders = this.#byKey.get(key) ?? new Map<string, readonly string[]>();
      holders.set(id, names);
      this.#byKey.set(key, holders);
    }
  }

  #unlink(id: string, entry: Entry): void {
    this.#workloads.delete(id);
    this.#skipped -= entry.skipped;
    for (const key of entry.keys.keys()) {
      const holders = this.#byKey.get(key);
      holders?.delete(id);
      if (holders?.size === 0) this.#byKey.delete(key);
    }
  }

  #changed(): void {
    this.#version += 1;
    for (const listener of this.#listeners) listener();
  }
}
