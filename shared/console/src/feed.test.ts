import { describe, expect, it, vi } from 'vitest';
import { onDemandFeed, pushStore, type PushFeed } from './feed.js';
import type { Push } from './pushes.js';

/** A feed over a push store, counting how often it was started and stopped. */
function fakeFeeds() {
  const started: { store: ReturnType<typeof pushStore>; stopped: boolean }[] = [];
  const start = (): Promise<PushFeed> => {
    const store = pushStore(10);
    const entry = { store, stopped: false };
    started.push(entry);
    return Promise.resolve({
      pushes: store.pushes,
      get: store.get,
      caughtUp: () => true,
      subscribe: (listener, ended) => store.subscribe(listener, ended),
      stop: () => {
        entry.stopped = true;
        store.endAll();
        return Promise.resolve();
      },
    });
  };
  return { started, start };
}

const outcome = (eventId: string) => ({
  outcome: {
    v: 1 as const,
    eventId,
    fate: 'no-match' as const,
    stage: 'resolver' as const,
    image: 'registry.example/app',
    at: '2026-12-07T10:00:00.000Z',
  },
  seq: 1,
  cluster: undefined,
  traceId: undefined,
});

describe('onDemandFeed', () => {
  it('reads nothing until asked, then follows while a stream is open, and stops when idle', async () => {
    vi.useFakeTimers();
    try {
      let clock = 0;
      const { started, start } = fakeFeeds();
      const feed = onDemandFeed(start, { idleMs: 60_000, now: () => clock });
      expect(started).toHaveLength(0);
      expect(feed.following).toBe(false);

      // the first look starts it; until it is there the list is empty and not caught up
      expect(feed.pushes()).toEqual([]);
      expect(feed.caughtUp()).toBe(false);
      await vi.advanceTimersByTimeAsync(0);
      expect(started).toHaveLength(1);
      expect(feed.following).toBe(true);

      // an open stream receives what is folded in
      const seen: Push[] = [];
      const unsubscribe = feed.subscribe(
        (p) => seen.push(p),
        () => undefined,
      );
      started[0]!.store.fold(outcome('gar:1'));
      expect(seen.map((p) => p.eventId)).toEqual(['gar:1']);
      expect(feed.pushes().map((p) => p.eventId)).toEqual(['gar:1']);

      // a stream open for longer than idleMs keeps it following
      clock += 120_000;
      await vi.advanceTimersByTimeAsync(120_000);
      expect(started[0]!.stopped).toBe(false);

      // closed, and nothing asked for idleMs: it stops reading
      unsubscribe();
      clock += 61_000;
      await vi.advanceTimersByTimeAsync(61_000);
      expect(started[0]!.stopped).toBe(true);
      expect(feed.following).toBe(false);

      // asked again: a new feed (the history read again)
      feed.pushes();
      await vi.advanceTimersByTimeAsync(0);
      expect(started).toHaveLength(2);
      await feed.stop();
      expect(started[1]!.stopped).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('ends open streams when stopped', async () => {
    const { start } = fakeFeeds();
    const feed = onDemandFeed(start, { idleMs: 60_000 });
    const ended = vi.fn();
    feed.subscribe(() => undefined, ended);
    await feed.stop();
    expect(ended).toHaveBeenCalledOnce();
  });
});
