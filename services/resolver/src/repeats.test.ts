import { describe, expect, it } from 'vitest';
import type { ImagePushed } from '@onpush/contracts';
import { MemoryCasStore } from '@onpush/testing';
import { createRecentPushes, type LastDispatch } from './repeats.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const OTHER = `sha256:${'b'.repeat(64)}`;
const WEB = ['Deployment/shop/web'];

function push(id: string, overrides: Partial<ImagePushed> = {}): ImagePushed {
  return {
    v: 1,
    id,
    source: 'gar',
    image: 'example.com/shop/web',
    registry: 'example.com',
    repository: 'shop/web',
    tag: '1.0',
    digest: DIGEST,
    receivedAt: '2026-11-26T10:00:00.000Z',
    ...overrides,
  };
}

function clocked(windowMs: number, store = new MemoryCasStore<LastDispatch>()) {
  let t = 1_000;
  const recent = createRecentPushes({ windowMs, store, now: () => t });
  return { recent, store, advance: (ms: number) => (t += ms) };
}

describe('recent pushes', () => {
  it('names the first dispatch of an identical push to the same workloads within the window', async () => {
    const { recent, advance } = clocked(10_000);
    expect(await recent.repeatOf(push('e1'), WEB)).toBeUndefined();
    advance(9_999);
    expect(await recent.repeatOf(push('e2'), WEB)).toEqual({ eventId: 'e1', ageMs: 9_999 });
    advance(1);
    expect(await recent.repeatOf(push('e3'), WEB)).toBeUndefined();
  });

  it('is no repeat with another digest, tag, image or set of workloads', async () => {
    const { recent } = clocked(10_000);
    await recent.repeatOf(push('e1'), WEB);
    expect(await recent.repeatOf(push('e2', { digest: OTHER }), WEB)).toBeUndefined();
    // the tag moved back to the first digest: a new push, followed
    expect(await recent.repeatOf(push('e3'), WEB)).toBeUndefined();
    expect(await recent.repeatOf(push('e4', { tag: '1.1' }), WEB)).toBeUndefined();
    expect(
      await recent.repeatOf(push('e5', { image: 'example.com/shop/api' }), WEB),
    ).toBeUndefined();
    expect(await recent.repeatOf(push('e6'), [...WEB, 'Deployment/shop/new'])).toBeUndefined();
  });

  it('never judges a push without digest, a redelivery of the same event, or a zero window', async () => {
    const { recent } = clocked(10_000);
    const tagOnly = { digest: undefined };
    await recent.repeatOf(push('e1', tagOnly), WEB);
    expect(await recent.repeatOf(push('e2', tagOnly), WEB)).toBeUndefined();
    await recent.repeatOf(push('e3'), WEB);
    expect(await recent.repeatOf(push('e3'), WEB)).toBeUndefined();
    const off = clocked(0).recent;
    await off.repeatOf(push('e1'), WEB);
    expect(await off.repeatOf(push('e2'), WEB)).toBeUndefined();
  });

  it('is shared: a second replica on the same store sees the first dispatch', async () => {
    const store = new MemoryCasStore<LastDispatch>();
    const a = clocked(10_000, store);
    const b = clocked(10_000, store);
    expect(await a.recent.repeatOf(push('e1'), WEB)).toBeUndefined();
    expect(await b.recent.repeatOf(push('e2'), WEB)).toEqual({ eventId: 'e1', ageMs: 0 });
    // and a redelivery of e1 to the second replica is no repeat
    expect(await b.recent.repeatOf(push('e1'), WEB)).toBeUndefined();
  });

  it('lets one of two replicas claim a push they judge at the same moment', async () => {
    const store = new MemoryCasStore<LastDispatch>();
    const write = store.write.bind(store);
    // both send their claim before either is stored
    let gate: () => void = () => undefined;
    const bothSent = new Promise<void>((resolve) => (gate = resolve));
    let writes = 0;
    store.write = async (key, value, revision) => {
      writes += 1;
      if (writes === 2) gate();
      if (writes <= 2) await bothSent;
      return write(key, value, revision);
    };
    const a = clocked(10_000, store);
    const b = clocked(10_000, store);
    const [first, second] = await Promise.all([
      a.recent.repeatOf(push('e1'), WEB),
      b.recent.repeatOf(push('e2'), WEB),
    ]);
    expect([first, second].filter((d) => d === undefined)).toHaveLength(1);
    expect([first, second].find((d) => d !== undefined)?.eventId).toMatch(/^e[12]$/);
  });

  it('claims an image and tag it knows nothing of with one write, and reads only when that fails', async () => {
    const store = new MemoryCasStore<LastDispatch>();
    const calls: string[] = [];
    const read = store.read.bind(store);
    const write = store.write.bind(store);
    store.read = (key) => (calls.push('read'), read(key));
    store.write = (key, value, revision) => (
      calls.push(`write@${revision}`),
      write(key, value, revision)
    );
    const a = clocked(10_000, store);
    expect(await a.recent.repeatOf(push('e1'), WEB)).toBeUndefined();
    expect(calls).toEqual(['write@0']);
    // a replica that knows nothing of it (just started) creates, fails, reads and finds the repeat
    calls.length = 0;
    const b = clocked(10_000, store);
    expect(await b.recent.repeatOf(push('e2'), WEB)).toEqual({ eventId: 'e1', ageMs: 0 });
    expect(calls).toEqual(['write@0', 'read']);
  });

  it('says a push is likely new unless it remembers it dispatched, or is claiming its tag now', async () => {
    const store = new MemoryCasStore<LastDispatch>();
    const { recent } = clocked(10_000, store);
    expect(recent.likelyNew(push('e1'), WEB)).toBe(true);
    const write = store.write.bind(store);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    store.write = async (key, value, revision) => (await held, write(key, value, revision));
    const claim = recent.repeatOf(push('e1'), WEB);
    expect(recent.likelyNew(push('e2'), WEB)).toBe(false);
    expect(recent.likelyNew(push('e2', { tag: '2.0' }), WEB)).toBe(true);
    release();
    expect(await claim).toBeUndefined();
    expect(recent.likelyNew(push('e2'), WEB)).toBe(false);
    expect(recent.likelyNew(push('e2', { digest: OTHER }), WEB)).toBe(true);
    expect(recent.likelyNew(push('e2'), ['Deployment/shop/api'])).toBe(true);
    expect(recent.likelyNew(push('e2', { digest: undefined }), WEB)).toBe(true);
  });

  it('reads again before it calls a push a repeat on what it remembers (another replica moved the tag)', async () => {
    const store = new MemoryCasStore<LastDispatch>();
    const a = clocked(10_000, store);
    const b = clocked(10_000, store);
    expect(await a.recent.repeatOf(push('e1'), WEB)).toBeUndefined();
    // another replica dispatches the tag's next digest; then the first digest is pushed back
    expect(await b.recent.repeatOf(push('e2', { digest: OTHER }), WEB)).toBeUndefined();
    expect(await a.recent.repeatOf(push('e3'), WEB)).toBeUndefined();
    // and a real repeat is still one, on either replica
    expect(await b.recent.repeatOf(push('e4'), WEB)).toEqual({ eventId: 'e3', ageMs: 0 });
  });
});
