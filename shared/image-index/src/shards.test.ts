import { describe, expect, it } from 'vitest';
import { splitShards } from './shards.js';

describe('splitShards', () => {
  it('cuts by UTF-8 bytes and joins back to the same text', () => {
    const text = `${'a'.repeat(10)}é€😀${'b'.repeat(7)}`;
    const shards = splitShards(text, 5);
    expect(shards.join('')).toBe(text);
    for (const shard of shards) expect(Buffer.byteLength(shard)).toBeLessThanOrEqual(5);
    expect(splitShards('', 10)).toEqual(['']);
  });
});
