// JetStream KV's compare-and-set in memory, for tests of what keeps state in a bucket.
import type { CasStore, Versioned } from '@onpush/nats';

/** A compare-and-set store in memory (JetStream KV's semantics: revision 0 is absent). */
export class MemoryCasStore<T> implements CasStore<T> {
  readonly values = new Map<string, { value: T; revision: number }>();
  #revision = 0;

  read(key: string): Promise<Versioned<T>> {
    const found = this.values.get(key);
    return Promise.resolve(found ?? { value: undefined, revision: 0 });
  }

  write(key: string, value: T, revision: number): Promise<number> {
    if ((this.values.get(key)?.revision ?? 0) !== revision) return Promise.resolve(0);
    this.#revision += 1;
    this.values.set(key, { value, revision: this.#revision });
    return Promise.resolve(this.#revision);
  }
}
