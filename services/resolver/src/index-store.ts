// The image → workloads index: pure, in memory, answered without any API call. Keys are the
// normalized `name:tag` (contracts' matchKey) for containers that follow a tag, and
// `name@digest` for containers pinned by digest, so the two never collide (a tag has no `@`).
// Decisions:
// - A container pinned by digest (`image@sha256:…`, with or without a tag) never matches a tag
//   push: it runs fixed content, restarting it changes nothing. It matches only a push that
//   names that digest and no tag.
// - A push with a tag looks up the tag only, even when it also carries a digest.
// - An update whose containers are unchanged (status updates, scaling) changes nothing, so it
//   does not bump `version` nor wake the snapshot writer.
import { z } from 'zod';
import { WORKLOAD_KINDS, matchKey, normalizeImageRef, type WorkloadKind } from '@onpush/contracts';

export interface ContainerImage {
  readonly name: string;
  readonly image: string;
}

export interface WorkloadId {
  readonly kind: WorkloadKind;
  readonly namespace: string;
  readonly name: string;
}

/** A workload as the index holds it: init containers and sidecars included. */
export interface IndexedWorkload extends WorkloadId {
  readonly containers: readonly ContainerImage[];
}

/** What an `ImagePushed` carries for a lookup; `image` is the normalized name. */
export interface LookupQuery {
  readonly image: string;
  readonly tag?: string | undefined;
  readonly digest?: string | undefined;
}

export interface Match extends WorkloadId {
  /** Names of the containers that run the image, in the workload's order. */
  readonly containers: string[];
}

export interface IndexStats {
  readonly workloads: number;
  /** Distinct image keys (`name:tag` or `name@digest`). */
  readonly images: number;
  /** Containers whose image could not be parsed, so they can never match. */
  readonly skippedContainers: number;
}

export interface UpsertResult {
  readonly changed: boolean;
  /** Container images that could not be parsed (skipped). */
  readonly skipped: readonly string[];
}

interface Entry extends IndexedWorkload {
  /** Index key → names of this workload's containers under that key. */
  readonly keys: ReadonlyMap<string, readonly string[]>;
  readonly skipped: number;
}

/** `${kind}/${namespace}/${name}`: one key space for every workload kind. */
export function workloadKey(id: WorkloadId): string {
  return `${id.kind}/${id.namespace}/${id.name}`;
}

/** The index key of a container image, or undefined when it cannot be parsed. */
export function containerKey(image: string): string | undefined {
  try {
    const ref = normalizeImageRef(image);
    if (ref.digest !== undefined) return `${ref.name}@${ref.digest}`;
    return matchKey(ref);
  } catch {
    return undefined;
  }
}

/** The index key a push looks up: its tag when it has one, else its digest. */
export function queryKey(query: LookupQuery): string | undefined {
  if (query.tag !== undefined) return matchKey({ name: query.image, tag: query.tag });
  if (query.digest !== undefined) return `${query.image}@${query.digest}`;
  return undefined;
}

const SnapshotSchema = z.object({
  v: z.literal(1),
  w: z.array(
    z.tuple([
      z.enum(WORKLOAD_KINDS),
      z.string(),
      z.string(),
      z.array(z.tuple([z.string(), z.string()])),
    ]),
  ),
});

type SnapshotRow = z.infer<typeof SnapshotSchema>['w'][number];

function sameContainers(a: readonly ContainerImage[], b: readonly ContainerImage[]): boolean {
  return (
    a.length === b.length && a.every((c, i) => c.name === b[i]?.name && c.image === b[i]?.image)
  );
}

function toEntry(workload: IndexedWorkload): { entry: Entry; skipped: string[] } {
  const keys = new Map<string, string[]>();
  const skipped: string[] = [];
  for (const container of workload.containers) {
    const key = containerKey(container.image);
    if (key === undefined) {
      skipped.push(container.image);
      continue;
    }
    const names = keys.get(key) ?? [];
    if (!names.includes(container.name)) names.push(container.name);
    keys.set(key, names);
  }
  const { kind, namespace, name } = workload;
  const containers = workload.containers.map((c) => ({ name: c.name, image: c.image }));
  return { entry: { kind, namespace, name, containers, keys, skipped: skipped.length }, skipped };
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
    if (previous && sameContainers(previous.containers, workload.containers)) {
      return { changed: false, skipped: [] };
    }
    if (previous) this.#unlink(id, previous);
    const { entry, skipped } = toEntry(workload);
    this.#link(id, entry);
    this.#changed();
    return { changed: true, skipped };
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

  /** Makes the workloads of `kind` exactly `workloads` (after a full list). */
  replaceKind(kind: WorkloadKind, workloads: readonly IndexedWorkload[]): void {
    const keep = new Set(workloads.map(workloadKey));
    for (const entry of [...this.#workloads.values()]) {
      if (entry.kind === kind && !keep.has(workloadKey(entry))) this.remove(entry);
    }
    for (const workload of workloads) if (workload.kind === kind) this.upsert(workload);
  }

  /** The workloads running the pushed image, sorted by workload key. No I/O. */
  lookup(query: LookupQuery): Match[] {
    const key = queryKey(query);
    const found = key === undefined ? undefined : this.#byKey.get(key);
    if (!found) return [];
    return [...found.keys()].sort().flatMap((id) => {
      const entry = this.#workloads.get(id);
      const names = found.get(id);
      if (!entry || !names) return [];
      return [
        { kind: entry.kind, namespace: entry.namespace, name: entry.name, containers: [...names] },
      ];
    });
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

  /** Compact JSON: `{"v":1,"w":[[kind,namespace,name,[[container,image],…]],…]}`. */
  serialize(): string {
    const rows: SnapshotRow[] = [...this.#workloads.values()].map((w) => [
      w.kind,
      w.namespace,
      w.name,
      w.containers.map((c): [string, string] => [c.name, c.image]),
    ]);
    return JSON.stringify({ v: 1, w: rows });
  }

  /** Replaces the whole content with a snapshot; throws when it is not one (index untouched). */
  restore(json: string): void {
    const snapshot = SnapshotSchema.parse(JSON.parse(json));
    for (const [key, entry] of [...this.#workloads]) this.#unlink(key, entry);
    for (const [kind, namespace, name, containers] of snapshot.w) {
      const { entry } = toEntry({
        kind,
        namespace,
        name,
        containers: containers.map(([n, image]) => ({ name: n, image })),
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
