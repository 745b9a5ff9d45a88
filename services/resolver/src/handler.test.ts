import { describe, expect, it } from 'vitest';
import { describeFailure, type Incoming, type Outgoing } from '@onpush/service';
import { parseOutcome, parseRestartRequest, type ImagePushed } from '@onpush/contracts';
import { ImageIndex } from '@onpush/image-index';
import { MemoryCasStore } from '@onpush/testing';
import { createHandler, type HandlerDeps } from './handler.js';
import { memoryDecisions } from './fakes.test-support.js';
import { decisionBook, type Decision } from './decisions.js';
import { createRecentPushes, type LastDispatch } from './repeats.js';

const AT = new Date('2025-01-02T03:04:05.000Z');
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function pushed(overrides: Partial<ImagePushed> = {}): ImagePushed {
  return {
    v: 1,
    id: 'evt-1',
    source: 'gar',
    image: 'docker.io/library/nginx',
    registry: 'docker.io',
    repository: 'library/nginx',
    tag: '1.27',
    pushedAt: '2025-01-02T03:04:00.000Z',
    receivedAt: '2025-01-02T03:04:01.000Z',
    ...overrides,
  };
}

function incoming(body: unknown, headers: Record<string, string> = {}): Incoming {
  const data = new TextEncoder().encode(typeof body === 'string' ? body : JSON.stringify(body));
  return { subject: 'onpush.pushed', data, headers, seq: 7, deliveryCount: 1 };
}

function shopIndex(): ImageIndex {
  const index = new ImageIndex();
  index.upsert({
    kind: 'Deployment',
    namespace: 'shop',
    name: 'web',
    containers: [
      { name: 'app', image: 'nginx:1.27' },
      { name: 'log', image: 'fluent/fluent-bit' },
    ],
  });
  index.upsert({
    kind: 'Deployment',
    namespace: 'ops',
    name: 'proxy',
    containers: [
      { name: 'init', image: 'nginx:1.27' },
      { name: 'app', image: 'nginx:1.27' },
    ],
  });
  return index;
}

function handler(overrides: Partial<HandlerDeps> = {}) {
  return createHandler({
    index: shopIndex(),
    canAnswer: () => true,
    rebuild: () => Promise.resolve(),
    now: () => AT,
    decisions: memoryDecisions(),
    ...overrides,
  });
}

/** The subjects a push to both shop workloads publishes: a request each, then the fate. */
const DISPATCHED_TO_BOTH = [
  'onpush.restart.ops',
  'onpush.restart.shop',
  'onpush.outcome.dispatched',
];

const bodyOf = (out: Outgoing): unknown => JSON.parse(new TextDecoder().decode(out.data));

describe('resolver handler', () => {
  it('emits one restart request per matching workload, then the dispatched outcome', async () => {
    const out = await handler()(
      incoming(pushed(), {
        traceparent: TRACEPARENT,
        tracestate: 'k=v',
        'Onpush-Replay-Of': 'dl-9',
        other: 'x',
      }),
    );
    expect(out.map((o) => [o.subject, o.msgId])).toEqual([
      ['onpush.restart.ops', 'evt-1:Deployment/ops/proxy'],
      ['onpush.restart.shop', 'evt-1:Deployment/shop/web'],
      ['onpush.outcome.dispatched', 'evt-1:resolver'],
    ]);
    expect(parseRestartRequest(bodyOf(out[0]!))).toEqual({
      v: 1,
      eventId: 'evt-1',
      image: 'docker.io/library/nginx',
      tag: '1.27',
      pushedAt: '2025-01-02T03:04:00.000Z',
      workload: {
        kind: 'Deployment',
        namespace: 'ops',
        name: 'proxy',
        containers: ['init', 'app'],
      },
    });
    expect(out[0]!.headers).toEqual({
      'Onpush-Event-Id': 'evt-1',
      traceparent: TRACEPARENT,
      tracestate: 'k=v',
      'Onpush-Replay-Of': 'dl-9',
      'Onpush-Workload-Kind': 'Deployment',
      'Onpush-Workload-Namespace': 'ops',
      'Onpush-Workload-Name': 'proxy',
    });
    expect(parseOutcome(bodyOf(out[2]!))).toEqual({
      v: 1,
      eventId: 'evt-1',
      fate: 'dispatched',
      stage: 'resolver',
      image: 'docker.io/library/nginx',
      tag: '1.27',
      requests: 2,
      // when the registry says it was pushed: the console's "when"
      pushedAt: '2025-01-02T03:04:00.000Z',
      at: AT.toISOString(),
    });
    expect(out[2]!.headers).toEqual({
      'Onpush-Event-Id': 'evt-1',
      traceparent: TRACEPARENT,
      tracestate: 'k=v',
      'Onpush-Replay-Of': 'dl-9',
    });
  });

  it("carries the watch's view of each workload in its request, when the watch has one", async () => {
    const observed = {
      resourceVersion: '812',
      marks: { 'onpush.dev/digest': `sha256:${'d'.repeat(64)}` },
      settings: {},
      containers: [{ name: 'app', image: 'nginx:1.27', init: false }],
    };
    const out = await handler({
      observe: (match) => (match.name === 'web' ? observed : undefined),
    })(incoming(pushed()));
    const [proxy, web] = out.slice(0, 2).map((o) => parseRestartRequest(bodyOf(o)));
    expect(web?.observed).toEqual(observed);
    expect(proxy).not.toHaveProperty('observed');
  });

  it('tells each request its wave and the size of every wave of the push', async () => {
    const index = shopIndex();
    index.upsert({
      kind: 'Deployment',
      namespace: 'prod',
      name: 'web',
      containers: [{ name: 'app', image: 'nginx:1.27' }],
      wave: 2,
    });
    index.upsert({
      kind: 'StatefulSet',
      namespace: 'staging',
      name: 'web',
      containers: [{ name: 'app', image: 'nginx:1.27' }],
      wave: 1,
    });
    const out = await handler({ index })(incoming(pushed()));
    const requests = out.slice(0, 4).map((o) => parseRestartRequest(bodyOf(o)));
    expect(requests.map((r) => [r.workload.namespace, r.waves])).toEqual([
      // no wave: restarted at once, gating nothing
      ['ops', { sizes: { '1': 1, '2': 1 } }],
      ['prod', { wave: 2, sizes: { '1': 1, '2': 1 } }],
      ['shop', { sizes: { '1': 1, '2': 1 } }],
      ['staging', { wave: 1, sizes: { '1': 1, '2': 1 } }],
    ]);
    // and a push whose workloads have no wave carries none
    const plain = await handler()(incoming(pushed({ id: 'evt-2' })));
    expect(parseRestartRequest(bodyOf(plain[0]!))).not.toHaveProperty('waves');
  });

  it('ends a repeat of a push just dispatched ignored (duplicate_push), but never a replay', async () => {
    const digest = `sha256:${'e'.repeat(64)}`;
    let t = 0;
    const handle = handler({
      recent: createRecentPushes({
        windowMs: 10_000,
        store: new MemoryCasStore<LastDispatch>(),
        now: () => t,
      }),
    });
    await handle(incoming(pushed({ id: 'evt-1', digest })));
    t = 250;
    const repeat = await handle(incoming(pushed({ id: 'evt-2', digest })));
    expect(repeat.map((o) => [o.subject, o.msgId])).toEqual([
      ['onpush.outcome.ignored', 'evt-2:resolver'],
    ]);
    expect(parseOutcome(bodyOf(repeat[0]!))).toMatchObject({
      fate: 'ignored',
      stage: 'resolver',
      reason: 'duplicate_push',
      detail: 'repeats event evt-1, dispatched to the same workloads 250 ms before',
      digest,
    });
    const replay = await handle(
      incoming(pushed({ id: 'evt-3', digest }), { 'Onpush-Replay-Of': 'dl-1' }),
    );
    expect(replay.map((o) => o.subject)).toEqual(DISPATCHED_TO_BOTH);
  });

  it('emits only no-match when no workload runs the image', async () => {
    const digest = `sha256:${'c'.repeat(64)}`;
    const out = await handler()(incoming(pushed({ tag: '1.28', digest })));
    expect(out.map((o) => [o.subject, o.msgId])).toEqual([
      ['onpush.outcome.no-match', 'evt-1:resolver'],
    ]);
    expect(parseOutcome(bodyOf(out[0]!))).toMatchObject({
      fate: 'no-match',
      stage: 'resolver',
      image: 'docker.io/library/nginx',
      tag: '1.28',
      digest,
    });
  });

  it.each([
    ['not JSON', '{nope'],
    ['breaks the contract', { ...pushed(), image: 'nginx' }],
    ['has neither tag nor digest', { ...pushed(), tag: undefined }],
  ])('throws a permanent invalid_message failure when the body %s', async (_name, body) => {
    const error = await handler()(incoming(body)).catch((e: unknown) => e);
    expect(describeFailure(error)).toMatchObject({ type: 'invalid_message', retryable: false });
  });

  it('rebuilds first when the index cannot answer, then answers from it', async () => {
    const index = new ImageIndex();
    const out = await handler({
      index,
      canAnswer: () => false,
      rebuild: () => {
        index.replaceKind('Deployment', [
          {
            kind: 'Deployment',
            namespace: 'shop',
            name: 'web',
            containers: [{ name: 'app', image: 'nginx:1.27' }],
          },
        ]);
        return Promise.resolve();
      },
    })(incoming(pushed()));
    expect(out.map((o) => o.msgId)).toEqual(['evt-1:Deployment/shop/web', 'evt-1:resolver']);
  });

  it('passes a failed rebuild on as a retryable failure', async () => {
    const failure = Object.assign(new Error('apiserver down'), {
      type: 'index_unavailable',
      retryable: true,
      retryAfterMs: 5_000,
    });
    const error = await handler({ canAnswer: () => false, rebuild: () => Promise.reject(failure) })(
      incoming(pushed()),
    ).catch((e: unknown) => e);
    expect(describeFailure(error)).toMatchObject({
      type: 'index_unavailable',
      retryable: true,
      retryAfterMs: 5_000,
    });
  });

  it('concludes a redelivery as its first delivery did, whatever changed meanwhile', async () => {
    const digest = `sha256:${'f'.repeat(64)}`;
    const index = shopIndex();
    const decisions = memoryDecisions();
    const store = new MemoryCasStore<LastDispatch>();
    const recent = createRecentPushes({ windowMs: 10_000, store });
    const handle = handler({ index, decisions, recent });
    // evt-2 repeats evt-1 and ends ignored; then the resolver crashes before its ack
    await handle(incoming(pushed({ id: 'evt-1', digest })));
    const first = await handle(incoming(pushed({ id: 'evt-2', digest })));
    expect(first.map((o) => o.subject)).toEqual(['onpush.outcome.ignored']);
    // meanwhile the repeat window's memory is gone and a workload left the index
    store.values.clear();
    index.remove({ kind: 'Deployment', namespace: 'ops', name: 'proxy' });
    const again = await handle({ ...incoming(pushed({ id: 'evt-2', digest })), deliveryCount: 2 });
    expect(again.map((o) => [o.subject, o.msgId])).toEqual([
      ['onpush.outcome.ignored', 'evt-2:resolver'],
    ]);
    // and a dispatched event redelivered re-publishes the same requests, even for a workload gone
    const redelivered = await handle({
      ...incoming(pushed({ id: 'evt-1', digest })),
      deliveryCount: 3,
    });
    expect(redelivered.map((o) => o.msgId)).toEqual([
      'evt-1:Deployment/ops/proxy',
      'evt-1:Deployment/shop/web',
      'evt-1:resolver',
    ]);
    expect(parseOutcome(bodyOf(redelivered[2]!))).toMatchObject({
      fate: 'dispatched',
      requests: 2,
    });
  });

  it('follows the decision another replica recorded first for the same event', async () => {
    const decisions = memoryDecisions();
    await decisions.settle('evt-1', { fate: 'no-match' });
    const out = await handler({ decisions })(incoming(pushed()));
    expect(out.map((o) => [o.subject, o.msgId])).toEqual([
      ['onpush.outcome.no-match', 'evt-1:resolver'],
    ]);
  });

  it("records a new push's decision while it claims the image and tag: both writes at once", async () => {
    const digest = `sha256:${'e'.repeat(64)}`;
    const pending: string[] = [];
    let release: () => void = () => undefined;
    const bothSent = new Promise<void>((resolve) => (release = resolve));
    /** A store whose writes are stored only once two are waiting. */
    function slow<T>(name: string): MemoryCasStore<T> {
      const store = new MemoryCasStore<T>();
      const write = store.write.bind(store);
      store.write = async (key, value, revision) => {
        pending.push(name);
        if (pending.length === 2) release();
        await bothSent;
        return write(key, value, revision);
      };
      return store;
    }
    const decisions = decisionBook(slow<Decision>('decision'));
    const recent = createRecentPushes({ windowMs: 10_000, store: slow<LastDispatch>('claim') });
    const out = await handler({ decisions, recent })(incoming(pushed({ digest })));
    expect(pending.sort()).toEqual(['claim', 'decision']);
    expect(out.map((o) => o.subject)).toEqual(DISPATCHED_TO_BOTH);
  });

  it('dispatches a storm of one push once per replica: copies judged at once wait for the first claim', async () => {
    const digest = `sha256:${'d'.repeat(64)}`;
    const recent = createRecentPushes({ windowMs: 10_000, store: new MemoryCasStore() });
    const handle = handler({ recent });
    const outs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => handle(incoming(pushed({ id: `evt-${i}`, digest })))),
    );
    const fates = outs.map((out) => out.at(-1)!.subject);
    expect(fates.filter((f) => f === 'onpush.outcome.dispatched')).toHaveLength(1);
    expect(fates.filter((f) => f === 'onpush.outcome.ignored')).toHaveLength(19);
  });

  it('keeps a recorded dispatch when the claim made beside it finds another replica dispatched first', async () => {
    const digest = `sha256:${'c'.repeat(64)}`;
    const store = new MemoryCasStore<LastDispatch>();
    const other = createRecentPushes({ windowMs: 10_000, store });
    const mine = createRecentPushes({ windowMs: 10_000, store });
    // another replica dispatches the push; this one knows nothing of that claim, so the next copy
    // looks new to it and its decision is recorded while its claim is made
    await other.repeatOf(pushed({ id: 'evt-0', digest }), [
      'Deployment/ops/proxy',
      'Deployment/shop/web',
    ]);
    const decisions = memoryDecisions();
    const handle = handler({ decisions, recent: mine });
    const out = await handle(incoming(pushed({ id: 'evt-1', digest })));
    expect(out.map((o) => o.subject)).toEqual(DISPATCHED_TO_BOTH);
    expect(await decisions.recall('evt-1')).toMatchObject({ fate: 'dispatched' });
    // and the next copy, judged on what the claim read, ends ignored
    const next = await handle(incoming(pushed({ id: 'evt-2', digest })));
    expect(next.map((o) => o.subject)).toEqual(['onpush.outcome.ignored']);
  });
});
