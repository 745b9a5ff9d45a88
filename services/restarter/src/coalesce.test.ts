import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HEADERS, parseOutcome, type RestartRequest } from '@onpush/contracts';
import { ANNOTATIONS, scopeOf } from '@onpush/kube';
import { TokenBucket, type Incoming } from '@onpush/service';
import { createMetrics } from '@onpush/telemetry';
import {
  coalesceKey,
  isNewer,
  latestOf,
  leadingWinner,
  memberResult,
  trailingWinner,
  windowMs,
  type CoalesceMode,
  type Member,
  type MemberResult,
} from './coalesce.js';
import { FakeApiException, FakeApps, fakeHttp } from './fake-apps.test-support.js';
import { createHandler } from './handler.js';
import { kubeEffects } from './kube.js';
import { kubeRequestCounter } from './metrics.js';

const digest = (n: number): string => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const NOW = new Date('2026-11-26T10:00:05.000Z');

function req(eventId: string, n: number, pushedAt?: string, name = 'web'): RestartRequest {
  return {
    v: 1,
    eventId,
    image: 'us-docker.pkg.dev/acme/shop/web',
    tag: '1.2.0',
    digest: digest(n),
    ...(pushedAt !== undefined ? { pushedAt } : {}),
    workload: { kind: 'Deployment', namespace: 'shop', name, containers: ['main'] },
  };
}

const member = (request: RestartRequest, seq: number): Member => ({ request, seq });

function incoming(request: RestartRequest, seq: number): Incoming {
  return {
    subject: 'onpush.restart.shop',
    data: new TextEncoder().encode(JSON.stringify(request)),
    headers: { [HEADERS.eventId]: request.eventId },
    seq,
    deliveryCount: 1,
  };
}

describe('coalescing policy', () => {
  it('keys a window by workload and image', () => {
    expect(coalesceKey(req('a', 1))).toBe('Deployment/shop/web|us-docker.pkg.dev/acme/shop/web');
    expect(coalesceKey(req('a', 1))).toBe(coalesceKey(req('b', 2)));
    expect(coalesceKey(req('a', 1))).not.toBe(coalesceKey(req('a', 1, undefined, 'api')));
  });

  it.each([
    ['later push time wins', '2026-01-01T00:00:02Z', 1, '2026-01-01T00:00:01Z', 2, true],
    [
      'earlier push time loses despite arriving later',
      '2026-01-01T00:00:01Z',
      9,
      '2026-01-01T00:00:02Z',
      2,
      false,
    ],
    ['same push time: stream order', '2026-01-01T00:00:01Z', 3, '2026-01-01T00:00:01Z', 2, true],
    ['no push time: stream order', undefined, 3, '2026-01-01T00:00:01Z', 2, true],
    ['no push time, earlier in the stream', undefined, 1, undefined, 2, false],
  ] as const)('isNewer: %s', (_, aAt, aSeq, bAt, bSeq, expected) => {
    expect(isNewer(member(req('a', 1, aAt), aSeq), member(req('b', 2, bAt), bSeq))).toBe(expected);
  });

  it('picks the latest push of a window', () => {
    const members = [
      member(req('a', 1, '2026-01-01T00:00:01Z'), 10),
      member(req('c', 3, '2026-01-01T00:00:03Z'), 11),
      member(req('b', 2, '2026-01-01T00:00:02Z'), 12),
    ] as const;
    expect(latestOf(members).request.eventId).toBe('c');
  });

  it('caps the window at a quarter of the ack wait', () => {
    expect(windowMs(300, 30_000)).toBe(300);
    expect(windowMs(60_000, 30_000)).toBe(7_500);
    expect(windowMs(300, 1_000)).toBe(250);
    expect(windowMs(0, 30_000)).toBe(0);
  });

  it('supersedes the others when the last restart ran, shares gone and failures', () => {
    const first = member(req('a', 1), 1);
    const winner = member(req('c', 3), 3);
    const loser = member(req('b', 2), 2);
    const out = (result: MemberResult) => ({
      members: [first, loser, winner],
      restarts: [
        { winner: first, result: { fate: 'restarted', respondedAt: NOW } as const },
        { winner, result },
      ],
    });
    const restarted = out({ fate: 'restarted', respondedAt: NOW });
    expect(memberResult(first, restarted)).toEqual({ fate: 'restarted', respondedAt: NOW });
    expect(memberResult(winner, restarted)).toEqual({ fate: 'restarted', respondedAt: NOW });
    expect(memberResult(loser, restarted)).toEqual({
      fate: 'unchanged',
      reason: 'superseded',
      by: winner.request,
    });
    expect(memberResult(loser, out({ fate: 'gone' }))).toEqual({ fate: 'gone' });
    const error = new Error('boom');
    expect(memberResult(loser, out({ fate: 'failed', error }))).toEqual({ fate: 'failed', error });
  });

  it('restarts, at the end of a window, the latest member not yet restarted, if newer than the last restart', () => {
    const first = member(req('a', 1, '2026-01-01T00:00:01Z'), 1);
    const later = member(req('b', 2, '2026-01-01T00:00:02Z'), 2);
    const latest = member(req('c', 3, '2026-01-01T00:00:03Z'), 3);
    const ran = (winner: typeof first) => [{ winner, result: { fate: 'gone' as const } }];
    // leading mode: the first restart ran
    expect(trailingWinner({ first, followers: [], restarts: ran(first) })).toBeUndefined();
    expect(trailingWinner({ first, followers: [later], restarts: ran(first) })).toBe(later);
    // the leading restart already applied the latest (it arrived before its turn): nothing more
    expect(trailingWinner({ first, followers: [later], restarts: ran(later) })).toBeUndefined();
    // a member older than what was applied is only superseded
    expect(
      trailingWinner({ first: later, followers: [first], restarts: ran(later) }),
    ).toBeUndefined();
    expect(trailingWinner({ first, followers: [later, latest], restarts: ran(later) })).toBe(
      latest,
    );
    // trailing mode: nothing ran yet
    expect(trailingWinner({ first, followers: [], restarts: [] })).toBe(first);
    expect(trailingWinner({ first: later, followers: [first], restarts: [] })).toBe(later);
  });

  it('applies, when its turn comes, the latest member that arrived by then', () => {
    const first = member(req('a', 1, '2026-01-01T00:00:01Z'), 1);
    const later = member(req('b', 2, '2026-01-01T00:00:02Z'), 2);
    expect(leadingWinner({ first, followers: [] })).toBe(first);
    expect(leadingWinner({ first, followers: [later] })).toBe(later);
    expect(leadingWinner({ first: later, followers: [first] })).toBe(later);
  });
});

describe('restarter handler with a coalescing window', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function setUp(coalesceMode: CoalesceMode = 'leading') {
    const apps = new FakeApps().add('shop', 'web').add('shop', 'api');
    const bucket = new TokenBucket({ qps: 1_000, burst: 1_000 });
    const requests = kubeRequestCounter(createMetrics('coalesce-test').registry);
    const effects = kubeEffects({ http: fakeHttp(apps), bucket, requests });
    const scope = scopeOf('labelled');
    return { apps, handle: createHandler({ effects, scope, windowMs: 300, coalesceMode }) };
  }

  it('leading: a burst that arrives at once is applied once, with its latest push', async () => {
    const { apps, handle } = setUp('leading');
    const burst = [
      req('e1', 1, '2026-11-26T10:00:01.000Z'),
      req('e3', 3, '2026-11-26T10:00:03.000Z'),
      req('e2', 2, '2026-11-26T10:00:02.000Z'),
    ].map((r, i) => handle(incoming(r, i + 1)));
    await vi.advanceTimersByTimeAsync(10);
    expect(apps.verbs()).toEqual(['get', 'patch']);
    expect(apps.annotations('shop', 'web')?.[ANNOTATIONS.digest]).toBe(digest(3));
    await vi.advanceTimersByTimeAsync(340);
    const outcomes = (await Promise.all(burst)).map((out) => parseOutcome(out[0]!.data));
    expect(apps.verbs()).toEqual(['get', 'patch']);
    expect(outcomes.map((o) => [o.eventId, o.fate, o.reason])).toEqual([
      ['e1', 'unchanged', 'superseded'],
      ['e3', 'restarted', undefined],
      ['e2', 'unchanged', 'superseded'],
    ]);
  });

  it('leading: restarts the first push at once, then once more with the latest that came in the window', async () => {
    const { apps, handle } = setUp('leading');
    const first = handle(incoming(req('e1', 1, '2026-11-26T10:00:01.000Z'), 1));
    await vi.advanceTimersByTimeAsync(10);
    expect(apps.verbs()).toEqual(['get', 'patch']);
    expect(apps.annotations('shop', 'web')?.[ANNOTATIONS.digest]).toBe(digest(1));
    const rest = [
      req('e3', 3, '2026-11-26T10:00:03.000Z'),
      req('e2', 2, '2026-11-26T10:00:02.000Z'),
    ].map((r, i) => handle(incoming(r, i + 2)));
    await vi.advanceTimersByTimeAsync(340);
    const outcomes = (await Promise.all([first, ...rest])).map((out) => parseOutcome(out[0]!.data));
    expect(apps.verbs()).toEqual(['get', 'patch', 'get', 'patch']);
    expect(apps.annotations('shop', 'web')?.[ANNOTATIONS.digest]).toBe(digest(3));
    expect(outcomes.map((o) => [o.eventId, o.fate, o.reason])).toEqual([
      ['e1', 'restarted', undefined],
      ['e3', 'restarted', undefined],
      ['e2', 'unchanged', 'superseded'],
    ]);
  });

  it('leading: a push that arrives while the restart waits for its API token is applied instead', async () => {
    const apps = new FakeApps().add('shop', 'web');
    // one token, then one per 1,000 s: the GET and the PATCH go through only if the turn's
    // token paid for the first of them
    const bucket = new TokenBucket({ qps: 0.001, burst: 1 });
    const requests = kubeRequestCounter(createMetrics('turn-test').registry);
    const effects = kubeEffects({ http: fakeHttp(apps), bucket, requests });
    const waiting: (() => void)[] = [];
    const turn = () => new Promise<void>((resolve) => waiting.push(resolve));
    const handle = createHandler({ effects, scope: scopeOf('labelled'), windowMs: 300, turn });
    const early = handle(incoming(req('e1', 1, '2026-11-26T10:00:01.000Z'), 1));
    await vi.advanceTimersByTimeAsync(5);
    expect(apps.calls).toEqual([]); // waiting for the rate limiter
    const late = handle(incoming(req('e2', 2, '2026-11-26T10:00:02.000Z'), 2));
    await vi.advanceTimersByTimeAsync(5);
    waiting.shift()?.();
    await vi.advanceTimersByTimeAsync(400);
    const outcomes = (await Promise.all([early, late])).map((out) => parseOutcome(out[0]!.data));
    expect(waiting).toEqual([]); // nothing newer: no second restart asked for a turn
    // one PATCH, the later push's
    expect(apps.verbs()).toEqual(['get', 'patch']);
    expect(apps.annotations('shop', 'web')?.[ANNOTATIONS.digest]).toBe(digest(2));
    expect(outcomes.map((o) => [o.eventId, o.fate, o.reason])).toEqual([
      ['e1', 'unchanged', 'superseded'],
      ['e2', 'restarted', undefined],
    ]);
  });

  it('leading: a burst of one digest restarts once', async () => {
    const { apps, handle } = setUp('leading');
    const burst = ['e1', 'e2', 'e3'].map((id, i) => handle(incoming(req(id, 1), i + 1)));
    await vi.advanceTimersByTimeAsync(350);
    const outcomes = (await Promise.all(burst)).map((out) => parseOutcome(out[0]!.data));
    expect(apps.verbs().filter((v) => v === 'patch')).toHaveLength(1);
    expect(outcomes.map((o) => o.fate)).toEqual(['unchanged', 'unchanged', 'restarted']);
  });

  it('trailing: restarts a workload once, with the latest digest, for a burst of pushes', async () => {
    const { apps, handle } = setUp('trailing');
    const burst = [
      req('e1', 1, '2026-11-26T10:00:01.000Z'),
      req('e3', 3, '2026-11-26T10:00:03.000Z'),
      req('e2', 2, '2026-11-26T10:00:02.000Z'),
    ].map((r, i) => handle(incoming(r, i + 1)));
    await vi.advanceTimersByTimeAsync(299);
    expect(apps.calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(50);
    const outcomes = (await Promise.all(burst)).map((out) => parseOutcome(out[0]!.data));

    expect(apps.verbs()).toEqual(['get', 'patch']);
    expect(apps.annotations('shop', 'web')?.[ANNOTATIONS.digest]).toBe(digest(3));
    expect(outcomes.map((o) => [o.eventId, o.fate, o.reason])).toEqual([
      ['e1', 'unchanged', 'superseded'],
      ['e3', 'restarted', undefined],
      ['e2', 'unchanged', 'superseded'],
    ]);
    expect(outcomes[0]?.detail).toBe(`superseded by event e3 (${digest(3)})`);
  });

  it('keeps workloads apart and opens a new window after the last one closed', async () => {
    const { apps, handle } = setUp();
    const first = [
      handle(incoming(req('e1', 1, '2026-11-26T10:00:01.000Z'), 1)),
      handle(incoming(req('e1', 1, '2026-11-26T10:00:01.000Z', 'api'), 2)),
    ];
    await vi.advanceTimersByTimeAsync(400);
    await Promise.all(first);
    const later = handle(incoming(req('e2', 2, '2026-11-26T10:00:02.000Z'), 3));
    await vi.advanceTimersByTimeAsync(400);
    expect(parseOutcome((await later)[0]!.data).fate).toBe('restarted');
    expect(apps.verbs().filter((v) => v === 'patch')).toHaveLength(3);
    expect(apps.annotations('shop', 'api')?.[ANNOTATIONS.digest]).toBe(digest(1));
    expect(apps.annotations('shop', 'web')?.[ANNOTATIONS.digest]).toBe(digest(2));
  });

  it('never goes back to an older push that arrives after a newer one was restarted', async () => {
    const { apps, handle } = setUp();
    const newer = handle(incoming(req('e2', 2, '2026-11-26T10:00:02.000Z'), 1));
    await vi.advanceTimersByTimeAsync(400);
    await newer;
    const older = handle(incoming(req('e1', 1, '2026-11-26T10:00:01.000Z'), 2));
    await vi.advanceTimersByTimeAsync(400);
    const outcome = parseOutcome((await older)[0]!.data);
    expect([outcome.fate, outcome.reason]).toEqual(['unchanged', 'superseded']);
    expect(apps.annotations('shop', 'web')?.[ANNOTATIONS.digest]).toBe(digest(2));
    expect(apps.verbs()).toEqual(['get', 'patch', 'get']);
  });

  it('trailing: fails every request of the window with the restart error, for the broker to retry', async () => {
    const { apps, handle } = setUp('trailing');
    apps.fail('patch', new FakeApiException(429, 'slow down', { 'retry-after': '1' }));
    const burst = [1, 2].map((n) =>
      handle(incoming(req(`e${n}`, n, `2026-11-26T10:00:0${n}.000Z`), n)).catch(
        (error: unknown) => error,
      ),
    );
    await vi.advanceTimersByTimeAsync(400);
    expect(await Promise.all(burst)).toEqual([
      expect.objectContaining({ type: 'http_429', retryable: true }),
      expect.objectContaining({ type: 'http_429', retryable: true }),
    ]);
  });
});
