import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WorkloadRef } from '@onpush/contracts';
import { ANNOTATIONS, KINDS, KubeApiError, PatchStrategy, restartPatch } from '@onpush/kube';
import { TokenBucket } from '@onpush/service';
import { createMetrics } from '@onpush/telemetry';
import { RestartError } from './errors.js';
import { FakeApiException, FakeApps, fakeHttp } from './fake-apps.test-support.js';
import { kubeEffects } from './kube.js';
import { kubeRequestCounter } from './metrics.js';
import { kindApi, type WorkloadApis } from './workloads.js';

const WEB: WorkloadRef = { kind: 'Deployment', namespace: 'shop', name: 'web' };
const DIGEST = `sha256:${'c'.repeat(64)}`;
const NOW = new Date('2026-11-26T10:00:00.500Z');

function setUp(bucket = new TokenBucket({ qps: 50, burst: 100 }), apis?: WorkloadApis) {
  const apps = new FakeApps().add('shop', 'web');
  const requests = kubeRequestCounter(createMetrics('restarter-test').registry);
  const effects = kubeEffects({
    http: fakeHttp(apps),
    bucket,
    requests,
    ...(apis ? { apis } : {}),
  });
  const counted = async () =>
    Object.fromEntries(
      (await requests.get()).values.map((v) => [`${v.labels.verb} ${v.labels.code}`, v.value]),
    );
  return { apps, effects, counted };
}

describe('kubeEffects', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends the rollout-restart patch as a strategic merge on the version read, stamped when sent', async () => {
    const { apps, effects } = setUp();
    const { resourceVersion } = await effects.read(WEB);
    const patch = { eventId: 'evt-1', digest: DIGEST, resourceVersion };
    const patched = await effects.patch(WEB, patch);
    expect(patched.respondedAt).toEqual(NOW);
    // the object as the PATCH left it: the next request may decide on it
    expect(patched.snapshot).toMatchObject({ annotations: { [ANNOTATIONS.eventId]: 'evt-1' } });
    expect(Number(patched.snapshot?.resourceVersion)).toBeGreaterThan(Number(resourceVersion));
    expect(apps.calls[1]).toEqual({
      verb: 'patch',
      namespace: 'shop',
      name: 'web',
      body: {
        metadata: { resourceVersion },
        ...restartPatch({ at: NOW, eventId: 'evt-1', digest: DIGEST }),
      },
      contentType: PatchStrategy.StrategicMergePatch,
    });
    await expect(effects.read(WEB)).resolves.toMatchObject({
      annotations: {
        'kubectl.kubernetes.io/restartedAt': '2026-11-26T10:00:00Z',
        'onpush.dev/event-id': 'evt-1',
        'onpush.dev/digest': DIGEST,
      },
      resourceVersion: expect.not.stringMatching(`^${resourceVersion}$`) as unknown,
    });
  });

  it('fails a PATCH on a stale version with a retryable http_409', async () => {
    const { apps, effects } = setUp();
    const { resourceVersion } = await effects.read(WEB);
    apps.touch('shop', 'web');
    await expect(effects.patch(WEB, { eventId: 'evt-1', resourceVersion })).rejects.toMatchObject({
      type: 'http_409',
      retryable: true,
    });
    expect(apps.annotations('shop', 'web')).toEqual({});
  });

  it('patches unconditionally when no version is known', async () => {
    const { apps, effects } = setUp();
    await effects.patch(WEB, { eventId: 'evt-1', resourceVersion: undefined });
    expect(apps.calls[0]?.body?.metadata).toBeUndefined();
  });

  it('waits for a token before every API call', async () => {
    const { apps, effects } = setUp(new TokenBucket({ qps: 1, burst: 1 }));
    void effects.read(WEB);
    void effects.patch(WEB, { eventId: 'evt-1', resourceVersion: undefined });
    await vi.advanceTimersByTimeAsync(0);
    expect(apps.verbs()).toEqual(['get']);
    await vi.advanceTimersByTimeAsync(999);
    expect(apps.verbs()).toEqual(['get']);
    await vi.advanceTimersByTimeAsync(1);
    expect(apps.verbs()).toEqual(['get', 'patch']);
  });

  it('counts requests by verb and status code, `error` when no response came', async () => {
    const { apps, effects, counted } = setUp();
    apps
      .fail('patch', new FakeApiException(403, 'forbidden'))
      .fail('get', new TypeError('fetch failed'));
    await expect(effects.read(WEB)).rejects.toBeInstanceOf(KubeApiError);
    await effects.read(WEB);
    await effects.read({ ...WEB, name: 'api' }).catch(() => undefined);
    await effects
      .patch(WEB, { eventId: 'evt-1', resourceVersion: undefined })
      .catch(() => undefined);
    await effects.patch(WEB, { eventId: 'evt-1', resourceVersion: undefined });
    await expect(counted()).resolves.toEqual({
      'get error': 1,
      'get 200': 1,
      'get 404': 1,
      'patch 403': 1,
      'patch 200': 1,
    });
  });

  it("turns client-node's errors into KubeApiError with the API message and Retry-After", async () => {
    const { apps, effects } = setUp();
    apps.fail(
      'patch',
      new FakeApiException(429, 'too many requests, try again', { 'retry-after': '3' }),
    );
    await expect(
      effects.patch(WEB, { eventId: 'evt-1', resourceVersion: undefined }),
    ).rejects.toMatchObject({
      name: 'KubeApiError',
      type: 'http_429',
      status: 429,
      message: 'too many requests, try again',
      retryable: true,
      retryAfterMs: 3_000,
    });
    apps.fail('get', new TypeError('fetch failed'));
    await expect(effects.read(WEB)).rejects.toMatchObject({ type: 'network', retryable: true });
  });

  it('refuses a kind it cannot restart, permanently and without calling the API', async () => {
    const { apps, effects, counted } = setUp(undefined, { Deployment: kindApi(KINDS.Deployment) });
    const error = await effects.read({ ...WEB, kind: 'Rollout' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RestartError);
    expect(error).toMatchObject({ type: 'unsupported_kind', retryable: false });
    expect(apps.calls).toEqual([]);
    await expect(counted()).resolves.toEqual({});
  });
});
