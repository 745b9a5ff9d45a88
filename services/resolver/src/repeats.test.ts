import { describe, expect, it } from 'vitest';
import type { ImagePushed } from '@onpush/contracts';
import { createRecentPushes } from './repeats.js';

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

function clocked(windowMs: number, max?: number) {
  let t = 1_000;
  const recent = createRecentPushes({ windowMs, now: () => t, ...(max ? { max } : {}) });
  return { recent, advance: (ms: number) => (t += ms) };
}

describe('recent pushes', () => {
  it('names the first dispatch of an identical push to the same workloads within the window', () => {
    const { recent, advance } = clocked(10_000);
    expect(recent.repeatOf(push('e1'), WEB)).toBeUndefined();
    advance(9_999);
    expect(recent.repeatOf(push('e2'), WEB)).toEqual({ eventId: 'e1', ageMs: 9_999 });
    advance(1);
    expect(recent.repeatOf(push('e3'), WEB)).toBeUndefined();
  });

  it('is no repeat with another digest, tag, image or set of workloads', () => {
    const { recent } = clocked(10_000);
    recent.repeatOf(push('e1'), WEB);
    expect(recent.repeatOf(push('e2', { digest: OTHER }), WEB)).toBeUndefined();
    // the tag moved back to the first digest: a new push, followed
    expect(recent.repeatOf(push('e3'), WEB)).toBeUndefined();
    expect(recent.repeatOf(push('e4', { tag: '1.1' }), WEB)).toBeUndefined();
    expect(recent.repeatOf(push('e5', { image: 'example.com/shop/api' }), WEB)).toBeUndefined();
    expect(recent.repeatOf(push('e6'), [...WEB, 'Deployment/shop/new'])).toBeUndefined();
  });

  it('never judges a push without digest, a redelivery of the same event, or a zero window', () => {
    const { recent } = clocked(10_000);
    const tagOnly = { digest: undefined };
    recent.repeatOf(push('e1', tagOnly), WEB);
    expect(recent.repeatOf(push('e2', tagOnly), WEB)).toBeUndefined();
    recent.repeatOf(push('e3'), WEB);
    expect(recent.repeatOf(push('e3'), WEB)).toBeUndefined();
    const off = clocked(0).recent;
    off.repeatOf(push('e1'), WEB);
    expect(off.repeatOf(push('e2'), WEB)).toBeUndefined();
  });

  it('forgets the oldest pushes beyond its bound', () => {
    const { recent } = clocked(10_000, 2);
    recent.repeatOf(push('a1', { tag: 'a' }), WEB);
    recent.repeatOf(push('b1', { tag: 'b' }), WEB);
    recent.repeatOf(push('c1', { tag: 'c' }), WEB);
    expect(recent.repeatOf(push('a2', { tag: 'a' }), WEB)).toBeUndefined();
    expect(recent.repeatOf(push('c2', { tag: 'c' }), WEB)).toEqual({ eventId: 'c1', ageMs: 0 });
  });
});
