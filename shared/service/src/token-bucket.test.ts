import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TokenBucket } from './token-bucket.js';

/** Starts `take()` for each label and records, in order, which ones have been let through. */
function takeAll(bucket: TokenBucket, labels: readonly string[]): string[] {
  const passed: string[] = [];
  for (const label of labels) void bucket.take().then(() => passed.push(label));
  return passed;
}

describe('TokenBucket', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets a burst through at once, then one request per 1/qps seconds, in arrival order', async () => {
    const bucket = new TokenBucket({ qps: 2, burst: 3 });
    const passed = takeAll(bucket, ['a', 'b', 'c', 'd', 'e']);
    await vi.advanceTimersByTimeAsync(0);
    expect(passed).toEqual(['a', 'b', 'c']);
    await vi.advanceTimersByTimeAsync(499);
    expect(passed).toEqual(['a', 'b', 'c']);
    await vi.advanceTimersByTimeAsync(1);
    expect(passed).toEqual(['a', 'b', 'c', 'd']);
    await vi.advanceTimersByTimeAsync(500);
    expect(passed).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('refills while idle, never beyond the burst', async () => {
    const bucket = new TokenBucket({ qps: 10, burst: 2 });
    takeAll(bucket, ['a', 'b']);
    await vi.advanceTimersByTimeAsync(60_000);
    const passed = takeAll(bucket, ['c', 'd', 'e']);
    await vi.advanceTimersByTimeAsync(0);
    expect(passed).toEqual(['c', 'd']);
    await vi.advanceTimersByTimeAsync(100);
    expect(passed).toEqual(['c', 'd', 'e']);
  });

  it('tells how long a reservation waits, fractional rates included', () => {
    const bucket = new TokenBucket({ qps: 0.5, burst: 1 });
    expect(bucket.reserve()).toBe(0);
    expect(bucket.reserve()).toBe(2_000);
    expect(bucket.reserve()).toBe(4_000);
    vi.advanceTimersByTime(4_000);
    expect(bucket.reserve()).toBe(2_000);
  });

  it('sheds load: lets a burst through, then one request per 1/rate seconds, and says how long to wait', () => {
    let now = 0;
    const bucket = new TokenBucket({ qps: 2, burst: 3, now: () => now });
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([0, 0, 0]);
    expect(bucket.tryTake()).toBe(500);
    now = 250;
    expect(bucket.tryTake()).toBe(250);
    now = 500;
    expect(bucket.tryTake()).toBe(0);
    now = 60_000;
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([
      0, 0, 0, 500,
    ]);
  });

  it('refuses a rate or burst that could never let a request through', () => {
    expect(() => new TokenBucket({ qps: 0, burst: 1 })).toThrow(RangeError);
    expect(() => new TokenBucket({ qps: 1, burst: 0 })).toThrow(RangeError);
  });
});
