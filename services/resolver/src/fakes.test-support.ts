// In-memory stand-ins for the resolver's unit tests: the Kubernetes API (ConfigMaps with the API's
// status codes, an informer driven by the test, a Deployment source built on them) and the
// decisions in memory. Test support: excluded from the build, never in the image.
import type { V1ConfigMap, V1Deployment } from '@kubernetes/client-node';
import { MemoryCasStore } from '@onpush/testing';
import type { IndexedWorkload, WorkloadId } from '@onpush/image-index';
import { decisionBook, type Decision, type DecisionBook } from './decisions.js';
import type { ConfigMapApi } from './snapshot.js';
import { deploymentWorkload, type WorkloadInformer, type WorkloadSource } from './sources.js';

/** Shaped like client-node's ApiException, which toKubeApiError reads. */
export class FakeApiException extends Error {
  readonly body: { message: string };
  readonly headers: Record<string, string> = {};
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(`HTTP ${code}: ${message}`);
    this.body = { message };
  }
}

export class FakeConfigMaps implements ConfigMapApi {
  readonly maps = new Map<string, V1ConfigMap>();
  /** Each write (create or replace) fails with this error while set. */
  failWrites: Error | undefined;
  writes = 0;

  #key(namespace: string, name: string): string {
    return `${namespace}/${name}`;
  }

  names(namespace: string): string[] {
    return [...this.maps.keys()]
      .filter((k) => k.startsWith(`${namespace}/`))
      .map((k) => k.slice(namespace.length + 1))
      .sort();
  }

  readNamespacedConfigMap({
    name,
    namespace,
  }: {
    name: string;
    namespace: string;
  }): Promise<V1ConfigMap> {
    const map = this.maps.get(this.#key(namespace, name));
    return map
      ? Promise.resolve(structuredClone(map))
      : Promise.reject(new FakeApiException(404, `${name} not found`));
  }

  createNamespacedConfigMap({
    namespace,
    body,
  }: {
    namespace: string;
    body: V1ConfigMap;
  }): Promise<V1ConfigMap> {
    this.writes += 1;
    if (this.failWrites) return Promise.reject(this.failWrites);
    const key = this.#key(namespace, body.metadata?.name ?? '');
    if (this.maps.has(key)) return Promise.reject(new FakeApiException(409, 'already exists'));
    this.maps.set(key, structuredClone(body));
    return Promise.resolve(body);
  }

  replaceNamespacedConfigMap(param: {
    name: string;
    namespace: string;
    body: V1ConfigMap;
  }): Promise<V1ConfigMap> {
    this.writes += 1;
    if (this.failWrites) return Promise.reject(this.failWrites);
    const key = this.#key(param.namespace, param.name);
    if (!this.maps.has(key))
      return Promise.reject(new FakeApiException(404, `${param.name} not found`));
    this.maps.set(key, structuredClone(param.body));
    return Promise.resolve(param.body);
  }

  deleteNamespacedConfigMap({
    name,
    namespace,
  }: {
    name: string;
    namespace: string;
  }): Promise<unknown> {
    const deleted = this.maps.delete(this.#key(namespace, name));
    return deleted
      ? Promise.resolve({})
      : Promise.reject(new FakeApiException(404, `${name} not found`));
  }
}

export function fakeDeployment(
  namespace: string,
  name: string,
  images: Record<string, string>,
  init: Record<string, string> = {},
): V1Deployment {
  const containers = (entries: Record<string, string>) =>
    Object.entries(entries).map(([n, image]) => ({ name: n, image }));
  return {
    metadata: { namespace, name },
    spec: {
      selector: {},
      template: { spec: { containers: containers(images), initContainers: containers(init) } },
    },
  };
}

type Verb = 'add' | 'update' | 'delete' | 'change' | 'error' | 'connect';

/** An informer the test drives: `start()` lists `objects` (or fails with `failStart`). */
export class FakeInformer implements WorkloadInformer<V1Deployment> {
  objects: V1Deployment[] = [];
  failStart: Error | undefined;
  starts = 0;
  readonly #cache = new Map<string, V1Deployment>();
  readonly #callbacks = new Map<Verb, ((arg: V1Deployment) => void)[]>();

  on(verb: Verb, cb: (arg: V1Deployment) => void): void {
    for (const v of verb === 'change' ? (['add', 'update', 'delete'] as const) : [verb]) {
      this.#callbacks.set(v, [...(this.#callbacks.get(v) ?? []), cb]);
    }
  }

  off(verb: Verb, cb: (arg: V1Deployment) => void): void {
    for (const v of verb === 'change' ? (['add', 'update', 'delete'] as const) : [verb]) {
      this.#callbacks.set(
        v,
        (this.#callbacks.get(v) ?? []).filter((c) => c !== cb),
      );
    }
  }

  start(): Promise<void> {
    this.starts += 1;
    if (this.failStart) {
      this.fail(this.failStart);
      return Promise.resolve();
    }
    const listed = new Map(
      this.objects.map((o) => [`${o.metadata?.namespace}/${o.metadata?.name}`, o]),
    );
    for (const [key, old] of [...this.#cache]) if (!listed.has(key)) this.emit('delete', old);
    for (const object of this.objects)
      this.emit(
        this.#cache.has(`${object.metadata?.namespace}/${object.metadata?.name}`)
          ? 'update'
          : 'add',
        object,
      );
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  list(): readonly V1Deployment[] {
    return [...this.#cache.values()];
  }

  get(name: string, namespace?: string): V1Deployment | undefined {
    return this.#cache.get(`${namespace}/${name}`);
  }

  /** A watch event: updates the cache and calls the callbacks, as ListWatch does. */
  emit(verb: 'add' | 'update' | 'delete', object: V1Deployment): void {
    const key = `${object.metadata?.namespace}/${object.metadata?.name}`;
    if (verb === 'delete') this.#cache.delete(key);
    else this.#cache.set(key, object);
    for (const cb of this.#callbacks.get(verb) ?? []) cb(object);
  }

  /** The watch (or list) broke: ListWatch reports it and stops. */
  fail(error: Error): void {
    for (const cb of this.#callbacks.get('error') ?? []) cb(error as unknown as V1Deployment);
  }
}

/** A Deployment source over a FakeInformer; `list()` answers from `objects` after `listDelay`. */
export class FakeSource implements WorkloadSource<V1Deployment> {
  readonly kind = 'Deployment' as const;
  readonly fake = new FakeInformer();
  lists = 0;
  failList: Error | undefined;
  #pending: (() => void)[] = [];
  /** When true, list() waits for release(). */
  hold = false;

  async list(): Promise<IndexedWorkload[]> {
    this.lists += 1;
    if (this.hold) await new Promise<void>((resolve) => this.#pending.push(resolve));
    if (this.failList) throw this.failList;
    return this.fake.objects.flatMap((d) => deploymentWorkload(d) ?? []);
  }

  release(): void {
    for (const resolve of this.#pending.splice(0)) resolve();
  }

  informer(): WorkloadInformer<V1Deployment> {
    return this.fake;
  }

  toWorkload(object: V1Deployment): IndexedWorkload | undefined {
    return deploymentWorkload(object);
  }

  idOf(object: V1Deployment): WorkloadId | undefined {
    const { namespace, name } = object.metadata ?? {};
    return namespace && name ? { kind: 'Deployment', namespace, name } : undefined;
  }
}

/** The resolver's decisions, kept in memory. */
export function memoryDecisions(): DecisionBook {
  return decisionBook(new MemoryCasStore<Decision>());
}
