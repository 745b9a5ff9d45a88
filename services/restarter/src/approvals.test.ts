import { describe, expect, it } from 'vitest';
import {
  HEADERS,
  approvalId,
  parseOutcome,
  type Approval,
  type RestartRequest,
} from '@onpush/contracts';
import { ANNOTATIONS, scopeOf } from '@onpush/kube';
import { ApprovalError, approvalBook } from '@onpush/nats';
import { describeFailure, HELD, type Incoming } from '@onpush/service';
import { MemoryCasStore } from '@onpush/testing';
import { FakeApps, fakeEffects } from './fake-apps.test-support.js';
import { approvalRecheckMs, createHandler, REQUEUE_AFTER } from './handler.js';

const T0 = Date.parse('2026-12-06T10:00:00.000Z');
const request: RestartRequest = {
  v: 1,
  eventId: 'gar:42',
  image: 'us-docker.pkg.dev/acme/shop/web',
  tag: '1.2.0',
  digest: `sha256:${'4'.repeat(64)}`,
  pushedAt: new Date(T0).toISOString(),
  workload: { kind: 'Deployment', namespace: 'shop', name: 'web', containers: ['main'] },
};
const ID = approvalId('gar:42', request.workload);

function delivery(deliveryCount = 1, copy?: number): Incoming {
  return {
    subject: 'onpush.restart.shop',
    data: new TextEncoder().encode(JSON.stringify(request)),
    headers: {
      [HEADERS.eventId]: request.eventId,
      ...(copy !== undefined ? { [HEADERS.heldCopy]: String(copy) } : {}),
    },
    seq: 3,
    deliveryCount,
  };
}

/** A Deployment `web` under `onpush.dev/approval: required`, the handler, a shared book, a clock. */
function setUp(annotation = 'required') {
  let now = T0;
  const apps = new FakeApps().add(
    'shop',
    'web',
    {},
    { settings: { [ANNOTATIONS.approval]: annotation } },
  );
  const book = approvalBook(new MemoryCasStore<Approval>());
  const awaiting: Approval[] = [];
  const handle = createHandler({
    effects: fakeEffects(apps, 'approvals-test'),
    scope: scopeOf('labelled'),
    now: () => new Date(now),
    approvals: book,
    approvalTimeoutMs: 3_600_000,
    onAwaiting: (approval) => awaiting.push(approval),
  });
  const held = async (msg: Incoming) =>
    describeFailure(
      await handle(msg).then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
  const patches = () => apps.verbs().filter((v) => v === 'patch').length;
  return { apps, book, awaiting, handle, held, patches, at: (ms: number) => (now = ms) };
}

describe('approvals (onpush.dev/approval: required)', () => {
  it('holds the restart until someone approves it, then restarts it once', async () => {
    const { book, awaiting, handle, held, patches, apps, at } = setUp();
    expect(await held(delivery())).toMatchObject({
      type: HELD,
      message: `waiting for approval ${ID}`,
      retryAfterMs: 5_000,
    });
    expect(patches()).toBe(0);
    expect(awaiting).toEqual([
      expect.objectContaining({
        id: ID,
        state: 'pending',
        eventId: 'gar:42',
        workload: { kind: 'Deployment', namespace: 'shop', name: 'web' },
        deadline: new Date(T0 + 3_600_000).toISOString(),
      }),
    ]);
    expect(await book.get(ID)).toMatchObject({ state: 'pending' });

    // still pending when it comes back: decided again, held again
    at(T0 + 5_000);
    expect((await held(delivery(2))).type).toBe(HELD);
    // held long: put back, marked as waiting for approval, the next holds spaced further apart
    const [copy] = await handle(delivery(REQUEUE_AFTER));
    expect(copy).toMatchObject({
      subject: 'onpush.restart.held.shop',
      headers: { [HEADERS.awaiting]: 'approval', [HEADERS.heldCopy]: '1' },
    });
    expect(approvalRecheckMs(1)).toBe(10_000);
    expect(approvalRecheckMs(5)).toBe(30_000);
    // the marked copy asks the approvals alone: no API call while it is pending
    const marked = { ...delivery(1, 1), headers: copy!.headers! };
    const calls = apps.calls.length;
    expect(await held(marked)).toMatchObject({ type: HELD, retryAfterMs: 10_000 });
    expect(apps.calls.length).toBe(calls);

    await book.decide(ID, 'approved', 'cli:alice', new Date(T0 + 60_000), 'looks good');
    at(T0 + 70_000);
    const [out] = await handle(marked);
    expect(parseOutcome(out!.data)).toMatchObject({ fate: 'restarted', eventId: 'gar:42' });
    expect(patches()).toBe(1);
    expect(awaiting).toHaveLength(1);
  });

  it('restarts at once a request approved while it was away, before it was marked', async () => {
    const { book, handle, held, patches } = setUp();
    await held(delivery());
    await book.decide(ID, 'approved', 'api', new Date(T0 + 1_000));
    const [out] = await handle(delivery(2));
    expect(parseOutcome(out!.data)).toMatchObject({ fate: 'restarted' });
    expect(patches()).toBe(1);
  });

  it('ends rejected when someone rejects it, saying who and why', async () => {
    const { book, handle, held, patches } = setUp();
    await held(delivery());
    await book.decide(ID, 'rejected', 'api', new Date(T0 + 1_000), 'bad build');
    const [out] = await handle(delivery(2));
    expect(parseOutcome(out!.data)).toMatchObject({
      fate: 'rejected',
      workload: { name: 'web' },
      detail: `approval ${ID} rejected by api at ${new Date(T0 + 1_000).toISOString()}: bad build`,
    });
    expect(patches()).toBe(0);
    // and it cannot be decided again
    await expect(book.decide(ID, 'approved', 'cli:bob', new Date())).rejects.toThrow(
      new ApprovalError(`approval ${ID} is rejected already`, 'decided'),
    );
  });

  it('ends expired when nobody decides before the deadline', async () => {
    const { book, handle, held, patches, at } = setUp();
    await held(delivery());
    at(T0 + 3_600_000);
    const [out] = await handle(delivery(2));
    expect(parseOutcome(out!.data)).toMatchObject({ fate: 'expired' });
    expect(await book.get(ID)).toMatchObject({ state: 'expired', decidedBy: 'restarter' });
    expect(patches()).toBe(0);
    await expect(book.decide('0000000000000000', 'approved', 'x', new Date())).rejects.toThrow(
      'no approval 0000000000000000',
    );
  });

  it('asks nothing of a workload without the annotation, or of a push it ends unchanged', async () => {
    const none = setUp('none');
    const [out] = await none.handle(delivery());
    expect(parseOutcome(out!.data)).toMatchObject({ fate: 'restarted' });
    expect(none.awaiting).toEqual([]);
    // already on the push (a redelivery after the restart): unchanged, no approval asked
    const again = await none.handle(delivery(2));
    expect(parseOutcome(again[0]!.data)).toMatchObject({ fate: 'unchanged' });
  });
});
