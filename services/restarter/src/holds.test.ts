import { describe, expect, it } from 'vitest';
import { HEADERS, parseOutcome, type RestartRequest } from '@onpush/contracts';
import { ANNOTATIONS, scopeOf } from '@onpush/kube';
import { describeFailure, HELD, type Incoming } from '@onpush/service';
import { MemoryCasStore } from '@onpush/testing';
import { FakeApps, fakeEffects } from './fake-apps.test-support.js';
import { delayUntil, type HeldPush } from './decide.js';
import { createHandler } from './handler.js';
import { holdsIn } from './holds.js';

const T0 = Date.parse('2026-12-06T10:00:00.000Z');

/** The failure a handling rejected with (it must reject). */
async function failureOfHeld(handling: Promise<unknown>) {
  const error = await handling.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the delivery should be held').toBeDefined();
  return describeFailure(error);
}
const digest = (n: number) => `sha256:${String(n).repeat(64)}`;

function delivery(eventId: string, pushedAtMs: number, n: number, deliveryCount = 1): Incoming {
  const body: RestartRequest = {
    v: 1,
    eventId,
    image: 'us-docker.pkg.dev/acme/shop/web',
    tag: '1.2.0',
    digest: digest(n),
    pushedAt: new Date(pushedAtMs).toISOString(),
    workload: { kind: 'Deployment', namespace: 'shop', name: 'web', containers: ['main'] },
  };
  return {
    subject: 'onpush.restart.shop',
    data: new TextEncoder().encode(JSON.stringify(body)),
    headers: { [HEADERS.eventId]: eventId },
    seq: n,
    deliveryCount,
  };
}

/**
 * A Deployment `web` under `onpush.dev/delay: 10m` (or `delay`; null: no annotation), the handler
 * with shared holds and `delays` as defaults, a clock.
 */
function setUp(
  delay: string | null = '10m',
  delays?: { all: number; namespaces: Record<string, number> },
) {
  let now = T0;
  const settings: Record<string, string> = delay === null ? {} : { [ANNOTATIONS.delay]: delay };
  const apps = new FakeApps().add('shop', 'web', {}, { settings });
  const store = new MemoryCasStore<HeldPush>();
  const held: string[] = [];
  const handle = createHandler({
    effects: fakeEffects(apps, 'holds-test'),
    scope: scopeOf('labelled'),
    now: () => new Date(now),
    holds: holdsIn(store),
    ...(delays ? { delays } : {}),
    onHeld: (request) => held.push(request.eventId),
  });
  // the restart machine's clock is Date.now: pin it to `now`
  const run = async (msg: Incoming) => {
    const realNow = Date.now;
    Date.now = () => now;
    try {
      return await handle(msg);
    } finally {
      Date.now = realNow;
    }
  };
  return { apps, run, held, store, at: (ms: number) => (now = ms) };
}

describe('maturity delay (onpush.dev/delay)', () => {
  it('holds a push younger than the delay: NAKed until it is old enough, no API write', async () => {
    const { apps, run, held, at } = setUp();
    at(T0 + 60_000); // a minute after the push
    const failure = await failureOfHeld(run(delivery('e1', T0, 1)));
    expect(failure.type).toBe(HELD);
    // nine minutes left (plus a small margin)
    expect(failure.retryAfterMs).toBeGreaterThanOrEqual(9 * 60_000);
    expect(failure.retryAfterMs).toBeLessThan(9 * 60_000 + 1_000);
    expect(apps.verbs()).not.toContain('patch');
    expect(held).toEqual(['e1']);

    // Then, redelivered once the delay passed: applied
    at(T0 + 10 * 60_000 + 100);
    const [out] = await run(delivery('e1', T0, 1, 2));
    expect(parseOutcome(out!.data)).toMatchObject({ fate: 'restarted', eventId: 'e1' });
    expect(apps.annotations('shop', 'web')?.[ANNOTATIONS.digest]).toBe(digest(1));
    expect(held).toEqual(['e1']); // the Event of a hold only once
  });

  it('applies only the latest push when a newer one comes during the delay', async () => {
    const { apps, run, at } = setUp();
    at(T0 + 1_000);
    await failureOfHeld(run(delivery('old', T0, 1)));
    at(T0 + 120_000);
    await failureOfHeld(run(delivery('new', T0 + 110_000, 2)));

    // the older one comes back first: superseded, never applied
    at(T0 + 10 * 60_000 + 100);
    const [older] = await run(delivery('old', T0, 1, 2));
    expect(parseOutcome(older!.data)).toMatchObject({ fate: 'unchanged', reason: 'superseded' });
    expect(apps.verbs()).not.toContain('patch');

    // the newer one after its own delay: applied
    at(T0 + 110_000 + 10 * 60_000 + 100);
    const [newer] = await run(delivery('new', T0 + 110_000, 2, 2));
    expect(parseOutcome(newer!.data)).toMatchObject({ fate: 'restarted', eventId: 'new' });
    expect(apps.annotations('shop', 'web')?.[ANNOTATIONS.digest]).toBe(digest(2));
  });

  it('ends an older push superseded at once when a newer one is already held', async () => {
    const { run, at } = setUp();
    at(T0 + 120_000);
    await failureOfHeld(run(delivery('new', T0 + 110_000, 2)));
    // a late copy of an older push arrives now
    const [late] = await run(delivery('old', T0, 1));
    expect(parseOutcome(late!.data)).toMatchObject({ fate: 'unchanged', reason: 'superseded' });
  });

  it('takes the namespace default, or the global one, where the workload names no delay', async () => {
    const byNamespace = setUp(null, { all: 0, namespaces: { shop: 120_000 } });
    byNamespace.at(T0 + 1_000);
    const failure = await failureOfHeld(byNamespace.run(delivery('e1', T0, 1)));
    expect(failure.retryAfterMs).toBeGreaterThanOrEqual(119_000);
    const global = setUp(null, { all: 60_000, namespaces: {} });
    global.at(T0 + 1_000);
    expect((await failureOfHeld(global.run(delivery('e1', T0, 1)))).type).toBe(HELD);
    // `onpush.dev/delay: 0s` opts a workload out of the default
    const optedOut = setUp('0s', { all: 60_000, namespaces: {} });
    optedOut.at(T0 + 1_000);
    const [out] = await optedOut.run(delivery('e1', T0, 1));
    expect(parseOutcome(out!.data)).toMatchObject({ fate: 'restarted' });
  });

  it('restarts at once a push already older than the delay, or without a delay', async () => {
    const old = setUp();
    old.at(T0 + 11 * 60_000);
    const [out] = await old.run(delivery('e1', T0, 1));
    expect(parseOutcome(out!.data)).toMatchObject({ fate: 'restarted' });
    expect(delayUntil(undefined, new Date(T0).toISOString(), T0)).toBeUndefined();
    expect(delayUntil(60_000, undefined, T0)).toBeUndefined();
    expect(delayUntil(60_000, new Date(T0).toISOString(), T0 + 1)?.getTime()).toBe(T0 + 60_000);
  });
});
