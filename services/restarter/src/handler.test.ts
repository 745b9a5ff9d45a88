import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromPromise, toPromise } from 'xstate';
import { HEADERS, parseOutcome, parseRestartRequest } from '@onpush/contracts';
import { ANNOTATIONS, KINDS, scopeOf, type Scope } from '@onpush/kube';
import { TokenBucket, messageMachine, type Incoming, type Outgoing } from '@onpush/service';
import { createMetrics } from '@onpush/telemetry';
import {
  FAKE_IMAGE,
  FakeApiException,
  FakeApps,
  fakeHttp,
  type FakeDeployment,
} from './fake-apps.test-support.js';
import { createHandler, trustedView } from './handler.js';
import { kubeEffects } from './kube.js';
import { kubeRequestCounter, outcomeCounter } from './metrics.js';
import { kindApi, type WorkloadApis } from './workloads.js';

const DIGEST = `sha256:${'d'.repeat(64)}`;
const NOW = new Date('2026-11-26T10:00:01.250Z');
const TRACEPARENT = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;

function request(overrides: Record<string, unknown> = {}, seq = 1): Incoming {
  const body = {
    v: 1,
    eventId: 'evt-1',
    image: 'us-docker.pkg.dev/acme/shop/web',
    tag: '1.2.0',
    digest: DIGEST,
    pushedAt: '2026-11-26T10:00:00.000Z',
    workload: { kind: 'Deployment', namespace: 'shop', name: 'web', containers: ['main'] },
    ...overrides,
  };
  const headers = {
    [HEADERS.eventId]: 'evt-1',
    [HEADERS.msgId]: `evt-1:${seq}`,
    [HEADERS.traceparent]: TRACEPARENT,
  };
  return {
    subject: 'onpush.restart.shop',
    data: new TextEncoder().encode(JSON.stringify(body)),
    headers,
    seq,
    deliveryCount: 1,
  };
}

function setUp(
  apis?: WorkloadApis,
  { scope = scopeOf('labelled'), web = {} }: { scope?: Scope; web?: FakeDeployment } = {},
) {
  const apps = new FakeApps().add(
    'shop',
    'web',
    { [ANNOTATIONS.digest]: `sha256:${'0'.repeat(64)}` },
    web,
  );
  const bucket = new TokenBucket({ qps: 50, burst: 100 });
  const { registry } = createMetrics('restarter-test');
  const requests = kubeRequestCounter(registry);
  const handle = createHandler({
    effects: kubeEffects({ http: fakeHttp(apps), bucket, requests, ...(apis ? { apis } : {}) }),
    scope,
    outcomes: outcomeCounter(registry),
  });
  /** `onpush_restarter_outcomes_total` as Prometheus shows it, by `fate/reason`. */
  const counted = async () => {
    const metric = await registry.getSingleMetric('onpush_restarter_outcomes_total')?.get();
    return Object.fromEntries(
      (metric?.values ?? []).map((v) => [`${v.labels.fate}/${v.labels.reason}`, v.value]),
    );
  };
  return { apps, handle, counted };
}

function only(outgoing: Outgoing[]): Outgoing & { outcome: ReturnType<typeof parseOutcome> } {
  expect(outgoing).toHaveLength(1);
  const [out] = outgoing;
  if (!out) throw new Error('no outcome');
  return { ...out, outcome: parseOutcome(out.data) };
}

describe('restarter handler', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('restarts the Deployment and publishes one `restarted` outcome with push-to-restart time', async () => {
    const { apps, handle } = setUp();
    const out = only(await handle(request()));
    expect(apps.annotations('shop', 'web')).toEqual({
      [ANNOTATIONS.restartedAt]: '2026-11-26T10:00:01Z',
      [ANNOTATIONS.eventId]: 'evt-1',
      [ANNOTATIONS.digest]: DIGEST,
      [ANNOTATIONS.pushedAt]: '2026-11-26T10:00:00.000Z',
    });
    expect(out.subject).toBe('onpush.outcome.restarted');
    expect(out.msgId).toBe('evt-1:Deployment/shop/web:outcome');
    expect(out.headers).toEqual({ [HEADERS.eventId]: 'evt-1', [HEADERS.traceparent]: TRACEPARENT });
    expect(out.outcome).toEqual({
      v: 1,
      eventId: 'evt-1',
      fate: 'restarted',
      stage: 'restarter',
      workload: { kind: 'Deployment', namespace: 'shop', name: 'web' },
      image: 'us-docker.pkg.dev/acme/shop/web',
      tag: '1.2.0',
      digest: DIGEST,
      durationMs: 1_250,
      at: '2026-11-26T10:00:01.250Z',
    });
  });

  it("hands the request's traceparent (the push's trace) to what follows the restart", async () => {
    const apps = new FakeApps().add('shop', 'web', {
      [ANNOTATIONS.digest]: `sha256:${'0'.repeat(64)}`,
    });
    const { registry } = createMetrics('restarter-test');
    const bucket = new TokenBucket({ qps: 50, burst: 100 });
    const traces: unknown[] = [];
    const handle = createHandler({
      effects: kubeEffects({
        http: fakeHttp(apps),
        bucket,
        requests: kubeRequestCounter(registry),
      }),
      scope: scopeOf('labelled'),
      onRestarted: (_request, _result, trace) => traces.push(['restarted', trace]),
      onOutcome: (outcome, trace) => traces.push([outcome.fate, trace]),
    });
    await handle(request());
    expect(traces).toEqual([
      ['restarted', { traceparent: TRACEPARENT }],
      ['restarted', { traceparent: TRACEPARENT }],
    ]);
  });

  it('makes the first API call of a restart on the token its turn took, the others on their own', async () => {
    const apps = new FakeApps().add('shop', 'web', {});
    const { registry } = createMetrics('restarter-prepaid');
    const effects = kubeEffects({
      http: fakeHttp(apps),
      bucket: new TokenBucket({ qps: 50, burst: 100 }),
      requests: kubeRequestCounter(registry),
    });
    const calls: string[] = [];
    let turns = 0;
    const handle = createHandler({
      effects: {
        read: (workload, options) => {
          calls.push(`read ${JSON.stringify(options ?? {})}`);
          return effects.read(workload, options);
        },
        patch: (workload, patch, options) => {
          calls.push(`patch ${JSON.stringify(options ?? {})}`);
          return effects.patch(workload, patch, options);
        },
      },
      scope: scopeOf('labelled'),
      outcomes: outcomeCounter(registry),
      windowMs: 300,
      turn: () => {
        turns += 1;
        return Promise.resolve();
      },
    });
    const handled = handle(request());
    await vi.advanceTimersByTimeAsync(300);
    expect(only(await handled).outcome.fate).toBe('restarted');
    expect(turns).toBe(1);
    // no watch view in the request: a GET (on the turn's token), then the PATCH (its own)
    expect(calls).toEqual(['read {"prepaid":true}', 'patch {}']);
  });

  it('publishes `unchanged`, without a PATCH, for a second request with the same digest', async () => {
    const { apps, handle } = setUp();
    await handle(request());
    const out = only(await handle(request({ eventId: 'evt-2' })));
    expect(apps.verbs()).toEqual(['get', 'patch', 'get']);
    expect(apps.annotations('shop', 'web')?.[ANNOTATIONS.eventId]).toBe('evt-1');
    expect(out.subject).toBe('onpush.outcome.unchanged');
    expect(out.msgId).toBe('evt-2:Deployment/shop/web:outcome');
    expect(out.outcome).toMatchObject({
      eventId: 'evt-2',
      fate: 'unchanged',
      at: NOW.toISOString(),
    });
    expect(out.outcome.durationMs).toBeUndefined();
  });

  it('restarts once when two requests for the same digest race', async () => {
    const { apps, handle } = setUp();
    const both = Promise.all([handle(request()), handle(request({ eventId: 'evt-2' }))]);
    await vi.advanceTimersByTimeAsync(100);
    const fates = (await both).map((out) => only(out).outcome.fate);
    expect(fates.sort()).toEqual(['restarted', 'unchanged']);
    expect(apps.verbs().filter((verb) => verb === 'patch')).toHaveLength(2);
    expect(apps.annotations('shop', 'web')?.[ANNOTATIONS.eventId]).toBe('evt-1');
  });

  it('judges a push by tag only by its event id', async () => {
    const { apps, handle } = setUp();
    const tagOnly = { digest: undefined };
    expect(only(await handle(request(tagOnly))).outcome.fate).toBe('restarted');
    expect(only(await handle(request(tagOnly))).outcome.fate).toBe('unchanged');
    expect(only(await handle(request({ ...tagOnly, eventId: 'evt-2' }))).outcome.fate).toBe(
      'restarted',
    );
    expect(apps.verbs()).toEqual(['get', 'patch', 'get', 'get', 'patch']);
  });

  it('publishes `gone` for a Deployment that no longer exists, and omits durationMs without pushedAt', async () => {
    const { handle } = setUp();
    const out = only(
      await handle(
        request({
          workload: { kind: 'Deployment', namespace: 'shop', name: 'api', containers: ['main'] },
        }),
      ),
    );
    expect(out.subject).toBe('onpush.outcome.gone');
    expect(out.outcome).toMatchObject({ fate: 'gone', workload: { name: 'api' } });
    const { handle: other } = setUp();
    expect(only(await other(request({ pushedAt: undefined }))).outcome.durationMs).toBeUndefined();
  });

  it('throws a permanent http_403 with the API message', async () => {
    const { apps, handle } = setUp();
    apps.fail(
      'patch',
      new FakeApiException(403, 'deployments.apps "web" is forbidden: User cannot patch'),
    );
    await expect(handle(request())).rejects.toMatchObject({
      type: 'http_403',
      retryable: false,
      message: 'deployments.apps "web" is forbidden: User cannot patch',
    });
  });

  it('throws retryable errors for 429 (with Retry-After) and 500', async () => {
    const { apps, handle } = setUp();
    apps.fail('get', new FakeApiException(429, 'slow down', { 'retry-after': '2' }));
    await expect(handle(request())).rejects.toMatchObject({
      type: 'http_429',
      retryable: true,
      retryAfterMs: 2_000,
    });
    apps.fail('patch', new FakeApiException(500, 'etcdserver: request timed out'));
    await expect(handle(request())).rejects.toMatchObject({ type: 'http_500', retryable: true });
  });

  it('rejects a message that is not a RestartRequest as invalid_message, permanently', async () => {
    const { apps, handle } = setUp();
    await expect(handle(request({ eventId: '' }))).rejects.toMatchObject({
      type: 'invalid_message',
      retryable: false,
    });
    const notJson = { ...request(), data: new TextEncoder().encode('{not json') };
    await expect(handle(notJson)).rejects.toMatchObject({
      type: 'invalid_message',
      retryable: false,
    });
    expect(apps.calls).toEqual([]);
  });

  it('rejects a kind it cannot restart as unsupported_kind, permanently', async () => {
    const { handle } = setUp({ Deployment: kindApi(KINDS.Deployment) });
    const cron = { kind: 'CronJob', namespace: 'shop', name: 'nightly', containers: ['main'] };
    await expect(handle(request({ workload: cron }))).rejects.toMatchObject({
      type: 'unsupported_kind',
      retryable: false,
    });
  });
});

describe('restarter handler: a request for a workload onpush may not touch', () => {
  const BASE: Scope = scopeOf('labelled');

  async function refused(
    setup: ReturnType<typeof setUp>,
    msg: Incoming = request(),
  ): Promise<{ reason: string | undefined; detail: string | undefined }> {
    const out = only(await setup.handle(msg));
    expect(out.subject).toBe('onpush.outcome.refused');
    expect(setup.apps.verbs()).not.toContain('patch');
    return { reason: out.outcome.reason, detail: out.outcome.detail };
  }

  it('refuses a Deployment that did not opt in, after reading it, and counts it by reason', async () => {
    const setup = setUp(undefined, { web: { labels: {} } });
    await expect(refused(setup)).resolves.toMatchObject({
      reason: 'not_opted_in',
      detail: 'the workload has no label onpush.dev/enabled=true',
    });
    expect(setup.apps.verbs()).toEqual(['get']);
    expect(setup.apps.annotations('shop', 'web')).toEqual({
      [ANNOTATIONS.digest]: `sha256:${'0'.repeat(64)}`,
    });
    expect(await setup.counted()).toEqual({ 'refused/not_opted_in': 1 });
  });

  it('opts in by annotation when the scope says so (the label then does not count)', async () => {
    const byAnnotation = { ...BASE, optIn: 'annotation' } as const;
    const labelled = setUp(undefined, { scope: byAnnotation });
    await expect(refused(labelled)).resolves.toMatchObject({ reason: 'not_opted_in' });
    const annotated = setUp(undefined, {
      scope: byAnnotation,
      web: { labels: {}, settings: { 'onpush.dev/enabled': 'true' } },
    });
    expect(only(await annotated.handle(request())).outcome.fate).toBe('restarted');
    const all = setUp(undefined, { scope: { ...BASE, select: 'all' }, web: { labels: {} } });
    expect(only(await all.handle(request())).outcome.fate).toBe('restarted');
  });

  it('refuses a namespace outside the scope before any API call', async () => {
    const excluded = setUp(undefined, { scope: { ...BASE, exclude: ['shop'] } });
    await expect(refused(excluded)).resolves.toMatchObject({ reason: 'namespace_out_of_scope' });
    expect(excluded.apps.calls).toEqual([]);
    const allowList = setUp(undefined, { scope: { ...BASE, namespaces: ['blog'] } });
    const system = request({
      workload: {
        kind: 'Deployment',
        namespace: 'kube-system',
        name: 'coredns',
        containers: ['main'],
      },
    });
    await expect(refused(allowList, system)).resolves.toMatchObject({
      reason: 'namespace_out_of_scope',
      detail: expect.stringContaining('kube-system') as unknown,
    });
    expect(allowList.apps.calls).toEqual([]);
    expect(await allowList.counted()).toEqual({ 'refused/namespace_out_of_scope': 1 });
  });

  it('refuses a workload whose labels do not match the selector', async () => {
    const labels = { 'onpush.dev/enabled': 'true', team: 'api' };
    const setup = setUp(undefined, {
      scope: { ...BASE, selector: 'team in (web,shop)' },
      web: { labels },
    });
    await expect(refused(setup)).resolves.toMatchObject({ reason: 'selector_mismatch' });
    const matching = setUp(undefined, {
      scope: { ...BASE, selector: 'team!=web' },
      web: { labels },
    });
    expect(only(await matching.handle(request())).outcome.fate).toBe('restarted');
  });

  it("refuses when the request's container runs another repository", async () => {
    const other = setUp(undefined, {
      web: { containers: [{ name: 'main', image: 'registry.k8s.io/coredns/coredns:v1.11.1' }] },
    });
    await expect(refused(other)).resolves.toMatchObject({
      reason: 'repository_mismatch',
      detail: `main runs no image of ${FAKE_IMAGE}`,
    });
    // The repository runs, but in another container than the one the request names.
    const sidecar = setUp(undefined, {
      web: {
        containers: [
          { name: 'main', image: 'registry.k8s.io/coredns/coredns:v1.11.1' },
          { name: 'proxy', image: `${FAKE_IMAGE}:1.0` },
        ],
      },
    });
    await expect(refused(sidecar)).resolves.toMatchObject({ reason: 'repository_mismatch' });
  });

  it('checks the object, not a view that says otherwise: a view without labels or not opted in is read first', async () => {
    const view = {
      resourceVersion: '101',
      marks: {},
      settings: {},
      containers: [{ name: 'main', image: `${FAKE_IMAGE}:1.0`, init: false }],
    };
    const unlabelled = setUp(undefined, { web: { labels: {} } });
    await expect(refused(unlabelled, request({ observed: view }))).resolves.toMatchObject({
      reason: 'not_opted_in',
    });
    expect(unlabelled.apps.verbs()).toEqual(['get']);
    const notOptedIn = setUp(undefined, { web: { labels: {} } });
    const claims = { ...view, labels: { team: 'web' } };
    await expect(refused(notOptedIn, request({ observed: claims }))).resolves.toMatchObject({
      reason: 'not_opted_in',
    });
    expect(notOptedIn.apps.verbs()).toEqual(['get']);
  });

  it("decides on its own last PATCH when a request's watch view predates it: no 409, no GET", async () => {
    const { apps, handle } = setUp();
    // the resolver's view of the Deployment, taken before either push was handled
    const stale = {
      resourceVersion: '101',
      marks: { [ANNOTATIONS.digest]: `sha256:${'0'.repeat(64)}` },
      labels: { 'onpush.dev/enabled': 'true' },
      settings: {},
      containers: [{ name: 'main', image: `${FAKE_IMAGE}:1.0`, init: false }],
    };
    const first = only(await handle(request({ observed: stale })));
    const second = `sha256:${'e'.repeat(64)}`;
    const next = only(await handle(request({ eventId: 'evt-2', digest: second, observed: stale })));
    expect([first.outcome.fate, next.outcome.fate]).toEqual(['restarted', 'restarted']);
    expect(apps.verbs()).toEqual(['patch', 'patch']);
    expect(apps.annotations('shop', 'web')?.[ANNOTATIONS.digest]).toBe(second);
    // someone else changed it after our PATCH: the conditional PATCH is refused, then read again
    apps.touch('shop', 'web');
    const third = `sha256:${'f'.repeat(64)}`;
    only(await handle(request({ eventId: 'evt-3', digest: third, observed: stale })));
    expect(apps.verbs()).toEqual(['patch', 'patch', 'patch', 'get', 'patch']);
    expect(apps.annotations('shop', 'web')?.[ANNOTATIONS.digest]).toBe(third);
  });

  it('refuses in a dry run too', async () => {
    const { apps } = setUp();
    const bucket = new TokenBucket({ qps: 50, burst: 100 });
    const requests = kubeRequestCounter(createMetrics('dry').registry);
    apps.add('shop', 'web', {}, { labels: {} });
    const handle = createHandler({
      effects: kubeEffects({ http: fakeHttp(apps), bucket, requests }),
      scope: BASE,
      dryRun: true,
    });
    expect(only(await handle(request())).outcome).toMatchObject({
      fate: 'refused',
      reason: 'not_opted_in',
    });
  });
});

describe('restarter handler in the message machine', () => {
  async function deliver(handle: (msg: Incoming) => Promise<Outgoing[]>) {
    const seen: { naks: number[]; dead: string[] } = { naks: [], dead: [] };
    const machine = messageMachine.provide({
      actors: {
        handle: fromPromise(({ input }) => handle(input.msg)),
        publish: fromPromise(() => Promise.resolve()),
        ack: fromPromise(() => Promise.resolve()),
        nak: fromPromise(({ input }) => Promise.resolve(void seen.naks.push(input.delayMs))),
        deadLetter: fromPromise(({ input }) =>
          Promise.resolve(void seen.dead.push(input.failure.type)),
        ),
      },
    });
    const input = { msg: request(), maxDeliver: 8, retryScheduleMs: [250, 1_000] };
    const { result } = await toPromise(createActor(machine, { input }).start());
    return { result, ...seen };
  }

  it('NAKs a 429 with the Retry-After delay and dead-letters a 403', async () => {
    const throttled = setUp();
    throttled.apps.fail('patch', new FakeApiException(429, 'slow down', { 'retry-after': '3' }));
    await expect(deliver(throttled.handle)).resolves.toEqual({
      result: 'retried',
      naks: [3_000],
      dead: [],
    });
    const forbidden = setUp();
    forbidden.apps.fail('patch', new FakeApiException(403, 'forbidden'));
    await expect(deliver(forbidden.handle)).resolves.toEqual({
      result: 'dead',
      naks: [],
      dead: ['http_403'],
    });
  });
});

describe('trustedView', () => {
  const observed = { resourceVersion: '7', marks: {}, settings: {}, containers: [] };
  const incoming = (deliveryCount: number, headers: Record<string, string> = {}): Incoming => ({
    ...request(),
    deliveryCount,
    headers,
  });
  const decoded = parseRestartRequest(request({ observed }).data);

  it('keeps the watch view on the first delivery only', () => {
    expect(trustedView(incoming(1), decoded).observed).toEqual(observed);
    expect(trustedView(incoming(2), decoded)).not.toHaveProperty('observed');
  });

  it('drops the watch view of a replay from the DLQ', () => {
    const replay = incoming(1, { [HEADERS.replayOf]: 'dead:restarter:ONPUSH:9' });
    expect(trustedView(replay, decoded)).not.toHaveProperty('observed');
  });
});
