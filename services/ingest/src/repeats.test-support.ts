// The repeats bucket in memory, for tests of what ingest remembers.
import type { CasStore } from '@onpush/nats';
import type { Remembered } from './repeats.js';

/** A compare-and-set store in memory, as the KV bucket behaves for one replica; counts reads. */
export function memoryStore(): CasStore<Remembered> & {
  values: Map<string, Remembered>;
  reads: string[];
} {
  const values = new Map<string, Remembered>();
  const reads: string[] = [];
  return {
    values,
    reads,
    read: (key) => {
      reads.push(key);
      return Promise.resolve({ value: values.get(key), revision: values.has(key) ? 1 : 0 });
    },
    write: (key, value, revision) => {
      if (revision === 0 && values.has(key)) return Promise.resolve(0);
      values.set(key, value);
      return Promise.resolve(1);
    },
  };
}
